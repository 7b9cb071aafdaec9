"""Notifications: a case's delivery log, and for administrators the messages of a state (the
failed ones to retry) and a retry, which sends the message at once."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from api.deps import CurrentUser, DbSession, Now, PermissionsDependency, PolicyDep, PrimaryKey
from api.errors import problems
from api.schemas import NotificationListOut, NotificationOut
from triage.auth.permissions import ADMIN, User
from triage.case import service as cases
from triage.notify import service
from triage.notify.views import notification_view
from triage.notify.worker import deliver_now

router = APIRouter()

Admin = Annotated[User, Depends(PermissionsDependency((ADMIN,)))]


@router.get("/v1/cases/{case_id}/notifications", summary="A case's delivery log: every message about it, oldest "
            "first, with each attempt", response_model=NotificationListOut, responses=problems(401, 404, 422))
def case_notifications(case_id: PrimaryKey, db_session: DbSession, user: CurrentUser) -> dict[str, Any]:
    cases.get_visible(db_session=db_session, case_id=case_id, user=user)
    found = service.for_case(db_session=db_session, case_id=case_id)
    return {"notifications": [notification_view(n) for n in found], "next": None}


@router.get("/v1/notifications", summary="Messages newest first, of one state if given (`?state=failed`: those "
            "given up); administrators", response_model=NotificationListOut,
            responses=problems(400, 401, 403, 422))
def list_notifications(db_session: DbSession, _: Admin, state: str | None = None, limit: int = service.PAGE,
                       before: int | None = None) -> dict[str, Any]:
    found = service.list_notifications(db_session=db_session, state=state, limit=limit, before=before)
    return {"notifications": [notification_view(n, attempts=False) for n in found],
            "next": found[-1].id if len(found) == max(1, min(limit, 500)) else None}


@router.get("/v1/notifications/{notification_id}", response_model=NotificationOut,
            summary="One message with its attempts; administrators", responses=problems(401, 403, 404, 422))
def get_notification(notification_id: PrimaryKey, db_session: DbSession, _: Admin) -> dict[str, Any]:
    return notification_view(service.get(db_session=db_session, notification_id=notification_id))


@router.post("/v1/notifications/{notification_id}/retry", response_model=NotificationOut,
             summary="Send a failed (or waiting) message again now, with the policy's attempts afresh; "
                     "administrators", responses=problems(401, 403, 404, 409, 422))
def retry(notification_id: PrimaryKey, db_session: DbSession, user: Admin, policy: PolicyDep,
          now: Now) -> dict[str, Any]:
    service.retry(db_session=db_session, notification_id=notification_id, actor=user.name, now=now)
    db_session.commit()  # sent outside the request's transaction, as the delivery worker would
    deliver_now(db_session=db_session, policy=policy, ids=[notification_id], now=now)
    db_session.expire_all()
    return notification_view(service.get(db_session=db_session, notification_id=notification_id))
