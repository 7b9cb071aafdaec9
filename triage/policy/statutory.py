"""China's public holidays computed from their rules, for years no official schedule covers.

The State Council publishes each year's schedule (放假安排, with the adjusted working weekends
调休) in November for the next year; until then, and for any year the calendar package does
not cover, the days off follow from the law and the arrangement principles:

* 《全国年节及纪念日放假办法》 as revised in 2024 (in force from 2025) gives 13 statutory days:
  元旦 (1 January), 春节 (除夕 and 正月初一–初三), 清明节 (the day of the 清明 solar term),
  劳动节 (1–2 May), 端午节 (五月初五), 中秋节 (八月十五), 国庆节 (1–3 October).
* The arrangement principles published with it: 春节 is 8 days from 除夕, 劳动节 5 days,
  国庆节 7 days from 1 October (8 when 中秋 falls in or next to it, as in 2025); a single-day
  festival on a weekend is made up on the following Monday (第五条: 适逢周六、周日，应当在
  工作日补假).

``days_off(year)`` gives the days off a dealership can count on, chosen to be the official
days off or a superset of them, so that a deadline computed on them is right or slightly
generous, never too early:

* the blocks above, in full;
* a single-day festival on a Tuesday takes the Monday before, on a Thursday the Friday
  after (the notices usually bridge these, e.g. 元旦 2026);
* no adjusted working weekends: those are only known from the notice.

Checked against the official schedules of 2025 and 2026 (tests/test_calendar.py): every
official day off is a day off here, and the only official working days that are off here
are the adjusted working weekends.

The lunar dates and the solar term come from ``lunar-python`` (pure Python, any year).
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

from lunar_python import Lunar

_DAY = timedelta(days=1)


def _solar(lunar: Lunar) -> date:
    solar = lunar.getSolar()
    return date(solar.getYear(), solar.getMonth(), solar.getDay())


def festival_dates(year: int) -> dict[str, date]:
    """The first day of each festival in ``year``: 除夕 (eve of the lunar new year in this
    solar year), 清明 (solar term), 端午 and 中秋 (lunar), and the fixed ones."""
    new_year = _solar(Lunar.fromYmd(year, 1, 1))
    qingming = Lunar.fromYmd(year, 3, 1).getJieQiTable()["清明"]
    return {
        "元旦": date(year, 1, 1),
        "春节": new_year - _DAY,  # 除夕: the last day of the twelfth lunar month, 29th or 30th
        "清明节": date(qingming.getYear(), qingming.getMonth(), qingming.getDay()),
        "劳动节": date(year, 5, 1),
        "端午节": _solar(Lunar.fromYmd(year, 5, 5)),
        "中秋节": _solar(Lunar.fromYmd(year, 8, 15)),
        "国庆节": date(year, 10, 1),
    }


@lru_cache(maxsize=64)
def statutory_days(year: int) -> dict[date, str]:
    """The 13 statutory holidays of ``year`` (the law's days, before any arrangement)."""
    f = festival_dates(year)
    spans = {"元旦": 1, "春节": 4, "清明节": 1, "劳动节": 2, "端午节": 1, "中秋节": 1, "国庆节": 3}
    days: dict[date, str] = {}
    for name, length in spans.items():
        for i in range(length):
            day = f[name] + i * _DAY
            days[day] = f"{days[day]}、{name}" if day in days else name  # 中秋 on 1–3 October (2028)
    return dict(sorted(days.items()))


@lru_cache(maxsize=64)
def days_off(year: int) -> dict[date, str]:
    """The days off of ``year`` by the rules (see the module's docstring), each with its festival.

    Weekends are off as well; they are not listed unless a festival block covers them.
    """
    f = festival_dates(year)
    off: dict[date, str] = {}

    def block(name: str, first: date, length: int) -> None:
        for i in range(length):
            off.setdefault(first + i * _DAY, name)

    block("春节", f["春节"], 8)
    block("劳动节", f["劳动节"], 5)
    mid_autumn, national = f["中秋节"], f["国庆节"]
    if national - 3 * _DAY <= mid_autumn < national:
        # Just before National Day (9-29 in 2023, 9-30 in 2012): one block from 中秋 to 7 October.
        block("国庆节、中秋节", mid_autumn, (national + 7 * _DAY - mid_autumn).days)
        singles = ("元旦", "清明节", "端午节")
    elif national <= mid_autumn <= national + 7 * _DAY:
        # Inside it (10-06 in 2025, 10-03 in 2028): the block grows to 8 days.
        block("国庆节、中秋节", national, 8)
        singles = ("元旦", "清明节", "端午节")
    else:
        block("国庆节", national, 7)
        singles = ("元旦", "清明节", "端午节", "中秋节")
    for name in singles:
        day = f[name]
        weekday = day.weekday()
        block(name, day, 1)
        if weekday >= 5:  # 补假: a festival on Saturday or Sunday is made up on Monday
            block(name, day + (7 - weekday) * _DAY, 1)
        elif weekday == 1:  # Tuesday: the Monday between the weekend and the festival
            block(name, day - _DAY, 1)
        elif weekday == 3:  # Thursday: the Friday after
            block(name, day + _DAY, 1)
    return off
