"""The HTTP API, served by a real uvicorn server on loopback, with a clock the test sets."""

from __future__ import annotations

import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy.orm import Session

from api.main import create_app
from tests.live import LiveServer
from tests.record_data import RESOLVE, REVIEW, SATISFIED, UNSATISFIED
from triage.auth.tokens import create as create_token
from triage.db import init_db, make_engine
from triage.policy.calendar import TZ

NOW = [datetime(2026, 11, 23, 10, 0, tzinfo=TZ)]


@pytest.fixture(scope="module")
def server(small_model, tmp_path_factory):
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('api') / 'api.db'}")
    init_db(engine)
    tokens = {}
    with Session(engine) as s:
        for role in ("customer_care", "handler", "manager"):
            tokens[role] = create_token(db_session=s, name=f"{role}-1", role=role, now=NOW[0])
        s.commit()
    with LiveServer(create_app(engine, lambda: small_model, clock=lambda: NOW[0])) as server:
        yield server.url, tokens, engine


def client(server, role):
    base, tokens, _ = server
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {tokens[role]}"}, timeout=30)


def test_stateless_triage_and_batch(server):
    with client(server, "handler") as c:
        r = c.post("/v1/triage", json={"text": "行驶中刹车失灵", "channel": "phone",
                                        "received_at": "2026-11-23T10:00:00+08:00"})
        assert r.status_code == 200
        assert r.json()["routing"]["responsible"] and r.json()["classification"]["severity"]
        r = c.post("/v1/triage/batch", json={"items": [{"id": "a", "text": "发动机异响"}, {"id": "b", "text": "  "}]})
        results = r.json()["results"]
        assert "classification" in results[0] and "empty" in results[1]["error"]


def test_a_long_complaint_answers_its_deciding_clauses_as_typed_evidence(server, small_model):
    text = ("本人去年年底在本市一家店里看中了这款车，和家人商量后才决定购买，"
            "提车前销售承诺送三次保养，到现在一次都没有兑现，我已经打了12315。")
    with client(server, "handler") as c:
        evidence = c.post("/v1/triage", json={"text": text}).json()["classification"]["evidence"]
    assert evidence == _json(small_model.predict([text])[0].to_dict()["evidence"])
    clauses = [e for e in evidence if e["feature"] == "clause"]
    assert {e["head"] for e in clauses} <= {"business_line", "category", "severity"} and len(clauses) >= 2
    for e in clauses:
        assert text[e["start"]:e["end"]] == e["text"] and "，" not in e["text"] and 0 < e["weight"] <= 1
    doc = httpx.get(f"{server[0]}/openapi.json").json()["components"]["schemas"]
    assert doc["Classification"]["properties"]["evidence"]["items"] == {"$ref": "#/components/schemas/EvidenceOut"}
    assert "clause" in doc["EvidenceOut"]["properties"]["feature"]["description"]
    assert set(doc["EvidenceOut"]["required"]) == {"head", "label", "start", "end", "text", "feature", "weight"}


def test_auth_and_problem_json(server):
    base, _, _ = server
    r = httpx.get(f"{base}/v1/cases")
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
    with client(server, "handler") as c:
        r = c.post("/v1/cases", json={"channel": "phone", "text": "异响", "received_at": "2026-11-23T10:00:00+08:00"})
        assert r.status_code == 403 and "may not" in r.json()["detail"]
    with client(server, "customer_care") as c:
        r = c.post("/v1/cases", json={"channel": "phone", "text": "", "received_at": "2026-11-23T10:00:00+08:00"})
        assert r.status_code == 400 and r.json()["detail"] == "text is empty"
        # A lone surrogate arrives as a JSON escape; no UTF-8 (nor the database) can hold it. The
        # request's JSON parser refuses it before check_text would.
        before = c.get("/v1/cases").json()["cases"]
        body = json.dumps({"channel": "phone", "text": "刹车\ud800失灵", "received_at": "2026-11-23T10:00:00+08:00"})
        r = c.post("/v1/cases", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 422 and r.json()["detail"].startswith("body.text: Input should be a valid"), r.text
        assert c.get("/v1/cases").json()["cases"] == before
        r = c.post("/v1/cases", json={"channel": "phone"})
        assert r.status_code == 422 and "text" in r.json()["detail"]
        assert c.get("/v1/cases/424242").status_code == 404


def test_the_whole_story_over_http(server):
    """Intake of an OEM ticket, suggestion, a correction, dispatch, a breach with the clock
    moved forward, escalation, resolution, an unsatisfied callback, reopen, close."""
    from triage.case.worker import run_sla_pass
    from triage.policy.loader import load_policy

    engine = server[2]
    ticket = {"channel": "oem_ticket", "external_id": "DN-2026-0001",
              "text": "客户王先生反映新车变速箱顿挫，4S店不予解决",
              "received_at": "2026-11-23T09:30:00+08:00", "customer_name": "王先生", "customer_phone": "13912345678",
              "plate": "甘A12345", "in_warranty": True}
    with client(server, "customer_care") as care, client(server, "handler") as handler, \
            client(server, "manager") as manager:
        r = care.post("/v1/cases", json=ticket)
        assert r.status_code == 201
        case = r.json()
        assert case["number"] == "2026-11-000001" and case["state"] == "suggested" and case["suggestion"]
        again = care.post("/v1/cases", json=ticket)
        assert again.status_code == 200 and again.json()["id"] == case["id"]
        cid = case["id"]

        assert cid in [c["id"] for c in care.get("/v1/queue").json()["cases"]]
        corrected = "repair_quality" if case["suggestion"]["labels"]["category"] != "repair_quality" else "service"
        r = care.post(f"/v1/cases/{cid}/review",
                      json={"version": case["version"], "corrections": {"category": corrected}})
        assert r.status_code == 200
        reviewed = r.json()
        assert reviewed["state"] == "confirmed" and reviewed["labels"]["category"] == corrected
        review_event = next(e for e in reviewed["events"] if e["kind"] == "reviewed")
        assert review_event["data"]["corrections"]["category"] == {
            "from": case["suggestion"]["labels"]["category"], "to": corrected}
        first_role = reviewed["responsible_role"]

        # Handlers see only their own cases.
        assert handler.get(f"/v1/cases/{cid}").status_code == 404
        assert care.post(f"/v1/cases/{cid}/assign", json={"assignee": "handler-1"}).status_code == 200
        assert [c["id"] for c in handler.get("/v1/cases").json()["cases"]] == [cid]

        # Personal data: visible (and the read logged) for customer care, masked for a manager.
        assert care.get(f"/v1/cases/{cid}").json()["customer_phone"] == "13912345678"
        masked = manager.get(f"/v1/cases/{cid}").json()
        assert "13912345678" not in str(masked) and masked["customer_phone"].startswith("139")
        assert any(e["kind"] == "personal_data_read" for e in masked["events"])

        # Nobody calls the customer: three hours later the worker finds the breach and escalates.
        NOW[0] = datetime(2026, 11, 23, 13, 0, tzinfo=TZ)
        with Session(engine) as s:
            run_sla_pass(db_session=s, policy=load_policy(), now=NOW[0])
            s.commit()
        after = manager.get(f"/v1/cases/{cid}").json()
        escalations = [e["data"] for e in after["events"] if e["kind"] == "escalated"]
        # The OEM ticket's 30-minute first response and the 2-hour first contact both ran out: one step up each.
        assert {e["clock"] for e in escalations} == {"oem_first_response", "first_contact"}
        assert escalations[0]["from_role"] == first_role and escalations[1]["from_role"] == escalations[0]["to"]
        assert after["responsible_role"] == escalations[-1]["to"]
        assert cid in [c["id"] for c in manager.get("/v1/cases", params={"breached": True}).json()["cases"]]

        for action, data in [("contact", {}), ("resolve", {**RESOLVE, "form": "returned"})]:
            r = handler.post(f"/v1/cases/{cid}/actions/{action}", json={"data": data})
            assert r.status_code == 200, r.text
        assert handler.post(f"/v1/cases/{cid}/actions/close", json={}).status_code == 403
        assert manager.post(f"/v1/cases/{cid}/opinion-review", json=REVIEW).status_code == 200
        r = care.post(f"/v1/cases/{cid}/actions/callback", json={"data": UNSATISFIED})
        assert r.json()["state"] == "reopened"
        assert handler.post(f"/v1/cases/{cid}/actions/resolve", json={}).status_code == 200
        assert manager.post(f"/v1/cases/{cid}/opinion-review", json=REVIEW).status_code == 200
        assert care.post(f"/v1/cases/{cid}/actions/callback", json={"data": SATISFIED}).status_code == 200
        r = care.post(f"/v1/cases/{cid}/actions/close", json={})
        assert r.json()["state"] == "closed"
        r = care.post(f"/v1/cases/{cid}/actions/reopen", json={})
        assert r.status_code == 409 and "closed" in r.json()["detail"]


def test_batch_intake_is_idempotent_and_reports_bad_items(server):
    items = [{"channel": "web", "external_id": f"B-{i}", "text": t, "received_at": "2026-11-23T12:00:00+08:00"}
             for i, t in enumerate(["天窗漏水", "", "导航死机"])]
    with client(server, "customer_care") as care:
        first = care.post("/v1/cases/batch", json={"items": items}).json()["results"]
        assert [r.get("created") for r in first] == [True, None, True] and "empty" in first[1]["error"]
        again = care.post("/v1/cases/batch", json={"items": items}).json()["results"]
        assert [r.get("created") for r in again] == [False, None, False]
        assert [r.get("id") for r in again] == [r.get("id") for r in first]


def test_two_reviewers_at_once_one_wins(server):
    with client(server, "customer_care") as care:
        case = care.post("/v1/cases", json={"channel": "phone", "text": "空调不制冷",
                                             "received_at": "2026-11-23T11:00:00+08:00"}).json()

        def confirm(_):
            with client(server, "customer_care") as c:
                return c.post(f"/v1/cases/{case['id']}/review", json={"version": case["version"]}).status_code

        with ThreadPoolExecutor(4) as pool:
            codes = sorted(pool.map(confirm, range(4)))
        assert codes.count(200) == 1 and set(codes[1:]) == {409}


def test_model_endpoint(server):
    with client(server, "manager") as c:
        r = c.get("/v1/model")
        assert r.status_code == 200 and r.json()["version"] == "test-small" and r.json()["card"] is None
    NOW[0] = NOW[0] + timedelta(minutes=1)


def test_monthly_and_quarterly_reports(server):
    with client(server, "manager") as c:
        r = c.get("/v1/reports/monthly", params={"month": "2026-11"})
        assert r.status_code == 200
        rep = r.json()
        assert rep["cases"] >= 2 and rep["period"] == "2026-11"
        assert sum(rep["counts"]["category"].values()) == rep["cases"]
        assert rep["sla_compliance"]["handover"]["target"] == 1.0
        assert "13912345678" not in r.text
        q = c.get("/v1/reports/quarterly", params={"quarter": "2026-Q4"}).json()
        assert q["cases"] == rep["cases"]
        assert c.get("/v1/reports/monthly", params={"month": "2026-13"}).status_code == 400
        assert c.get("/v1/reports/quarterly", params={"quarter": "2026-Q5"}).status_code == 400


def test_openapi_lists_the_routes(server):
    base, _, _ = server
    paths = httpx.get(f"{base}/openapi.json").json()["paths"]
    assert {"/v1/triage", "/v1/triage/batch", "/v1/cases", "/v1/cases/batch", "/v1/cases/{case_id}/review",
            "/v1/cases/{case_id}/assign", "/v1/cases/{case_id}/actions/{action}", "/v1/queue",
            "/v1/reports/monthly", "/v1/reports/quarterly", "/v1/model"} <= set(paths)


@pytest.mark.parametrize("case_id", [2**63, 0])
def test_a_case_id_out_of_range_is_a_422_problem(server, case_id):
    """An id the database's integer column cannot hold is refused as input, never a 500."""
    with client(server, "customer_care") as c:
        for r in (c.get(f"/v1/cases/{case_id}"), c.post(f"/v1/cases/{case_id}/review", json={"version": 1})):
            assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
            assert r.json()["detail"].startswith("path.case_id")


def test_every_route_declares_its_response(server):
    base, _, _ = server
    doc = httpx.get(f"{base}/openapi.json").json()
    operations = [(m, p, op) for p, ops in doc["paths"].items() if p.startswith("/v1/") for m, op in ops.items()]
    assert len(operations) == 24  # 13; relabelling, the suggestions report, the notifications; the record's steps;
    # the registry's models and the choice of the served one
    for method, path, op in operations:
        ok = [op["responses"][code] for code in ("200", "201") if code in op["responses"]]
        assert ok, f"{method} {path}: no success response"
        schema = ok[0]["content"]["application/json"]["schema"]
        if "$ref" in schema:
            schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
        assert schema.get("properties"), f"{method} {path}: an empty response schema"


@pytest.fixture
def utc_clock():
    """The clock in UTC, as the database gives times back: a write answers with the times it was
    given (the request's, the clock's), here the same strings as a later read's."""
    local = NOW[0]
    NOW[0] = local.astimezone(UTC)
    yield
    NOW[0] = local


def _json(obj):
    return json.loads(json.dumps(obj))


def test_responses_are_what_the_services_build(server, small_model, utc_clock):
    """Each route answers exactly what the domain functions make of the same request."""
    from triage.auth.permissions import User
    from triage.case import reports, service
    from triage.case.views import case_view
    from triage.policy.loader import load_policy
    from triage.policy.routing import Context
    from triage.suggestion import classify_and_route

    _, _, engine = server
    care, handler, manager = (User(f"{r}-1", r) for r in ("customer_care", "handler", "manager"))

    def view(case_id, user):
        with Session(engine) as s:  # not committed: a read logged here is not kept
            return _json(case_view(service.get(db_session=s, case_id=case_id), user, NOW[0]))

    text = "行驶中刹车失灵"
    pred = small_model.predict([text])[0].to_dict()
    found = classify_and_route(small_model, load_policy(), text, Context("phone", NOW[0]))
    ticket = {"channel": "web", "external_id": "SAME-1", "text": "座椅加热不工作",
              "received_at": "2026-11-24T01:00:00+00:00"}
    with client(server, "customer_care") as c, client(server, "handler") as h, client(server, "manager") as m:
        assert c.post("/v1/triage", json={"text": text}).json() == _json({"classification": pred})
        assert c.post("/v1/triage", json={"text": text, "channel": "phone"}).json() == _json(
            {"classification": found.prediction.to_dict(), "routing": found.decision.to_dict()})
        assert c.post("/v1/triage/batch", json={"items": [{"id": "a", "text": text}, {"id": "b", "text": ""}]}).json() \
            == _json({"results": [{"id": "a", "classification": pred}, {"id": "b", "error": "text is empty"}]})

        r = c.post("/v1/cases", json=ticket)  # no personal data: no read is logged
        cid = r.json()["id"]
        assert r.status_code == 201 and r.json() == view(cid, care)
        r = c.post("/v1/cases", json=ticket)
        assert r.status_code == 200 and r.json() == view(cid, care)
        assert c.post("/v1/cases/batch", json={"items": [ticket, {**ticket, "text": ""}]}).json() == {"results": [
            {"item": 0, "id": cid, "number": r.json()["number"], "created": False},
            {"item": 1, "error": "text is empty"}]}
        with Session(engine) as s:
            queue = [{"id": q.id, "number": q.number, "received_at": q.received_at.isoformat(),
                      "suggestion": q.suggestion} for q in service.review_queue(db_session=s).cases]
        assert c.get("/v1/queue").json() == _json({"cases": queue, "next": None})
        assert c.post(f"/v1/cases/{cid}/review", json={"version": r.json()["version"]}).json() == view(cid, care)
        assert c.post(f"/v1/cases/{cid}/assign", json={"assignee": "handler-1"}).json() == view(cid, care)
        r = h.post(f"/v1/cases/{cid}/actions/contact", json={"data": {"note": "called"}})
        assert r.json() == view(cid, handler)
        for user, caller in ((care, c), (handler, h), (manager, m)):
            assert caller.get(f"/v1/cases/{cid}").json() == view(cid, user)
            with Session(engine) as s:
                cases = service.list_cases(db_session=s, filters=service.CaseFilters(channel="web"), user=user).cases
                listed = [{"id": x.id, "number": x.number, "state": x.state, "channel": x.channel,
                           "received_at": x.received_at.isoformat(), "labels": x.current_labels,
                           "responsible_role": x.responsible_role, "assignee": x.assignee} for x in cases]
            assert caller.get("/v1/cases", params={"channel": "web"}).json() == _json({"cases": listed, "next": None})

        r = c.post("/v1/cases", json={**ticket, "external_id": "SAME-2", "customer_phone": "13912345678"})
        pid = r.json()["id"]
        expected = view(pid, care)  # the read it logs is the one the request logs
        assert expected["events"][-1]["kind"] == "personal_data_read" and c.get(f"/v1/cases/{pid}").json() == expected

        for user, caller in ((care, c), (manager, m)):
            with Session(engine) as s:
                start, end, label = reports.period_bounds(month="2026-11")
                monthly = reports.report(db_session=s, start=start, end=end, label=label, mask=user is manager)
            assert caller.get("/v1/reports/monthly", params={"month": "2026-11"}).json() == _json(monthly)
        assert m.get("/v1/model").json() == {"version": "test-small", "card": None}


def test_triage_serve_runs_the_api_with_its_worker(small_registry, tmp_path):
    """`triage serve` as a process: the default set-up (SQLite file, current model)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "TRIAGE_MODELS_DIR": str(small_registry), "TRIAGE_DB_URL": f"sqlite:///{tmp_path / 's.db'}"}
    token = subprocess.run([sys.executable, "-m", "triage.cli", "token", "create", "--name", "m", "--role", "manager"],
                           capture_output=True, text=True, env=env, cwd=root, check=True).stdout.strip()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "triage.cli", "serve", "--port", str(port), "--interval", "1"],
                            env=env, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for _ in range(100):
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/v1/model", headers={"Authorization": f"Bearer {token}"})
                break
            except httpx.ConnectError:
                time.sleep(0.2)
        assert r.status_code == 200 and r.json()["version"] == "test-small"
        assert r.json()["card"]["artifacts"]["model.npz"]
        assert httpx.get(f"http://127.0.0.1:{port}/v1/model").status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=10)
