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

Everything here is pure: nothing reads the current time, so deadlines can be recomputed and
tested against fixed dates.
"""

from __future__ import annotations

import calendar as _months
import math
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import chinese_calendar
from chinese_calendar import constants as _cc_constants

if TYPE_CHECKING:
    from triage.policy.model import Duration, Policy

TZ = ZoneInfo("Asia/Shanghai")
"""All deadlines are stated in dealership-local time; mainland China has one zone and no DST."""

UNITS = ("minutes", "hours", "days", "working_days")
BASES = ("24x7", "working_days", "business_hours")

_DAY = timedelta(days=1)
_MIDNIGHT = time(0, 0)

try:
    _LIBRARY_VERSION = version("chinesecalendar")
except PackageNotFoundError:  # pragma: no cover - only if installed without metadata
    _LIBRARY_VERSION = "unknown version"

_LIBRARY_DATES = set(_cc_constants.holidays) | set(_cc_constants.workdays)
LIBRARY_FIRST_YEAR: int = min(d.year for d in _LIBRARY_DATES)
LIBRARY_LAST_YEAR: int = max(d.year for d in _LIBRARY_DATES)
"""Years the installed chinesecalendar knows the State Council's holiday schedule for.

The schedule is published each November for the next year, so an old package silently
treats next year's Spring Festival as working days unless we refuse dates outside this range.
"""


class CalendarError(ValueError):
    """A date the working-day calendar cannot answer for.

    Raised instead of guessing, because guessing Monday–Friday for a year whose holidays are
    unknown would put deadlines in the middle of Spring Festival without anyone noticing.
    """


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

    ``extra_holidays`` and ``extra_workdays`` override the library, day by day: a dealership
    closing day (盘点, 店庆) goes in ``extra_holidays``; a day the library gets wrong goes in
    whichever set is right. Listing at least one holiday of a year the library does not cover
    declares that the policy covers that year: its other days then follow Monday–Friday, so
    the policy must list all of that year's statutory holidays and adjusted working days.
    """

    def __init__(
        self,
        extra_holidays: set[date] | frozenset[date] | None = None,
        extra_workdays: set[date] | frozenset[date] | None = None,
        business_hours: tuple[time, time] = (time(8, 30), time(17, 30)),
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
        self.policy_years: frozenset[int] = frozenset(
            d.year for d in self.extra_holidays if not LIBRARY_FIRST_YEAR <= d.year <= LIBRARY_LAST_YEAR
        )

    # ------------------------------------------------------------------ days

    def is_workday(self, d: date) -> bool:
        """Whether people work on ``d``: statutory holidays off, adjusted weekends (调休) on.

        The extras win over the library. Raises CalendarError for a date neither the library
        nor the policy covers.
        """
        if isinstance(d, datetime):
            # A datetime's calendar day depends on its zone; make the caller pick it explicitly.
            raise TypeError("is_workday takes a date; convert the datetime to Asia/Shanghai and call .date()")
        if d in self.extra_holidays:
            return False
        if d in self.extra_workdays:
            return True
        if d.year in self.policy_years:
            return d.weekday() < 5
        if not LIBRARY_FIRST_YEAR <= d.year <= LIBRARY_LAST_YEAR:
            raise _uncovered(d)
        return _library_workday(d)

    def next_workday(self, d: date) -> date:
        """The first working day strictly after ``d``."""
        d += _DAY
        while not self.is_workday(d):
            d += _DAY
        return d

    def _counted(self, d: date, basis: str) -> tuple[datetime, datetime] | None:
        """The interval of day ``d`` that counts on ``basis`` (None when none of it does)."""
        if basis == "24x7":
            return _at(d, _MIDNIGHT), _at(d + _DAY, _MIDNIGHT)
        if not self.is_workday(d):
            return None
        if basis == "working_days":
            return _at(d, _MIDNIGHT), _at(d + _DAY, _MIDNIGHT)
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
            return (local.astimezone(ZoneInfo("UTC")) + span).astimezone(TZ)
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
            d += _DAY

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
        return _at(d + _DAY, _MIDNIGHT)

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
        total = timedelta(0)
        d = a.date()
        while _at(d, _MIDNIGHT) < b:  # not the day ``end`` opens at 00:00, which may be uncovered
            interval = self._counted(d, basis)
            if interval is not None:
                begin, finish = max(interval[0], a), min(interval[1], b)
                if begin < finish:
                    total += finish - begin
            d += _DAY
        return total


@lru_cache(maxsize=20_000)
def _library_workday(d: date) -> bool:
    """The library's answer for a date it covers, cached: SLA pages ask about the same days
    for every case."""
    try:
        return bool(chinese_calendar.is_workday(d))
    except NotImplementedError as exc:  # the library's own range check, should ours drift
        raise _uncovered(d) from exc


def _uncovered(d: date) -> CalendarError:
    return CalendarError(
        f"{d.isoformat()}: the working-day calendar (chinesecalendar {_LIBRARY_VERSION}) covers "
        f"{LIBRARY_FIRST_YEAR}–{LIBRARY_LAST_YEAR}; update the package or list the year's holidays in the policy"
    )


def work_calendar(policy: Policy) -> WorkCalendar:
    """The calendar a policy's clocks count on: the statutory calendar with the policy's own
    extra holidays and working days, and its business hours."""
    hours = policy.calendar.get("business_hours")
    kwargs: dict[str, Any] = {"extra_holidays": set(policy.calendar.get("extra_holidays") or ()),
                              "extra_workdays": set(policy.calendar.get("extra_workdays") or ())}
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
        day = min(local.day, _months.monthrange(year, month)[1])
        return local.replace(year=year, month=month, day=day)
    return cal.add(start, limit.amount, limit.unit, basis)
