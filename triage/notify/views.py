"""A notification as the API and the console show it: what was sent to whom, its state and its
attempts (the channels' answers). The body holds no personal data (messages.py masks it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from triage.notify.models import Notification


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def notification_view(n: Notification, attempts: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": n.id, "event": n.event, "case_id": n.case_id, "role": n.role, "channel": n.channel,
        "address": n.address, "subject": n.subject, "body": n.body, "link": n.link, "state": n.state,
        "attempts": n.attempts, "next_attempt_at": _iso(n.next_attempt_at), "last_error": n.last_error,
        "created_at": _iso(n.created_at), "sent_at": _iso(n.sent_at), "retried_by": n.retried_by}
    if attempts:
        out["attempt_log"] = [{"at": _iso(a.at), "ok": a.ok, "error": a.error, "duration_ms": a.duration_ms}
                              for a in n.attempt_rows]
    return out
