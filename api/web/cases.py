"""A case (its page, its lifecycle actions, its handler, its printed form) and the lists of
cases: all of them for customer care, a handler's own sorted by deadline."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from api.deps import DbSession, Now, PolicyDep, PrimaryKey
from api.web import present
from api.web.deps import CareViewer, Refused, SignedIn, Viewer, case_change, check_csrf, render
from triage.auth.permissions import CARE, HANDLER, may_act
from triage.auth.service import accounts_with_role, display_names
from triage.case import forms, service
from triage.case.clocks import clock_states
from triage.case.models import STATES, Case
from triage.case.views import case_view
from triage.classify.labels import is_urgent
from triage.notify import service as notify
from triage.policy.model import Policy

router = APIRouter(include_in_schema=False)
MY_CASES_SHOWN = 200
ALL_CASES_SHOWN = 100


def visible_case(db_session: Session, case_id: int, viewer: Viewer) -> Case:
    """The case, if the viewer may see it; otherwise the same 404 as for no case at all."""
    try:
        return service.get_visible(db_session=db_session, case_id=case_id, user=viewer.user)
    except service.NotFound:
        raise Refused(404, f"没有编号为 {case_id} 的案件 (no such case)") from None


# ---- a case ----------------------------------------------------------------------------------------
@router.get("/cases/{case_id}")
def case_page(request: Request, case_id: PrimaryKey, db_session: DbSession, now: Now, policy: PolicyDep,
              viewer: SignedIn) -> HTMLResponse:
    case = visible_case(db_session, case_id, viewer)
    view = case_view(case, viewer.user, now)
    actions = [a for a in service.available_actions(case) if may_act(viewer.user, a)]
    care = viewer.user.role in CARE
    handlers = accounts_with_role(db_session=db_session, role=HANDLER) if care else []
    return render(request, "case.html", viewer, case=view, routing=_latest_routing(view),
                  suggestion=view["suggestion"] or {}, reviewable=care and case.state == "suggested",
                  relabelable=care and case.state in service.RELABEL_STATES,
                  urgent=is_urgent(case.current_labels), labels=case.current_labels,
                  pieces=present.highlight(view["text"], (case.suggestion or {}).get("evidence", [])),
                  clocks=clock_states(case, policy, now), now=now.isoformat(), actions=actions, handlers=handlers,
                  escalations=[e for e in view["events"] if e["kind"] in ("sla_breach", "escalated")],
                  display=display_names(db_session=db_session),
                  notifications=notify.for_case(db_session=db_session, case_id=case.id))


def _latest_routing(view: dict[str, Any]) -> dict[str, Any]:
    """The routing of the last dispatch (after corrections), else the suggestion's."""
    dispatched = [e for e in view["events"] if e["kind"] == "dispatched"]
    if dispatched:
        return dispatched[-1]["data"].get("routing", {})
    return (view.get("suggestion") or {}).get("routing", {})


@router.post("/cases/{case_id}/actions/{action}")
def act(case_id: PrimaryKey, action: str, db_session: DbSession, now: Now, policy: PolicyDep, viewer: SignedIn,
        csrf: Annotated[str, Form()], version: Annotated[int, Form()],
        note: Annotated[str, Form(max_length=2000)] = "", satisfied: Annotated[str | None, Form()] = None
        ) -> Response:
    check_csrf(viewer, csrf)
    visible_case(db_session, case_id, viewer)
    if not may_act(viewer.user, action):
        raise Refused(403, f"您的角色不能执行此操作 (role {viewer.user.role} may not {action[:20]})")
    data: dict[str, Any] = {"note": note.strip()} if note.strip() else {}
    if action == "callback":
        data["satisfied"] = satisfied == "yes"
    with case_change():
        service.act(db_session=db_session, case_id=case_id, action=action, actor=viewer.user.name, policy=policy,
                    now=now, expected_version=version, data=data)
    return RedirectResponse(f"/cases/{case_id}?done=acted", status_code=303)


@router.post("/cases/{case_id}/labels")
def relabel(case_id: PrimaryKey, db_session: DbSession, now: Now, policy: PolicyDep, viewer: CareViewer,
            csrf: Annotated[str, Form()], version: Annotated[int, Form()],
            business_line: Annotated[str, Form()], category: Annotated[str, Form()],
            severity: Annotated[str, Form()]) -> Response:
    check_csrf(viewer, csrf)
    with case_change():
        service.relabel(db_session=db_session, case_id=case_id, actor=viewer.user.name, policy=policy, now=now,
                        expected_version=version,
                        corrections={"business_line": business_line, "category": category, "severity": severity})
    return RedirectResponse(f"/cases/{case_id}?done=relabeled", status_code=303)


@router.post("/cases/{case_id}/assign")
def assign(case_id: PrimaryKey, db_session: DbSession, now: Now, viewer: CareViewer, csrf: Annotated[str, Form()],
           version: Annotated[int, Form()], assignee: Annotated[str, Form(max_length=60)]) -> Response:
    check_csrf(viewer, csrf)
    with case_change():
        service.assign(db_session=db_session, case_id=case_id, assignee=assignee, actor=viewer.user.name, now=now,
                       expected_version=version)
    return RedirectResponse(f"/cases/{case_id}?done=assigned", status_code=303)


@router.get("/cases/{case_id}/form")
def case_form(request: Request, case_id: PrimaryKey, db_session: DbSession, now: Now, policy: PolicyDep,
              viewer: SignedIn) -> HTMLResponse:
    view = case_view(visible_case(db_session, case_id, viewer), viewer.user, now)
    return render(request, "form.html", viewer, form=forms.fill(view, _form_names(policy), policy.roles, policy.record))


def _form_names(policy: Policy) -> dict[str, Any]:
    """How the paper form names times, events, flags, labels and channels."""
    return {"time": present.local_time, "event": lambda k: present.EVENT_NAMES.get(k, k),
            "flag": lambda f: present.label_name("flags", f), "label": present.label_name,
            "channel": lambda c: str(policy.channels.get(c, c)).split(" (")[0]}


# ---- lists -----------------------------------------------------------------------------------------
@router.get("/my")
def my_cases(request: Request, db_session: DbSession, now: Now, policy: PolicyDep, viewer: SignedIn) -> HTMLResponse:
    rows = service.worklist(db_session=db_session, user=viewer.user, policy=policy, now=now)
    return render(request, "my_cases.html", viewer, rows=rows[:MY_CASES_SHOWN], total=len(rows), now=now.isoformat())


@router.get("/cases")
def all_cases(request: Request, db_session: DbSession, viewer: CareViewer, state: str = "", q: str = "",
              cursor: str = "") -> HTMLResponse:
    filters = service.CaseFilters(state=state if state in STATES else None, number=q.strip()[:20] or None,
                                  limit=ALL_CASES_SHOWN)
    try:
        page = service.list_cases(db_session=db_session, filters=filters, user=viewer.user, cursor=cursor or None)
    except service.CaseError:
        raise Refused(400, "翻页链接无效，请从第一页开始 (bad cursor)") from None
    return render(request, "cases.html", viewer, cases=page.cases, next=page.next, first=not cursor, state=state,
                  q=q[:20], states=STATES)
