"""The edges of the HTTP API (issue 11 §5, §6): times the system cannot place, the body-size
limit, unknown fields, unknown actions, the Authorization scheme, error responses in the
OpenAPI document (and a client generated from it), and the per-request work that was waste:
the token lookup, the model registry's file checks, `triage serve --workers`."""

from __future__ import annotations

import enum
import json
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, event
from sqlalchemy.orm import Session

from api.errors import ProblemError
from api.main import MAX_BODY_BYTES, body_limit, create_app
from triage.auth.models import ApiToken
from triage.auth.service import create_account
from triage.auth.tokens import create as create_token
from triage.db import init_db, make_engine
from triage.policy.calendar import TZ

from .live import LiveServer, ServeProcess

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=TZ)
LIMIT = 64 * 1024
PROBLEM = "application/problem+json"
ROLES = ("customer_care", "handler", "manager")


@pytest.fixture(scope="module")
def api(small_model, tmp_path_factory):
    """A live server with a 64 KiB body limit: (base url, tokens by role, engine)."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('edges') / 'api.db'}")
    init_db(engine)
    with Session(engine) as s:
        tokens = {role: create_token(db_session=s, name=f"{role}-1", role=role, now=NOW) for role in ROLES}
        create_account(db_session=s, username="care", display_name="客服", role="customer_care",
                       password="a long enough password", now=NOW)
        s.commit()
    app = create_app(engine, lambda: small_model, clock=lambda: NOW, max_body_bytes=LIMIT)
    with LiveServer(app) as server:
        yield server.url, tokens, engine


def client(api, role: str = "customer_care") -> httpx.Client:
    base, tokens, _ = api
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {tokens[role]}"}, timeout=30)


def is_problem(r: httpx.Response, status: int) -> bool:
    body = r.json()
    return (r.status_code == status and r.headers["content-type"].startswith(PROBLEM)
            and body["status"] == status and {"type", "title", "detail"} <= set(body))


# ---- received_at: what the system cannot place is the client's 422 -------------------------------
UNPLACEABLE = ["0001-01-01T00:00:00+08:00", "0001-01-01T00:00:00-08:00", "9999-12-31T23:00:00-05:00",
               "9999-01-01T00:00:00+00:00", "1900-03-01T12:00:00+08:00", "2100-01-01T00:00:00+08:00"]


@pytest.mark.parametrize("at", UNPLACEABLE)
def test_a_received_at_out_of_range_is_a_422_problem_on_every_route(api, at):
    """Year 1 and 9999 overflowed the conversion to UTC, 1900 was outside the calendar: 500s."""
    item = {"channel": "phone", "text": "刹车失灵", "received_at": at}
    fine = {**item, "received_at": "2026-11-23T09:00:00+08:00"}
    with client(api) as c:
        for path, body, where in (
                ("/v1/cases", {**item, "external_id": f"R-{at}"}, "body.received_at"),
                ("/v1/cases/batch", {"items": [fine, item]}, "body.items.1.received_at"),
                ("/v1/triage", item, "body.received_at"),
                ("/v1/triage/batch", {"items": [{**item, "id": "a"}]}, "body.items.0.received_at")):
            r = c.post(path, json=body)
            assert is_problem(r, 422), (path, r.status_code, r.text[:200])
            assert r.json()["detail"].startswith(where) and "2000-01-01" in r.json()["detail"]


def test_the_accepted_range_is_in_the_schema(api):
    doc = httpx.get(f"{api[0]}/openapi.json").json()["components"]["schemas"]
    for model in ("IntakeIn", "TriageIn", "BatchItem"):
        text = doc[model]["properties"]["received_at"]["description"]
        assert "2000-01-01T00:00:00+08:00" in text and "2100-01-01T00:00:00+08:00" in text, model


def test_a_time_the_calendar_cannot_place_is_a_422_not_a_500(api, monkeypatch):
    """Within the range, a calendar that still cannot answer (CalendarError) is the same 422."""
    from api.routes import triage as triage_routes
    from triage.case import service
    from triage.policy.calendar import CalendarError

    def refuse(*_args, **_kwargs):
        raise CalendarError("2031-01-01: not covered")

    monkeypatch.setattr(triage_routes, "classify_and_route", refuse)
    monkeypatch.setattr(service, "classify_and_route", refuse)
    item = {"channel": "phone", "text": "刹车失灵", "received_at": "2031-01-01T10:00:00+08:00"}
    with client(api) as c:
        r = c.post("/v1/triage", json=item)
        assert is_problem(r, 422) and "not covered" in r.json()["detail"]
        r = c.post("/v1/cases", json={**item, "external_id": "CAL-1"})
        assert is_problem(r, 422) and "not covered" in r.json()["detail"]
        r = c.post("/v1/triage/batch", json={"items": [{**item, "id": "a"}]})
        assert r.status_code == 200 and "not covered" in r.json()["results"][0]["error"]


# ---- the body-size limit ---------------------------------------------------------------------------
def _raw(api, head: str, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """Send a request's head and part of its body on a socket, and read the answer without
    sending the rest: the server must answer before the body is complete."""
    base, tokens, _ = api
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head.replace("TOKEN", tokens["customer_care"]).encode() + body)
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head_bytes, _, rest = data.partition(b"\r\n\r\n")
        lines = head_bytes.decode().split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        while len(rest) < int(headers["content-length"]):
            rest += sock.recv(65536)
    return int(lines[0].split()[1]), headers, rest


def test_a_body_declared_over_the_limit_is_a_413_before_it_is_read(api):
    """A 10 MB body (say an unknown field holding a file) was read and accepted whole."""
    head = ("POST /v1/triage HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer TOKEN\r\n"
            "Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n")
    status, headers, body = _raw(api, head, b'{"text": "x", "junk": "' + b"a" * 1000)
    assert status == 413 and headers["content-type"].startswith(PROBLEM)
    assert json.loads(body)["status"] == 413 and str(LIMIT) in json.loads(body)["detail"]


def test_a_chunked_body_is_counted_as_it_streams(api):
    """No Content-Length: the server counts the chunks and answers once they pass the limit,
    without waiting for the last chunk (which is never sent here)."""
    head = ("POST /v1/cases HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer TOKEN\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"a" * 16384
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(LIMIT // len(chunk) + 2))
    status, headers, body = _raw(api, head, chunks)
    assert status == 413 and headers["content-type"].startswith(PROBLEM) and json.loads(body)["status"] == 413


def test_a_body_under_the_limit_streamed_in_chunks_is_served(api):
    with client(api) as c:
        body = json.dumps({"text": "发动机异响" * 1000}, ensure_ascii=False).encode()
        r = c.post("/v1/triage", content=iter([body[:1000], body[1000:]]), headers={"content-type": "application/json"})
        assert r.status_code == 200 and r.json()["classification"]
        assert is_problem(c.post("/v1/triage", json={"text": "异" * LIMIT}), 413)


def test_the_console_upload_is_not_held_to_the_api_limit(api, tmp_path, monkeypatch):
    """The limit is the JSON API's: the console's bulk upload (multipart, up to 200 MB) goes on."""
    monkeypatch.setenv("TRIAGE_DATA_DIR", str(tmp_path / "data"))
    base = api[0]
    with httpx.Client(base_url=base, timeout=30) as browser:
        r = browser.post("/login", data={"username": "care", "password": "a long enough password", "next": "/bulk"})
        page = browser.get("/bulk").text
        csrf = page.split('name="csrf" value="')[1].split('"')[0]
        content = b"id,text\n" + b"".join(b"%d,%s\n" % (i, "天窗漏水".encode()) for i in range(2 * LIMIT // 16))
        assert len(content) > 2 * LIMIT
        r = browser.post("/bulk", data={"csrf": csrf}, files={"file": ("big.csv", content)}, follow_redirects=False)
        assert r.status_code == 303 and "uploaded" in r.headers["location"], r.text[:300]


def test_the_limit_is_configurable(monkeypatch):
    monkeypatch.delenv("TRIAGE_MAX_BODY_BYTES", raising=False)
    assert body_limit() == MAX_BODY_BYTES == 2**20
    monkeypatch.setenv("TRIAGE_MAX_BODY_BYTES", "5000")
    assert body_limit() == 5000 and body_limit(10) == 10
    monkeypatch.setenv("TRIAGE_MAX_BODY_BYTES", "lots")
    with pytest.raises(ValueError, match="TRIAGE_MAX_BODY_BYTES"):
        body_limit()


# ---- unknown fields, unknown actions, the Authorization scheme -------------------------------------
def test_unknown_fields_are_refused(api):
    """A misspelt field (`recieved_at`) or one the API does not have was silently ignored."""
    ticket = {"channel": "web", "text": "空调不制冷", "received_at": "2026-11-23T09:00:00+08:00"}
    with client(api) as c:
        case = c.post("/v1/cases", json={**ticket, "external_id": "U-1"}).json()
        cid = case["id"]
        for path, body in (
                ("/v1/triage", {"text": "异响", "recieved_at": "2026-11-23T09:00:00+08:00"}),
                ("/v1/triage/batch", {"items": [{"id": "a", "text": "异响", "priority": "high"}]}),
                ("/v1/triage/batch", {"items": [], "extra": 1}),
                ("/v1/cases", {**ticket, "external_id": "U-2", "customer_email": "a@b.c"}),
                ("/v1/cases/batch", {"items": [{**ticket, "external_id": "U-3", "note": "x"}]}),
                (f"/v1/cases/{cid}/review", {"version": case["version"], "approve": True}),
                (f"/v1/cases/{cid}/assign", {"assignee": "handler-1", "force": True}),
                (f"/v1/cases/{cid}/actions/close", {"data": {}, "reason": "x"})):
            r = c.post(path, json=body)
            assert is_problem(r, 422), (path, r.status_code, r.text[:200])
            assert "Extra inputs are not permitted" in r.json()["detail"], path
        assert c.get(f"/v1/cases/{cid}").json()["version"] == case["version"]  # nothing changed


@pytest.mark.parametrize("role", ROLES)
def test_an_unknown_action_is_a_404_whoever_asks(api, role):
    """It was a 403 (the role check came first), or a 400 for a manager."""
    with client(api, "customer_care") as care:
        cid = care.post("/v1/cases", json={"channel": "web", "text": "车窗异响", "external_id": f"A-{role}",
                                           "received_at": "2026-11-23T09:00:00+08:00"}).json()["id"]
    with client(api, role) as c:
        r = c.post(f"/v1/cases/{cid}/actions/teleport", json={})
        assert is_problem(r, 404) and "teleport" in r.json()["detail"]


def test_the_token_must_come_as_a_bearer_token(api):
    """A bare token (no `Bearer `) was accepted."""
    base, tokens, _ = api
    token = tokens["manager"]
    for header in (token, f"Token {token}", f"Basic {token}", "Bearer", f"Bearer{token}"):
        r = httpx.get(f"{base}/v1/model", headers={"Authorization": header})
        assert is_problem(r, 401), header
        assert r.headers["www-authenticate"] == "Bearer"
    for header in (f"Bearer {token}", f"bearer {token}", f"BEARER  {token}"):
        assert httpx.get(f"{base}/v1/model", headers={"Authorization": header}).status_code == 200, header


def test_security_headers_stay_on_the_console_only(api):
    """The console's headers, now set by a plain ASGI middleware: pages and static files as
    before, nothing on the JSON API and its documents."""
    base, tokens, _ = api
    page = httpx.get(f"{base}/login")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY" and page.headers["x-content-type-options"] == "nosniff"
    static = httpx.get(f"{base}/static/console.css")
    assert static.headers["content-security-policy"] and "no-store" not in static.headers.get("cache-control", "")
    redirect = httpx.get(f"{base}/queue")
    assert redirect.status_code == 303 and redirect.headers["cache-control"] == "no-store"
    for path in ("/v1/model", "/openapi.json", "/docs"):
        r = httpx.get(f"{base}{path}", headers={"Authorization": f"Bearer {tokens['manager']}"})
        assert r.status_code == 200 and "content-security-policy" not in r.headers, path


# ---- the OpenAPI document and a client generated from it -------------------------------------------
def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), f"a key twice in one object: {keys}"
    return dict(pairs)


def test_every_route_documents_its_problems(api):
    doc = json.loads(httpx.get(f"{api[0]}/openapi.json").text, object_pairs_hook=_unique_keys)
    assert "HTTPValidationError" not in doc["components"]["schemas"]  # FastAPI's own 422 shape is never sent
    problem = doc["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    operations = [(m, p, op) for p, ops in doc["paths"].items() if p.startswith("/v1/") for m, op in ops.items()]
    assert len(operations) == 24  # 13; relabelling, the suggestions report, the notifications; the record's steps;
    # the registry's models and the choice of the served one
    for method, path, op in operations:
        codes = {int(c) for c in op["responses"] if int(c) >= 400}
        expected = {401}
        if "requestBody" in op:
            expected |= {413, 422}
        if op.get("parameters"):
            expected.add(422)
        if "{case_id}" in path or "{notification_id}" in path:
            expected.add(404)
        if (method == "post" and path.startswith("/v1/cases")) or path.startswith(("/v1/queue", "/v1/reports",
                                                                                    "/v1/notifications", "/v1/models")):
            expected.add(403)
        if path.endswith("/retry"):
            expected.add(409)
        if path == "/v1/models/current":
            expected |= {404, 409}
        if path.endswith(("/review", "/assign", "/actions/{action}", "/resolve", "/opinion-review", "/callback")):
            expected |= {400, 409}
        assert expected <= codes, f"{method} {path}: {sorted(codes)} lacks {sorted(expected - codes)}"
        for code in codes:
            content = op["responses"][str(code)]["content"]
            assert content == {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}, (method, path, code)
    intake = doc["paths"]["/v1/cases"]["post"]["responses"]
    for code in ("200", "201"):
        assert intake[code]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/CaseOut"}
    action = next(p for p in doc["paths"]["/v1/cases/{case_id}/actions/{action}"]["post"]["parameters"]
                  if p["name"] == "action")
    assert set(action["schema"]["enum"]) == {"contact", "start", "resolve", "callback", "verify", "reopen", "close"}


@pytest.fixture(scope="module")
def generated(api, tmp_path_factory):
    """A client package generated from the server's OpenAPI document by datamodel-code-generator
    (its models, and an HTTPX2 client of the operations), imported as its users would."""
    import importlib

    doc = httpx.get(f"{api[0]}/openapi.json").json()
    root = tmp_path_factory.mktemp("client")
    (root / "openapi.json").write_text(json.dumps(doc), encoding="utf-8")
    (root / "triage_api").mkdir()
    subprocess.run([sys.executable, "-m", "datamodel_code_generator", "--input", "openapi.json",
                    "--input-file-type", "openapi", "--output-model-type", "pydantic_v2.BaseModel",
                    "--output", "triage_api/models.py", "--generate-client", "httpx2",
                    "--client-output", "triage_api/client", "--client-package", "triage_api.client",
                    "--client-model-package", "triage_api.models", "--client-default-base-url", api[0],
                    "--openapi-scopes", "schemas", "api", "--target-python-version", "3.11",
                    "--formatters", "builtin"], cwd=root, check=True, capture_output=True, text=True)
    sys.path.insert(0, str(root))
    try:
        yield (importlib.import_module("triage_api.client"), importlib.import_module("triage_api.models"),
               importlib.import_module("triage_api.client.errors"))
    finally:
        sys.path.remove(str(root))
        for name in [n for n in sys.modules if n == "triage_api" or n.startswith("triage_api.")]:
            del sys.modules[name]


def test_a_client_generated_from_the_openapi_document_works(api, generated):
    """The generated client calls the live server: each success decodes into its response model,
    each error into the Problem model under the error class of its status."""
    gen, m, errors = generated
    base, tokens, _ = api

    def connect(role: str | None):
        headers = {"Authorization": f"Bearer {tokens[role]}"} if role else {}
        return gen.Client(base_url=base, default_headers=headers, max_retries=0)

    def refused(error_class, call):
        with pytest.raises(error_class) as caught:
            call()
        assert isinstance(caught.value.body, m.Problem), caught.value.body
        return caught.value.body

    actions = next(v for v in vars(m).values() if isinstance(v, type) and issubclass(v, enum.Enum)
                   and "contact" in v.__members__)  # the action path parameter's enum, as the generator named it
    with connect("customer_care") as care, connect("handler") as handler, connect("manager") as manager:
        out = care.triage.triage_text(body=m.TriageIn(text="行驶中刹车失灵", channel="phone", received_at=NOW))
        assert isinstance(out, m.TriageOut) and out.routing["responsible"]
        out = care.triage.triage_batch(body=m.BatchIn(items=[m.BatchItem(id="a", text="异响"),
                                                            m.BatchItem(id="b", text=" ")]))
        assert out.results[0].classification and out.results[1].error

        ticket = m.IntakeIn(channel="oem_ticket", external_id="GEN-1", text="新车变速箱顿挫",
                            received_at=NOW - timedelta(hours=1), customer_phone="13912345678")
        created = care.cases.with_response.intake(body=ticket)
        assert created.info.status_code == 201 and isinstance(created.data, m.CaseOut)
        assert created.data.state == "suggested"
        again = care.cases.with_response.intake(body=ticket)  # the replay: 200, the same case
        assert again.info.status_code == 200 and again.data.id == created.data.id
        case = created.data
        assert care.cases.intake_batch(body=m.IntakeBatchIn(items=[ticket])).results[0].created is False

        assert refused(errors.BadRequestError, lambda: care.cases.intake(
            body=ticket.model_copy(update={"text": "", "external_id": None}))).detail == "text is empty"
        refused(errors.PermissionDeniedError, lambda: handler.cases.intake(body=ticket))
        refused(errors.NotFoundError, lambda: care.cases.get_case(case_id=2**31 - 1))
        refused(errors.UnprocessableEntityError, lambda: care.cases.get_case(case_id=2**40))

        reviewed = care.cases.review(case_id=case.id, body=m.ReviewIn(version=case.version))
        assert reviewed.state == "confirmed"
        refused(errors.ConflictError, lambda: care.cases.review(case_id=case.id, body=m.ReviewIn(version=case.version)))
        assert care.cases.assign(case_id=case.id, body=m.AssignIn(assignee="handler-1")).assignee == "handler-1"
        refused(errors.BadRequestError, lambda: care.cases.assign(case_id=case.id, body=m.AssignIn(assignee="nobody")))
        acted = handler.cases.act(case_id=case.id, action=actions.contact, body=m.ActionIn(data={"note": "called"}))
        assert any(e.kind == "first_contact" for e in acted.events)
        refused(errors.PermissionDeniedError, lambda: handler.cases.act(case_id=case.id, action=actions.close,
                                                                        body=m.ActionIn()))

        assert case.id in [c.id for c in manager.cases.list_cases().cases]
        assert isinstance(care.cases.queue(), m.QueueOut)
        report = manager.reports.monthly(month="2026-11")
        assert report.cases >= 1 and report.from_ == "2026-11-01T00:00:00+08:00"
        refused(errors.PermissionDeniedError, lambda: handler.reports.monthly(month="2026-11"))
        refused(errors.BadRequestError, lambda: manager.reports.quarterly(quarter="2026-Q5"))
        assert manager.model.model_card().version == "test-small"
    with connect(None) as anonymous:
        refused(errors.AuthenticationError, lambda: anonymous.model.model_card())


# ---- the per-request waste ------------------------------------------------------------------------------
def test_a_known_token_is_not_looked_up_on_every_request(small_model, tmp_path):
    """Each request read the token's row: a database query per triage request."""
    engine = make_engine(f"sqlite:///{tmp_path / 'tokens.db'}")
    init_db(engine)
    with Session(engine) as s:
        token = create_token(db_session=s, name="care-1", role="customer_care", now=NOW)
        s.commit()
    queries: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: queries.append(args[2]))
    app = create_app(engine, lambda: small_model, clock=lambda: NOW, token_ttl=0.5)
    # The cache's own clock, set by the test: twenty requests on a busy machine can take longer than the TTL.
    monotonic = [1000.0]
    app.state.context.users.clock = lambda: monotonic[0]
    with TestClient(app) as c:
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(20):
            assert c.post("/v1/triage", json={"text": "异响", "channel": "web"}, headers=headers).status_code == 200
        assert sum("api_tokens" in q for q in queries) == 1

        # A token made meanwhile (by `triage token create`, say) works at once: unknown tokens are not cached.
        with Session(engine) as s:
            late = create_token(db_session=s, name="care-2", role="customer_care", now=NOW)
            s.commit()
        assert c.get("/v1/model", headers={"Authorization": f"Bearer {late}"}).status_code == 200
        # A token removed from the database is refused once its entry is older than the TTL.
        with Session(engine) as s:
            s.execute(delete(ApiToken))
            s.commit()
        monotonic[0] += 0.6
        assert c.get("/v1/model", headers=headers).status_code == 401


def test_an_expired_token_is_read_once_not_by_every_request_in_flight(small_model, tmp_path, monkeypatch):
    """When a token's entry expired, every request in flight read the database at once: a stall
    of the server every TTL seconds under load (its p99)."""
    import asyncio

    from api import deps

    engine = make_engine(f"sqlite:///{tmp_path / 'herd.db'}")
    init_db(engine)
    with Session(engine) as s:
        token = create_token(db_session=s, name="care-1", role="customer_care", now=NOW)
        s.commit()
    now = [0.0]
    context = create_app(engine, lambda: small_model, clock=lambda: NOW).state.context
    context.users.clock = lambda: now[0]
    lookups = []
    real_lookup = deps._lookup

    def slow_lookup(engine, token):
        lookups.append(token)
        time.sleep(0.05)
        return real_lookup(engine, token)

    monkeypatch.setattr(deps, "_lookup", slow_lookup)

    async def requests_in_flight(n: int) -> list:
        return await asyncio.gather(*(deps.get_current_user(context, f"Bearer {token}") for _ in range(n)))

    assert {u.name for u in asyncio.run(requests_in_flight(1))} == {"care-1"} and len(lookups) == 1
    now[0] += context.users.ttl + 1  # expired: one of the 30 reads it again, the others keep the last answer
    assert {u.name for u in asyncio.run(requests_in_flight(30))} == {"care-1"}
    assert len(lookups) == 2
    with Session(engine) as s:  # removed: refused once the entry expired and was read again
        s.execute(delete(ApiToken))
        s.commit()
    now[0] += context.users.ttl + 1
    with pytest.raises(ProblemError) as refused:
        asyncio.run(requests_in_flight(1))
    assert refused.value.status == 401


def test_the_served_model_is_not_checked_on_disk_on_every_request(small_registry, tmp_path, monkeypatch):
    """The registry read CURRENT and stat'ed every file of the model folder on every request."""
    import api.main
    from triage.classify import registry

    monkeypatch.setenv("TRIAGE_MODELS_DIR", str(small_registry))
    monkeypatch.setenv("TRIAGE_DB_URL", f"sqlite:///{tmp_path / 'models.db'}")
    monkeypatch.delenv("TRIAGE_SERVE_MODEL", raising=False)
    stamps = []
    real_stamp = registry._stamp
    monkeypatch.setattr(registry, "_stamp", lambda folder: stamps.append(folder) or real_stamp(folder))
    app = api.main.app  # what `uvicorn api.main:app` serves
    engine = app.state.context.engine
    with Session(engine) as s:
        token = create_token(db_session=s, name="m", role="manager", now=NOW)
        s.commit()
    with TestClient(app) as c:
        for _ in range(20):
            r = c.post("/v1/triage", json={"text": "异响"}, headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200
    assert len(stamps) <= 2


def test_the_serving_model_rechecks_the_registry_every_few_seconds(small_registry, monkeypatch):
    from triage.classify import registry

    monkeypatch.setenv("TRIAGE_MODELS_DIR", str(small_registry))
    calls = []
    monkeypatch.setattr(registry, "load", lambda name=None: calls.append(name) or f"model-{len(calls)}")
    now = [100.0]
    serving = registry.ModelLoader(recheck=2.0, clock=lambda: now[0])
    assert serving() == "model-1" and serving() == "model-1" and len(calls) == 1
    now[0] += 1.9
    assert serving() == "model-1"
    now[0] += 0.2  # a new CURRENT, a model folder rewritten: seen now
    assert serving() == "model-2" and len(calls) == 2


def test_serve_with_two_workers_has_one_sla_worker(small_registry, tmp_path):
    """`triage serve --workers 2`: two server processes answer, and the SLA worker runs once,
    in the supervising process (it flags a case that is long overdue)."""
    with ServeProcess(tmp_path, small_registry, "--workers", "2", "--interval", "0.5") as served:
        base, headers = served.url, served.headers
        servers = [p for p in _children(served.proc.pid) if "spawn_main" in _cmdline(p)]
        assert len(servers) == 2
        received = (datetime.now(TZ) - timedelta(days=20)).replace(microsecond=0).isoformat()
        r = httpx.post(f"{base}/v1/cases", headers=headers, json={
            "channel": "phone", "text": "空调不制冷", "received_at": received})
        assert r.status_code == 201, r.text
        for _ in range(100):
            case = httpx.get(f"{base}/v1/cases/{r.json()['id']}", headers=headers).json()
            kinds = {e["kind"] for e in case["events"]}
            if "sla_breach" in kinds:
                break
            time.sleep(0.2)
        assert "sla_breach" in kinds
    assert served.stderr.count("the SLA worker") == 1 and "2 server process(es)" in served.stderr


def _children(pid: int) -> list[int]:
    return [int(c) for task in Path(f"/proc/{pid}/task").iterdir() for c in (task / "children").read_text().split()]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""
