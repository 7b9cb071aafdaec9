"""SLA clocks at run time, with a clock we set: warnings, breaches and their actions,
pauses the policy allows, stops, and the 3-month automatic close."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from triage.policy.calendar import TZ, WorkCalendar
from triage.policy.clocks import ClockError, ClockEvent, evaluate
from triage.policy.loader import load_policy

POLICY = load_policy()
CAL = WorkCalendar()
AFTER_SALES = ["service_manager", "service_director", "general_manager"]
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=TZ)  # a Monday


def clock(clock_id):
    return next(c for c in POLICY.clocks if c.id == clock_id)


def start(at=T0):
    return [ClockEvent("start", at)]


def test_warning_at_80_percent_then_breach_escalates_to_the_next_role():  # 002-A §5-1, §8-2
    c = clock("close_ordinary")
    s = evaluate(c, start(), T0 + timedelta(hours=19), CAL, AFTER_SALES, "service_manager")
    assert (s.status, s.warned, s.breached) == ("running", False, False)
    assert s.deadline == T0 + timedelta(hours=24) and s.warning_at == T0 + timedelta(hours=19, minutes=12)
    s = evaluate(c, start(), T0 + timedelta(hours=20), CAL, AFTER_SALES, "service_manager")
    assert s.warned and not s.breached
    s = evaluate(c, start(), T0 + timedelta(hours=30), CAL, AFTER_SALES, "service_manager")
    assert s.breached and s.breached_at == T0 + timedelta(hours=24)
    assert (s.action.kind, s.action.to_role) == ("escalate", "service_director")
    assert "002-A §5-1" in s.action.message


def test_breach_at_the_top_of_the_chain_notifies():
    s = evaluate(clock("close_ordinary"), start(), T0 + timedelta(days=2), CAL, AFTER_SALES, "general_manager")
    assert (s.action.kind, s.action.to_role) == ("notify", "general_manager")


def test_first_contact_stopped_in_time_is_not_breached():  # 002-E 七 6
    c = clock("first_contact")
    events = [*start(), ClockEvent("stop", T0 + timedelta(minutes=90))]
    s = evaluate(c, events, T0 + timedelta(days=5), CAL, AFTER_SALES, "service_manager")
    assert (s.status, s.breached, s.counted) == ("stopped", False, timedelta(minutes=90))
    late = [*start(), ClockEvent("stop", T0 + timedelta(hours=3))]
    s = evaluate(c, late, T0 + timedelta(days=5), CAL, AFTER_SALES, "service_manager")
    assert s.breached and s.breached_at == T0 + timedelta(hours=2)


def test_waiting_for_parts_pauses_the_clock():  # 002-A §5-1 with the policy's pause
    c = clock("close_ordinary")
    events = [*start(), ClockEvent("pause", T0 + timedelta(hours=5), "waiting_for_parts"),
              ClockEvent("resume", T0 + timedelta(hours=53))]
    s = evaluate(c, events, T0 + timedelta(hours=60), CAL, AFTER_SALES, "service_manager")
    assert s.counted == timedelta(hours=12) and not s.breached
    assert s.deadline == T0 + timedelta(hours=53 + 19)
    paused = evaluate(c, events[:2], T0 + timedelta(hours=40), CAL)
    assert paused.status == "paused" and paused.deadline is None and not paused.breached


def test_a_pause_the_policy_does_not_allow_is_refused():
    with pytest.raises(ClockError, match="does not allow a pause for 'lunch'"):
        evaluate(clock("close_ordinary"), [*start(), ClockEvent("pause", T0, "lunch")], T0, CAL)
    with pytest.raises(ClockError, match="resume while running"):
        evaluate(clock("close_ordinary"), [*start(), ClockEvent("resume", T0)], T0, CAL)


def test_major_clock_counts_only_working_days_across_national_day():  # 002-A §5-1
    t = datetime(2026, 9, 30, 10, 0, tzinfo=TZ)
    s = evaluate(clock("close_major"), start(t), datetime(2026, 10, 7, 23, 0, tzinfo=TZ), CAL)
    assert s.counted == timedelta(hours=14) and not s.breached  # 09-30 10:00-24:00 only
    s = evaluate(clock("close_major"), start(t), datetime(2026, 10, 11, 9, 0, tzinfo=TZ), CAL, AFTER_SALES,
                 "service_director")
    assert s.breached and s.breached_at == datetime(2026, 10, 10, 10, 0, tzinfo=TZ)
    assert s.action.to_role == "general_manager"


def test_repair_quality_closes_itself_after_3_months_without_callback():  # 002-A §10
    c = clock("repair_auto_close")
    resolved = datetime(2026, 5, 20, 16, 0, tzinfo=TZ)
    s = evaluate(c, start(resolved), datetime(2026, 8, 20, 16, 1, tzinfo=TZ), CAL)
    assert s.breached and s.action.kind == "auto_close"
    assert not evaluate(c, start(resolved), datetime(2026, 8, 19, tzinfo=TZ), CAL).breached


def test_not_started_and_naive_now():
    assert evaluate(clock("callback_verification"), [], T0, CAL).status == "not_started"
    with pytest.raises(ClockError, match="timezone"):
        evaluate(clock("close_ordinary"), start(), datetime(2026, 11, 23), CAL)


@settings(max_examples=60, deadline=None)
@given(hours=st.floats(min_value=0, max_value=200), pause_at=st.floats(min_value=0, max_value=100),
       pause_len=st.floats(min_value=0, max_value=100))
def test_counted_time_never_exceeds_wall_time_and_breach_matches_it(hours, pause_at, pause_len):
    c = clock("close_ordinary")
    events = [*start(), ClockEvent("pause", T0 + timedelta(hours=pause_at), "customer_unreachable"),
              ClockEvent("resume", T0 + timedelta(hours=pause_at + pause_len))]
    now = T0 + timedelta(hours=hours)
    if now < events[-1].at:
        events = events[:2] if now >= events[1].at else events[:1]
    s = evaluate(c, events, now, CAL)
    assert timedelta(0) <= s.counted <= now - T0 + timedelta(microseconds=1)
    assert s.breached == (s.counted >= s.allowed)
