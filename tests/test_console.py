"""The console over HTTP without a browser: sign-in, form tokens, roles, uploads, exports,
and the pieces the pages are built from."""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Iterable
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.main import create_app
from api.web.present import highlight
from triage.bulk import service as bulk
from triage.bulk.models import BulkJob
from triage.case import forms, service
from triage.case.models import Case
from triage.case.worker import run_sla_pass
from triage.classify import registry
from triage.policy.loader import load_policy
from triage.text.mask import mask_pii

from .console_seed import ACCOUNTS, COMPLAINTS, PASSWORD, as_suggested, seed
from .live import SettableClock
from .record_data import RESOLVE
from .test_console_e2e import START


@pytest.fixture
def site(engine, tmp_path, monkeypatch):
    monkeypatch.setenv("TRIAGE_DATA_DIR", str(tmp_path / "data"))
    policy = load_policy()
    clock = SettableClock(START)
    ids = seed(engine, policy, registry.load(), START)
    app = create_app(engine, registry.load, policy, clock)
    with TestClient(app, base_url="http://console.test") as client:
        yield client, clock, ids, engine


def sign_in(client: TestClient, user: str, password: str = PASSWORD, next: str = "/"):
    return client.post("/login", data={"username": user, "password": password, "next": next},
                       follow_redirects=False)


def csrf_of(client: TestClient) -> str:
    page = client.get("/my").text
    return page.split('name="csrf" value="')[1].split('"')[0]


def state_of(engine, case_id: int) -> str:
    with Session(engine) as s:
        return s.get(Case, case_id).state


def test_pages_need_a_session_and_next_stays_on_this_site(site):
    client, *_ = site
    r = client.get("/queue", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/queue"
    for evil in ("//evil.example/x", "https://evil.example", "/\\evil.example"):
        r = sign_in(client, "care", next=evil)
        assert r.status_code == 303 and r.headers["location"] == "/queue"
    r = sign_in(client, "care", next="/cases?state=suggested")
    assert r.headers["location"] == "/cases?state=suggested"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


def test_every_page_carries_a_script_policy(site):
    client, *_ = site
    sign_in(client, "care")
    r = client.get("/queue")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["cache-control"] == "no-store"
    # The evidence marks split the text wherever the model found its features (a character of
    # "script" is one): the complaint is read without them, escaped.
    shown = re.sub(r"</?mark[^>]*>", "", r.text)
    assert "<script>window.__xss" not in r.text and "&lt;script&gt;window.__xss" in shown


def test_a_change_without_the_form_token_changes_nothing(site):
    client, _, ids, engine = site
    sign_in(client, "care")
    with Session(engine) as s:
        version = s.get(Case, ids["routine"]).version
    r = client.post(f"/cases/{ids['routine']}/review", data={"csrf": "forged", "version": version,
                                                               "decision": "accept"})
    assert r.status_code == 403 and "表单已过期" in r.text
    assert state_of(engine, ids["routine"]) == "suggested"
    r = client.post(f"/cases/{ids['routine']}/review", data={"csrf": csrf_of(client), "version": version,
                                                               "decision": "accept"}, follow_redirects=False)
    assert r.status_code == 303
    assert state_of(engine, ids["routine"]) == "confirmed"


def test_a_wrong_label_is_refused_and_nothing_is_written(site):
    client, _, ids, engine = site
    sign_in(client, "care")
    with Session(engine) as s:
        version = s.get(Case, ids["routine"]).version
    r = client.post(f"/cases/{ids['routine']}/review", data={
        "csrf": csrf_of(client), "version": version, "decision": "correct", "category": "<b>nonsense</b>"})
    assert r.status_code == 400 and "<b>nonsense</b>" not in r.text
    assert state_of(engine, ids["routine"]) == "suggested"


def test_repeated_failures_lock_the_account_for_a_while(site):
    client, clock, _, _ = site
    for _ in range(5):
        assert sign_in(client, "care", "wrong-password").status_code == 401
    r = sign_in(client, "care")
    assert r.status_code == 401 and "稍后再试" in r.text
    clock.now = START + timedelta(minutes=16)
    assert sign_in(client, "care").status_code == 303


def test_sign_out_and_expiry_end_the_session(site):
    client, clock, _, _ = site
    sign_in(client, "care")
    assert client.get("/queue").status_code == 200
    clock.now = START + timedelta(hours=13)
    assert client.get("/queue", follow_redirects=False).status_code == 303
    sign_in(client, "care")
    cookie = client.cookies.get("triage_session")
    client.post("/logout", data={"csrf": csrf_of(client)})
    client.cookies.set("triage_session", cookie)
    assert client.get("/queue", follow_redirects=False).status_code == 303


def test_roles_see_only_their_pages_and_cases(site):
    client, _, ids, _ = site
    sign_in(client, "handler1")
    assert client.get("/dashboard").status_code == 403
    assert client.get("/bulk").status_code == 403
    assert client.get(f"/cases/{ids['routine']}").status_code == 404  # not assigned to them
    assert client.get("/cases/999999").status_code == 404
    sign_in(client, "care")
    assert client.get("/dashboard").status_code == 403
    sign_in(client, "manager")
    page = client.get(f"/cases/{ids['routine']}").text
    assert "王小明" not in page and "13912345678" not in page  # managers see personal data masked


def test_an_id_too_large_for_the_database_is_refused_not_a_server_error(site):
    client, *_ = site
    sign_in(client, "care")
    huge = "99999999999999999999"
    for path in (f"/cases/{huge}", f"/cases/{huge}/form", f"/bulk/{huge}/status", f"/bulk/{huge}/download"):
        r = client.get(path)
        assert r.status_code == 422, path
        assert r.headers["content-type"].startswith("application/problem+json") and "Traceback" not in r.text
    token = csrf_of(client)
    for path, data in ((f"/cases/{huge}/review", {"decision": "accept"}), (f"/cases/{huge}/assign",
                                                                         {"assignee": "handler1"}),
                       (f"/cases/{huge}/actions/close", {})):
        r = client.post(path, data={"csrf": token, "version": 1, **data})
        assert r.status_code == 422, path


def _wait_for_job(client: TestClient, job_id: int) -> dict:
    for _ in range(200):
        status = client.get(f"/bulk/{job_id}/status").json()
        if status["status"] in ("done", "failed"):
            return status
        time.sleep(0.05)
    raise AssertionError("the job did not finish")


def _tag(site, name: str, content: bytes) -> tuple[int, dict]:
    """Upload a file for bulk tagging as the signed-in person; (job id, its final status)."""
    client = site[0]
    assert client.post("/bulk", data={"csrf": csrf_of(client)}, files={"file": (name, content)}).status_code == 200
    with Session(site[3]) as s:
        job_id = s.scalar(select(BulkJob.id).order_by(BulkJob.id.desc()))
    return job_id, _wait_for_job(client, job_id)


def _jobs(engine) -> int:
    with Session(engine) as s:
        return s.scalar(select(func.count()).select_from(BulkJob))


def test_bad_uploads_are_refused_and_leave_nothing(site, tmp_path, monkeypatch):
    client, _, _, engine = site
    sign_in(client, "care")
    token = csrf_of(client)
    for name, content, message in (("empty.csv", b"", "空"), ("notes.txt", b"id,text\n1,x\n", ".csv"),
                                   ("big.csv", b"id,text\n" + b"1,x\n" * 100, "超过")):
        monkeypatch.setattr(bulk, "MAX_UPLOAD_BYTES", 200)
        r = client.post("/bulk", data={"csrf": token}, files={"file": (name, content)})
        assert r.status_code == 400 and message in r.text
    assert _jobs(engine) == 0
    assert not list((tmp_path / "data").rglob("*.input"))


def test_a_file_that_cannot_be_read_fails_its_job_with_the_reason(site):
    client, _, _, _ = site
    sign_in(client, "care")
    job_id, status = _tag(site, "x.csv", b"\xff\xfe\x00garbage\n")
    assert status["status"] == "failed" and "header" in status["message"]
    assert client.get(f"/bulk/{job_id}/download").status_code == 409


def test_tagged_csv_is_safe_to_open_in_a_spreadsheet(site):
    client, _, _, _ = site
    sign_in(client, "care")
    data = "id,text\n\"=HYPERLINK(\"\"http://x\"\")\",刹车失灵很危险\nok,\n".encode()
    job_id, status = _tag(site, "h.csv", data)
    assert (status["status"], status["rows"], status["errors"]) == ("done", 2, 1)
    rows = list(csv.reader(io.StringIO(client.get(f"/bulk/{job_id}/download?format=csv").text.lstrip("\ufeff"))))
    assert rows[1][0].startswith("'=")
    assert rows[0] == bulk.CSV_COLUMNS and rows[2][-1]
    lines = client.get(f"/bulk/{job_id}/download?format=jsonl").text.splitlines()
    assert len(lines) == 2 and "刹车失灵很危险" not in lines[0]  # no complaint text in the output
    sign_in(client, "manager")
    assert client.get(f"/bulk/{job_id}/status").status_code == 404  # another person's job


def test_bulk_tagging_reports_an_unclosed_quote_and_tags_the_rows_after_it(site):
    client, _, _, _ = site
    sign_in(client, "care")
    data = 'id,text\n1,发动机异响\n2,"刹车失灵\n3,空调不制冷\n4,变速箱顿挫\n'.encode()
    job_id, status = _tag(site, "q.csv", data)
    assert (status["status"], status["rows"], status["errors"]) == ("done", 4, 1)
    rows = list(csv.reader(io.StringIO(client.get(f"/bulk/{job_id}/download?format=csv").text.lstrip("\ufeff"))))
    assert [r[0] for r in rows[1:]] == ["1", "2", "3", "4"] and "never closed" in rows[2][-1]


def test_dashboard_csv_masks_vehicles(site):
    client, _, _, engine = site
    policy = load_policy()
    with Session(engine) as s:
        for n in range(2):
            request = service.IntakeRequest(channel="phone", text="空调不制冷，第二次来店了",
                                            received_at=START + timedelta(minutes=n), vin="LSVAB2180E2999999")
            service.intake_and_suggest(db_session=s, request=request, model=registry.load(), policy=policy,
                                       actor="hotline", now=START)
        s.commit()
    sign_in(client, "manager")
    assert client.get("/dashboard?period=2026-Q4").status_code == 200
    assert client.get("/dashboard?period=bad").status_code == 400
    body = client.get("/dashboard.csv?period=2026-11").text
    assert "LSVAB2180E2999999" not in body and "repeated" in body


def test_dashboard_lists_the_first_rows_and_says_how_many_there_are(site, monkeypatch):
    """The page shows the first rows of the long lists with their number; the CSV has every row."""
    import api.web.dashboard as dashboard

    client, _, _, engine = site
    policy = load_policy()
    with Session(engine) as s:
        for v in range(3):
            for n in range(2):
                request = service.IntakeRequest(channel="phone", text="空调不制冷，第二次来店了",
                                                received_at=START + timedelta(minutes=10 * v + n),
                                                vin=f"LSVAB2180E299999{v}")
                service.intake_and_suggest(db_session=s, request=request, model=registry.load(), policy=policy,
                                           actor="hotline", now=START)
        s.commit()
    sign_in(client, "manager")
    rows = list(csv.reader(io.StringIO(client.get("/dashboard.csv?period=2026-11").text.lstrip("\ufeff"))))
    repeated = [r for r in rows if r[0] == "repeated"]
    assert len(repeated) >= 3
    monkeypatch.setattr(dashboard, "LIST_SHOWN", 1)
    page = client.get("/dashboard?period=2026-11").text
    assert f"共 {len(repeated)} 组，此处列出前 1 组" in page
    table = re.search(r'<table class="list" id="repeated">(.*?)</table>', page, re.S).group(1)
    assert table.count("<tr>") == 2  # its header and one group


def test_highlight_cuts_text_by_evidence():
    text = "高速上刹车失灵很危险"
    pieces = highlight(text, [{"head": "flags.safety", "label": "1", "start": 3, "end": 7},
                              {"head": "severity", "label": "major", "start": 5, "end": 10},
                              {"head": "category", "label": "service", "start": 40, "end": 45}])
    assert "".join(p.text for p in pieces) == text
    assert [(p.text, p.why) for p in pieces] == [("高速上", None), ("刹车失灵很危险", "人身安全、重大投诉")]


def test_the_form_follows_the_business_line():
    view = {"number": "2026-11-000001", "received_at": START.isoformat(), "channel": "phone", "text": "态度差",
            "labels": {"business_line": "sales", "category": "service", "severity": "grumble", "flags": []},
            "customer_name": "王*", "events": [{"kind": "resolved", "at": START.isoformat(), "actor": "h",
                                                "data": {"note": "已道歉"}}], "responsible_role": "retail_manager"}
    names = {"time": lambda v: str(v)[:16], "event": str, "flag": str, "label": lambda h, v: v, "channel": str}
    sales = forms.fill(view, names, {"retail_manager": "零售经理"})
    assert sales.title == "公司用户抱怨处理表" and ("用户名称", "王*") in sales.header
    assert "已道歉" in dict(sales.sections)["处理结果"]
    after = forms.fill({**view, "labels": {**view["labels"], "business_line": "after_sales"}}, names, {})
    assert after.title == "顾客抱怨(投诉)处理单"


@pytest.mark.parametrize(("state", "actions"), [
    ("confirmed", ["contact", "start", "resolve"]), ("in_progress", ["contact", "resolve"]),
    ("resolved", ["callback", "reopen"]), ("verified", ["close"]), ("closed", []), ("suggested", []),
])
def test_actions_offered_follow_the_state(state, actions):
    assert service.available_actions(Case(state=state)) == actions


def test_a_change_is_committed_before_its_response(engine, tmp_path, monkeypatch):
    """A reviewer who gets the answer can read the change at once: the commit happens before
    the response is sent (even when committing is slow), not after it."""
    import httpx
    from sqlalchemy import event

    from .live import LiveServer

    monkeypatch.setenv("TRIAGE_DATA_DIR", str(tmp_path / "data"))
    policy = load_policy()
    ids = seed(engine, policy, registry.load(), START)

    def slow_commit(session):
        if session.bind is engine and any(isinstance(o, Case) for o in session.dirty):
            time.sleep(0.5)

    event.listen(Session, "before_commit", slow_commit)
    try:
        with LiveServer(create_app(engine, registry.load, policy, SettableClock(START))) as server, \
                httpx.Client(base_url=server.url) as client:
            client.post("/login", data={"username": "care", "password": PASSWORD})
            token = client.get("/my").text.split('name="csrf" value="')[1].split('"')[0]
            with Session(engine) as s:
                version = s.get(Case, ids["routine"]).version
            r = client.post(f"/cases/{ids['routine']}/review",
                            data={"csrf": token, "version": version, "decision": "accept"})
            assert r.status_code == 303
            assert state_of(engine, ids["routine"]) == "confirmed"
    finally:
        event.remove(Session, "before_commit", slow_commit)


# ---- the console is Chinese throughout -------------------------------------------------------------
LATIN_ALLOWED = {"VIN", "SLA", "CSV", "JSONL", "UTF", "HSO", "YYYY", "text"}
"""Runs of three or more Latin letters a page may show: abbreviations people use in Chinese
too, a date's pattern (YYYY-MM), the column name of an upload (text) and a paper form's code
(HSO12.7-21). Clause ids (002-A), case numbers and the hotlines are digits or shorter."""


class _VisibleText(HTMLParser):
    """The text a person sees on a page: text nodes outside script and style, and the
    attributes a browser shows (title, placeholder, aria-label, alt)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.attributes: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._hidden += 1
        self.attributes += [v for k, v in attrs if k in ("title", "placeholder", "aria-label", "alt") and v]

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self.parts.append(data)


def latin_runs(html: str, data: Iterable[str]) -> set[str]:
    """Latin words of 3+ letters on a page, leaving out `data` (what people typed: complaint
    texts, user names, ticket numbers) and the allowed tokens."""
    parser = _VisibleText()
    parser.feed(html)
    text = "".join(parser.parts) + "\n" + "\n".join(parser.attributes)
    for value in sorted({*data, *(mask_pii(d) for d in data)}, key=len, reverse=True):
        text = text.replace(value, " ")
    return {w for w in re.findall(r"[A-Za-z]{3,}", text) if w not in LATIN_ALLOWED}


IMPORTED_TEXT = "修了三次变速箱还是顿挫，再不解决就找媒体曝光"


def test_every_console_page_is_chinese(site):
    """English fragments (reported to, import, system, (second copy), rule ids, clock ids,
    label ids of a correction) showed among the Chinese."""
    client, clock, ids, engine = site
    policy = load_policy()
    with Session(engine) as s:  # a case from a file import, and one with corrected labels and role
        request = service.IntakeRequest(channel="callback_after_sales", text=IMPORTED_TEXT, received_at=START,
                                        external_id="F-1", in_warranty=True)
        imported, _ = service.intake_and_suggest(db_session=s, request=request, model=registry.load(),
                                                 policy=policy, actor="import", now=START)
        service.review(db_session=s, case_id=ids["quality"], reviewer="care", policy=policy, now=START,
                       corrections={**as_suggested(s, ids["quality"]), "category": "repair_quality",
                                    "flags": ["repeat"], "responsible_role": "technical_manager"})
        service.review(db_session=s, case_id=imported.id, reviewer="care", policy=policy, now=START,
                       corrections=as_suggested(s, imported.id))
        for key in ("routine", "safety"):
            service.review(db_session=s, case_id=ids[key], reviewer="care", policy=policy, now=START,
                           corrections=as_suggested(s, ids[key]))
            service.assign(db_session=s, case_id=ids[key], assignee="handler1", actor="care", now=START)
        service.act(db_session=s, case_id=ids["safety"], action="contact", actor="handler1", policy=policy, now=START,
                    data={})
        service.act(db_session=s, case_id=ids["safety"], action="resolve", actor="handler1", policy=policy, now=START,
                    data={**RESOLVE, "note": "已更换刹车总泵"})
        s.commit()
    clock.now = START + timedelta(days=5)
    with Session(engine) as s:  # warnings, breaches, escalations and notifications of the SLA worker
        assert run_sla_pass(db_session=s, policy=policy, now=clock.now)
        s.commit()
    sign_in(client, "care")
    token = csrf_of(client)
    client.post("/bulk", data={"csrf": token}, files={"file": ("ok.csv", "id,text\n1,刹车失灵\n".encode())})
    client.post("/bulk", data={"csrf": token}, files={"file": ("bad.csv", b"no,header\n1,x\n")})
    with Session(engine) as s:
        for job_id in s.scalars(select(BulkJob.id)):
            _wait_for_job(client, job_id)
    with Session(engine) as s:
        cases = {c.id: c.external_id for c in s.scalars(select(Case))}
    data = [*(text for _, text in COMPLAINTS.values()), *(u for u, _, _ in ACCOUNTS), "hotline", "LSVAB2180E2123456",
            *(e for e in cases.values() if e), "ok.csv", "bad.csv", IMPORTED_TEXT,
            registry.load().version]  # the model version, an identifier, beside its suggestions' online accuracy
    pages = {"care": ["/queue", "/cases", "/cases?state=confirmed", "/my", "/bulk", "/cases/999999", "/dashboard",
                      *(f"/cases/{i}" for i in cases), *(f"/cases/{i}/form" for i in cases)],
             "manager": ["/dashboard", "/dashboard?period=2026-Q4", "/dashboard?period=bad", "/dashboard/review",
                         *(f"/cases/{i}" for i in cases)],
             "handler1": ["/my", f"/cases/{ids['safety']}", "/queue"]}
    found = {}
    for user, paths in pages.items():
        sign_in(client, user)
        for path in paths:
            r = client.get(path)
            assert r.status_code in (200, 400, 403, 404), path
            if runs := latin_runs(r.text, data):
                found[f"{user} {path}"] = sorted(runs)
    client.cookies.clear()
    if runs := latin_runs(client.get("/login").text, data):
        found["/login"] = sorted(runs)
    assert not found, "\n".join(f"{page}: {runs}" for page, runs in found.items())


def test_english_asides_are_left_out_and_chinese_ones_kept():
    from api.web.present import job_message, zh, zh_name

    assert zh("002-A (second copy) §8-1") == "002-A §8-1"
    assert zh("请刷新后重试。(case 3 changed (version 4, expected 3))") == "请刷新后重试。"
    assert zh("顾客抱怨(投诉)处理单") == "顾客抱怨(投诉)处理单"
    assert zh_name("主机厂工单 / DN网 (002-A §3)") == "主机厂工单 / DN网" and zh_name("(x)") == "(x)"
    assert job_message("the header has no text column (found: a, b)") == "表头缺少 id 或 text 列"
    assert job_message("something new") == "文件无法读取"
