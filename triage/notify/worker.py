"""The delivery worker: takes the messages that are due from the outbox, sends each over its
channel outside any transaction, and records what the channel answered.

A pass takes a few due messages at a time and marks them `sending` until a lease runs out
(several workers never take the same message: on PostgreSQL each locks the rows it takes
with FOR UPDATE SKIP LOCKED, on SQLite the write lock serialises them), commits, sends, then
records each attempt: sent; or, after a failure, due again after a delay that doubles with
each attempt (the policy's first_delay, up to max_delay), until the policy's max_attempts,
when it is given up (failed) and listed for an administrator. A message whose channel is not
configured fails at once. A worker that dies while sending leaves its messages `sending`
until the lease runs out; they are then sent again (at least once, never lost).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, or_, select, update
from sqlalchemy.orm import Session

from triage.db import write_lock
from triage.notify.channels import DeliveryError, NotConfigured, send
from triage.notify.models import DeliveryAttempt, Notification
from triage.policy.model import Notifications, Policy

BATCH = 10
"""Messages taken at a time: with the channels' timeout (10 s) a batch is sent well within LEASE."""
LEASE = timedelta(minutes=10)
"""How long a taken message stays with its worker before another may take it."""
ERROR_CHARS = 2000
log = logging.getLogger("triage.notify")


@dataclass(frozen=True)
class _Taken:
    id: int
    channel: str
    address: str
    subject: str
    body: str
    attempts: int


class DeliveryPass(list[dict[str, Any]]):
    """What a pass did: one item per attempt ({"id", "channel", "did": sent, retry or failed,
    "error"})."""


def backoff(notifications: Notifications, attempts: int) -> timedelta:
    """The wait before the next attempt, after `attempts` failed ones: first_delay, doubling."""
    return timedelta(seconds=min(notifications.first_delay * 2 ** max(0, attempts - 1), notifications.max_delay))


def run_delivery_pass(*, db_session: Session, policy: Policy, now: datetime, ids: list[int] | None = None,
                      batch: int = BATCH) -> DeliveryPass:
    """Send every message due by `now` (of `ids` only, when given), `batch` at a time, each
    attempt committed as it is recorded."""
    done = DeliveryPass()
    while True:
        taken = _take(db_session, now, batch, ids)
        if not taken:
            return done
        for message in taken:
            done.append(_attempt(db_session, policy, message, now))


def _take(db_session: Session, now: datetime, batch: int, ids: list[int] | None) -> list[_Taken]:
    """The next due messages, marked as taken until the lease runs out; committed at once, so
    that nothing is locked while they are sent."""
    write_lock(db_session)  # SQLite: no other worker reads these before this one has marked them
    query = (select(Notification.id, Notification.channel, Notification.address, Notification.subject,
                    Notification.body, Notification.attempts)
             .where(or_(Notification.state == "pending", Notification.state == "sending"),
                    Notification.next_attempt_at <= now)
             .order_by(Notification.next_attempt_at, Notification.id).limit(batch)
             .with_for_update(skip_locked=True))
    if ids is not None:
        query = query.where(Notification.id.in_(ids))
    taken = [_Taken(*row) for row in db_session.execute(query)]
    if taken:
        db_session.execute(update(Notification).where(Notification.id.in_([t.id for t in taken]))
                           .values(state="sending", next_attempt_at=now + LEASE))
    db_session.commit()
    return taken


def _attempt(db_session: Session, policy: Policy, message: _Taken, now: datetime) -> dict[str, Any]:
    """Send one message and record the attempt; a failure of any kind is recorded, never raised."""
    started = time.monotonic()
    error: str | None = None
    permanent = False
    channel = policy.notifications.channels.get(message.channel)
    try:
        if channel is None:
            raise NotConfigured(f"the policy has no channel {message.channel!r} any more")
        send(channel, message.address, message.subject, message.body)
    except DeliveryError as exc:
        error, permanent = str(exc), exc.permanent
    except Exception as exc:  # a channel's own bug must not stop the others' messages
        log.exception("notification %d: sending over %s failed", message.id, message.channel)
        error = f"{type(exc).__name__}: {exc}"
    attempts = message.attempts + 1
    if error is None:
        state, due, did = "sent", None, "sent"
    elif permanent or attempts >= policy.notifications.max_attempts:
        state, due, did = "failed", None, "failed"
    else:
        state, due, did = "pending", now + backoff(policy.notifications, attempts), "retry"
    error = error[:ERROR_CHARS] if error else None
    db_session.execute(insert(DeliveryAttempt).values(
        notification_id=message.id, at=now, ok=error is None, error=error,
        duration_ms=round((time.monotonic() - started) * 1000)))
    db_session.execute(update(Notification).where(Notification.id == message.id).values(
        state=state, attempts=attempts, next_attempt_at=due, last_error=error,
        sent_at=now if error is None else None))
    db_session.commit()
    if error is not None:
        log.warning("notification %d over %s: %s (%s)", message.id, message.channel, error,
                    "given up" if state == "failed" else f"again at {due.isoformat() if due else '?'}")
    return {"id": message.id, "channel": message.channel, "did": did, "error": error}


def deliver_now(*, db_session: Session, policy: Policy, ids: list[int], now: datetime) -> DeliveryPass:
    """Send these messages now, if they are due (an administrator's test message or retry);
    the caller has committed them, and the session's transaction is over."""
    return run_delivery_pass(db_session=db_session, policy=policy, now=now, ids=ids)


def delivery_loop(engine: Engine, policy: Policy, interval: float, once: bool = False,
                  stop: threading.Event | None = None) -> None:
    """Passes every `interval` seconds until `stop` is set (or one pass, with `once`). A pass
    that fails (the database gone for a moment) is logged and the next one comes."""
    while True:
        try:
            with Session(engine) as session:
                done = run_delivery_pass(db_session=session, policy=policy, now=datetime.now(UTC))
            for d in done:
                if d["did"] == "sent":
                    log.info("notification %d sent over %s", d["id"], d["channel"])
        except Exception:
            log.exception("delivery pass failed; the next one in %s s", interval)
        if once or (stop is not None and stop.wait(interval)):
            return
        if stop is None:
            time.sleep(interval)
