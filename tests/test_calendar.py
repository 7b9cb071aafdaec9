"""Deadline arithmetic on the mainland China working-day calendar (triage/policy/calendar.py).

Expected dates up to 2026 come from chinesecalendar 1.11.0: National Day 2025 is 10-01..10-08
with working Sunday 09-28 and Saturday 10-11; Mid-autumn 2026 is 09-25..27 and National Day
2026 is 10-01..10-07 with working Sunday 09-20 and Saturday 10-10; Spring Festival 2026 is
02-15..02-23 with working Saturdays 02-14 and 02-28. From 2027 the statutory rules answer
(triage/policy/statutory.py): 除夕 2027-02-05, 中秋 2027-09-15, 中秋 2028-10-03 (joined with
National Day), 除夕 2029-02-12, 除夕 2030-02-02 — the lunar dates as published in every
almanac (and as the `holidays` package has them).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from triage.policy import calendar as calendar_module
from triage.policy.calendar import TZ, CalendarError, WorkCalendar, deadline, provisional, work_calendar
from triage.policy.loader import load_policy
from triage.policy.model import Duration
from triage.policy.notice import parse_notice
from triage.policy.statutory import days_off, festival_dates, statutory_days

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


@pytest.mark.parametrize("day", [date(2030, 1, 2), date(2003, 6, 2), date(2027, 1, 4), date(1, 1, 3),
                                 date(9999, 12, 31)])
def test_every_date_has_an_answer(day: date) -> None:  # was CalendarError outside 2004–2026
    assert CAL.is_workday(day) is (day.weekday() < 5)


def test_deadline_running_past_the_package_counts_the_rule_holidays() -> None:
    # 2026-12-29..31 (package), 元旦 Fri 2027-01-01 off, then 01-04..08, 01-11, 01-12 (rules).
    start = at(2026, 12, 28, 10)
    assert CAL.add(start, 10, "working_days", "working_days") == at(2027, 1, 12, 10)
    assert CAL.provisional(start, at(2027, 1, 12, 10)) is True


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


def test_extra_days_of_a_rules_year_leave_its_other_holidays_to_the_rules() -> None:
    # Before, one extra holiday in 2027 made all of 2027 plain Monday–Friday (Spring Festival a working week).
    cal = WorkCalendar(extra_holidays={date(2027, 3, 15)}, extra_workdays={date(2027, 2, 20)})
    assert cal.is_workday(date(2027, 3, 15)) is False
    assert cal.is_workday(date(2027, 2, 20)) is True  # a Saturday the dealership works
    assert cal.is_workday(date(2027, 2, 8)) is False  # 春节 by the rules
    assert cal.source(2027) == "rules"


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

# Past the package's last year (2026) into the years the rules answer for.
_starts = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(TZ)
)
_utc_starts = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
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


# ---------------------------------------------------------------- years past the package: the rules


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2027, 1, 1), False),  # 元旦, a Friday
        (date(2027, 2, 4), True),  # Thursday before 除夕
        (date(2027, 2, 5), False),  # 除夕
        (date(2027, 2, 6), False),  # 春节 (正月初一)
        (date(2027, 2, 8), False),
        (date(2027, 2, 12), False),  # 8 days from 除夕
        (date(2027, 2, 15), True),  # Monday after
        (date(2027, 4, 5), False),  # 清明 (solar term), a Monday
        (date(2027, 5, 5), False),  # 劳动节 5 days
        (date(2027, 5, 6), True),
        (date(2027, 6, 9), False),  # 端午, a Wednesday
        (date(2027, 9, 15), False),  # 中秋, a Wednesday, apart from National Day
        (date(2027, 9, 16), True),
        (date(2027, 10, 7), False),  # 国庆 7 days
        (date(2027, 10, 8), True),
        (date(2028, 1, 25), False),  # 除夕 2028
        (date(2028, 2, 1), False),
        (date(2028, 2, 2), True),
        (date(2028, 10, 3), False),  # 中秋 inside National Day: 10-01..10-08
        (date(2028, 10, 8), False),  # a Sunday, and the 8th day of the joined holiday
        (date(2028, 10, 9), True),
        (date(2029, 2, 12), False),  # 除夕 2029
        (date(2029, 2, 19), False),
        (date(2029, 2, 20), True),
        (date(2029, 10, 8), True),  # 中秋 2029 is 09-22 (a Saturday): not joined
        (date(2029, 9, 24), False),  # ... and made up on the Monday
        (date(2030, 2, 2), False),  # 除夕 2030 (a Saturday)
        (date(2030, 2, 8), False),
        (date(2030, 2, 11), True),
        (date(2029, 12, 31), False),  # 元旦 2030 is a Tuesday: the Monday before bridges it
    ],
)
def test_years_past_the_package_follow_the_statutory_rules(day: date, expected: bool) -> None:
    assert CAL.source(day.year) == "rules"
    assert CAL.is_workday(day) is expected


@pytest.mark.parametrize("year", [2027, 2028, 2029, 2030])
def test_the_13_statutory_days_of_every_year_are_off(year: int) -> None:
    days = statutory_days(year)
    names = [n for joined in days.values() for n in joined.split("、")]
    assert len(names) == 13  # 2028: 中秋 is 10-03, a day of 国庆 too
    assert {"元旦", "春节", "清明节", "劳动节", "端午节", "中秋节", "国庆节"} == set(names)
    assert not any(CAL.is_workday(d) for d in days)


def test_festival_dates_from_the_lunar_calendar_and_the_solar_term() -> None:
    assert festival_dates(2027)["春节"] == date(2027, 2, 5)  # 除夕; 正月初一 is 02-06
    assert festival_dates(2027)["中秋节"] == date(2027, 9, 15)
    assert festival_dates(2028)["中秋节"] == date(2028, 10, 3)
    assert festival_dates(2027)["清明节"] == date(2027, 4, 5)
    assert festival_dates(2028)["清明节"] == date(2028, 4, 4)
    assert festival_dates(2027)["端午节"] == date(2027, 6, 9)


@pytest.mark.parametrize("year", [2025, 2026])
def test_the_rules_give_every_official_day_off_and_miss_only_the_adjusted_weekends(year: int) -> None:
    """Against the years of today's law the package has: the rules are never stricter."""
    off = days_off(year)
    day, too_strict, too_generous = date(year, 1, 1), [], []
    while day.year == year:
        by_rules = day.weekday() < 5 and day not in off
        official = chinese_calendar.is_workday(day)
        if by_rules and not official:
            too_strict.append(day)
        if official and not by_rules:
            too_generous.append(day)
        day += timedelta(days=1)
    assert too_strict == []
    assert too_generous == sorted(d for d in chinese_calendar.constants.workdays if d.year == year)


class _RulesOnly(WorkCalendar):
    """Every year by the rules, to compare them with the official schedule where it is known."""

    def source(self, year: int) -> str:
        return "rules"


_OFFICIAL_STARTS = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2026, 12, 1),
                                timezones=st.just(TZ))


@settings(max_examples=200, deadline=None)
@given(start=_OFFICIAL_STARTS, clock=_clock, data=st.data())
def test_rule_deadlines_are_never_earlier_than_official_ones(
    start: datetime, clock: tuple[str, str], data: st.DataObject
) -> None:
    unit, basis = clock
    amount = data.draw(_amount(unit))
    rules = _RulesOnly()
    assert rules.add(start, amount, unit, basis) >= CAL.add(start, amount, unit, basis)
    assert rules.end_of_day(start) >= CAL.end_of_day(start)


def test_provisional_when_the_counting_reaches_a_rules_year() -> None:
    assert CAL.provisional(at(2026, 12, 20, 10), at(2026, 12, 31, 23)) is False
    assert CAL.provisional(at(2026, 12, 31, 10), at(2027, 1, 1)) is False  # the end of 12-31: 2027 not counted
    assert CAL.provisional(at(2026, 12, 31, 10), at(2027, 1, 1, 0, 1)) is True
    assert CAL.provisional(at(2027, 9, 30, 16), at(2027, 9, 30, 16)) is True
    three_months, week = Duration(3, "months"), Duration(7, "days")
    start = at(2027, 9, 30, 16)
    assert provisional(CAL, start, deadline(CAL, start, week, "24x7"), week, "24x7") is False
    assert provisional(CAL, start, deadline(CAL, start, three_months, "24x7"), three_months, "24x7") is False
    same_day = Duration(1, "same_day")  # consults the working days whatever its basis
    assert provisional(CAL, start, deadline(CAL, start, same_day, "24x7"), same_day, "24x7") is True


# ---------------------------------------------------------------- an official notice wins

NOTICE_2027 = {  # plausible, for the tests: the real notice is published in November 2026
    "year": 2027, "source": "test notice (not the real one)",
    "holidays": {"元旦": "2027-01-01..2027-01-03", "春节": "2027-02-05..2027-02-12", "清明节": "2027-04-03..2027-04-05",
                 "劳动节": "2027-05-01..2027-05-05", "端午节": "2027-06-09", "中秋节": "2027-09-15",
                 "国庆节": "2027-10-01..2027-10-07"},
    "workdays": ["2027-01-31", "2027-02-20", "2027-05-08"],
}


def _notice_2027():
    return parse_notice(NOTICE_2027, "2027.yaml", "abc")


def test_a_loaded_notice_decides_its_year_and_removes_the_provisional_mark() -> None:
    cal = WorkCalendar(notices={2027: _notice_2027()})
    assert cal.source(2027) == "notice" and cal.source(2028) == "rules"
    assert cal.is_workday(date(2027, 2, 20)) is True  # adjusted working Saturday, off by the rules
    assert CAL.is_workday(date(2027, 2, 20)) is False
    assert cal.is_workday(date(2027, 4, 5)) is False
    assert cal.is_workday(date(2027, 9, 16)) is True
    # Received Fri 2027-02-19 10:00: 3 working days are Sat 02-20 (调休), Mon 02-22, Tue 02-23.
    start = at(2027, 2, 19, 10)
    assert cal.add(start, 3, "working_days", "working_days") == at(2027, 2, 23, 10)
    assert CAL.add(start, 3, "working_days", "working_days") == at(2027, 2, 24, 10)  # by the rules: 22, 23, 24
    assert cal.provisional(start, at(2027, 2, 23, 10)) is False
    assert CAL.provisional(start, at(2027, 2, 24, 10)) is True
    assert cal.provisional(at(2027, 12, 30, 10), at(2028, 1, 3, 10)) is True  # 2028: rules again


def test_a_notice_wins_over_the_package_for_its_year_and_the_extras_over_the_notice() -> None:
    notice = parse_notice({"year": 2026, "source": "amended", "holidays": {"国庆节": "2026-10-01..2026-10-08"},
                           "workdays": []}, "2026.yaml")
    cal = WorkCalendar(notices={2026: notice}, extra_workdays={date(2026, 10, 8)})
    assert cal.source(2026) == "notice"
    assert cal.is_workday(date(2026, 10, 10)) is False  # the package's 调休 Saturday: not in this notice
    assert cal.is_workday(date(2026, 10, 8)) is True  # the dealership's own working day wins
    assert cal.is_workday(date(2026, 2, 16)) is True  # 除夕: this (partial) notice holds the whole year


def test_a_notice_reaching_into_the_december_before_decides_those_days() -> None:
    notice = parse_notice({"year": 2027, "source": "t", "holidays": {"元旦": "2026-12-31..2027-01-01"},
                           "workdays": ["2026-12-26"]}, "2027.yaml")
    cal = WorkCalendar(notices={2027: notice})
    assert cal.is_workday(date(2026, 12, 31)) is False
    assert cal.is_workday(date(2026, 12, 26)) is True  # a Saturday


def test_a_deadline_past_9999_is_the_only_refusal() -> None:
    with pytest.raises(CalendarError, match="9999-12-31"):
        CAL.add(at(9999, 12, 30, 10), 5, "working_days", "working_days")
    with pytest.raises(CalendarError):
        deadline(CAL, at(9999, 11, 30, 10), Duration(3, "months"), "24x7")


# ---------------------------------------------------------------- the policy's calendar, cached


def _policy_with_notices(tmp_path):
    folder = tmp_path / "notices"
    (tmp_path / "policy.yaml").write_text(
        Path(calendar_module.__file__).with_name("default.yaml").read_text(encoding="utf-8")
        .replace("  # notices_dir: notices\n", "  notices_dir: notices\n"), encoding="utf-8")
    return load_policy(tmp_path / "policy.yaml"), folder


def test_the_calendar_is_built_once_per_policy(tmp_path) -> None:
    policy, _ = _policy_with_notices(tmp_path)
    built = work_calendar(policy)
    assert work_calendar(policy) is built
    (tmp_path / "other").mkdir()
    other, _ = _policy_with_notices(tmp_path / "other")
    assert work_calendar(other) is not built


def test_loading_a_notice_rebuilds_the_calendar(tmp_path, monkeypatch) -> None:
    import yaml

    from triage.policy.notice import install_notice

    policy, folder = _policy_with_notices(tmp_path)
    assert policy.calendar["notices_dir"] == folder
    before = work_calendar(policy)
    assert before.source(2027) == "rules"
    src = tmp_path / "notice-2027.yaml"
    src.write_text(yaml.safe_dump(NOTICE_2027, allow_unicode=True), encoding="utf-8")
    install_notice(src, folder)
    # Another process loaded it: seen once the recheck interval has passed, without a restart.
    monkeypatch.setattr(calendar_module, "NOTICE_RECHECK_SECONDS", 0.0)
    after = work_calendar(policy)
    assert after is not before and after.source(2027) == "notice"
    assert after.is_workday(date(2027, 2, 20)) is True
    assert after.signature != before.signature
    (folder / "2027.yaml").unlink()
    assert work_calendar(policy).source(2027) == "rules"


def test_a_broken_notice_file_is_skipped_not_fatal(tmp_path, caplog) -> None:
    policy, folder = _policy_with_notices(tmp_path)
    folder.mkdir()
    (folder / "2027.yaml").write_text("year: 2027\nholidays: {春节: 2027-13-01}\n", encoding="utf-8")
    cal = work_calendar(policy)
    assert cal.source(2027) == "rules"
    assert cal.is_workday(date(2027, 2, 8)) is False
    assert "2027-13-01" in caplog.text


# ---------------------------------------------------------------- long spans

_SHOP = WorkCalendar(extra_holidays={date(2026, 3, 9), date(2041, 7, 2)}, extra_workdays={date(2035, 5, 5)},
                     business_hours=(time(9, 0), time(18, 0)),
                     notices={2027: parse_notice({"year": 2027, "source": "t", "workdays": ["2026-12-26"],
                                                  "holidays": {"元旦": "2026-12-31..2027-01-01"}}, "2027.yaml")})
_SPAN_STARTS = st.datetimes(min_value=datetime(2004, 1, 1), max_value=datetime(2060, 12, 31),
                            timezones=st.sampled_from([TZ, UTC]))


@settings(max_examples=300, deadline=None)
@given(start=_SPAN_STARTS, days=st.integers(0, 40 * 366), seconds=st.integers(0, 86_399),
       basis=st.sampled_from(["working_days", "business_hours"]), shop=st.booleans())
def test_elapsed_over_years_is_the_day_by_day_count(start: datetime, days: int, seconds: int, basis: str,
                                                     shop: bool) -> None:
    """`elapsed` reads whole days from each year's running totals: the same as counting them one
    by one, across the package's years, the rules' years, a loaded notice and a shop's own days."""
    cal = _SHOP if shop else WorkCalendar()
    end = start + timedelta(days=days, seconds=seconds)
    a, b = start.astimezone(TZ), end.astimezone(TZ)
    assert cal.elapsed(start, end, basis) == cal._elapsed_day_by_day(a, b, basis)
    assert cal.elapsed(end, start, basis) == -cal._elapsed_day_by_day(a, b, basis)


def test_elapsed_over_decades_counts_each_working_day_once():
    start, end = at(2025, 3, 1, 10), at(2099, 12, 31, 23)
    days = (end.date() - start.date()).days + 1
    workdays = sum(CAL.is_workday(start.date() + timedelta(days=i)) for i in range(days))
    # It starts on a Saturday (2025-03-01) and ends on a Thursday at 23:00, after closing (17:30).
    assert CAL.is_workday(end.date()) and not CAL.is_workday(start.date())
    assert CAL.elapsed(start, end, "working_days") == timedelta(days=workdays - 1, hours=23)
    assert CAL.elapsed(start, end, "business_hours") == timedelta(hours=9 * workdays)
    # A year's totals are built once and reused.
    assert (2050, "working_days") in CAL._totals
    # The last year the calendar holds is counted day by day (its last day has no next one).
    assert CAL.elapsed(at(9998, 12, 30), at(9999, 12, 30, 12), "working_days") > timedelta(days=200)
