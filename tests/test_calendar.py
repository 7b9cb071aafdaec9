"""Deadline arithmetic on the mainland China working-day calendar (triage/policy/calendar.py).

Expected dates come from chinesecalendar 1.11.0: National Day 2025 is 10-01..10-08 with
working Sunday 09-28 and Saturday 10-11; Mid-autumn 2026 is 09-25..27 and National Day 2026
is 10-01..10-07 with working Sunday 09-20 and Saturday 10-10; Spring Festival 2026 is
02-15..02-23 with working Saturdays 02-14 and 02-28.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from triage.policy.calendar import TZ, CalendarError, WorkCalendar

CAL = WorkCalendar()


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=TZ)


# ---------------------------------------------------------------- working days


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2025, 9, 28), True),  # Sunday, adjusted working day before National Day 2025
        (date(2025, 10, 1), False),
        (date(2025, 10, 8), False),  # 2025 National Day runs through the 8th (Mid-autumn joined)
        (date(2025, 10, 9), True),
        (date(2025, 10, 11), True),  # Saturday, adjusted working day
        (date(2025, 10, 12), False),  # an ordinary Sunday
        (date(2026, 9, 20), True),  # Sunday, adjusted working day
        (date(2026, 9, 25), False),  # Mid-autumn Festival 2026 (Friday)
        (date(2026, 9, 30), True),
        (date(2026, 10, 1), False),
        (date(2026, 10, 7), False),
        (date(2026, 10, 8), True),
        (date(2026, 10, 10), True),  # Saturday, adjusted working day
        (date(2026, 2, 14), True),  # Saturday, adjusted working day before Spring Festival
        (date(2026, 2, 16), False),  # 除夕
        (date(2026, 2, 23), False),
        (date(2026, 2, 24), True),
        (date(2026, 2, 28), True),  # Saturday, adjusted working day after Spring Festival
        (date(2026, 3, 1), False),
    ],
)
def test_is_workday_follows_statutory_holidays_and_adjusted_weekends(day: date, expected: bool) -> None:
    assert CAL.is_workday(day) is expected


@pytest.mark.parametrize("day", [date(2030, 1, 2), date(2003, 6, 1)])
def test_uncovered_date_raises_calendar_error_naming_date_and_covered_range(day: date) -> None:
    with pytest.raises(CalendarError) as info:
        CAL.is_workday(day)
    message = str(info.value)
    assert day.isoformat() in message
    assert str(day.year) in message
    assert "2004–2026" in message
    assert "chinesecalendar 1.11.0" in message


def test_deadline_running_past_covered_range_raises_calendar_error() -> None:
    with pytest.raises(CalendarError, match="2027-01-0"):
        CAL.add(at(2026, 12, 28, 10), 10, "working_days", "working_days")


def test_24x7_clock_needs_no_calendar_coverage() -> None:
    assert CAL.add(at(2030, 1, 2, 10), 3, "days", "24x7") == at(2030, 1, 5, 10)


def test_extra_holiday_overrides_library_working_day() -> None:
    cal = WorkCalendar(extra_holidays={date(2026, 9, 30)})
    assert cal.is_workday(date(2026, 9, 30)) is False
    # The working day lost is skipped when counting.
    assert cal.add(at(2026, 9, 29, 10), 1, "working_days", "working_days") == at(2026, 10, 8, 10)


def test_extra_workday_overrides_library_holiday() -> None:
    cal = WorkCalendar(extra_workdays={date(2026, 10, 3)})
    assert cal.is_workday(date(2026, 10, 3)) is True
    assert cal.add(at(2026, 9, 30, 10), 1, "working_days", "working_days") == at(2026, 10, 3, 10)


def test_listing_holidays_of_an_uncovered_year_makes_the_policy_cover_it() -> None:
    cal = WorkCalendar(extra_holidays={date(2027, 1, 1)}, extra_workdays={date(2027, 1, 9)})
    assert cal.is_workday(date(2027, 1, 1)) is False
    assert cal.is_workday(date(2027, 1, 4)) is True  # Monday
    assert cal.is_workday(date(2027, 1, 9)) is True  # listed Saturday
    assert cal.is_workday(date(2027, 1, 10)) is False  # Sunday
    with pytest.raises(CalendarError):
        cal.is_workday(date(2028, 1, 3))


def test_same_date_as_extra_holiday_and_extra_workday_is_rejected() -> None:
    with pytest.raises(ValueError, match="2026-10-03"):
        WorkCalendar(extra_holidays={date(2026, 10, 3)}, extra_workdays={date(2026, 10, 3)})


def test_business_hours_must_open_before_closing() -> None:
    with pytest.raises(ValueError):
        WorkCalendar(business_hours=(time(18), time(9)))


# ---------------------------------------------------------------- add: table


@pytest.mark.parametrize(
    ("start", "amount", "unit", "basis", "deadline"),
    [
        # 23:59 the night before National Day 2026 (Wednesday, a working day).
        (at(2026, 9, 30, 23, 59), 24, "hours", "24x7", at(2026, 10, 1, 23, 59)),
        (at(2026, 9, 30, 23, 59), 7, "days", "24x7", at(2026, 10, 7, 23, 59)),
        (at(2026, 9, 30, 23, 59), 2, "hours", "business_hours", at(2026, 10, 8, 10, 30)),
        (at(2026, 9, 30, 23, 59), 3, "working_days", "working_days", at(2026, 10, 10, 23, 59)),
        (at(2026, 9, 30, 23, 59), 7, "days", "working_days", at(2026, 10, 15, 23, 59)),
        (at(2026, 9, 30, 23, 59), 24, "hours", "working_days", at(2026, 10, 8, 23, 59)),
        # Received on a holiday: counting starts 00:00 of the next working day (10-08).
        (at(2026, 10, 3, 10), 24, "hours", "24x7", at(2026, 10, 4, 10)),
        (at(2026, 10, 3, 10), 2, "hours", "business_hours", at(2026, 10, 8, 10, 30)),
        (at(2026, 10, 3, 10), 1, "working_days", "working_days", at(2026, 10, 9)),
        (at(2026, 10, 3, 10), 3, "working_days", "working_days", at(2026, 10, 11)),  # 08, 09, Sat 10
        (at(2026, 10, 3, 10), 7, "days", "working_days", at(2026, 10, 16)),
        # Received on the adjusted working Sunday 2026-09-20: it counts like a weekday.
        (at(2026, 9, 20, 10), 2, "hours", "business_hours", at(2026, 9, 20, 12)),
        (at(2026, 9, 20, 10), 3, "working_days", "working_days", at(2026, 9, 23, 10)),
        # Mid-autumn (09-25..27) then National Day: 09-24 Thu -> 28, 29, 30, 10-08.
        (at(2026, 9, 24, 15), 4, "working_days", "working_days", at(2026, 10, 8, 15)),
        # Received at night on a working day (after closing).
        (at(2026, 9, 29, 20), 2, "hours", "business_hours", at(2026, 9, 30, 10, 30)),
        (at(2026, 9, 29, 20), 3, "working_days", "working_days", at(2026, 10, 9, 20)),
        # 3 working days across National Day 2025 (10-01..08): 09, 10, working Saturday 11.
        (at(2025, 9, 30, 10), 3, "working_days", "working_days", at(2025, 10, 11, 10)),
        (at(2025, 9, 30, 10), 4, "working_days", "working_days", at(2025, 10, 13, 10)),
        (at(2025, 9, 27, 9), 1, "working_days", "working_days", at(2025, 9, 29)),  # Sat -> end of Sun 28
        (at(2025, 10, 4, 9), 2, "hours", "business_hours", at(2025, 10, 9, 10, 30)),
        # Spring Festival 2026: working Saturday 02-14, holidays 02-15..23.
        (at(2026, 2, 13, 16), 3, "working_days", "working_days", at(2026, 2, 25, 16)),
        (at(2026, 2, 13, 16), 2, "hours", "business_hours", at(2026, 2, 14, 9)),
        (at(2026, 2, 14, 17), 1, "hours", "business_hours", at(2026, 2, 24, 9)),
        (at(2026, 2, 18, 12), 1, "working_days", "working_days", at(2026, 2, 25)),
        # Business hours across an ordinary weekend: Fri 2026-03-06 16:30 + 3 h -> Mon 10:30.
        (at(2026, 3, 6, 16, 30), 3, "hours", "business_hours", at(2026, 3, 9, 10, 30)),
        (at(2026, 3, 6, 16, 30), 90, "minutes", "business_hours", at(2026, 3, 9, 9)),
        # Work that exactly fills the afternoon is due at closing, not at the next opening.
        (at(2026, 3, 6, 16, 30), 1, "hours", "business_hours", at(2026, 3, 6, 17, 30)),
        # Before opening: counting starts at opening.
        (at(2026, 3, 9, 7), 2, "hours", "business_hours", at(2026, 3, 9, 10, 30)),
        # A start at 00:00 of a working day is the whole day: due at its end.
        (at(2026, 3, 6), 1, "working_days", "working_days", at(2026, 3, 7)),
        (at(2026, 3, 6, 16, 30), 0, "hours", "business_hours", at(2026, 3, 6, 16, 30)),
    ],
)
def test_add_gives_documented_deadline_on_real_dates(
    start: datetime, amount: float, unit: str, basis: str, deadline: datetime
) -> None:
    assert CAL.add(start, amount, unit, basis) == deadline


def test_add_converts_other_zones_to_shanghai() -> None:
    # 2026-09-30 15:59 UTC is 23:59 in Shanghai.
    start = datetime(2026, 9, 30, 15, 59, tzinfo=UTC)
    result = CAL.add(start, 2, "hours", "business_hours")
    assert result == at(2026, 10, 8, 10, 30)
    assert result.tzinfo == TZ


def test_add_refuses_naive_start() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.add(datetime(2026, 3, 6, 10), 2, "hours", "24x7")


@pytest.mark.parametrize(
    ("amount", "unit", "basis"),
    [
        (1, "weeks", "24x7"),
        (1, "hours", "office"),
        (-1, "hours", "24x7"),
        (float("nan"), "hours", "24x7"),
        (3, "working_days", "24x7"),
        (3, "days", "business_hours"),
        (3, "working_days", "business_hours"),
    ],
)
def test_add_rejects_unknown_or_contradictory_clocks(amount: float, unit: str, basis: str) -> None:
    with pytest.raises(ValueError):
        CAL.add(at(2026, 3, 6, 10), amount, unit, basis)


# ---------------------------------------------------------------- end_of_day


@pytest.mark.parametrize(
    ("start", "deadline"),
    [
        (at(2026, 9, 30, 10), at(2026, 10, 1)),  # working day before closing: end of the day
        (at(2026, 9, 30, 7), at(2026, 10, 1)),  # before opening still counts as that day
        (at(2026, 9, 30, 17, 29), at(2026, 10, 1)),
        (at(2026, 9, 30, 17, 30), at(2026, 10, 9)),  # at closing: end of next working day (10-08)
        (at(2026, 9, 30, 23, 59), at(2026, 10, 9)),
        (at(2026, 10, 3, 10), at(2026, 10, 9)),  # on a holiday
        (at(2026, 10, 7, 23), at(2026, 10, 9)),
        (at(2026, 9, 20, 10), at(2026, 9, 21)),  # adjusted working Sunday
        (at(2026, 3, 6, 20), at(2026, 3, 10)),  # Friday night -> end of Monday
        (at(2026, 2, 14, 18), at(2026, 2, 25)),  # after closing on working Saturday before Spring Festival
    ],
)
def test_end_of_day_is_end_of_start_day_or_of_next_working_day(start: datetime, deadline: datetime) -> None:
    result = CAL.end_of_day(start)
    assert result == deadline
    assert result.tzinfo == TZ


def test_end_of_day_follows_custom_closing_time() -> None:
    cal = WorkCalendar(business_hours=(time(9), time(21)))
    assert cal.end_of_day(at(2026, 3, 6, 20)) == at(2026, 3, 7)


# ---------------------------------------------------------------- elapsed


@pytest.mark.parametrize(
    ("start", "end", "basis", "expected"),
    [
        (at(2026, 9, 30, 23), at(2026, 10, 8, 1), "24x7", timedelta(days=7, hours=2)),
        (at(2026, 9, 30, 23), at(2026, 10, 8, 1), "working_days", timedelta(hours=2)),
        (at(2026, 9, 30, 16), at(2026, 10, 8, 9, 30), "business_hours", timedelta(hours=2, minutes=30)),
        (at(2026, 3, 7, 10), at(2026, 3, 8, 10), "business_hours", timedelta(0)),  # weekend
        (at(2026, 3, 9, 10), at(2026, 3, 6, 17), "business_hours", -timedelta(hours=2)),
    ],
)
def test_elapsed_counts_only_time_on_the_basis(start: datetime, end: datetime, basis: str, expected: timedelta) -> None:
    assert CAL.elapsed(start, end, basis) == expected


def test_elapsed_at_80_percent_of_business_hours_clock() -> None:
    start = at(2026, 3, 6, 16, 30)
    deadline = CAL.add(start, 4, "hours", "business_hours")
    warn = CAL.add(start, 4 * 0.8, "hours", "business_hours")
    assert warn < deadline
    assert CAL.elapsed(start, warn, "business_hours") == timedelta(hours=3.2)


# ---------------------------------------------------------------- properties

_starts = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2026, 11, 30), timezones=st.just(TZ)
)
_utc_starts = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2026, 11, 30), timezones=st.just(UTC)
)
_clock = st.sampled_from(
    [
        ("minutes", "24x7"),
        ("hours", "24x7"),
        ("days", "24x7"),
        ("minutes", "working_days"),
        ("hours", "working_days"),
        ("days", "working_days"),
        ("working_days", "working_days"),
        ("minutes", "business_hours"),
        ("hours", "business_hours"),
    ]
)
_MAX = {"minutes": 3000, "hours": 50, "days": 10, "working_days": 10}


def _amount(unit: str) -> st.SearchStrategy[float]:
    return st.one_of(st.integers(0, _MAX[unit]), st.floats(0, _MAX[unit], allow_nan=False))


@settings(max_examples=200, deadline=None)
@given(start=st.one_of(_starts, _utc_starts), clock=_clock, data=st.data())
def test_add_is_monotonic_in_amount(start: datetime, clock: tuple[str, str], data: st.DataObject) -> None:
    unit, basis = clock
    a = data.draw(_amount(unit))
    b = data.draw(_amount(unit))
    low, high = min(a, b), max(a, b)
    assert CAL.add(start, low, unit, basis) <= CAL.add(start, high, unit, basis)


@settings(max_examples=200, deadline=None)
@given(start=st.one_of(_starts, _utc_starts), hours=st.floats(0, 1000, allow_nan=False))
def test_24x7_hours_are_plain_elapsed_time(start: datetime, hours: float) -> None:
    assert CAL.add(start, hours, "hours", "24x7") - start == timedelta(hours=hours)


@settings(max_examples=200, deadline=None)
@given(start=_starts, n=st.integers(1, 10))
def test_working_days_deadline_falls_on_or_at_end_of_a_working_day(start: datetime, n: int) -> None:
    deadline = CAL.add(start, n, "working_days", "working_days")
    if deadline.time() == time(0):
        assert CAL.is_workday(deadline.date() - timedelta(days=1))
    else:
        assert CAL.is_workday(deadline.date())


@settings(max_examples=200, deadline=None)
@given(start=_starts, n=st.integers(1, 10))
def test_working_days_from_working_day_keep_clock_time(start: datetime, n: int) -> None:
    deadline = CAL.add(start, n, "working_days", "working_days")
    if CAL.is_workday(start.date()) and start.time() != time(0):
        assert deadline.time() == start.time()
        assert CAL.is_workday(deadline.date())
        between = [start.date() + timedelta(days=i) for i in range(1, (deadline.date() - start.date()).days + 1)]
        assert sum(CAL.is_workday(d) for d in between) == n
    else:
        assert deadline.time() == time(0)


@settings(max_examples=200, deadline=None)
@given(start=st.one_of(_starts, _utc_starts), clock=_clock, data=st.data())
def test_elapsed_until_deadline_equals_amount(start: datetime, clock: tuple[str, str], data: st.DataObject) -> None:
    unit, basis = clock
    amount = data.draw(_amount(unit))
    deadline = CAL.add(start, amount, unit, basis)
    # days and working_days are 24 counted hours each, measured in working-day time on that basis.
    expected = timedelta(**{"days" if unit == "working_days" else unit: amount})
    assert CAL.elapsed(start, deadline, basis) == expected


@settings(max_examples=200, deadline=None)
@given(start=st.one_of(_starts, _utc_starts), clock=_clock, data=st.data())
def test_results_are_shanghai_aware(start: datetime, clock: tuple[str, str], data: st.DataObject) -> None:
    unit, basis = clock
    deadline = CAL.add(start, data.draw(_amount(unit)), unit, basis)
    assert deadline.tzinfo == TZ
    assert deadline.utcoffset() == timedelta(hours=8)
    assert CAL.end_of_day(start).tzinfo == TZ


@settings(max_examples=200, deadline=None)
@given(start=_starts)
def test_end_of_day_is_midnight_after_a_working_day_and_never_before_start(start: datetime) -> None:
    deadline = CAL.end_of_day(start)
    assert deadline > start
    assert deadline.time() == time(0)
    assert CAL.is_workday(deadline.date() - timedelta(days=1))
