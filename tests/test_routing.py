"""Routing and clocks of the default policy: one test per row of rules.md §3 and per
clock of §4, each naming its clause."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from triage.policy.calendar import TZ, deadline, work_calendar
from triage.policy.loader import load_policy
from triage.policy.model import Duration
from triage.policy.routing import Classification, Context, RoutingError, route

POLICY = load_policy()
ROOT = Path(__file__).resolve().parent.parent
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=TZ)


def decide(bl="after_sales", cat="product_quality", sev="grumble", flags=(), channel="phone", at=MONDAY_10, **ctx):
    return route(POLICY, Classification(bl, cat, sev, tuple(flags)), Context(channel, at, **ctx))


def fired(decision):
    return [r.id for r in decision.rules_fired]


# ---- rules.md §3: who handles what ----------------------------------------------------------
def test_sales_callback_goes_to_sales_director_received_by_callback_agent():  # 002-A §4-1
    d = decide("sales", "service", channel="callback_sales")
    assert (d.responsible, d.assists) == ("sales_director", ["callback_agent"])
    assert "sales-callback" in fired(d)


def test_sales_service_goes_to_retail_manager():  # 002-A §5
    d = decide("sales", "service")
    assert d.responsible == "retail_manager" and d.escalation == ["sales_director", "general_manager"]


def test_sales_product_quality_is_handed_to_after_sales():  # 002-A §5
    d = decide("sales", "product_quality")
    assert d.responsible == "service_manager" and "claims_officer" in d.assists


def test_sales_customer_issue_is_explained_by_retail():  # 002-A §5, 002-E 六
    d = decide("sales", "customer_issue")
    assert (d.responsible, d.assists) == ("retail_manager", ["sales_consultant"])


def test_after_sales_callback_goes_to_service_manager_and_major_to_director():  # 002-A §4-2
    d = decide(channel="callback_after_sales")
    assert (d.responsible, d.assists) == ("service_manager", ["callback_agent"])
    d = decide(sev="major", channel="callback_after_sales")
    assert d.responsible == "service_director"


def test_after_sales_service_goes_to_service_manager():  # 002-A §5
    assert decide(cat="service").responsible == "service_manager"


def test_after_sales_product_quality_with_claims_officer():  # 002-A §5
    d = decide(cat="product_quality")
    assert (d.responsible, d.assists) == ("service_manager", ["claims_officer"])


def test_after_sales_repair_quality_with_technical_manager_and_rework_to_workshop():  # 002-A §5
    d = decide(cat="repair_quality")
    assert (d.responsible, d.assists) == ("service_manager", ["technical_manager"])
    d = decide(cat="repair_quality", channel="rework")
    assert "workshop_supervisor" in d.assists and "after-sales-rework" in fired(d)


def test_major_sales_goes_to_sales_director_then_general_manager():  # 002-A §5-1
    d = decide("sales", "service", "major")
    assert d.responsible == "sales_director" and d.escalation == ["general_manager"]


def test_major_after_sales_goes_to_service_director_then_general_manager():  # 002-A §5-1
    d = decide(sev="major")
    assert d.responsible == "service_director" and d.escalation[-1] == "general_manager"


def test_media_is_a_crisis_for_the_general_manager():  # 002-A §5-1, 001 第五条
    d = decide(flags=["media"])
    assert d.responsible == "general_manager" and d.crisis and "crisis_team" in d.crisis_team
    assert d.severity == "major" and "major-by-flag" in fired(d)


def test_beyond_the_dealerships_power_goes_to_the_oem():  # 002-E 七
    assert decide(beyond_authority=True).responsible == "oem_after_sales"


def test_focus_vehicles():  # 002-A §6
    assert decide(in_warranty=True).focus_vehicle
    assert not decide(in_warranty=False).focus_vehicle
    d = decide(cat="repair_quality")
    assert d.focus_vehicle and d.focus_owner == "technical_manager"
    d = decide(cat="service", earlier_complaints=2)
    assert "repeat" in d.flags and d.focus_vehicle


def test_unknown_channel_and_naive_time_are_refused():
    with pytest.raises(RoutingError, match="unknown channel 'pigeon'"):
        decide(channel="pigeon")
    with pytest.raises(RoutingError, match="timezone"):
        decide(at=datetime(2026, 11, 23, 10, 0))


def test_route_is_deterministic_across_processes():
    """The same case gives the same decision in every process: string sets iterate in a
    different order under each hash seed, so an unsorted set anywhere would show here."""
    code = ("import json; from tests.test_routing import decide; "
            "print(json.dumps(decide(sev='grumble', flags=['safety', 'media', 'legal', 'repeat'], channel='oem_ticket',"
            " earlier_complaints=2, in_warranty=True).to_dict(), ensure_ascii=False))")
    outputs = {subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": str(seed)}, timeout=120).stdout
               for seed in (1, 2, 3, 4)}
    assert len(outputs) == 1, outputs
    decision = json.loads(outputs.pop())
    assert decision["severity"] == "major" and decision["flags"] == ["safety", "media", "legal", "repeat"]
    assert "major-by-flag" in [r["id"] for r in decision["rules_fired"]]


# ---- rules.md §4: clocks ---------------------------------------------------------------------
def clock(decision, clock_id):
    return next(c for c in decision.clocks if c.id == clock_id)


def ids(decision):
    return {c.id for c in decision.clocks}


def test_handover_same_day():  # 002-A §8-2
    c = clock(decide(), "handover")
    assert c.deadline == work_calendar(POLICY).end_of_day(MONDAY_10).isoformat()
    assert c.deadline.startswith("2026-11-2")


def test_oem_ticket_first_response_30_minutes_and_close_7_days():  # 002-E 七 2
    d = decide(channel="oem_ticket")
    assert clock(d, "oem_first_response").deadline == "2026-11-23T10:30:00+08:00"
    assert clock(d, "oem_close").deadline == "2026-11-30T10:00:00+08:00"
    assert not {"oem_first_response", "oem_close"} & ids(decide(channel="phone"))


def test_first_contact_2_hours_from_dispatch():  # 002-E 七 6
    c = clock(decide(), "first_contact")
    assert c.provisional and c.deadline == "2026-11-23T12:00:00+08:00" and "customer_unreachable" in c.pauses_on


def test_ordinary_complaint_closed_in_24_hours_with_warning_at_80_percent():  # 002-A §5-1, §5-2
    c = clock(decide(sev="complaint"), "close_ordinary")
    assert c.deadline == "2026-11-24T10:00:00+08:00" and c.warning_at == "2026-11-24T05:12:00+08:00"
    assert "close_ordinary" not in ids(decide(sev="major"))


def test_major_complaint_closed_in_3_working_days_across_national_day():  # 002-A §5-1, §5-2
    d = decide(sev="major", at=datetime(2026, 9, 30, 10, 0, tzinfo=TZ))
    # 10-01..07 are holidays; 10-08 (Thu), 10-09 (Fri) and the adjusted working Saturday 10-10 count.
    assert clock(d, "close_major").deadline == "2026-10-10T10:00:00+08:00"
    assert "close_major" not in ids(decide(sev="grumble"))


def test_onsite_verbal_complaint_solved_same_day():  # 002-E 七 6
    assert "onsite_same_day" in ids(decide(channel="onsite"))
    assert "onsite_same_day" not in ids(decide(channel="phone"))


def test_handler_form_returned_in_3_days():  # 002-A §8-2
    assert clock(decide(), "handler_form").deadline == "2026-11-26T10:00:00+08:00"


@pytest.mark.parametrize(("clock_id", "event", "source"), [
    ("escalation_report", "escalated", "002-A §8-2"),
    ("callback_verification", "resolved", "002-A §8-2"),
    ("reopen_return", "reopened", "002-A §7, §8-2"),
    ("form_corrections", "form_rejected", "002-A (second copy) §8-1"),
])
def test_clocks_that_start_later_wait_for_their_event(clock_id, event, source):
    c = clock(decide(), clock_id)
    assert (c.starts_on, c.deadline, c.source) == (event, None, source)


def test_repair_quality_auto_closes_after_3_months():  # 002-A §10
    c = clock(decide(cat="repair_quality"), "repair_auto_close")
    assert c.on_breach == "auto_close" and c.starts_on == "resolved"
    assert "repair_auto_close" not in ids(decide(cat="service"))
    end = deadline(work_calendar(POLICY), datetime(2026, 11, 30, 9, 0, tzinfo=TZ), Duration(3, "months"), "24x7")
    assert end.isoformat() == "2027-02-28T09:00:00+08:00"


def test_callback_alternative_limits_are_in_the_policy():  # 002-A §5, 002-E 七 10
    c = next(c for c in POLICY.clocks if c.id == "callback_verification")
    assert str(c.limit) == "3 days" and {str(v) for v in c.alternatives.values()} == {"4 working_days", "2 days"}


def test_escalation_goes_up_from_the_responsible_role():  # 002-A §5-1, §8-2
    assert decide("sales", "service").escalation == ["sales_director", "general_manager"]
    assert decide(cat="service").escalation == ["service_director", "general_manager"]
    assert decide(flags=["media"]).escalation == []


WARNING_STARTS = [MONDAY_10, datetime(2026, 9, 30, 16, 45, tzinfo=TZ), datetime(2026, 10, 3, 9, 0, tzinfo=TZ),
                  datetime(2026, 2, 13, 17, 29, 59, tzinfo=TZ)]


@pytest.mark.parametrize("start", WARNING_STARTS)
def test_warning_times_are_the_instant_the_fraction_is_reached(start):
    """A warning is the instant `warning_at` of the clock's counted time has passed: found with
    the calendar's `add` (once), the same instant a bisection on `elapsed` found (48 times)."""
    from triage.policy.routing import _warning_time

    cal = work_calendar(POLICY)
    for clock in POLICY.clocks:
        if clock.limit.unit == "months":
            continue
        end = deadline(cal, start, clock.limit, clock.basis)
        for fraction in (clock.warning_at, 0.5, 0.37):
            target = cal.elapsed(start, end, clock.basis) * fraction
            lo, hi = start, end
            for _ in range(48):
                mid = lo + (hi - lo) / 2
                lo, hi = (mid, hi) if cal.elapsed(start, mid, clock.basis) < target else (lo, mid)
            assert _warning_time(cal, start, end, fraction, clock.basis) == hi.replace(microsecond=0), clock.id
