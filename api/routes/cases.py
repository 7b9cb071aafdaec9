"""Cases: intake (one or a batch), the list, one case, review, assignment, the lifecycle
actions and the review queue. Every case is answered as its caller may see it (case_view)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response

from api.deps import CurrentUser, DbSession, Model, Now, PermissionsDependency, PolicyDep, PrimaryKey
from api.errors import ProblemError, problems
from api.schemas import (
    ActionIn,
    AssignIn,
    CaseListOut,
    CaseOut,
    IntakeBatchIn,
    IntakeBatchOut,
    IntakeIn,
    QueueOut,
    RelabelIn,
    ReviewIn,
)
from triage.auth.permissions import CARE, User, may_act
from triage.case import flows, service
from triage.case.views import case_view
from triage.suggestion import as_shown

router = APIRouter()

Care = Annotated[User, Depends(PermissionsDependency(CARE))]


@router.post("/v1/cases", status_code=201, summary="Intake: idempotent on the channel's external ticket id",
             response_model=CaseOut, responses={
                 200: {"model": CaseOut, "description": "The channel's ticket was taken in before: its case"},
                 **problems(400, 401, 403, 413, 422)})
def intake(body: IntakeIn, db_session: DbSession, user: Care, model: Model, policy: PolicyDep, now: Now,
           response: Response) -> dict[str, Any]:
    case, created = service.intake_and_suggest(db_session=db_session, request=service.IntakeRequest(
        **body.model_dump()), model=model, policy=policy, actor=user.name, now=now)
    response.status_code = 201 if created else 200
    return case_view(case, user, now)


@router.post("/v1/cases/batch", summary="Intake of many tickets; each is idempotent, a bad one is an error item",
             response_model=IntakeBatchOut, response_model_exclude_unset=True,
             responses=problems(401, 403, 413, 422))
def intake_batch(body: IntakeBatchIn, db_session: DbSession, user: Care, model: Model, policy: PolicyDep,
                 now: Now) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    for n, item in enumerate(body.items):
        outcome = flows.intake_one(db_session=db_session, request=service.IntakeRequest(**item.model_dump()),
                                   model=model, policy=policy, actor=user.name, now=now)
        if outcome.case is None:
            results.append({"item": n, "error": outcome.error})
        else:
            results.append({"item": n, "id": outcome.case.id, "number": outcome.case.number,
                            "created": outcome.created})
    return {"results": results}


@router.get("/v1/cases", summary="List cases, newest first, a page at a time (`next`: the cursor of the next "
            "page); handlers see their own", response_model=CaseListOut, responses=problems(400, 401, 422))
def list_cases(db_session: DbSession, user: CurrentUser, state: str | None = None, channel: str | None = None,
               severity: str | None = None, flag: str | None = None, role: str | None = None,
               received_from: datetime | None = None, received_to: datetime | None = None,
               breached: bool | None = None, assignee: str | None = None, limit: int = 100,
               cursor: str | None = None) -> dict[str, Any]:
    filters = service.CaseFilters(state=state, channel=channel, role=role, severity=severity, flag=flag,
                                  received_from=received_from, received_to=received_to, breached=breached,
                                  assignee=assignee, limit=limit)
    page = service.list_cases(db_session=db_session, filters=filters, user=user, cursor=cursor)
    return {"cases": [{"id": c.id, "number": c.number, "state": c.state, "channel": c.channel,
                       "received_at": c.received_at.isoformat(), "labels": c.current_labels,
                       "responsible_role": c.responsible_role, "assignee": c.assignee} for c in page.cases],
            "next": page.next}


@router.get("/v1/cases/{case_id}", response_model=CaseOut, responses=problems(401, 404, 422))
def get_case(case_id: PrimaryKey, db_session: DbSession, user: CurrentUser, now: Now) -> dict[str, Any]:
    return case_view(service.get_visible(db_session=db_session, case_id=case_id, user=user), user, now)


@router.post("/v1/cases/{case_id}/assign", summary="Give a dispatched case to a person", response_model=CaseOut,
             responses=problems(400, 401, 403, 404, 409, 413, 422))
def assign(case_id: PrimaryKey, body: AssignIn, db_session: DbSession, user: Care, now: Now) -> dict[str, Any]:
    case = service.assign(db_session=db_session, case_id=case_id, assignee=body.assignee, actor=user.name, now=now,
                          expected_version=body.version)
    return case_view(case, user, now)


@router.post("/v1/cases/{case_id}/review", summary="Accept or correct the suggestion; dispatches the case",
             response_model=CaseOut, responses=problems(400, 401, 403, 404, 409, 413, 422))
def review(case_id: PrimaryKey, body: ReviewIn, db_session: DbSession, user: Care, policy: PolicyDep,
           now: Now) -> dict[str, Any]:
    case = service.review(db_session=db_session, case_id=case_id, reviewer=user.name, policy=policy, now=now,
                          expected_version=body.version, corrections=body.corrections)
    return case_view(case, user, now)


@router.post("/v1/cases/{case_id}/labels", summary="Correct the labels of a dispatched case; its clocks follow them",
             response_model=CaseOut, responses=problems(400, 401, 403, 404, 409, 413, 422))
def relabel(case_id: PrimaryKey, body: RelabelIn, db_session: DbSession, user: Care, policy: PolicyDep,
            now: Now) -> dict[str, Any]:
    case = service.relabel(db_session=db_session, case_id=case_id, actor=user.name, policy=policy, now=now,
                           expected_version=body.version, corrections=body.corrections)
    return case_view(case, user, now)


Action = Annotated[str, Path(description="one of the lifecycle actions; any other is a 404",
                             json_schema_extra={"enum": list(service.USER_ACTIONS)})]


@router.post("/v1/cases/{case_id}/actions/{action}",
             summary="contact, start, resolve, callback (data.satisfied), verify, reopen, close",
             response_model=CaseOut, responses=problems(400, 401, 403, 404, 409, 413, 422))
def act(case_id: PrimaryKey, action: Action, body: ActionIn, db_session: DbSession, user: CurrentUser,
        policy: PolicyDep, now: Now) -> dict[str, Any]:
    # An action that does not exist is a resource that does not exist, whoever asks.
    if action not in service.USER_ACTIONS:
        raise ProblemError(404, "Not found", f"no action {action!r} (actions: {', '.join(service.USER_ACTIONS)})")
    if not may_act(user, action):
        raise ProblemError(403, "Forbidden", f"role {user.role} may not {action} a case")
    service.get_visible(db_session=db_session, case_id=case_id, user=user)
    case = service.act(db_session=db_session, case_id=case_id, action=action, actor=user.name, policy=policy,
                       now=now, expected_version=body.version, data=body.data)
    return case_view(case, user, now)


@router.get("/v1/queue", summary="Cases awaiting review: major, safety and media first, then the nearest deadline; "
            "a page at a time", response_model=QueueOut, responses=problems(400, 401, 403, 422))
def queue(db_session: DbSession, _: Care, limit: int = 100, cursor: str | None = None) -> dict[str, Any]:
    page = service.review_queue(db_session=db_session, limit=limit, cursor=cursor)
    return {"cases": [{"id": c.id, "number": c.number, "received_at": c.received_at.isoformat(),
                       "suggestion": as_shown(c.suggestion)} for c in page.cases], "next": page.next}
