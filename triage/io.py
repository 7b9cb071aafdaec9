"""Reading complaint files (CSV or JSON Lines, labels doc format) as a stream of rows.

Every bad row becomes a RowError naming its row number, and reading goes on: a file with
one broken line still yields all its good rows. Memory stays constant in the file size.
"""

from __future__ import annotations

import codecs
import csv
import json
import sys
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

MAX_FIELD = 4 * 1024 * 1024
"""csv refuses fields over this size; longer texts are reported by the text check anyway."""


class InputError(ValueError):
    """A file that cannot be read at all (missing, no header, no text column)."""


@dataclass(slots=True)
class RowError:
    """A row that cannot be read (or a text that cannot be classified): it names the row and why."""

    id: str
    row: int
    """1-based data row number in the input file (the header is row 0)."""
    error: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "row": self.row, "error": self.error}


@dataclass(slots=True)
class ReadProgress:
    """How far reading has got, for a progress bar: bytes read of the file's size (0 for stdin)."""

    total_bytes: int = 0
    read_bytes: int = 0


@dataclass(slots=True)
class InputRow:
    row: int
    id: str
    text: str
    fields: dict[str, str] = field(default_factory=dict)


def _open_binary(path: str) -> BinaryIO:
    if path == "-":
        return sys.stdin.buffer
    p = Path(path)
    if not p.exists():
        raise InputError(f"{path}: no such file")
    if p.is_dir():
        raise InputError(f"{path}: is a folder, not a file")
    return p.open("rb")


def _lines(stream: BinaryIO, encoding: str, bad: set[int], progress: ReadProgress | None = None) -> Iterator[str]:
    """Decode physical lines one by one; a line that does not decode is recorded in `bad`
    (by physical line number) and passed on with replacement characters."""
    decode = codecs.getdecoder(encoding)
    for n, raw in enumerate(stream, start=1):
        if progress is not None:
            progress.read_bytes += len(raw)
        if n == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8):]
        try:
            text = decode(raw)[0]
        except UnicodeDecodeError:
            bad.add(n)
            text = raw.decode(encoding, errors="replace")
        if "\x00" in text:
            bad.add(n)
            text = text.replace("\x00", "")
        yield text


def _encoding_error(encoding: str) -> str:
    hint = ""
    if encoding.lower().startswith("utf"):
        hint = " (it looks like GBK/GB18030: re-save as UTF-8, or pass --encoding gbk)"
    return f"bytes that are not {encoding} text, or binary data{hint}"


def detect_format(path: str, fmt: str | None) -> str:
    if fmt:
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    return "csv"


def read_rows(path: str, fmt: str | None = None, encoding: str = "utf-8",
              progress: ReadProgress | None = None) -> Iterator[InputRow | RowError]:
    """Rows of a CSV (with header) or JSON Lines file; `-` reads standard input."""
    fmt = detect_format(path, fmt)
    stream = _open_binary(path)
    if progress is not None and path != "-":
        progress.total_bytes = Path(path).stat().st_size
    try:
        if fmt == "jsonl":
            yield from _read_jsonl(stream, encoding, progress)
        elif fmt == "csv":
            yield from _read_csv(stream, encoding, progress)
        else:
            raise InputError(f"unknown format {fmt!r}: use csv or jsonl")
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def _row(n: int, record: dict[str, object]) -> InputRow | RowError:
    raw_id = record.get("id")
    row_id = "" if raw_id is None else str(raw_id).strip()
    if not row_id:
        return RowError("", n, f"row {n}: the id is empty")
    text = record.get("text")
    if not isinstance(text, str):
        return RowError(row_id, n, f"row {n}: text is missing or not a string")
    fields = {k: ("" if v is None else str(v)) for k, v in record.items() if k not in ("id", "text") and k}
    return InputRow(n, row_id, text, fields)


def _read_jsonl(stream: BinaryIO, encoding: str, progress: ReadProgress | None = None
                ) -> Iterator[InputRow | RowError]:
    bad: set[int] = set()
    n = 0
    for line_no, line in enumerate(_lines(stream, encoding, bad, progress), start=1):
        if not line.strip():
            continue
        n += 1
        if line_no in bad:
            yield RowError("", n, f"row {n} (line {line_no}): {_encoding_error(encoding)}")
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield RowError("", n, f"row {n} (line {line_no}): not valid JSON ({exc.msg})")
            continue
        if not isinstance(record, dict):
            yield RowError("", n, f"row {n} (line {line_no}): expected a JSON object")
            continue
        yield _row(n, record)


class _Lines:
    """The decoded physical lines, numbered, as csv.reader's source. The lines of the record
    being read are kept: a record whose quoting went wrong is read again from its second line."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = enumerate(lines, start=1)
        self._again: deque[tuple[int, str]] = deque()
        self.record: list[tuple[int, str]] = []
        self.at_end = False
        """True once the file has no more lines: a row csv.reader returns after that ended
        inside a quoted field (a complete row ends at its line's end, before the next read)."""

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self._again:
            item = self._again.popleft()
        else:
            item = next(self._lines, None)
            if item is None:
                self.at_end = True
                raise StopIteration
        self.record.append(item)
        return item[1]

    def read_again(self, lines: list[tuple[int, str]]) -> None:
        self._again.extendleft(reversed(lines))
        self.at_end = False


def _quoting_problem(record: list[tuple[int, str]], at_end: bool) -> str | None:
    """What is wrong with a record's quoting under strict rules (naming its lines), or None."""
    first, last = record[0][0], record[-1][0]
    try:
        records = list(csv.reader((text for _, text in record), strict=True))
    except csv.Error as exc:
        if at_end and str(exc) == "unexpected end of data":
            return f"the quote opened on line {first} is never closed (it runs to the end of the file, line {last})"
        return f"the quote opened on line {first} runs on to line {last} and is not closed properly ({exc})"
    if len(records) != 1:
        return f"lines {first}-{last} hold {len(records)} records"
    return None


def _just_id_and_text(header: list[str]) -> bool:
    """The usual file, whose rows `_read_csv` reads without the dict of their fields."""
    return sorted(header) == ["id", "text"]


def _read_csv(stream: BinaryIO, encoding: str, progress: ReadProgress | None = None
              ) -> Iterator[InputRow | RowError]:
    """Python's csv module, lenient by default, lets a stray quote at the start of a field
    swallow the lines after it: up to the next quote, or to the end of the file (it then
    returns one row and no error). A record that spans several lines, or that the end of the
    file completed, must therefore also be well formed under strict quoting; one that is not
    is reported as a malformed row, and its lines after the first are read again as rows, so
    no row is lost silently. A single-line record keeps the lenient reading (`"ab"c` is abc)."""
    csv.field_size_limit(MAX_FIELD)
    bad: set[int] = set()
    source = _Lines(_lines(stream, encoding, bad, progress))
    reader = csv.reader(source)
    try:
        header = next(reader)
    except StopIteration:
        raise InputError("the file is empty: expected a header row with id and text") from None
    except csv.Error as exc:
        raise InputError(f"the header row cannot be read: {exc}") from None
    if len(source.record) > 1 or source.at_end:
        problem = _quoting_problem(source.record, source.at_end)
        if problem:
            raise InputError(f"the header row cannot be read: {problem}")
    if 1 in bad:
        raise InputError(f"the header row has {_encoding_error(encoding)}")
    header = [h.strip() for h in header]
    missing = [c for c in ("id", "text") if c not in header]
    if missing:
        raise InputError(f"the header has no {' or '.join(missing)} column (found: {', '.join(header) or 'nothing'})")
    id_at, text_at = header.index("id"), header.index("text")
    plain = _just_id_and_text(header)
    n = 0
    while True:
        source.record = []
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            record = source.record
            n += 1
            yield RowError("", n, f"row {n} (line {record[0][0] if record else '?'}): malformed CSV ({exc})")
            if len(record) > 1:
                source.read_again(record[1:])
            reader = csv.reader(source)
            continue
        record = source.record
        first, last = record[0][0], record[-1][0]
        if len(record) > 1 or source.at_end:
            problem = _quoting_problem(record, source.at_end)
            if problem:
                n += 1
                row_id = values[header.index("id")].strip() if len(values) > header.index("id") else ""
                again = f"; lines {first + 1}-{last} are read again as rows" if last > first else ""
                yield RowError(row_id, n, f"row {n} (line {first}): malformed CSV: {problem}{again}")
                source.read_again(record[1:])
                reader = csv.reader(source)
                continue
        if not any(map(str.strip, values)):
            continue
        n += 1
        row_id = values[id_at].strip() if len(values) > id_at else ""
        if bad and any(line in bad for line, _ in record):
            yield RowError(row_id, n, f"row {n} (line {first}): {_encoding_error(encoding)}")
            continue
        if len(values) != len(header):
            problem = f"{len(values)} fields where the header has {len(header)}"
            yield RowError(row_id, n, f"row {n} (line {first}): {problem}")
            continue
        if plain:
            yield InputRow(n, row_id, values[text_at], {}) if row_id else RowError("", n, f"row {n}: the id is empty")
        else:
            yield _row(n, dict(zip(header, values)))
