"""The handling record (issue 14), on SQLite and PostgreSQL: a sales and an after-sales case from
intake to close over HTTP with the record the rulebooks require; a step without a field its case
type requires is a 422 naming each one; the manager reviews the handling opinion before the
callback; the monthly report's breakdowns match a count done by hand; the monthly case review
and the printed forms are filled from the record, personal data masked."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.main import create_app
from triage.auth.tokens import create as create_token
from triage.case import forms, reports, service
from triage.case.models import Case
from triage.policy.calendar import TZ
from triage.policy.loader import DEFAULT_POLICY, load_policy, parse_policy
from triage.policy.model import PolicyError

from .live import LiveServer, SettableClock
from .record_data import RESOLVE, REVIEW, SATISFIED
from .test_lists import MODEL, intake

POLICY = load_policy()
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=TZ)  # a Monday
PHONE = "13912345678"


# ---- the policy -----------------------------------------------------------------------------------------
def test_the_default_policy_holds_the_documents_lists_with_their_clauses():
    record = POLICY.record
    assert [c.name for c in record.causes] == ["产品质量或售后服务问题", "工作人员服务态度问题", "用户使用不当或误操作",
                                               "交车检验未发现的问题", "其它原因"]
    assert record.choice("causes", "delivery_defect").handling == "先行赔付，再追究相关责任人责任"
    assert "保险" in record.choice("causes", "misuse").handling
    assert [c.name for c in record.responsibility_classes] == ["态度类", "流程规章类", "管理类", "技能类", "产品类"]
    assert [(c.name, c.satisfied) for c in record.satisfaction] == [("满意", True), ("基本满意", True),
                                                                   ("不满意", False)]
    assert record.required
    assert all(r.source for r in record.required) and record.reviewers == {"sales": "retail_manager",
                                                                           "after_sales": "service_manager"}


def _raw() -> dict:
    return yaml.safe_load(Path(DEFAULT_POLICY).read_text(encoding="utf-8"))


@pytest.mark.parametrize(("change", "problem"), [
    (lambda r: r["record"]["required"].append({"step": "resolve", "fields": ["colour"], "source": "x"}),
     "unknown field 'colour'"),
    (lambda r: r["record"]["required"].append({"step": "resolve", "when": {"cause": ["weather"]},
                                               "fields": ["evidence"], "source": "x"}), "unknown value(s) ['weather']"),
    (lambda r: r["record"]["required"].append({"step": "resolve", "fields": ["satisfaction"], "source": "x"}),
     "recorded at the callback step"),
    (lambda r: r["record"]["required"].append({"step": "resolve", "fields": ["evidence"]}), "cite the source"),
    (lambda r: r["record"]["satisfaction"]["satisfied"].pop("satisfied"), "closes the loop"),
    (lambda r: r["record"]["labels"].pop("cause"), "missing: cause"),
    (lambda r: r["record"]["review"]["reviewers"].update(sales="nobody"), "unknown role 'nobody'"),
    (lambda r: r["record"].pop("causes"), "record.causes: missing"),
])
def test_policy_check_refuses_a_bad_record_section(change, problem):
    raw = copy.deepcopy(_raw())
    change(raw)
    with pytest.raises(PolicyError) as refused:
        parse_policy(raw)
    assert problem in str(refused.value)


def test_policy_check_command_reports_the_record(tmp_path, capsys):
    from triage.cli import main

    raw = _raw()
    raw["record"]["required"][0]["fields"].append("nonsense")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    assert main(["policy", "check", str(bad)]) != 0
    assert "unknown field 'nonsense'" in capsys.readouterr().err
    assert main(["policy", "check", str(DEFAULT_POLICY)]) == 0
    assert "record: 5 causes, 5 responsibility classes, 6 departments, 3 satisfaction levels" in capsys.readouterr().out


# ---- over HTTP, from intake to close ---------------------------------------------------------------------
@pytest.fixture
def api(engine):
    clock = SettableClock(T0)
    tokens = {}
    with Session(engine) as s:
        for role in ("customer_care", "handler", "manager"):
            tokens[role] = create_token(db_session=s, name=f"{role}-1", role=role, now=T0)
        s.commit()
    with LiveServer(create_app(engine, lambda: MODEL, POLICY, clock)) as server:
        clients = {role: httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
                   for role, token in tokens.items()}
        yield clients, clock, engine
        for c in clients.values():
            c.close()


def _dispatched(clients, text: str, **labels) -> dict:
    care = clients["customer_care"]
    r = care.post("/v1/cases", json={"channel": "phone", "text": text, "received_at": T0.isoformat(),
                                      "customer_name": "王先生", "customer_phone": PHONE, "plate": "粤B12345"})
    assert r.status_code == 201, r.text
    case = r.json()
    r = care.post(f"/v1/cases/{case['id']}/review", json={"version": case["version"], "corrections": labels})
    assert r.status_code == 200, r.text
    assert care.post(f"/v1/cases/{case['id']}/assign", json={"assignee": "handler-1"}).status_code == 200
    assert clients["handler"].post(f"/v1/cases/{case['id']}/actions/contact", json={}).status_code == 200
    return r.json()


def _missing(r: httpx.Response) -> list[str]:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    for name in r.json()["missing"]:
        assert name in r.json()["detail"]  # each missing field is named in the detail too
    return r.json()["missing"]


def test_a_sales_case_from_intake_to_close_with_its_full_record(api):
    clients, clock, _ = api
    handler, care, manager = clients["handler"], clients["customer_care"], clients["manager"]
    case = _dispatched(clients, "销售顾问态度很差 line=sales cat=service sev=complaint", business_line="sales",
                       category="service", severity="complaint", flags=[])
    cid = case["id"]
    clock.now = T0 + timedelta(hours=5)
    # Nothing: the fields every case needs (002-A §8-2; 001 第六条).
    assert _missing(handler.post(f"/v1/cases/{cid}/resolve", json={})) == [
        "investigation", "reply", "handling_opinion", "valid"]
    # A valid sales complaint also needs its cause, responsibility, department, person and measure.
    first = {"investigation": "调取监控，顾客所述属实", "reply": "店长当面致歉", "handling_opinion": "赠送一次保养",
             "valid": True}
    assert _missing(handler.post(f"/v1/cases/{cid}/resolve", json=first)) == [
        "corrective_action", "cause", "responsibility_class", "responsible_department", "responsible_person"]
    # A value outside the policy's list is refused, named.
    r = handler.post(f"/v1/cases/{cid}/resolve", json={**first, "cause": "weather"})
    assert r.status_code == 422 and "cause: 'weather' is not one of" in r.json()["detail"]
    assert handler.get(f"/v1/cases/{cid}").json()["state"] == "in_progress"  # nothing was written
    full = {**first, "corrective_action": "全员服务礼仪培训", "cause": "attitude", "responsibility_class": "attitude",
            "responsible_department": "sales", "responsible_person": "销售顾问小李"}
    assert care.post(f"/v1/cases/{cid}/resolve", json=full).status_code == 403  # customer care does not resolve
    r = handler.post(f"/v1/cases/{cid}/resolve", json=full)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "resolved" and r.json()["record"]["cause"] == "attitude"
    # Customer care waits for the manager's review of the handling opinion (002-B 五 4).
    r = care.post(f"/v1/cases/{cid}/callback", json=SATISFIED)
    assert r.status_code == 409 and "not reviewed" in r.json()["detail"]
    assert care.post(f"/v1/cases/{cid}/opinion-review", json=REVIEW).status_code == 403
    assert _missing(manager.post(f"/v1/cases/{cid}/opinion-review", json={"approved": True})) == ["review_opinion"]
    r = manager.post(f"/v1/cases/{cid}/opinion-review", json={"approved": True, "review_opinion": "同意，限期培训"})
    assert r.status_code == 200 and r.json()["state"] == "resolved"
    # Not satisfied: back to the responsible department, within 24 hours (reopen_return).
    clock.now = T0 + timedelta(hours=8)
    assert _missing(care.post(f"/v1/cases/{cid}/callback", json={"satisfaction": "unsatisfied"})) == [
        "customer_words"]
    r = care.post(f"/v1/cases/{cid}/callback", json={"satisfaction": "unsatisfied",
                                                     "customer_words": f"还是不满意，请回电 {PHONE}"})
    assert r.json()["state"] == "reopened" and r.json()["record"]["customer_words"].endswith(PHONE)
    page = handler.get(f"/v1/cases/{cid}").json()
    assert page["record"]["approved"] is True
    # Resolved again: what was recorded stays, unless changed; the opinion is reviewed afresh.
    r = handler.post(f"/v1/cases/{cid}/resolve", json={"reply": "销售总监登门致歉"})
    assert r.status_code == 200 and r.json()["record"]["cause"] == "attitude"
    assert r.json()["record"]["approved"] is None
    assert manager.post(f"/v1/cases/{cid}/opinion-review", json=REVIEW).status_code == 200
    r = care.post(f"/v1/cases/{cid}/callback", json={"satisfaction": "satisfied", "customer_words": "满意"})
    assert r.json()["state"] == "verified"
    r = care.post(f"/v1/cases/{cid}/actions/close", json={})
    assert r.json()["state"] == "closed"
    record = r.json()["record"]
    assert {k: record[k] for k in full} == {**full, "reply": "销售总监登门致歉"}
    assert (record["satisfaction"], record["customer_words"], record["review_opinion"]) == (
        "satisfied", "满意", REVIEW["review_opinion"])
    # Every field recorded is in the log, at the step that recorded it.
    logged = {name for e in r.json()["events"] for name in (e["data"] or {}).get("record", {})}
    assert logged >= {*full, "approved", "review_opinion", "long_term_measure", "satisfaction", "customer_words"}
    kinds = [e["kind"] for e in r.json()["events"] if e["kind"] != "personal_data_read"]
    assert kinds[kinds.index("first_contact") + 1:] == ["resolved", "opinion_approved", "reopened", "resolved",
                                                        "opinion_approved", "verified", "closed"]


def test_an_after_sales_case_sent_back_by_the_manager_then_closed(api):
    from triage.case.clocks import clock_states

    clients, clock, engine = api
    handler, care, manager = clients["handler"], clients["customer_care"], clients["manager"]
    case = _dispatched(clients, "修过两次还异响 cat=repair_quality flags=repeat", business_line="after_sales",
                       category="repair_quality", severity="complaint", flags=["repeat"])
    cid = case["id"]
    clock.now = T0 + timedelta(hours=3)
    body = {"investigation": "路试复现异响，系客户加装件松动", "reply": "已向客户说明并演示",
            "handling_opinion": "免费紧固",
            "corrective_action": "交车时讲解加装件注意事项", "cause": "misuse", "responsibility_class": "skill",
            "responsible_department": "workshop", "valid": True}
    # Customer misuse needs its evidence (002-B 五 3); an after-sales case names no person.
    assert _missing(handler.post(f"/v1/cases/{cid}/resolve", json=body)) == ["evidence"]
    body["evidence"] = "路试视频及检测单"
    assert handler.post(f"/v1/cases/{cid}/resolve", json=body).status_code == 200
    # The service manager sends the opinion back: open again, the corrected form due within 24 hours.
    r = manager.post(f"/v1/cases/{cid}/opinion-review",
                     json={"approved": False, "review_opinion": "证据不足，补充检测"})
    assert r.status_code == 200 and r.json()["state"] == "reopened"
    assert r.json()["events"][-1]["kind"] == "form_rejected"
    with Session(engine) as s:
        states = {c["id"]: c for c in clock_states(s.get(Case, cid), POLICY, clock.now)}
    assert states["form_corrections"]["status"] == "running"
    assert states["reopen_return"]["status"] == "not_started"  # not the customer's: the callback's clock
    assert care.post(f"/v1/cases/{cid}/callback", json=SATISFIED).status_code == 409
    clock.now = T0 + timedelta(hours=6)
    assert handler.post(f"/v1/cases/{cid}/resolve", json={"evidence": "路试视频、检测单及客户签字"}).status_code == 200
    # A repeated complaint needs its long-term measure (002-E 七 11).
    assert _missing(manager.post(f"/v1/cases/{cid}/opinion-review", json={
        "approved": True, "review_opinion": "同意"})) == ["long_term_measure"]
    r = manager.post(f"/v1/cases/{cid}/opinion-review", json={
        "approved": True, "review_opinion": "同意", "long_term_measure": "加装件纳入交车检查清单"})
    assert r.status_code == 200
    with Session(engine) as s:
        states = {c["id"]: c for c in clock_states(s.get(Case, cid), POLICY, clock.now)}
    assert states["form_corrections"]["status"] == "stopped" and not states["form_corrections"]["breached"]
    r = care.post(f"/v1/cases/{cid}/callback", json={"satisfaction": "fairly_satisfied",
                                                     "customer_words": f"基本满意，车牌粤B12345，电话{PHONE}"})
    assert r.json()["state"] == "verified"
    assert care.post(f"/v1/cases/{cid}/actions/close", json={}).json()["state"] == "closed"
    # The customer's words: customer care reads them; a manager reads them masked, in the log too.
    seen = manager.get(f"/v1/cases/{cid}").json()
    assert PHONE not in str(seen) and "粤B12345" not in str(seen)
    assert seen["record"]["customer_words"].startswith("基本满意，车牌粤B") and seen["record"]["cause"] == "misuse"
    assert care.get(f"/v1/cases/{cid}").json()["record"]["customer_words"].endswith(PHONE)


def test_an_invalid_complaint_needs_its_reason_and_no_cause(api):
    clients, _, _ = api
    handler = clients["handler"]
    cid = _dispatched(clients, "要求无理赔偿 cat=customer_issue", business_line="after_sales",
                      category="customer_issue", severity="grumble", flags=[])["id"]
    body = {"investigation": "核实无质量问题", "reply": "已解释", "handling_opinion": "不予赔偿", "valid": False}
    assert _missing(handler.post(f"/v1/cases/{cid}/resolve", json=body)) == ["invalid_reason"]
    r = handler.post(f"/v1/cases/{cid}/resolve", json={**body, "invalid_reason": "超出保修范围的人为损坏"})
    assert r.status_code == 200 and r.json()["record"]["valid"] is False


def test_the_generic_actions_keep_to_the_same_rules(api):
    """`actions/resolve` and `actions/callback` are the same steps: the same fields, the same 422."""
    clients, _, _ = api
    handler = clients["handler"]
    cid = _dispatched(clients, "异响 cat=repair_quality", business_line="after_sales", category="repair_quality",
                      severity="complaint", flags=[])["id"]
    r = handler.post(f"/v1/cases/{cid}/actions/resolve", json={"data": {"note": "done"}})
    assert _missing(r) == ["investigation", "reply", "handling_opinion", "valid"]
    assert handler.post(f"/v1/cases/{cid}/actions/resolve", json={"data": RESOLVE}).status_code == 200


def test_the_openapi_shows_the_records_fields(api):
    clients, _, _ = api
    doc = clients["manager"].get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    for path, schema, fields in (
            ("/v1/cases/{case_id}/resolve", "ResolveIn", {"investigation", "reply", "handling_opinion",
                                                           "corrective_action", "cause", "responsibility_class",
                                                           "responsible_department", "responsible_person", "valid",
                                                           "invalid_reason", "evidence"}),
            ("/v1/cases/{case_id}/opinion-review", "OpinionReviewIn", {"approved", "review_opinion",
                                                                       "long_term_measure"}),
            ("/v1/cases/{case_id}/callback", "CallbackIn", {"satisfaction", "customer_words"})):
        op = doc["paths"][path]["post"]
        assert op["requestBody"]["content"]["application/json"]["schema"] == {"$ref": f"#/components/schemas/{schema}"}
        assert fields <= set(schemas[schema]["properties"]), schema
        assert op["responses"]["200"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/CaseOut"}
        assert {"403", "404", "409", "422"} <= set(op["responses"])
    assert "record" in schemas["CaseOut"]["properties"] and "record" in schemas["ReportOut"]["properties"]
    assert "满意" in schemas["CallbackIn"]["properties"]["satisfaction"]["description"]


# ---- the monthly report over a seeded month ------------------------------------------------------------
# (labels, resolve record or None, review or None, callback satisfaction or None); all in November but the last.
SEEDED = [
    ("line=sales cat=service sev=complaint", {"cause": "attitude", "responsibility_class": "attitude",
                                              "responsible_department": "sales", "responsible_person": "小李"},
     {"long_term_measure": None}, "satisfied"),
    ("line=sales cat=service sev=grumble", {"cause": "attitude", "responsibility_class": "process",
                                            "responsible_department": "sales", "responsible_person": "小王"},
     {}, "unsatisfied"),
    ("line=after_sales cat=repair_quality sev=major", {"cause": "quality", "responsibility_class": "skill",
                                                      "responsible_department": "workshop"}, {}, "fairly_satisfied"),
    ("line=after_sales cat=product_quality sev=complaint", {"cause": "delivery_defect",
                                                           "responsibility_class": "process",
                                                           "responsible_department": "after_sales",
                                                           "responsible_person": "质检员"}, {}, "satisfied"),
    ("line=after_sales cat=repair_quality sev=complaint flags=repeat", {
        "cause": "quality", "responsibility_class": "product", "responsible_department": "after_sales"},
     {"long_term_measure": "同一车辆返修由技术经理复检"}, None),
    ("line=after_sales cat=customer_issue sev=grumble", {"valid": False, "invalid_reason": "人为损坏"}, {},
     "satisfied"),
    ("line=sales cat=other sev=grumble", {"valid": False, "invalid_reason": "重复来电"}, None, None),
    ("line=after_sales cat=service sev=major flags=media", None, None, None),  # not resolved yet
    ("line=after_sales cat=repair_quality sev=complaint", {"cause": "quality", "responsibility_class": "skill",
                                                          "responsible_department": "workshop"}, None, None),
]
OCTOBER = ("line=sales cat=service sev=complaint", {"cause": "other", "responsibility_class": "management",
                                                    "responsible_department": "customer_care",
                                                    "responsible_person": "x"}, {}, "satisfied")


def _seed_month(engine) -> list[int]:
    ids = []
    with Session(engine) as s:
        create_token(db_session=s, name="h1", role="handler", now=T0)
        for n, (labels, fields, review, satisfaction) in enumerate([*SEEDED, OCTOBER]):
            at = T0 + timedelta(hours=3 * n) if n < len(SEEDED) else T0 - timedelta(days=10)
            vehicle = {"vin": "LSVAB2180E2000009"} if n in (2, 4, 8) else {}
            case = intake(s, 100 + n, at, f"{labels} 车主电话{PHONE}", **vehicle)
            service.review(db_session=s, case_id=case.id, reviewer="care-1", policy=POLICY, now=at)
            service.act(db_session=s, case_id=case.id, action="contact", actor="h1", policy=POLICY, now=at)
            if fields is None:
                ids.append(case.id)
                continue
            body = {**RESOLVE, "corrective_action": f"措施{n % 6}，联系{PHONE}", **fields}  # cases 2 and 8: the same
            if body.get("valid") is False:
                body = {k: v for k, v in body.items() if k not in ("cause", "responsibility_class",
                                                                   "responsible_department", "corrective_action")}
            service.resolve(db_session=s, case_id=case.id, actor="h1", policy=POLICY, now=at, data=body)
            if review is not None:
                service.review_opinion(db_session=s, case_id=case.id, reviewer="manager", policy=POLICY, now=at,
                                       data={**REVIEW, "long_term_measure": None, **review})
            if satisfaction is not None:
                service.callback(db_session=s, case_id=case.id, actor="care-1", policy=POLICY, now=at,
                                 data={"satisfaction": satisfaction, "customer_words": f"回电{PHONE}"})
            ids.append(case.id)
        s.commit()
    return ids


def test_the_monthly_report_counts_the_record_as_counted_by_hand(engine):
    ids = _seed_month(engine)
    start, end, label = reports.period_bounds(month="2026-11")
    with Session(engine) as s:
        rep = reports.report(db_session=s, start=start, end=end, label=label)
        quarter = reports.report(db_session=s, **dict(zip(("start", "end", "label"),
                                                          reports.period_bounds(quarter="2026-Q4"))))
    record = rep["record"]
    # Counted by hand from SEEDED: nine cases, six valid and resolved, two invalid, one not resolved.
    assert rep["cases"] == 9
    assert record["validity"] == {"valid": 6, "invalid": 2, "unrecorded": 1}
    assert record["counts"]["cause"] == {"quality": 3, "attitude": 2, "delivery_defect": 1}
    assert record["counts"]["responsibility_class"] == {"skill": 2, "process": 2, "attitude": 1, "product": 1}
    assert record["counts"]["responsible_department"] == {"after_sales": 2, "sales": 2, "workshop": 2}
    assert record["counts"]["satisfaction"] == {"satisfied": 3, "fairly_satisfied": 1, "unsatisfied": 1}
    # The corrective measures of the month: the six valid cases' five, the most frequent first, masked.
    assert [(m["measure"], m["cause"], m["cases"], m["first_case"]) for m in record["measures"]] == [
        ("措施2，联系139******78", "quality", 2, "2026-11-000003"),
        *((f"措施{n}，联系139******78", cause, 1, f"2026-11-00000{n + 1}")
          for n, cause in ((0, "attitude"), (1, "attitude"), (3, "delivery_defect"), (4, "quality")))]
    # The repeated complaints of a kind (the same vehicle, repair quality) list their long-term measure.
    repeated = [r for r in rep["repeated_complaints"] if r["category"] == "repair_quality"]
    assert len(repeated) == 1 and len(repeated[0]["cases"]) == 3
    assert repeated[0]["long_term_measure"] == "同一车辆返修由技术经理复检"
    # The quarter holds October's case too.
    assert quarter["record"]["validity"]["valid"] == 7 and quarter["record"]["counts"]["cause"]["other"] == 1
    # And the CSV of the dashboard carries them.
    rows = reports.csv_rows(rep, [])
    assert ["validity", "invalid", "cases", 2] in rows and ["record", "cause", "quality", 3] in rows
    assert ["record", "satisfaction", "unsatisfied", 1] in rows
    assert ["measure", "措施2，联系139******78", "quality", 2] in rows
    assert ["repeated_long_term_measure", repeated[0]["vehicle"], "repair_quality",
            "同一车辆返修由技术经理复检"] in rows
    assert PHONE not in str(rows)
    assert ids


def test_a_repeated_kind_without_a_measure_shows_none_yet(engine):
    _seed_month(engine)
    start, end, label = reports.period_bounds(month="2026-11")
    with Session(engine) as s:
        # The case that decided the measure is moved out of the month: its kind has none decided yet.
        decided = s.scalar(select(Case).where(Case.number == "2026-11-000005"))
        assert decided.record.long_term_measure
        decided.vin = None
        s.commit()
        rep = reports.report(db_session=s, start=start, end=end, label=label)
    repeated = [r for r in rep["repeated_complaints"] if r["category"] == "repair_quality"]
    assert repeated and repeated[0]["long_term_measure"] is None


def test_the_monthly_case_review_lists_major_and_repeated_cases_masked(engine):
    _seed_month(engine)
    start, end, label = reports.period_bounds(month="2026-11")
    with Session(engine) as s:
        review = reports.case_review(db_session=s, start=start, end=end, label=label)
    assert [e["severity"] for e in review["major"]] == ["major", "major"]
    resolved, unresolved = review["major"]
    assert (resolved["cause"], resolved["responsibility_class"], resolved["satisfaction"]) == (
        "quality", "skill", "fairly_satisfied")
    assert resolved["recorded"] and not unresolved["recorded"] and unresolved["satisfaction"] is None
    assert [len(g["entries"]) for g in review["repeated"]] == [3]
    assert review["repeated"][0]["long_term_measure"] == "同一车辆返修由技术经理复检"
    assert PHONE not in str(review) and "139******78" in resolved["text"]
    assert resolved["customer_words"] == "回电139******78"


# ---- the printed forms ------------------------------------------------------------------------------------
def _names() -> dict:
    from api.web.cases import _form_names

    return _form_names(POLICY)


@pytest.mark.parametrize(("line", "title"), [("sales", "公司用户抱怨处理表"), ("after_sales", "顾客抱怨(投诉)处理单")])
def test_the_printed_form_is_filled_completely_from_the_record(engine, line, title):
    from triage.auth.permissions import User
    from triage.case.views import case_view

    with Session(engine) as s:
        create_token(db_session=s, name="h1", role="handler", now=T0)
        case = intake(s, 1, T0, f"line={line} cat=service sev=complaint", customer_name="王先生",
                      customer_phone=PHONE, plate="粤B12345", vin="LSVAB2180E2000001")
        service.review(db_session=s, case_id=case.id, reviewer="care-1", policy=POLICY, now=T0)
        service.assign(db_session=s, case_id=case.id, assignee="h1", actor="care-1", now=T0)
        service.act(db_session=s, case_id=case.id, action="contact", actor="h1", policy=POLICY, now=T0)
        service.resolve(db_session=s, case_id=case.id, actor="h1", policy=POLICY, now=T0,
                        data={**RESOLVE, "cause": "misuse", "evidence": "检测报告"})
        service.review_opinion(db_session=s, case_id=case.id, reviewer="manager", policy=POLICY, now=T0, data=REVIEW)
        service.callback(db_session=s, case_id=case.id, actor="care-1", policy=POLICY, now=T0, data=SATISFIED)
        form = forms.fill(case_view(case, User("care-1", "customer_care"), T0), _names(), POLICY.roles,
                          POLICY.record)
    assert form.title == title
    empty = [label for label, value in [*form.header, *form.sections] if not value]
    assert empty == []
    sections = dict(form.sections)
    assert "用户使用不当或误操作" in sections["原因分析"] and "保险" in sections["原因分析"]
    assert "检测报告" in sections["原因分析"] and RESOLVE["corrective_action"] in sections["纠正及改进措施"]
    assert "同意" in sections["经理审核意见"] and "满意" in sections["回访结果（用户对处理结果的意见）"]
    assert dict(form.header)["责任分类"] == "产品类" and dict(form.header)["投诉有效性"] == "有效投诉"


# ---- the console's forms never save a masked text back --------------------------------------------------
def test_a_manager_resolving_again_keeps_the_texts_they_see_masked(engine, tmp_path, monkeypatch):
    """A manager sees the record's free text masked; their resolve form starts empty and an empty
    field keeps what is recorded, so the phone number in the investigation survives their edit."""
    from fastapi.testclient import TestClient

    from triage.classify import registry

    from .console_seed import seed
    from .test_console import csrf_of, sign_in

    monkeypatch.setenv("TRIAGE_DATA_DIR", str(tmp_path / "data"))
    ids = seed(engine, POLICY, registry.load(), T0)
    cid = ids["routine"]
    with Session(engine) as s:
        service.review(db_session=s, case_id=cid, reviewer="care", policy=POLICY, now=T0,
                       corrections={"business_line": "after_sales", "category": "service", "flags": []})
        service.act(db_session=s, case_id=cid, action="contact", actor="care", policy=POLICY, now=T0)
        service.resolve(db_session=s, case_id=cid, actor="handler1", policy=POLICY, now=T0,
                        data={**RESOLVE, "investigation": f"客户来电 {PHONE} 反映属实"})
        service.act(db_session=s, case_id=cid, action="reopen", actor="care", policy=POLICY, now=T0)
        s.commit()
    with TestClient(create_app(engine, registry.load, POLICY, SettableClock(T0)), base_url="http://c.test") as client:
        sign_in(client, "manager")
        page = client.get(f"/cases/{cid}").text
        assert PHONE not in page and "客户来电 139******78 反映属实" in page  # shown masked, not put in the form
        form = page.split('id="resolve-form"')[1].split("</form>")[0]
        assert "139******78" not in form
        with Session(engine) as s:
            version = s.get(Case, cid).version
        r = client.post(f"/cases/{cid}/resolve", data={"csrf": csrf_of(client), "version": version,
                                                        "reply": "服务经理再次致歉", "valid": "yes"},
                        follow_redirects=False)
        assert r.status_code == 303, r.text
    with Session(engine) as s:
        record = s.get(Case, cid).record
        assert record.investigation == f"客户来电 {PHONE} 反映属实" and record.reply == "服务经理再次致歉"
