"""Reading complaint files (CSV or JSON Lines, labels doc format) as a stream of rows.

Every bad row becomes a RowError naming its row number, and reading goes on: a file with
one broken line still yields all its good rows. Memory stays constant in the file size.
"""

from __future__ import annotations

import codecs
import csv
import json
import sys
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


def _read_csv(stream: BinaryIO, encoding: str, progress: ReadProgress | None = None
              ) -> Iterator[InputRow | RowError]:
    csv.field_size_limit(MAX_FIELD)
    bad: set[int] = set()
    reader = csv.reader(_lines(stream, encoding, bad, progress))
    try:
        header = next(reader)
    except StopIteration:
        raise InputError("the file is empty: expected a header row with id and text") from None
    except csv.Error as exc:
        raise InputError(f"the header row cannot be read: {exc}") from None
    if 1 in bad:
        raise InputError(f"the header row has {_encoding_error(encoding)}")
    header = [h.strip() for h in header]
    missing = [c for c in ("id", "text") if c not in header]
    if missing:
        raise InputError(f"the header has no {' or '.join(missing)} column (found: {', '.join(header) or 'nothing'})")
    n = 0
    last_line = reader.line_num
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            n += 1
            yield RowError("", n, f"row {n} (line {last_line + 1}): malformed CSV ({exc})")
            last_line = reader.line_num
            continue
        first, last_line = last_line + 1, reader.line_num
        if not values or all(not v.strip() for v in values):
            continue
        n += 1
        row_id = values[header.index("id")].strip() if len(values) > header.index("id") else ""
        if any(line in bad for line in range(first, last_line + 1)):
            yield RowError(row_id, n, f"row {n} (line {first}): {_encoding_error(encoding)}")
            continue
        if len(values) != len(header):
            problem = f"{len(values)} fields where the header has {len(header)}"
            yield RowError(row_id, n, f"row {n} (line {first}): {problem}")
            continue
        yield _row(n, dict(zip(header, values)))
