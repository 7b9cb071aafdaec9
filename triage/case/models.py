"""Tables of the case domain (SQLAlchemy 2). Personal data lives in its own columns so
that it can be masked by role and every read of it logged."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from triage.db import AwareDateTime, Base

STATES = ("received", "suggested", "confirmed", "in_progress", "resolved", "verified", "reopened", "closed")

# state -> the states an action may move it to (rules.md §3-§4; 002-A §7, §8-2, §10)
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "received": ("suggested",),
    "suggested": ("confirmed",),
    "confirmed": ("in_progress", "resolved"),
    "in_progress": ("resolved",),
    "resolved": ("verified", "reopened", "closed"),  # closed: automatic close (002-A §10)
    "reopened": ("in_progress", "resolved"),
    "verified": ("closed",),
    "closed": (),
}


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_case_channel_external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    """年度-月份-流水号 (002-G 八), e.g. 2026-11-000042."""
    channel: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str | None] = mapped_column(String(120))
    received_at: Mapped[datetime] = mapped_column(AwareDateTime())
    text: Mapped[str] = mapped_column(Text)
    customer_name: Mapped[str | None] = mapped_column(String(100))
    customer_phone: Mapped[str | None] = mapped_column(String(40))
    plate: Mapped[str | None] = mapped_column(String(20))
    vin: Mapped[str | None] = mapped_column(String(17))
    in_warranty: Mapped[bool | None]
    state: Mapped[str] = mapped_column(String(20), default="received")
    suggestion: Mapped[dict[str, Any] | None]
    """The latest suggestion: model version, labels, confidences, evidence, routing."""
    labels: Mapped[dict[str, Any] | None]
    """The labels a person confirmed (or corrected)."""
    responsible_role: Mapped[str | None] = mapped_column(String(60))
    assignee: Mapped[str | None] = mapped_column(String(100), index=True)
    """The person (API token name) handling the case; handlers see only their own cases."""
    version: Mapped[int] = mapped_column(Integer, default=1)
    next_due_at: Mapped[datetime | None] = mapped_column(AwareDateTime(), index=True)
    """The next instant the SLA worker has something to do on the case (a warning, a breach,
    an automatic close; case.clocks.next_due), so that a pass reads only the cases due: None
    when nothing will come due without a new event (closed, every clock stopped or paused).
    Bookkeeping of the clocks, not a change of the case: writing it does not bump `version`."""

    events: Mapped[list[CaseEvent]] = relationship(back_populates="case", order_by="CaseEvent.id")

    @property
    def current_labels(self) -> dict[str, Any]:
        """The labels a person confirmed, or else the model's suggestion."""
        return self.labels or (self.suggestion or {}).get("labels") or {}

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's own mapping


class CaseEvent(Base):
    """Append-only: the service only ever inserts rows here."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(AwareDateTime())
    actor: Mapped[str] = mapped_column(String(100))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    case: Mapped[Case] = relationship(back_populates="events")


class CaseSerial(Base):
    """The last serial number used in each month, for case numbers."""

    __tablename__ = "case_serials"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)
