"""Working-day calendar and deadline arithmetic for SLA clocks, in mainland China time.

A clock in the policy ("2 hours", "3 working days", "same day") only becomes a deadline once
we know which time counts. Three bases decide that:

* ``24x7`` — every instant counts (a day is 24 hours);
* ``working_days`` — every instant of a working day counts, 00:00 to 24:00; weekends and
  statutory holidays do not, but adjusted working weekends (调休) do;
* ``business_hours`` — only the dealership's opening hours on working days count.

Every function works on one model: a basis is a set of counting intervals on the timeline;
``add`` returns the earliest instant at which the counted time since the start reaches the
amount, and ``elapsed`` measures the counted time between two instants. So the two are exact
inverses, which is what the 80 % warnings need. See docs/calendar.md for worked examples.

Which days are working days is answered for any year, from the first of these that knows
the day: the policy's own extra days; an official notice loaded for the year
(triage/policy/notice.py); the ``chinesecalendar`` package; the statutory rules
(triage/policy/statutory.py). A deadline that counts days of a year known only from the rules
is *provisional* (``provisional``): it may move when the year's notice is loaded.

Everything here but ``work_calendar`` is pure: nothing reads the current time or a file, so
deadlines can be recomputed and tested against fixed dates.
"""

from __future__ import annotations

import calendar as _months
import logging
import math
import threading
import time as _time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import chinese_calendar
from chinese_calendar import constants as _cc_constants

from triage.policy import statutory
from triage.policy.notice import SHIPPED_NOTICES, Notice, fingerprint, load_notices

if TYPE_CHECKING:
    from triage.policy.model import Duration, Policy

TZ = ZoneInfo("Asia/Shanghai")
"""All deadlines are stated in dealership-local time; mainland China has one zone and no DST."""

UNITS = ("minutes", "hours", "days", "working_days")
BASES = ("24x7", "working_days", "business_hours")
SOURCES = ("notice", "package", "rules")
"""Where a year's holidays come from, in order of precedence."""

_DAY = timedelta(days=1)
_MIDNIGHT = time(0, 0)
log = logging.getLogger("triage.calendar")

try:
    LIBRARY_VERSION = version("chinesecalendar")
except PackageNotFoundError:  # pragma: no cover - only if installed without metadata
    LIBRARY_VERSION = "unknown version"

_LIBRARY_DATES = set(_cc_constants.holidays) | set(_cc_constants.workdays)
LIBRARY_FIRST_YEAR: int = min(d.year for d in _LIBRARY_DATES)
LIBRARY_LAST_YEAR: int = max(d.year for d in _LIBRARY_DATES)
"""Years the installed chinesecalendar knows the State Council's schedule for. It is updated
after each November's notice, so the year ahead is usually missing: the rules or a loaded
notice answer for it."""


class CalendarError(ValueError):
    """A deadline the calendar cannot represent: one past 9999-12-31. Every real date has an
    answer (the rules cover any year), so this is the only refusal left."""


def _to_local(instant: datetime, name: str) -> datetime:
    """Return ``instant`` in Asia/Shanghai, refusing naive datetimes.

    A naive datetime could be UTC (from a database) or local (from a form); guessing wrong moves
    a deadline by eight hours, so the caller must say.
    """
    if not isinstance(instant, datetime):
        raise TypeError(f"{name} must be a datetime, not {type(instant).__name__}")
    if instant.tzinfo is None or instant.tzinfo.utcoffset(instant) is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {instant.isoformat()}")
    return instant.astimezone(TZ)


def _at(d: date, t: time) -> datetime:
    """The local instant at wall time ``t`` on day ``d``."""
    return datetime.combine(d, t, tzinfo=TZ)


class WorkCalendar:
    """Mainland China working days plus a dealership's own exceptions and opening hours.

    A day is answered by the first source that knows it: ``extra_holidays`` and
    ``extra_workdays`` (a dealership's closing days such as 盘点 or 店庆, or a correction);
    the ``notices`` (year -> the State Council's notice loaded for it); the chinesecalendar
    package for the years it covers; the statutory rules for any other year, which give the
    days off and no adjusted working weekends.
    """

    def __init__(
        self,
        extra_holidays: set[date] | frozenset[date] | None = None,
        extra_workdays: set[date] | frozenset[date] | None = None,
        business_hours: tuple[time, time] = (time(8, 30), time(17, 30)),
        notices: Mapping[int, Notice] | None = None,
    ) -> None:
        self.extra_holidays: frozenset[date] = frozenset(extra_holidays or ())
        self.extra_workdays: frozenset[date] = frozenset(extra_workdays or ())
        for d in self.extra_holidays | self.extra_workdays:
            if isinstance(d, datetime) or not isinstance(d, date):
                raise TypeError(f"extra holidays and workdays must be dates, got {d!r}")
        both = self.extra_holidays & self.extra_workdays
        if both:
            listed = ", ".join(sorted(d.isoformat() for d in both))
            raise ValueError(f"dates listed both as extra holiday and extra workday: {listed}")
        opening, closing = business_hours
        for t in (opening, closing):
            if t.tzinfo is not None:
                raise ValueError("business hours are local wall times; give them without tzinfo")
        if not opening < closing:
            raise ValueError(f"business hours must open before they close, got {opening}–{closing}")
        self.opening: time = opening
        self.closing: time = closing
        self.notices: dict[int, Notice] = dict(notices or {})
        # A notice may reach into the December before its year (元旦 arrangements), and a later
        # notice amends an earlier year's days, so listed days are merged in year order.
        self._notice_days: dict[date, bool] = {}
        for year in sorted(self.notices):
            n = self.notices[year]
            self._notice_days.update({d: False for d in n.holidays} | {d: True for d in n.workdays})
        self._days: dict[date, bool] = {}
        """Answers so far: SLA pages and worker passes ask about the same days for every case."""
        self._totals: dict[tuple[int, str], list[timedelta]] = {}
        """Per year and basis, the running total of counted time (`elapsed` over long spans)."""
        self.signature: str = ";".join([f"chinesecalendar {LIBRARY_VERSION}",
                                        *(f"{y}:{n.digest}" for y, n in sorted(self.notices.items()))])
        """Changes when the sources change (a notice loaded): deadlines stored with an older
        signature are due for recomputation."""

    # ------------------------------------------------------------------ days

    def source(self, year: int) -> str:
        """Where the holidays of ``year`` come from: "notice", "package" or "rules"."""
        if year in self.notices:
            return "notice"
        if LIBRARY_FIRST_YEAR <= year <= LIBRARY_LAST_YEAR:
            return "package"
        return "rules"

    def is_workday(self, d: date) -> bool:
        """Whether people work on ``d``: statutory holidays off, adjusted weekends (调休) on.

        Answers for any date; for a year known only from the rules the answer is the rules'
        (days off, and no adjusted working weekends).
        """
        known = self._days.get(d)
        if known is not None:
            return known
        if isinstance(d, datetime):
            # A datetime's calendar day depends on its zone; make the caller pick it explicitly.
            raise TypeError("is_workday takes a date; convert the datetime to Asia/Shanghai and call .date()")
        if d in self.extra_holidays:
            answer = False
        elif d in self.extra_workdays:
            answer = True
        elif d in self._notice_days:
            answer = self._notice_days[d]
        else:
            source = self.source(d.year)
            if source == "package":
                answer = bool(chinese_calendar.is_workday(d))
            elif source == "notice":
                answer = d.weekday() < 5  # the notice lists every holiday and adjusted working day
            else:
                answer = d.weekday() < 5 and not _rule_day_off(d)
        self._days[d] = answer
        return answer

    def provisional(self, start: datetime, end: datetime) -> bool:
        """Whether counting working days from ``start`` to ``end`` consults a year known only
        from the rules. The day ``end`` opens at 00:00 is not counted (deadlines at the end of
        a day are written as 00:00 of the next)."""
        first = _to_local(start, "start").date()
        last = max(first, (_to_local(end, "end") - timedelta(microseconds=1)).date())
        return any(self.source(y) == "rules" for y in range(first.year, last.year + 1))

    def next_workday(self, d: date) -> date:
        """The first working day strictly after ``d``."""
        d = _next_day(d)
        while not self.is_workday(d):
            d = _next_day(d)
        return d

    def _counted(self, d: date, basis: str) -> tuple[datetime, datetime] | None:
        """The interval of day ``d`` that counts on ``basis`` (None when none of it does)."""
        if basis == "24x7":
            return _at(d, _MIDNIGHT), _at(_next_day(d), _MIDNIGHT)
        if not self.is_workday(d):
            return None
        if basis == "working_days":
            return _at(d, _MIDNIGHT), _at(_next_day(d), _MIDNIGHT)
        return _at(d, self.opening), _at(d, self.closing)

    # ------------------------------------------------------------------ clocks

    def add(self, start: datetime, amount: int | float, unit: str, basis: str) -> datetime:
        """The deadline of a clock of ``amount`` ``unit`` started at ``start``, counted on ``basis``.

        The deadline is the earliest instant at which the time counted on ``basis`` since
        ``start`` reaches the amount (a zero amount is due at ``start``). Consequences:

        * ``24x7``: plain elapsed time; ``days`` are 24 hours. ``working_days`` is refused as
          contradictory.
        * ``working_days`` basis: ``minutes``/``hours`` count only time on working days;
          ``days`` and ``working_days`` both mean working days of 24 counted hours. From a start
          on a working day the deadline is the same clock time N working days later; from a
          start on a non-working day (or at 00:00) counting begins at 00:00 of the next working
          day and the deadline is the end of the Nth working day, returned as 00:00 of the
          following calendar day.
        * ``business_hours``: only ``minutes``/``hours``; time runs inside opening hours on
          working days, and a start outside them begins counting at the next opening. Work that
          exactly fills the day is due at closing, not at the next opening.

        ``start`` must be timezone-aware; the result is aware, in Asia/Shanghai.
        """
        local = _to_local(start, "start")
        span = self._span(amount, unit, basis)
        if basis == "24x7":
            # Through UTC so the arithmetic is elapsed time whatever the zone's rules.
            try:
                return (local.astimezone(ZoneInfo("UTC")) + span).astimezone(TZ)
            except OverflowError:
                raise _too_late(local) from None
        if span == timedelta(0):
            return local
        remaining = span
        d = local.date()
        while True:
            interval = self._counted(d, basis)
            if interval is not None:
                begin, end = max(interval[0], local), interval[1]
                if begin < end:
                    if remaining <= end - begin:
                        return begin + remaining
                    remaining -= end - begin
            d = _next_day(d)

    @staticmethod
    def _span(amount: int | float, unit: str, basis: str) -> timedelta:
        """The amount as counted time, after checking the unit makes sense on the basis."""
        if basis not in BASES:
            raise ValueError(f"unknown basis {basis!r}; expected one of {', '.join(BASES)}")
        if unit not in UNITS:
            raise ValueError(f"unknown unit {unit!r}; expected one of {', '.join(UNITS)}")
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            raise TypeError(f"amount must be a number, got {amount!r}")
        if not math.isfinite(amount) or amount < 0:
            raise ValueError(f"amount must be a finite number ≥ 0, got {amount!r}")
        if basis == "24x7" and unit == "working_days":
            raise ValueError("a clock in working_days cannot run on the 24x7 basis; use basis working_days")
        if basis == "business_hours" and unit in ("days", "working_days"):
            raise ValueError(f"a clock in {unit} cannot run on the business_hours basis (a business day has no "
                             "fixed length); use basis working_days, or hours")
        if unit == "minutes":
            return timedelta(minutes=amount)
        if unit == "hours":
            return timedelta(hours=amount)
        return timedelta(days=amount)  # days and working_days: 24 counted hours each

    def end_of_day(self, start: datetime) -> datetime:
        """The deadline of a "same day" (当日) clock started at ``start``.

        Received on a working day before closing: the end of that day (00:00 of the next
        calendar day). Received after closing, or on a non-working day: the end of the next
        working day, because nobody is there to act before then. Returned in Asia/Shanghai.
        """
        local = _to_local(start, "start")
        d = local.date()
        if not (self.is_workday(d) and local.time() < self.closing):
            d = self.next_workday(d)
        return _at(_next_day(d), _MIDNIGHT)

    def elapsed(self, start: datetime, end: datetime, basis: str) -> timedelta:
        """The time that counts on ``basis`` between ``start`` and ``end``.

        The inverse of ``add``: ``elapsed(s, add(s, x, unit, basis), basis)`` is the amount,
        so a warning at 80 % of a clock compares ``elapsed(start, now, basis)`` with 0.8 × the
        amount. ``24x7`` is the plain difference; ``working_days`` counts whole working days;
        ``business_hours`` counts opening hours on working days. Negative when ``end`` is
        before ``start``.
        """
        if basis not in BASES:
            raise ValueError(f"unknown basis {basis!r}; expected one of {', '.join(BASES)}")
        a, b = _to_local(start, "start"), _to_local(end, "end")
        if b < a:
            return -self.elapsed(b, a, basis)
        if basis == "24x7":
            return b - a
        first, last = a.date(), b.date()
        if (last - first).days < 3 or last.year >= date.max.year:
            return self._elapsed_day_by_day(a, b, basis)
        # The first and last days in part, the whole days between from the years' running totals:
        # a clock open for years (a backlog, a worker that was down) costs no more than one open
        # for days.
        return (self._elapsed_day_by_day(a, _at(first + _DAY, _MIDNIGHT), basis)
                + self._whole_days(first + _DAY, last - _DAY, basis)
                + self._elapsed_day_by_day(_at(last, _MIDNIGHT), b, basis))

    def _elapsed_day_by_day(self, a: datetime, b: datetime, basis: str) -> timedelta:
        """`elapsed` on local instants a <= b, one day after the other."""
        total = timedelta(0)
        d = a.date()
        while _at(d, _MIDNIGHT) < b:  # not the day ``end`` opens at 00:00: none of it counts
            interval = self._counted(d, basis)
            if interval is not None:
                begin, finish = max(interval[0], a), min(interval[1], b)
                if begin < finish:
                    total += finish - begin
            d += _DAY
        return total

    def _whole_days(self, first: date, last: date, basis: str) -> timedelta:
        """The counted time of the days ``first`` to ``last``, both whole (none when last < first)."""
        if last < first:
            return timedelta(0)
        if first.year == last.year:
            totals = self._year_totals(first.year, basis)
            return totals[last.timetuple().tm_yday] - totals[first.timetuple().tm_yday - 1]
        return (self._whole_days(first, date(first.year, 12, 31), basis)
                + sum((self._year_totals(y, basis)[-1] for y in range(first.year + 1, last.year)), timedelta(0))
                + self._whole_days(date(last.year, 1, 1), last, basis))

    def _year_totals(self, year: int, basis: str) -> list[timedelta]:
        """The counted time of ``year`` on ``basis`` up to the end of each of its days (index 0: none),
        built once per calendar: its days never change (a new notice makes a new calendar)."""
        totals = self._totals.get((year, basis))
        if totals is None:
            totals = [timedelta(0)]
            d = date(year, 1, 1)
            while d.year == year:
                interval = self._counted(d, basis)
                totals.append(totals[-1] + (interval[1] - interval[0] if interval else timedelta(0)))
                d += _DAY
            self._totals[(year, basis)] = totals
        return totals


def _rule_day_off(d: date) -> bool:
    # A festival of January can take 31 December before (元旦 on a Tuesday takes the Monday).
    return d in statutory.days_off(d.year) or (d.month == 12 and d.year < 9999 and d in statutory.days_off(d.year + 1))


def _next_day(d: date) -> date:
    if d == date.max:
        raise _too_late(datetime.combine(d, _MIDNIGHT, tzinfo=TZ))
    return d + _DAY


def _too_late(start: datetime) -> CalendarError:
    return CalendarError(f"a deadline counted from {start.isoformat()} would fall after 9999-12-31")


# ---- the calendar of a policy, cached ----------------------------------------------------------
NOTICE_RECHECK_SECONDS = 1.0
"""How often a cached calendar looks at its notice folders: a notice loaded by another process
(`triage policy load-notice`, or a file copied in) is in force within this time, no restart."""


@dataclass
class _Cached:
    policy: weakref.ref[Policy]
    calendar: WorkCalendar
    fingerprint: tuple[Any, ...]
    checked: float


_calendars: dict[int, _Cached] = {}
_lock = threading.Lock()


def notice_folders(policy: Policy) -> list[Path]:
    """The folders a policy's notices are read from, lowest precedence first: the notices
    shipped with the package, then the administrator's folder (``calendar.notices_dir``, which
    the loader always sets)."""
    folder = policy.calendar.get("notices_dir")
    return [SHIPPED_NOTICES] + ([Path(str(folder))] if folder else [])


def work_calendar(policy: Policy) -> WorkCalendar:
    """The calendar a policy's clocks count on: the statutory calendar with the notices
    loaded, the policy's own extra holidays and working days, and its business hours.

    Built once per policy and reused (routing calls this for every complaint); rebuilt when a
    notice file in its folders changes, which it checks every NOTICE_RECHECK_SECONDS, or at
    once after ``invalidate_calendars()`` (what loading a notice calls).
    """
    now = _time.monotonic()
    cached = _calendars.get(id(policy))
    if cached is not None and cached.policy() is policy and now - cached.checked < NOTICE_RECHECK_SECONDS:
        return cached.calendar
    folders = notice_folders(policy)
    seen = fingerprint(folders)
    if cached is not None and cached.policy() is policy and cached.fingerprint == seen:
        cached.checked = now
        return cached.calendar
    with _lock:
        calendar = _build(policy, folders)
        key = id(policy)
        _calendars[key] = _Cached(weakref.ref(policy, lambda _ref: _calendars.pop(key, None)), calendar, seen, now)
    return calendar


def invalidate_calendars() -> None:
    """Forget every cached calendar: the next ``work_calendar`` reads the notices again."""
    with _lock:
        _calendars.clear()


def _build(policy: Policy, folders: list[Path]) -> WorkCalendar:
    loaded = load_notices(folders)
    for problem in loaded.problems:
        log.warning("holiday notice %s", problem)
    hours = policy.calendar.get("business_hours")
    kwargs: dict[str, Any] = {"extra_holidays": set(policy.calendar.get("extra_holidays") or ()),
                              "extra_workdays": set(policy.calendar.get("extra_workdays") or ()),
                              "notices": loaded.notices}
    if hours:
        kwargs["business_hours"] = tuple(datetime.strptime(h, "%H:%M").time() for h in hours)
    return WorkCalendar(**kwargs)


def deadline(cal: WorkCalendar, start: datetime, limit: Duration, basis: str) -> datetime:
    """When a clock of `limit` on `basis` that starts at `start` runs out. Months are calendar
    months (the 3-month auto-close of 002-A §10), capped at the month's last day."""
    if limit.unit == "same_day":
        return cal.end_of_day(start)
    if limit.unit == "months":
        local = start.astimezone(TZ)
        month = local.month - 1 + int(limit.amount)
        year, month = local.year + month // 12, month % 12 + 1
        if year > 9999:
            raise _too_late(local)
        day = min(local.day, _months.monthrange(year, month)[1])
        return local.replace(year=year, month=month, day=day)
    return cal.add(start, limit.amount, limit.unit, basis)


def provisional(cal: WorkCalendar, start: datetime, end: datetime, limit: Duration, basis: str) -> bool:
    """Whether the deadline ``end`` of a clock started at ``start`` rests on a year known only
    from the rules, so that loading that year's notice may move it. Clocks that count plain
    time (24x7, calendar months) never consult the working days."""
    if limit.unit == "months" or (basis == "24x7" and limit.unit != "same_day"):
        return False
    return cal.provisional(start, end)
