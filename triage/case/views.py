"""The case as a given user may see it: personal data masked for the roles that do not need
it (rules.md §1: 004 第四章 3, 000 §6.1), and every unmasked read of it logged."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from triage.auth.permissions import User, sees_personal_data
from triage.case import record as records
from triage.case.models import Case
from triage.case.service import record_event
from triage.suggestion import as_shown
from triage.text.mask import mask_pii, mask_value

PERSONAL_FIELDS = ("customer_name", "customer_phone", "plate", "vin")


def case_view(case: Case, user: User, now: datetime) -> dict[str, Any]:
    """The case as `user` may see it; an unmasked read of personal data is logged on the case
    (the caller commits)."""
    personal = {k: getattr(case, k) for k in PERSONAL_FIELDS}
    sees = sees_personal_data(user)
    if sees and any(personal.values()):
        record_event(case, "personal_data_read", user.name, now, role=user.role,
                     fields=[k for k, v in personal.items() if v])
    elif not sees:
        personal = {k: (mask_value(v) if v else v) for k, v in personal.items()}
    return {
        "id": case.id, "number": case.number, "channel": case.channel, "external_id": case.external_id,
        "received_at": case.received_at.isoformat(), "state": case.state, "version": case.version,
        "text": case.text if sees else mask_pii(case.text), **personal, "in_warranty": case.in_warranty,
        "suggestion": as_shown(case.suggestion), "labels": case.labels, "responsible_role": case.responsible_role,
        "assignee": case.assignee,
        "events": [{"kind": e.kind, "at": e.at.isoformat(), "actor": e.actor,
                    "data": e.data if sees or "record" not in e.data else {**e.data, "record": records.masked(
                        e.data["record"])}} for e in case.events],
        "record": record_view(case, sees),
    }


def record_view(case: Case, sees: bool) -> dict[str, Any] | None:
    """The case's handling record; its free text (the customer's words above all) masked for
    those who may not see personal data. None before anything is recorded."""
    if case.record is None:
        return None
    values = records.values_of(case.record)
    values = {**values, "reviewed_by": case.record.reviewed_by,
              "called_back_at": case.record.called_back_at.isoformat() if case.record.called_back_at else None}
    return values if sees else records.masked(values)


def complaint_text(case: Case, user: User) -> str:
    """The complaint as `user` may read it in a list (no read is logged: masked for those who
    may not see personal data)."""
    return case.text if sees_personal_data(user) else mask_pii(case.text)
