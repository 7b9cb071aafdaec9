"""Who may see and do what: API tokens with roles, and personal data masked for the roles
that do not need it (rules.md §1: 004 第四章 3, 000 §6.1). Every unmasked read is logged."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from triage.case.models import ApiToken, Case
from triage.case.service import record_event
from triage.text.mask import mask_pii, mask_value

ROLES = ("customer_care", "handler", "manager", "admin")
SEES_PERSONAL_DATA = frozenset({"customer_care", "handler"})
"""Customer care calls the customer back and handlers contact them; managers and admins
work on aggregates and see personal data masked."""


@dataclass(frozen=True)
class User:
    name: str
    role: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, name: str, role: str, now: datetime) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
    token = "tt_" + secrets.token_urlsafe(32)
    session.add(ApiToken(name=name, role=role, token_sha256=_digest(token), created_at=now))
    session.flush()
    return token


def user_for_token(session: Session, token: str) -> User | None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == _digest(token)))
    return User(row.name, row.role) if row else None


_ACTIONS_BY_ROLE: dict[str, frozenset[str]] = {
    "handler": frozenset({"contact", "start", "resolve"}),
    "customer_care": frozenset({"callback", "verify", "reopen", "close"}),
}
_ALL_ACTIONS = frozenset().union(*_ACTIONS_BY_ROLE.values())


def may_act(user: User, action: str) -> bool:
    """Handlers work the case; customer care calls back, reopens and closes (002-A §7, §10);
    managers and admins may do either."""
    return action in _ACTIONS_BY_ROLE.get(user.role, _ALL_ACTIONS)


def may_see(user: User, case: Case) -> bool:
    """Handlers see the cases assigned to them; the other roles see every case."""
    return user.role != "handler" or case.assignee == user.name


def case_view(session: Session, case: Case, user: User, now: datetime) -> dict[str, Any]:
    """The case as `user` may see it; an unmasked read of personal data is logged."""
    personal = {"customer_name": case.customer_name, "customer_phone": case.customer_phone,
                "plate": case.plate, "vin": case.vin}
    sees = user.role in SEES_PERSONAL_DATA
    if sees and any(personal.values()):
        record_event(case, "personal_data_read", user.name, now, role=user.role,
                     fields=[k for k, v in personal.items() if v])
    elif not sees:
        personal = {k: (mask_value(v) if v else v) for k, v in personal.items()}
    return {
        "id": case.id, "number": case.number, "channel": case.channel, "external_id": case.external_id,
        "received_at": case.received_at.isoformat(), "state": case.state, "version": case.version,
        "text": case.text if sees else mask_pii(case.text), **personal, "in_warranty": case.in_warranty,
        "suggestion": case.suggestion, "labels": case.labels, "responsible_role": case.responsible_role,
        "assignee": case.assignee,
        "events": [{"kind": e.kind, "at": e.at.isoformat(), "actor": e.actor, "data": e.data} for e in case.events],
    }
