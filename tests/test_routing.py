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


# ---- any year: the calendar past the package's last year (2026) --------------------------------
@pytest.mark.parametrize(("received", "due"), [
    # 春节 2027 by the rules: 除夕 02-05 (Fri) .. 02-12; counting resumes Mon 02-15.
    (datetime(2027, 2, 4, 10, 0, tzinfo=TZ), "2027-02-17T10:00:00+08:00"),
    # 国庆 2027: 10-01..10-07 (中秋 09-15 is apart); 10-08 (Fri), 10-11, 10-12.
    (datetime(2027, 9, 30, 16, 0, tzinfo=TZ), "2027-10-12T16:00:00+08:00"),
    # 国庆 2028 with 中秋 (10-03) inside it: 10-01..10-08; 10-09, 10, 11.
    (datetime(2028, 9, 29, 10, 0, tzinfo=TZ), "2028-10-11T10:00:00+08:00"),
    # 春节 2029: 除夕 02-12 .. 02-19; 02-20, 21, 22.
    (datetime(2029, 2, 9, 10, 0, tzinfo=TZ), "2029-02-22T10:00:00+08:00"),
    # 国庆 2030: 10-01 (Tue) .. 10-07; 10-08, 09, 10.
    (datetime(2030, 9, 30, 10, 0, tzinfo=TZ), "2030-10-10T10:00:00+08:00"),
])
def test_major_complaint_in_every_year_to_2030_skips_the_statutory_holidays(received, due):
    d = decide(sev="major", at=received)
    c = clock(d, "close_major")
    assert c.deadline == due
    assert c.calendar_provisional is True  # no notice for the year: holidays by the rules
    assert d.to_dict()["clocks"][0]["calendar_provisional"] in (True, False)


def test_provisional_marks_only_deadlines_that_count_a_rules_year():
    d = decide(sev="major", channel="oem_ticket", at=datetime(2026, 12, 31, 10, 0, tzinfo=TZ))
    assert clock(d, "close_major").calendar_provisional is True  # reaches into 2027
    assert clock(d, "oem_first_response").calendar_provisional is False  # 30 minutes, 24x7
    assert clock(d, "escalation_report").calendar_provisional is False  # no deadline yet
    d = decide(sev="major", at=datetime(2026, 11, 23, 10, 0, tzinfo=TZ))
    assert not any(c.calendar_provisional for c in d.clocks)


def _notice_policy(tmp_path, notice: str | None):
    """The default policy reading its notices from a folder of the test, holding `notice`."""
    folder = tmp_path / "notices"
    if notice:
        folder.mkdir(parents=True)
        (folder / "2027.yaml").write_text(notice, encoding="utf-8")
    tmp_path.mkdir(parents=True, exist_ok=True)
    text = (ROOT / "triage/policy/default.yaml").read_text(encoding="utf-8")
    (tmp_path / "policy.yaml").write_text(text.replace("  # notices_dir: notices\n", "  notices_dir: notices\n"),
                                          encoding="utf-8")
    return tmp_path / "policy.yaml"


NOTICE_2027 = """\
# A plausible 2027 notice, for the tests only: the real one is published in November 2026.
year: 2027
source: 国办发明电〔2026〕（测试用）
holidays:
  元旦: 2027-01-01..2027-01-03
  春节: 2027-02-05..2027-02-12
  清明节: 2027-04-03..2027-04-05
  劳动节: 2027-05-01..2027-05-05
  端午节: 2027-06-09
  中秋节: 2027-09-15
  国庆节: 2027-10-01..2027-10-07
workdays: [2027-01-31, 2027-02-20, 2027-05-08]
"""


def test_an_official_notice_overrides_the_rules_and_removes_the_mark(tmp_path):
    policy = load_policy(_notice_policy(tmp_path, NOTICE_2027))
    friday = datetime(2027, 2, 19, 10, 0, tzinfo=TZ)
    d = route(policy, Classification("after_sales", "product_quality", "major"), Context("phone", friday))
    c = clock(d, "close_major")
    # Sat 02-20 is an adjusted working day by the notice: 02-20, 02-22, 02-23.
    assert (c.deadline, c.calendar_provisional) == ("2027-02-23T10:00:00+08:00", False)
    by_rules = clock(decide(sev="major", at=friday), "close_major")
    assert (by_rules.deadline, by_rules.calendar_provisional) == ("2027-02-24T10:00:00+08:00", True)


# ---- the command line and the API on 2027 dates ------------------------------------------------
@pytest.fixture
def cli(small_registry, tmp_path):
    def _run(*args: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "TRIAGE_MODELS_DIR": str(small_registry), "TRIAGE_DATA_DIR": str(tmp_path / "var")}
        return subprocess.run([sys.executable, "-m", "triage.cli", *args], capture_output=True, text=True, env=env,
                              cwd=ROOT, timeout=120)
    return _run


def test_route_in_2027_works_and_marks_provisional_deadlines(cli, tmp_path):
    r = cli("route", "刹车失灵", "--channel", "phone", "--at", "2027-09-30 16:00")
    assert r.returncode == 0, r.stderr
    marked = [line for line in r.stdout.splitlines() if line.startswith("clock") and "*provisional" in line]
    assert marked and all("2027-" in line for line in marked)
    assert "*provisional: counted on holidays computed from the statutory rules" in r.stdout
    r = cli("route", "刹车失灵", "--channel", "phone", "--at", "2027-09-30 16:00", "--json")
    clocks = json.loads(r.stdout)["decision"]["clocks"]
    assert any(c["calendar_provisional"] for c in clocks)
    # Once the notice is loaded, the same complaint's deadlines are no longer provisional.
    policy = _notice_policy(tmp_path / "dealer", None)
    notice = tmp_path / "notice.yaml"
    notice.write_text(NOTICE_2027, encoding="utf-8")
    r = cli("policy", "load-notice", str(notice), "--policy", str(policy))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "dealer" / "notices" / "2027.yaml").exists() and "loaded the 2027 holiday notice" in r.stdout
    r = cli("route", "刹车失灵", "--channel", "phone", "--at", "2027-09-30 16:00", "--policy", str(policy))
    assert r.returncode == 0 and "provisional" not in r.stdout


@pytest.fixture
def api(small_model, tmp_path):
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session

    from api.main import create_app
    from triage.auth.tokens import create as create_token
    from triage.db import init_db, make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'api.db'}")
    init_db(engine)
    now = datetime(2027, 3, 1, 10, 0, tzinfo=TZ)
    with Session(engine) as s:
        token = create_token(db_session=s, name="care-1", role="customer_care", now=now)
        s.commit()
    app = create_app(engine, lambda: small_model, policy=POLICY, clock=lambda: now)
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as client:
        yield client
    engine.dispose()


def test_api_triage_and_intake_in_2027_answer_with_provisional_deadlines(api):
    body = {"text": "行驶中刹车失灵", "channel": "phone", "received_at": "2027-03-01T10:00:00+08:00"}
    r = api.post("/v1/triage", json=body)
    assert r.status_code == 200, r.text
    clocks = r.json()["routing"]["clocks"]
    assert any(c["calendar_provisional"] for c in clocks)
    assert all(c["deadline"] is None or c["deadline"].startswith("2027-") for c in clocks)
    r = api.post("/v1/cases", json=body)
    assert r.status_code == 201, r.text
    assert any(c["calendar_provisional"] for c in r.json()["suggestion"]["routing"]["clocks"])


def test_console_case_page_marks_provisional_deadlines_until_the_notice_is_loaded(engine, small_model, tmp_path):
    from fastapi.testclient import TestClient

    from api.main import create_app
    from triage.policy.calendar import invalidate_calendars
    from triage.policy.notice import install_notice

    from .console_seed import PASSWORD, seed

    policy = load_policy(_notice_policy(tmp_path, None))
    received = datetime(2027, 9, 30, 16, 0, tzinfo=TZ)
    ids = seed(engine, policy, small_model, received)
    app = create_app(engine, lambda: small_model, policy, clock=lambda: received)
    with TestClient(app, base_url="http://console.test") as client:
        client.post("/login", data={"username": "manager", "password": PASSWORD, "next": "/"})
        page = client.get(f"/cases/{ids['safety']}").text
        clocks = page.split('id="clocks"')[1].split("</table>")[0]
        assert "暂定" in clocks
        notice = tmp_path / "notice.yaml"
        notice.write_text(NOTICE_2027, encoding="utf-8")
        install_notice(notice, tmp_path / "notices")
        invalidate_calendars()  # what `triage policy load-notice` does; other processes recheck every second
        page = client.get(f"/cases/{ids['safety']}").text
        assert "暂定" not in page.split('id="clocks"')[1].split("</table>")[0]


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
