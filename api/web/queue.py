"""The review queue of customer care (客户关爱): each suggested case with its labels, route
and evidence, to accept with one action or correct and then dispatch."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import DbSession, Now, PolicyDep, PrimaryKey
from api.web import present
from api.web.deps import CareViewer, Refused, case_change, check_csrf, render
from triage.auth.permissions import User
from triage.case import service
from triage.case.models import Case
from triage.case.views import complaint_text
from triage.classify.labels import is_urgent
from triage.suggestion import as_shown

router = APIRouter(include_in_schema=False)
QUEUE_SHOWN = 50  # a page of cards: each carries its whole suggestion and two forms


@router.get("/queue")
def queue(request: Request, db_session: DbSession, viewer: CareViewer, cursor: str = "") -> HTMLResponse:
    try:
        page = service.review_queue(db_session=db_session, limit=QUEUE_SHOWN, cursor=cursor or None)
    except service.CaseError:
        raise Refused(400, "翻页链接无效，请从第一页开始 (bad cursor)") from None
    return render(request, "queue.html", viewer, items=[_card(case, viewer.user) for case in page.cases],
                  next=page.next, first=not cursor)


def _card(case: Case, user: User) -> dict[str, Any]:
    suggestion = as_shown(case.suggestion) or {}
    return {"case": case, "s": suggestion, "urgent": is_urgent(suggestion.get("labels", {})),
            "pieces": present.highlight(complaint_text(case, user), suggestion.get("evidence", []))}


@router.post("/cases/{case_id}/review")
def review(case_id: PrimaryKey, db_session: DbSession, now: Now, policy: PolicyDep, viewer: CareViewer,
           csrf: Annotated[str, Form()], version: Annotated[int, Form()], decision: Annotated[str, Form()],
           business_line: Annotated[str | None, Form()] = None, category: Annotated[str | None, Form()] = None,
           severity: Annotated[str | None, Form()] = None, flags: Annotated[list[str] | None, Form()] = None,
           responsible_role: Annotated[str | None, Form()] = None) -> Response:
    check_csrf(viewer, csrf)
    corrections: dict[str, Any] | None = None
    if decision == "correct":
        corrections = {k: v for k, v in (("business_line", business_line), ("category", category),
                                         ("severity", severity), ("responsible_role", responsible_role)) if v}
        corrections["flags"] = [f for f in (flags or []) if f != "none"]
    elif decision != "accept":
        raise Refused(400, f"unknown decision {decision[:20]!r}")
    with case_change():
        case = service.review(db_session=db_session, case_id=case_id, reviewer=viewer.user.name, policy=policy,
                              now=now, expected_version=version, corrections=corrections)
    # Choices picked as the model suggested them are an acceptance, not a correction.
    accepted = next(e for e in reversed(case.events) if e.kind == "reviewed").data["accepted"]
    return RedirectResponse(f"/queue?done={'accepted' if accepted else 'corrected'}", status_code=303)
