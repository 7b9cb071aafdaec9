"""Console routes: thin handlers that read the signed-in person, call the domain functions
(triage.case.service, flows, reports, forms; triage.bulk.service) and render a template.

Sign-in is a server-side session: the cookie holds a random token (HttpOnly, SameSite=Strict)
and every form that changes something carries the session's form token (CSRF). Complaint
text is untrusted: templates are autoescaped and a Content-Security-Policy allows only the
console's own script file, so nothing in a complaint can run in the page.
"""

import csv
import hmac
import io
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, selectinload
from triage.case.access import SEES_PERSONAL_DATA, User, case_view, may_act, may_see

from api.web import charts, present
from triage.auth import service as auth
from triage.bulk import service as bulk
from triage.bulk.models import BulkJob
from triage.case import flows, forms, reports, service
from triage.case.models import STATES, Case, CaseEvent
from triage.classify.labels import FLAGS, HEADS, LABELS
from triage.db import unit_of_work
from triage.policy.calendar import work_calendar
from triage.policy.model import Policy
from triage.text.mask import mask_pii

HERE = Path(__file__).parent
COOKIE = "triage_session"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HOME = {"customer_care": "/queue", "handler": "/my", "manager": "/dashboard", "admin": "/queue"}
CARE = ("customer_care", "manager", "admin")
MY_CASES_SHOWN = 200
DONE_MESSAGES = {"accepted": "已确认并分派", "corrected": "已修改并分派", "assigned": "已指派处理人",
                 "acted": "已记录", "uploaded": "文件已上传，正在标注"}


@dataclass(frozen=True)
class Viewer:
    user: User
    display: str
    csrf: str


class _SignIn(Exception):
    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status, self.message = status, message


def _safe_next(path: str | None) -> str:
    """Only a path of this site: an open redirect would let a link send people elsewhere."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path


def mount(app: FastAPI, engine: Engine, model_loader: Callable[[], Any], policy: Policy,
          clock: Callable[[], datetime]) -> None:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True))
    env.globals.update(
        label_name=present.label_name, limit_name=present.limit_name, local_time=present.local_time,
        event_names=present.EVENT_NAMES,
        state_names=present.STATE_NAMES, role_names=present.ROLE_NAMES, action_names=present.ACTION_NAMES,
        head_names=present.HEAD_NAMES, policy_roles=policy.roles, channels=policy.channels, LABELS=LABELS,
        FLAGS=FLAGS, HEADS=HEADS, is_urgent=present.is_urgent)
    templates = Jinja2Templates(env=env)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bulk-tagging")
    with Session(engine) as s:
        bulk.fail_interrupted(s, clock())
        s.commit()
    router = APIRouter(include_in_schema=False)

    def db() -> Iterator[Session]:
        yield from unit_of_work(engine)

    Db = Annotated[Session, Depends(db, scope="function")]  # committed before the response (see api.main)

    def viewer(request: Request, s: Db) -> Viewer:
        token = request.cookies.get(COOKIE)
        found = auth.session_user(s, token, clock()) if token else None
        if found is None:
            raise _SignIn(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        return Viewer(*found)

    def role(*roles: str) -> Callable[..., Viewer]:
        def check(v: Annotated[Viewer, Depends(viewer)]) -> Viewer:
            if v.user.role not in roles:
                raise _Refused(403, "您的角色不能使用此页面 (your role may not use this page)")
            return v
        return check

    AnyViewer = Annotated[Viewer, Depends(viewer)]
    Care = Annotated[Viewer, Depends(role(*CARE))]
    Manager = Annotated[Viewer, Depends(role("manager", "admin"))]

    def check_csrf(v: Viewer, token: str) -> None:
        if not hmac.compare_digest(v.csrf.encode(), token.encode()):
            raise _Refused(403, "表单已过期，请刷新页面后重试 (the form expired; reload the page)")

    def render(request: Request, name: str, v: Viewer | None, status: int = 200, **context: Any) -> HTMLResponse:
        done = request.query_params.get("done")
        return templates.TemplateResponse(request, name, {"viewer": v, "done": DONE_MESSAGES.get(done or ""),
                                                          "server_now": clock().isoformat(), **context},
                                          status_code=status)

    @app.exception_handler(_SignIn)
    async def _to_sign_in(_: Request, exc: _SignIn) -> RedirectResponse:
        from urllib.parse import quote

        return RedirectResponse(f"/login?next={quote(_safe_next(exc.next_path))}", status_code=303)

    @app.exception_handler(_Refused)
    async def _refused(request: Request, exc: _Refused) -> HTMLResponse:
        return templates.TemplateResponse(request, "error.html", {"viewer": None, "message": exc.message,
                                                                  "status": exc.status, "done": None,
                                                                  "server_now": clock().isoformat()},
                                          status_code=exc.status)

    @app.middleware("http")
    async def _security_headers(request: Request, call_next: Callable[..., Any]) -> Response:
        response = await call_next(request)
        if not request.url.path.startswith(("/v1/", "/docs", "/redoc", "/openapi")):
            response.headers["Content-Security-Policy"] = CSP
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["Referrer-Policy"] = "same-origin"
            response.headers["X-Frame-Options"] = "DENY"
            if not request.url.path.startswith("/static/"):
                response.headers["Cache-Control"] = "no-store"  # pages hold personal data
        return response

    # ---- sign-in ----------------------------------------------------------------------------
    @router.get("/login")
    def login_page(request: Request, next: str = "/") -> HTMLResponse:
        return render(request, "login.html", None, next=_safe_next(next), error=None)

    @router.post("/login")
    def login(request: Request, s: Db, username: Annotated[str, Form(max_length=60)],
              password: Annotated[str, Form(max_length=200)], next: Annotated[str, Form()] = "/") -> Response:
        try:
            account = auth.authenticate(s, username.strip(), password, clock())
        except auth.AuthError as exc:
            s.commit()  # keep the failure count
            return render(request, "login.html", None, status=401, next=_safe_next(next), error=str(exc),
                          username=username)
        token, _ = auth.start_session(s, account, clock())
        target = _safe_next(next)
        response = RedirectResponse(HOME[account.role] if target == "/" else target, status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https",
                            max_age=auth.SESSION_HOURS * 3600, path="/")
        return response

    @router.post("/logout")
    def logout(request: Request, s: Db, v: AnyViewer, csrf: Annotated[str, Form()]) -> Response:
        check_csrf(v, csrf)
        auth.end_session(s, request.cookies.get(COOKIE, ""))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    @router.get("/")
    def home(v: AnyViewer) -> RedirectResponse:
        return RedirectResponse(HOME.get(v.user.role, "/queue"), status_code=303)

    # ---- review queue (客户关爱) ----------------------------------------------------------------
    @router.get("/queue")
    def queue(request: Request, s: Db, v: Care) -> HTMLResponse:
        items = []
        for case in service.review_queue(s, limit=200):
            suggestion = case.suggestion or {}
            text = case.text if v.user.role in SEES_PERSONAL_DATA else mask_pii(case.text)
            items.append({"case": case, "s": suggestion, "urgent": present.is_urgent(suggestion.get("labels", {})),
                          "pieces": present.highlight(text, suggestion.get("evidence", []))})
        return render(request, "queue.html", v, items=items)

    @router.post("/cases/{case_id}/review")
    def review(case_id: int, s: Db, v: Care, csrf: Annotated[str, Form()], version: Annotated[int, Form()],
               decision: Annotated[str, Form()], business_line: Annotated[str | None, Form()] = None,
               category: Annotated[str | None, Form()] = None, severity: Annotated[str | None, Form()] = None,
               flags: Annotated[list[str] | None, Form()] = None,
               responsible_role: Annotated[str | None, Form()] = None) -> Response:
        check_csrf(v, csrf)
        corrections: dict[str, Any] | None = None
        if decision == "correct":
            corrections = {k: val for k, val in (("business_line", business_line), ("category", category),
                                                 ("severity", severity), ("responsible_role", responsible_role))
                           if val}
            corrections["flags"] = [f for f in (flags or []) if f != "none"]
        elif decision != "accept":
            raise _Refused(400, f"unknown decision {decision[:20]!r}")
        _run(lambda: service.review(s, case_id, v.user.name, policy, clock(), version, corrections))
        return RedirectResponse(f"/queue?done={'accepted' if corrections is None else 'corrected'}", status_code=303)

    # ---- case page ----------------------------------------------------------------------------
    def visible(s: Session, case_id: int, v: Viewer) -> Case:
        case = s.get(Case, case_id)
        if case is None or not may_see(v.user, case):
            raise _Refused(404, f"没有编号为 {case_id} 的案件 (no such case)")
        return case

    @router.get("/cases/{case_id}")
    def case_page(request: Request, case_id: int, s: Db, v: AnyViewer) -> HTMLResponse:
        case = visible(s, case_id, v)
        now = clock()
        view = case_view(s, case, v.user, now)
        routing = _latest_routing(view)
        evidence = (case.suggestion or {}).get("evidence", [])
        actions = [a for a in service.available_actions(case) if may_act(v.user, a)]
        handlers = auth.accounts_with_role(s, "handler") if v.user.role in CARE else []
        return render(request, "case.html", v, case=view, routing=routing, urgent=present.is_urgent(
            case.current_labels), labels=case.current_labels, pieces=present.highlight(view["text"], evidence),
            clocks=flows.clock_states(case, policy, now), now=now.isoformat(), actions=actions, handlers=handlers,
            escalations=[e for e in view["events"] if e["kind"] in ("sla_breach", "escalated")],
            display=auth.display_names(s))

    @router.post("/cases/{case_id}/actions/{action}")
    def act(case_id: int, action: str, s: Db, v: AnyViewer, csrf: Annotated[str, Form()],
            version: Annotated[int, Form()], note: Annotated[str, Form(max_length=2000)] = "",
            satisfied: Annotated[str | None, Form()] = None) -> Response:
        check_csrf(v, csrf)
        visible(s, case_id, v)
        if not may_act(v.user, action):
            raise _Refused(403, f"您的角色不能执行此操作 (role {v.user.role} may not {action[:20]})")
        data: dict[str, Any] = {"note": note.strip()} if note.strip() else {}
        if action == "callback":
            data["satisfied"] = satisfied == "yes"
        _run(lambda: service.act(s, case_id, action, v.user.name, clock(), version, **data))
        return RedirectResponse(f"/cases/{case_id}?done=acted", status_code=303)

    @router.post("/cases/{case_id}/assign")
    def assign(case_id: int, s: Db, v: Care, csrf: Annotated[str, Form()], version: Annotated[int, Form()],
               assignee: Annotated[str, Form(max_length=60)]) -> Response:
        check_csrf(v, csrf)
        if assignee not in {a.username for a in auth.accounts_with_role(s, "handler")}:
            raise _Refused(400, "请选择一位处理人 (choose a handler)")
        _run(lambda: service.assign(s, case_id, assignee, v.user.name, clock(), version))
        return RedirectResponse(f"/cases/{case_id}?done=assigned", status_code=303)

    @router.get("/cases/{case_id}/form")
    def case_form(request: Request, case_id: int, s: Db, v: AnyViewer) -> HTMLResponse:
        case = visible(s, case_id, v)
        view = case_view(s, case, v.user, clock())
        names = {"time": present.local_time, "event": lambda k: present.EVENT_NAMES.get(k, k),
                 "flag": lambda f: present.label_name("flags", f), "label": present.label_name,
                 "channel": lambda c: str(policy.channels.get(c, c)).split(" (")[0]}
        return render(request, "form.html", v, form=forms.fill(view, names, policy.roles))

    # ---- lists ----------------------------------------------------------------------------------
    @router.get("/my")
    def my_cases(request: Request, s: Db, v: AnyViewer) -> HTMLResponse:
        now = clock()
        rows = []
        cal = work_calendar(policy)
        # The clocks need each event's kind and time; the payloads (whole suggestions) stay unread.
        mine = select(Case).where(Case.assignee == v.user.name, Case.state != "closed").options(
            selectinload(Case.events).defer(CaseEvent.data))
        for case in s.scalars(mine):
            clocks = flows.clock_states(case, policy, now, cal)
            rows.append({"case": case, "clocks": [c for c in clocks if c["status"] == "running"],
                         "breached": flows.urgency_key(clocks)[0] == 0, "key": flows.urgency_key(clocks),
                         "urgent": present.is_urgent(case.current_labels)})
        rows.sort(key=lambda r: r["key"])
        return render(request, "my_cases.html", v, rows=rows[:MY_CASES_SHOWN], total=len(rows), now=now.isoformat())

    @router.get("/cases")
    def all_cases(request: Request, s: Db, v: Care, state: str = "", q: str = "") -> HTMLResponse:
        query = select(Case).order_by(Case.received_at.desc()).limit(300)
        if state in STATES:
            query = query.where(Case.state == state)
        if q.strip():
            query = query.where(Case.number.contains(q.strip()[:20]))
        return render(request, "cases.html", v, cases=s.scalars(query).all(), state=state, q=q[:20],
                      states=STATES)

    # ---- dashboard -----------------------------------------------------------------------------
    def period_of(period: str | None) -> tuple[datetime, datetime, str]:
        label = (period or "").strip() or present.local_time(clock())[:7]
        try:
            return reports.period_bounds(**({"quarter": label} if "Q" in label else {"month": label}))
        except reports.PeriodError as exc:
            raise _Refused(400, f"期间格式应为 YYYY-MM 或 YYYY-Qn ({exc})") from None

    @router.get("/dashboard")
    def dashboard(request: Request, s: Db, v: Manager, period: str | None = None) -> HTMLResponse:
        start, end, label = period_of(period)
        rep = reports.report(s, start, end, label, mask=v.user.role not in SEES_PERSONAL_DATA)
        months = reports.trend(s, label)
        columns = [(m["month"][2:], m["category"]) for m in months]
        sev_columns = [(m["month"][2:], m["severity"]) for m in months]
        clock_names = {c.id: c.name for c in policy.clocks}
        return render(
            request, "dashboard.html", v, rep=rep, period=label,
            by_category=charts.stacked_columns(columns, [*LABELS["category"], "unlabelled"],
                                               {**LABELS["category"], "unlabelled": "未确认"}),
            by_severity=charts.stacked_columns(sev_columns, [*LABELS["severity"], "unlabelled"],
                                               {**LABELS["severity"], "unlabelled": "未确认"}),
            compliance=charts.compliance_bars([(clock_names.get(k, k), c["compliance"], c["cases"], c["breached"])
                                               for k, c in rep["sla_compliance"].items()]),
            clock_names=clock_names)

    @router.get("/dashboard.csv")
    def dashboard_csv(s: Db, v: Manager, period: str | None = None) -> Response:
        start, end, label = period_of(period)
        rep = reports.report(s, start, end, label, mask=True)  # an export: personal data masked
        buf = io.StringIO()
        csv.writer(buf).writerows([[bulk.spreadsheet_safe(str(c)) for c in row]
                                   for row in reports.csv_rows(rep, reports.trend(s, label))])
        return Response("\ufeff" + buf.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="triage-report-{label}.csv"'})

    # ---- bulk tagging ---------------------------------------------------------------------------
    @router.get("/bulk")
    def bulk_page(request: Request, s: Db, v: Care) -> HTMLResponse:
        jobs = bulk.jobs_of(s, None if v.user.role == "admin" else v.user.name)
        return render(request, "bulk.html", v, jobs=[(j, bulk.progress_of(j)) for j in jobs],
                      limit_mb=bulk.MAX_UPLOAD_BYTES // 2**20, error=None)

    @router.post("/bulk")
    def bulk_upload(request: Request, s: Db, v: Care, csrf: Annotated[str, Form()],
                    file: Annotated[UploadFile, File()]) -> Response:
        check_csrf(v, csrf)

        def chunks() -> Iterator[bytes]:
            while block := file.file.read(1 << 20):
                yield block
        try:
            job = bulk.create_job(s, v.user.name, file.filename or "upload", chunks(), clock())
        except bulk.BulkError as exc:
            s.rollback()
            jobs = bulk.jobs_of(s, v.user.name)
            return render(request, "bulk.html", v, status=400, jobs=[(j, bulk.progress_of(j)) for j in jobs],
                          limit_mb=bulk.MAX_UPLOAD_BYTES // 2**20, error=str(exc))
        s.commit()
        executor.submit(bulk.run_job, engine, job.id, model_loader(), clock)
        return RedirectResponse("/bulk?done=uploaded", status_code=303)

    def own_job(s: Session, job_id: int, v: Viewer) -> BulkJob:
        job = s.get(BulkJob, job_id)
        if job is None or (job.owner != v.user.name and v.user.role != "admin"):
            raise _Refused(404, f"没有任务 {job_id} (no such job)")
        return job

    @router.get("/bulk/{job_id}/status")
    def bulk_status(job_id: int, s: Db, v: Care) -> JSONResponse:
        return JSONResponse(bulk.progress_of(own_job(s, job_id, v)))

    @router.get("/bulk/{job_id}/download")
    def bulk_download(job_id: int, s: Db, v: Care, format: str = "jsonl") -> StreamingResponse:
        job = own_job(s, job_id, v)
        try:
            lines = bulk.tagged_csv(job) if format == "csv" else bulk.tagged_lines(job)
        except bulk.BulkError as exc:
            raise _Refused(409, str(exc)) from None
        name = f"tagged-{job_id}.{'csv' if format == 'csv' else 'jsonl'}"
        media = "text/csv; charset=utf-8" if format == "csv" else "application/x-ndjson; charset=utf-8"
        # The body streams after this request's session has closed: it reads only the file.
        return StreamingResponse((line.encode() for line in lines), media_type=media,
                                 headers={"Content-Disposition": f'attachment; filename="{name}"'})

    app.include_router(router)


def _run(change: Callable[[], Any]) -> Any:
    """A domain change; its refusal (conflict, wrong state, bad label) becomes the page's message."""
    try:
        return change()
    except service.CaseError as exc:
        raise _Refused(exc.status, _zh_error(exc)) from None


def _zh_error(exc: service.CaseError) -> str:
    if isinstance(exc, service.Conflict):
        return f"案件已被他人修改，请刷新后重试。({exc})"
    if isinstance(exc, service.InvalidTransition):
        return f"案件当前状态不允许此操作。({exc})"
    if isinstance(exc, service.NotFound):
        return f"找不到案件。({exc})"
    return f"请求有误。({exc})"


def _latest_routing(view: dict[str, Any]) -> dict[str, Any]:
    """The routing of the last dispatch (after corrections), else the suggestion's."""
    dispatched = [e for e in view["events"] if e["kind"] == "dispatched"]
    if dispatched:
        return dispatched[-1]["data"].get("routing", {})
    return (view.get("suggestion") or {}).get("routing", {})
