"""Notification operations: plain functions taking a database session, keyword-only, that the
case service, the SLA worker, the API, the console and the command line call. Each writes
into the caller's transaction (the outbox row commits with the event that causes it, or not
at all); the caller commits. Nothing here sends: the delivery worker does (worker.py).

Who is told is the policy's (`notifications.recipients`): an event on a case goes to the role
it concerns (the responsible role for a warning, a breach and a reopened case; the role
escalated to for an escalation), when that role lists the event; a new major case at intake
and an alert about no case go to every role that lists them."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload

from triage.notify.messages import CaseFacts, Message, case_message, free_message
from triage.notify.models import STATES, Notification
from triage.policy.model import ROBOT_KINDS, Policy

CASE_EVENTS = ("major_intake", "sla_warning", "sla_breach", "escalated", "reopened")
"""The events about a case; the others (suggestion_accuracy_drop, test) are about none."""
TEST = "test"
PAGE = 100


class NotifyError(Exception):
    status = 400


class NotFound(NotifyError):
    status = 404


class Conflict(NotifyError):
    status = 409


@dataclass(frozen=True)
class Outgoing:
    """A message about to be written to the outbox, to one recipient."""

    key: str
    event: str
    role: str | None
    channel: str
    address: str
    message: Message
    case_id: int | None = None
    case_event_id: int | None = None


# ---- who is told -----------------------------------------------------------------------------------
def major_at_intake(policy: Policy, labels: dict[str, Any]) -> bool:
    """Whether a new case with these suggested labels is reported at intake (major_intake)."""
    return any(condition.matches(labels) for condition in policy.notifications.major_intake)


def addressed_roles(policy: Policy, event: str, responsible: str | None, data: dict[str, Any]) -> list[str]:
    """The roles told of `event`: the one it concerns if it lists the event, or, for an event
    about no role in particular (major_intake, an alert), every role that lists it."""
    notifications = policy.notifications
    if event in ("major_intake", "suggestion_accuracy_drop"):
        return notifications.roles_for(event)
    role = data.get("to") if event == "escalated" else data.get("role") or responsible
    found = notifications.recipients.get(str(role)) if role else None
    return [found.role] if found is not None and event in found.events else []


def outgoing(policy: Policy, event: str, roles: Sequence[str], message: Message, cause: str,
             case_id: int | None = None, case_event_id: int | None = None) -> list[Outgoing]:
    """One message per recipient of the roles, each keyed by the cause and the recipient: a
    recipient named by two roles (a group robot both use) gets it once."""
    out: dict[str, Outgoing] = {}
    for role in roles:
        for recipient in policy.notifications.recipients[role].to:
            key = _key(cause, recipient.channel, recipient.address)
            if key not in out:
                out[key] = Outgoing(key, event, role, recipient.channel, recipient.address, message, case_id,
                                    case_event_id)
    return list(out.values())


def _key(cause: str, channel: str, address: str) -> str:
    return hashlib.sha256(f"{cause}\x1f{channel}\x1f{address.lower()}".encode()).hexdigest()


def for_case_event(policy: Policy, *, event: str, case: CaseFacts, case_event_id: int, data: dict[str, Any],
                   deadline: datetime | str | None) -> list[Outgoing]:
    """The messages an event on a case calls for (none when no role is told of it)."""
    roles = addressed_roles(policy, event, case.responsible_role, data)
    if not roles:
        return []
    message = case_message(policy, event, case, data, deadline)
    return outgoing(policy, event, roles, message, f"case-event:{case_event_id}", case.id, case_event_id)


# ---- writing the outbox ----------------------------------------------------------------------------
def enqueue(*, db_session: Session, messages: Sequence[Outgoing], now: datetime) -> None:
    """Write the messages to the outbox in the caller's transaction, in one statement; a
    message whose key is there already (its cause was recorded before) is left out."""
    if not messages:
        return
    rows = [{"key": m.key, "event": m.event, "case_id": m.case_id, "case_event_id": m.case_event_id, "role": m.role,
             "channel": m.channel, "address": m.address, "subject": m.message.subject, "body": m.message.body,
             "link": m.message.link, "state": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now}
            for m in messages]
    dialect = postgresql if db_session.get_bind().dialect.name == "postgresql" else sqlite
    # The table, not the mapped class: a worker's pass writes thousands at once, without the ORM's cost.
    table = Notification.__table__
    db_session.execute(dialect.insert(table).on_conflict_do_nothing(index_elements=[table.c.key]), rows)


def notify_case_event(*, db_session: Session, policy: Policy, event: str, case: CaseFacts, case_event_id: int,
                      data: dict[str, Any], deadline: datetime | str | None, now: datetime) -> int:
    """Put the messages an event on a case calls for in the outbox; how many."""
    messages = for_case_event(policy, event=event, case=case, case_event_id=case_event_id, data=data,
                              deadline=deadline)
    enqueue(db_session=db_session, messages=messages, now=now)
    return len(messages)


def enqueue_for_role(*, db_session: Session, policy: Policy, event: str, subject: str, body: str, key: str,
                     now: datetime, role: str | None = None, link: str | None = None) -> int:
    """A message about no case (an alert such as suggestion_accuracy_drop) to `role`, if it
    lists the event, or with no role to every role that lists it. `key` names the cause: the
    same key again (the same month's alert raised twice) sends nothing more. How many
    messages were written (0 when none is due, or all were written before)."""
    roles = policy.notifications.roles_for(event)
    if role is not None:
        roles = [r for r in roles if r == role]
    messages = outgoing(policy, event, roles, free_message(event, subject, body, link), f"{event}:{key}")
    existing = set(db_session.scalars(select(Notification.key).where(Notification.key.in_([m.key for m in messages]))))
    enqueue(db_session=db_session, messages=messages, now=now)
    return len([m for m in messages if m.key not in existing])


def send_test(*, db_session: Session, policy: Policy, channel: str, address: str, actor: str,
              now: datetime) -> Notification:
    """A test message over one channel to one address (empty for a robot), in the outbox."""
    found = policy.notifications.channels.get(channel)
    if found is None:
        raise NotifyError(f"unknown channel {channel!r} (channels: {', '.join(policy.notifications.channels)})")
    address = address.strip()
    if found.kind == "smtp" and "@" not in address:
        raise NotifyError("a test e-mail needs an address")
    if found.kind in ROBOT_KINDS:
        address = ""
    message = free_message(TEST, f"通知渠道测试（{channel}）",
                           f"这是一条测试消息，由 {actor} 于 {now.isoformat(timespec='seconds')} 发送。\n"
                           "收到即表示此渠道配置正确。")
    key = _key(f"test:{uuid.uuid4()}", channel, address)
    enqueue(db_session=db_session, messages=[Outgoing(key, TEST, None, channel, address, message)], now=now)
    return db_session.scalars(select(Notification).where(Notification.key == key)).one()


# ---- reading ---------------------------------------------------------------------------------------
def get(*, db_session: Session, notification_id: int) -> Notification:
    found = db_session.get(Notification, notification_id, options=[selectinload(Notification.attempt_rows)])
    if found is None:
        raise NotFound(f"no notification {notification_id}")
    return found


def list_notifications(*, db_session: Session, state: str | None = None, limit: int = PAGE,
                       before: int | None = None) -> list[Notification]:
    """Notifications newest first, of one state if given; `before`: the id the page starts
    below (the last id of the previous page)."""
    if state is not None and state not in STATES:
        raise NotifyError(f"unknown state {state!r} (states: {', '.join(STATES)})")
    query = select(Notification).order_by(Notification.id.desc()).limit(max(1, min(limit, 500)))
    if state is not None:
        query = query.where(Notification.state == state)
    if before is not None:
        query = query.where(Notification.id < before)
    return list(db_session.scalars(query))


def for_case(*, db_session: Session, case_id: int) -> list[Notification]:
    """The delivery log of a case: every message about it, oldest first, with its attempts."""
    return list(db_session.scalars(select(Notification).where(Notification.case_id == case_id)
                                   .order_by(Notification.id).options(selectinload(Notification.attempt_rows))))


def state_counts(*, db_session: Session) -> dict[str, int]:
    """How many messages are in each state (every state named, 0 included)."""
    found = dict(db_session.execute(select(Notification.state, func.count()).group_by(Notification.state)).all())
    return {state: int(found.get(state, 0)) for state in STATES}


# ---- an administrator's retry ----------------------------------------------------------------------
def retry(*, db_session: Session, notification_id: int, actor: str, now: datetime) -> Notification:
    """Try a failed (or waiting) message again now, with the policy's attempts afresh; its
    earlier attempts stay in its log."""
    found = get(db_session=db_session, notification_id=notification_id)
    if found.state not in ("failed", "pending"):
        raise Conflict(f"notification {found.id} is {found.state}; only a failed or waiting one can be retried")
    found.state, found.attempts, found.next_attempt_at, found.retried_by = "pending", 0, now, actor
    db_session.flush()
    return found
