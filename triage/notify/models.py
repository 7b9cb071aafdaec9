"""Tables of notification delivery: the outbox (one row per message to one recipient over one
channel) and the log of every attempt to deliver it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from triage.db import AwareDateTime, Base

STATES = ("pending", "sending", "sent", "failed")
"""pending: waiting for its next attempt (next_attempt_at); sending: taken by a delivery worker
until next_attempt_at (then pending again, as if that worker had died); sent; failed: given up
after the policy's attempts, or not deliverable at all, until an administrator retries it."""


class Notification(Base):
    """One message to one recipient over one channel. Written in the transaction of the event
    that causes it; `key` (the cause and the recipient) is unique, so that a cause recorded
    twice (a retried worker pass, a second worker) is never told twice."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_due", "state", "next_attempt_at"),
                      Index("ix_notifications_case", "case_id", "id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    """sha256 of the cause (a case event's id, or the caller's key) and the recipient."""
    event: Mapped[str] = mapped_column(String(40))
    """major_intake, sla_warning, sla_breach, escalated, reopened, suggestion_accuracy_drop, test."""
    case_id: Mapped[int | None] = mapped_column(Integer)
    """The case the message is about (None for a message about no case). No foreign key: the
    outbox sits below the case domain, and cases are never deleted."""
    case_event_id: Mapped[int | None] = mapped_column(Integer)
    role: Mapped[str | None] = mapped_column(String(60))
    channel: Mapped[str] = mapped_column(String(40))
    address: Mapped[str] = mapped_column(String(254), default="")
    """An e-mail address; empty for a group robot."""
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    """Markdown-like text, personal data masked; each channel renders it in its own format."""
    link: Mapped[str | None] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    """Attempts since the message was written or last retried by an administrator."""
    next_attempt_at: Mapped[datetime | None] = mapped_column(AwareDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(AwareDateTime())
    retried_by: Mapped[str | None] = mapped_column(String(100))

    attempt_rows: Mapped[list[DeliveryAttempt]] = relationship(order_by="DeliveryAttempt.id",
                                                               back_populates="notification")


class DeliveryAttempt(Base):
    """Append-only: one row per attempt to deliver a notification, what the channel answered."""

    __tablename__ = "notification_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"), index=True)
    at: Mapped[datetime] = mapped_column(AwareDateTime())
    ok: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text)
    """The channel's refusal (an SMTP reply, an HTTP status, a robot's errcode and errmsg)."""
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)

    notification: Mapped[Notification] = relationship(back_populates="attempt_rows")
