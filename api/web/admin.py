"""The administrator's page of notifications: who is told what over which channel (from the
policy), whether each channel is configured here, how many messages are in each state, the
failed ones with a retry button, and a test message to a chosen channel and address."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import DbSession, Now, PolicyDep, PrimaryKey
from api.web.deps import Refused, RoleRequired, Viewer, check_csrf, render
from triage.auth.permissions import ADMIN
from triage.notify import service
from triage.notify.channels import missing_settings
from triage.notify.worker import deliver_now

router = APIRouter(include_in_schema=False)
AdminViewer = Annotated[Viewer, Depends(RoleRequired((ADMIN,)))]
FAILED_SHOWN = 50
RECENT_SHOWN = 20


@router.get("/admin/notifications")
def notifications_page(request: Request, db_session: DbSession, policy: PolicyDep,
                       viewer: AdminViewer) -> HTMLResponse:
    settings = policy.notifications
    return render(request, "admin_notifications.html", viewer, settings=settings,
                  missing={c.id: missing_settings(c) for c in settings.channels.values()},
                  counts=service.state_counts(db_session=db_session),
                  failed=service.list_notifications(db_session=db_session, state="failed", limit=FAILED_SHOWN),
                  recent=service.list_notifications(db_session=db_session, limit=RECENT_SHOWN))


@router.post("/admin/notifications/test")
def send_test(db_session: DbSession, now: Now, policy: PolicyDep, viewer: AdminViewer, csrf: Annotated[str, Form()],
              channel: Annotated[str, Form(max_length=40)], address: Annotated[str, Form(max_length=254)] = ""
              ) -> Response:
    check_csrf(viewer, csrf)
    try:
        message = service.send_test(db_session=db_session, policy=policy, channel=channel, address=address,
                                    actor=viewer.user.name, now=now)
    except service.NotifyError as exc:
        raise Refused(exc.status, f"无法发送测试消息 ({exc})") from None
    db_session.commit()  # sent outside the request's transaction, as the delivery worker would
    done = deliver_now(db_session=db_session, policy=policy, ids=[message.id], now=now)
    sent = any(d["did"] == "sent" for d in done)
    return RedirectResponse(f"/admin/notifications?done={'test_sent' if sent else 'test_failed'}", status_code=303)


@router.post("/admin/notifications/{notification_id}/retry")
def retry(notification_id: PrimaryKey, db_session: DbSession, now: Now, policy: PolicyDep, viewer: AdminViewer,
          csrf: Annotated[str, Form()]) -> Response:
    check_csrf(viewer, csrf)
    try:
        service.retry(db_session=db_session, notification_id=notification_id, actor=viewer.user.name, now=now)
    except service.NotifyError as exc:
        raise Refused(exc.status, f"无法重试 ({exc})") from None
    db_session.commit()
    done = deliver_now(db_session=db_session, policy=policy, ids=[notification_id], now=now)
    sent = any(d["did"] == "sent" for d in done)
    return RedirectResponse(f"/admin/notifications?done={'retried' if sent else 'retry_failed'}", status_code=303)
