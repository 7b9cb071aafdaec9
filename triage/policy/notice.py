"""The State Council's yearly holiday notice (国务院办公厅关于某年部分节假日安排的通知) as a file.

An administrator writes the notice of a year as a small YAML (or JSON) file and loads it
(`triage policy load-notice FILE`); from then on it decides that year's days, over the
calendar package and the statutory rules. The format (docs/calendar.md)::

    year: 2027
    source: 国办发明电〔2026〕12号
    holidays:                      # days off, by festival: a date, "FROM..TO", or a list of them
      元旦: 2027-01-01
      春节: 2027-02-05..2027-02-12
    workdays: [2027-02-20]         # adjusted working weekends (调休上班)

Notices are read from two folders: the ones shipped with the package
(``triage/policy/notices/``) and the administrator's folder the policy names
(``calendar.notices_dir``); for the same year the administrator's file wins.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

from triage.policy.model import PolicyError
from triage.policy.statutory import statutory_days

SHIPPED_NOTICES = Path(__file__).with_name("notices")
SUFFIXES = (".yaml", ".yml", ".json")
_KEYS = ("year", "source", "holidays", "workdays", "note")
_RANGE = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})\s*(?:\.\.|/|至)\s*(\d{4}-\d{2}-\d{2})\s*$")
_LONGEST_SPAN = 31
"""Days in one holiday period at most; longer is a typo (a wrong month)."""
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class _Loader(yaml.SafeLoader):
    """YAML without its own date parsing: a date it cannot parse (2027-13-01) would fail the
    whole file with a bare message, where the checks below name the field and the value."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _parse(text: str, suffix: str) -> Any:
    return json.loads(text) if suffix == ".json" else yaml.load(text, Loader=_Loader)


class NoticeError(PolicyError):
    """A notice file that cannot be used; the message lists every problem found."""


@dataclass(frozen=True)
class Notice:
    year: int
    source: str
    holidays: dict[date, str]
    """Day off -> the festival (period) the notice gives it for."""
    workdays: frozenset[date]
    """Adjusted working weekends (调休)."""
    path: str = ""
    digest: str = ""
    """Of the file's content, so that a calendar can tell one version of a notice from another."""
    warnings: tuple[str, ...] = field(default=(), compare=False)
    """Doubts that do not stop the notice from being used (a statutory day not given off)."""


def read_notice(path: str | Path) -> Notice:
    """The notice in ``path``, or NoticeError listing everything wrong with it."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise NoticeError([f"{path}: cannot read it ({exc.strerror or exc})"]) from None
    try:
        text = data.decode("utf-8-sig")
        raw = _parse(text, path.suffix)
    except (UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        raise NoticeError([f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'} ({exc})"]) from None
    named = int(path.stem) if path.stem.isdigit() else None  # a folder's files are named for their year
    return parse_notice(raw, str(path), hashlib.sha256(data).hexdigest()[:16], named)


def is_notice(path: str | Path) -> bool:
    """Whether ``path`` holds a holiday notice rather than a policy (a ``year`` and no ``rules``),
    so that one `triage policy check` serves both."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
        raw = _parse(text, Path(path).suffix)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError):
        return False
    return isinstance(raw, dict) and "year" in raw and "rules" not in raw


def parse_notice(raw: Any, where: str = "notice", digest: str = "", named: int | None = None) -> Notice:
    """The notice in ``raw`` (for a file named for year ``named``), or NoticeError listing every
    problem; doubts that do not stop it from being used are in its ``warnings``."""
    problems: list[str] = []
    if not isinstance(raw, dict):
        raise NoticeError([f"{where}: a notice must be a mapping with year, source, holidays and workdays"])
    for key in raw:
        if key not in _KEYS:
            problems.append(f"{where}: unknown key {key!r} (known: {', '.join(_KEYS)})")
    year = raw.get("year")
    if isinstance(year, bool) or not isinstance(year, int) or not 1 <= year <= 9999:
        raise NoticeError([*problems, f"{where}: year: {year!r} is not a year (e.g. year: 2027)"])
    if named is not None and named != year:
        raise NoticeError([f"{where}: the file is named for {named} but holds the notice for {year}"])
    source = raw.get("source")
    if not isinstance(source, str) or not source.strip():
        problems.append(f"{where}: source: cite the notice (e.g. source: 国办发明电〔2026〕12号)")
    # 元旦 may start in the last days of December before (the 2019 notice made Sat 2018-12-29 a
    # working day); any other date outside the year is a typo.
    first, last = date(year, 1, 1) - timedelta(days=7) if year > 1 else date(1, 1, 1), date(year, 12, 31)

    def in_year(d: date, what: str) -> bool:
        if first <= d <= last:
            return True
        problems.append(f"{where}: {what}: {d.isoformat()} is not in {year}")
        return False

    holidays: dict[date, str] = {}
    periods = raw.get("holidays")
    if not isinstance(periods, dict) or not periods:
        problems.append(f"{where}: holidays: missing, or not a mapping of festival -> dates "
                        "(e.g. 春节: 2027-02-05..2027-02-12)")
        periods = {}
    for name, value in periods.items():
        what = f"holidays.{name}"
        if not str(name or "").strip():
            problems.append(f"{where}: holidays: a period needs the festival's name")
        for d in _dates(value, f"{where}: {what}", problems):
            if not in_year(d, what):
                continue
            if d in holidays and holidays[d] != str(name):
                problems.append(f"{where}: {what}: {d.isoformat()} is also listed under {holidays[d]}; list a "
                                "joined period once (e.g. 国庆节、中秋节)")
            holidays.setdefault(d, str(name))

    workdays: set[date] = set()
    listed = raw.get("workdays")
    if listed is None:
        listed = []
    if not isinstance(listed, list):
        problems.append(f"{where}: workdays: must be a list of dates (e.g. [2027-02-20]), [] when there are none")
        listed = []
    for item in listed:
        for d in _dates(item, f"{where}: workdays", problems, allow_range=False):
            if not in_year(d, "workdays"):
                continue
            if d.weekday() < 5:
                problems.append(f"{where}: workdays: {d.isoformat()} is a {_WEEKDAYS[d.weekday()]}; list only the "
                                "weekend days the notice makes working days (调休上班)")
            if d in holidays:
                problems.append(f"{where}: {d.isoformat()} is both a holiday ({holidays[d]}) and a working day")
            if d in workdays:
                problems.append(f"{where}: workdays: {d.isoformat()} is listed twice")
            workdays.add(d)
    if problems:
        raise NoticeError(problems)

    # The law's 13 days are off whatever the arrangement; one that is a weekday and not given
    # off is most likely a slip (a wrong date, the previous year's file edited by hand).
    warnings = [f"{where}: {d.isoformat()} ({name}, a statutory holiday) is a {_WEEKDAYS[d.weekday()]} the notice "
                "does not give off; check the dates"
                for d, name in sorted(statutory_days(year).items()) if d.weekday() < 5 and d not in holidays]
    return Notice(year, str(source).strip(), dict(sorted(holidays.items())), frozenset(workdays), where, digest,
                  tuple(warnings))


def _dates(value: Any, where: str, problems: list[str], allow_range: bool = True) -> list[date]:
    """A date, a "FROM..TO" period (both days included), or a list of those."""
    if isinstance(value, list):
        return [d for item in value for d in _dates(item, where, problems, allow_range)]
    if isinstance(value, date):
        return [value]
    text = str(value)
    m = _RANGE.match(text)
    if m and allow_range:
        try:
            start, end = date.fromisoformat(m.group(1)), date.fromisoformat(m.group(2))
        except ValueError:
            problems.append(f"{where}: {text!r} holds a day that does not exist")
            return []
        if end < start:
            problems.append(f"{where}: {text!r} ends before it starts")
            return []
        if (end - start).days >= _LONGEST_SPAN:
            problems.append(f"{where}: {text!r} is longer than {_LONGEST_SPAN} days")
            return []
        return [start + timedelta(days=i) for i in range((end - start).days + 1)]
    try:
        return [date.fromisoformat(text.strip())]
    except ValueError:
        form = "a date (YYYY-MM-DD) or a period (YYYY-MM-DD..YYYY-MM-DD)" if allow_range else "a date (YYYY-MM-DD)"
        problems.append(f"{where}: {text!r} is not {form}")
        return []


# ---- folders ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class NoticeSet:
    notices: dict[int, Notice]
    """Year -> the notice in force for it."""
    problems: tuple[str, ...] = ()
    """Files that were skipped, and why; the calendar falls back to the package or the rules."""


def default_notices_dir() -> Path:
    """Where an administrator's notices go when the policy names no folder: beside the
    service's other data (``TRIAGE_DATA_DIR``, default ``var``, as for bulk jobs)."""
    return Path(os.environ.get("TRIAGE_DATA_DIR", "var")).resolve() / "notices"


def notice_files(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.suffix in SUFFIXES and not p.name.startswith("."))
    except OSError:  # no folder yet: no notices
        return []


def load_notices(folders: Iterable[Path]) -> NoticeSet:
    """The notices of the folders, later folders winning for the same year. A file that does
    not pass the checks is skipped and reported: the calendar must keep answering."""
    notices: dict[int, Notice] = {}
    problems: list[str] = []
    for folder in folders:
        seen: dict[int, str] = {}
        for path in notice_files(folder):
            try:
                notice = read_notice(path)
            except NoticeError as exc:
                problems += [f"skipped: {p}" for p in exc.problems]
                continue
            if notice.year in seen:
                problems.append(f"{path}: the notice for {notice.year} is also in {seen[notice.year]}; "
                                f"using {path.name}")
            seen[notice.year] = path.name
            notices[notice.year] = notice
    return NoticeSet(notices, tuple(problems))


def fingerprint(folders: Sequence[Path]) -> tuple[tuple[str, int, int], ...]:
    """What changes when a notice file is added, replaced or removed (cheap: one listing and a
    stat per file), so that a running service notices a newly loaded notice."""
    out = []
    for folder in folders:
        for path in notice_files(folder):
            try:
                st = path.stat()
            except OSError:
                continue
            out.append((str(path), st.st_mtime_ns, st.st_size))
    return tuple(out)


def install_notice(path: str | Path, folder: Path) -> tuple[Notice, Path]:
    """Check the notice in ``path`` and copy it into ``folder`` as ``<year>.yaml`` (atomically:
    a service reading the folder never sees half a file). Replaces an earlier notice for the year."""
    notice = read_notice(path)
    data = Path(path).read_bytes()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{notice.year}{'.json' if Path(path).suffix == '.json' else '.yaml'}"
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".notice-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    for other in SUFFIXES:  # one file per year: a .json replaced by a .yaml must not linger
        stale = folder / f"{notice.year}{other}"
        if stale != target:
            stale.unlink(missing_ok=True)
    return notice, target
