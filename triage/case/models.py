"""Tables of the case domain (SQLAlchemy 2). Personal data lives in its own columns so
that it can be masked by role and every read of it logged."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from triage.classify.labels import FLAGS, HEADS, is_urgent
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


# Each filter of a list of cases with the list's order (received_at desc, id desc) behind it, so that a
# filtered page is a range of one index however many cases there are; the queue's segments likewise.
_LIST_INDEXES = tuple(Index(f"ix_cases_{column}_received", column, "received_at", "id")
                      for column in ("state", "channel", "responsible_role", "severity", "assignee", "breached"))
# What a report counts of each case of a period (its SLA clocks too), and what its trend and its repeated
# complaints read, so that each reads one narrow index alone and not the wide rows (the JSON makes a row
# some 900 bytes on PostgreSQL). The focus list reads the few open cases through ix_cases_state_received.
REPORT_COLUMNS = ("received_at", "business_line", "category", "severity", "responsible_role", "channel", "state",
                  "planned_clocks", "breached_clocks", "id")
VEHICLE_COLUMNS = ("received_at", "category", "severity", "vin", "plate", "number", "id")
_OPEN = {f"{dialect}_where": text("state <> 'closed'") for dialect in ("postgresql", "sqlite")}
"""The predicate of a partial index of the cases not closed: a query that reads it must say
`state <> 'closed'` with the value written out (queries.NOT_CLOSED), or a prepared plan cannot
use it."""


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_case_channel_external_id"),
                      Index("ix_cases_received", "received_at", "id"), *_LIST_INDEXES,
                      Index("ix_cases_queue", "state", "urgent", "queue_deadline", "id"),
                      Index("ix_cases_report", *REPORT_COLUMNS), Index("ix_cases_vehicles", *VEHICLE_COLUMNS),
                      # the earlier complaints about a vehicle, counted at every suggestion (routing's `repeat`)
                      Index("ix_cases_vin", "vin"), Index("ix_cases_plate", "plate"),
                      # a handler's open cases (service.worklist): a year's closed cases stay unread
                      Index("ix_cases_open_assignee", "assignee", "id", **_OPEN))

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
    assignee: Mapped[str | None] = mapped_column(String(100))
    """The person (API token name) handling the case; handlers see only their own cases."""
    version: Mapped[int] = mapped_column(Integer, default=1)
    next_due_at: Mapped[datetime | None] = mapped_column(AwareDateTime(), index=True)
    """The next instant the SLA worker has something to do on the case (a warning, a breach,
    an automatic close; case.clocks.next_due), so that a pass reads only the cases due: None
    when nothing will come due without a new event (closed, every clock stopped or paused).
    Bookkeeping of the clocks, not a change of the case: writing it does not bump `version`."""

    # What lists, the queue and reports filter, sort and group by, copied from the JSON above by
    # the case service whenever the labels change (`service._sync_labels`, from `label_columns`), and
    # `breached` by the SLA worker (`worker._mark_breached`): SQL cannot index inside the JSON on
    # both SQLite and PostgreSQL.
    business_line: Mapped[str | None] = mapped_column(String(40))
    category: Mapped[str | None] = mapped_column(String(40))
    severity: Mapped[str | None] = mapped_column(String(20))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """classify.labels.is_urgent of the current labels: first in the review queue."""
    queue_deadline: Mapped[datetime | None] = mapped_column(AwareDateTime())
    """The nearest deadline the suggestion's routing planned: the queue's second key."""
    focus_owner: Mapped[str | None] = mapped_column(String(60))
    """Who follows the vehicle when the suggestion's routing put it on the focus list (002-A
    §6; the policy gives every focus rule an owner); None when it did not."""
    breached: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """Some SLA clock of the case was breached (an `sla_breach` event is in its log)."""
    # A case's clocks for the reports' SLA compliance, in two values (`clock_list`) that a report groups
    # its cases by, instead of reading four or five rows of case_clocks per case. A clock counts if
    # planned or breached, as in case_clocks; two columns, so that each has one writer.
    planned_clocks: Mapped[str | None] = mapped_column(Text)
    """The clocks the suggestion's routing planned from receipt or dispatch (`label_columns`),
    kept by the case service."""
    breached_clocks: Mapped[str | None] = mapped_column(Text)
    """The clocks that breached, kept by the SLA worker under its lock of the case row."""

    events: Mapped[list[CaseEvent]] = relationship(back_populates="case", order_by="CaseEvent.id")
    flag_rows: Mapped[list[CaseFlag]] = relationship(cascade="all, delete-orphan")
    clock_rows: Mapped[list[CaseClock]] = relationship(cascade="all, delete-orphan")
    record: Mapped[CaseRecord | None] = relationship(cascade="all, delete-orphan", lazy="select")

    @property
    def current_labels(self) -> dict[str, Any]:
        """The labels a person confirmed, or else the model's suggestion."""
        return current_labels(self.labels, self.suggestion)

    @property
    def column_labels(self) -> dict[str, Any]:
        """The current labels as the list columns hold them (the same as current_labels, read
        without the JSON: for pages that show many cases)."""
        flags = {row.flag for row in self.flag_rows}
        return {"business_line": self.business_line, "category": self.category, "severity": self.severity,
                "flags": [f for f in FLAGS if f in flags]}

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's own mapping


class CaseEvent(Base):
    """Append-only: the service only ever inserts rows here."""

    __tablename__ = "case_events"
    # The reviews of a month (the suggestions' online accuracy) are one range of this index.
    __table_args__ = (Index("ix_case_events_kind_at", "kind", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(AwareDateTime())
    actor: Mapped[str] = mapped_column(String(100))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    case: Mapped[Case] = relationship(back_populates="events")


class CaseFlag(Base):
    """One flag of a case's current labels, one row each, so that SQL can filter on a flag
    with an index on every backend."""

    __tablename__ = "case_flags"
    __table_args__ = (Index("ix_case_flags_flag", "flag", "case_id"),
                      Index("ix_case_flags_received", "received_at", "flag", "case_id"))

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    flag: Mapped[str] = mapped_column(String(20), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(AwareDateTime())
    """The case's (which never changes): reports count a period's flags from this table alone."""


class CaseClock(Base):
    """A clock that counts in the case's SLA compliance (reports): one the suggestion's routing
    planned from receipt or dispatch, or one that breached (`breached`, set with the case's)."""

    __tablename__ = "case_clocks"
    __table_args__ = (Index("ix_case_clocks_received", "received_at", "clock", "breached"),)

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    clock: Mapped[str] = mapped_column(String(40), primary_key=True)
    breached: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    received_at: Mapped[datetime] = mapped_column(AwareDateTime())
    """The case's (which never changes): reports count a period's clocks from this table alone."""


class CaseReview(Base):
    """What a person did with the model's suggestion when confirming the case: the model
    version, the label it suggested per head and whether the reviewer kept it. One row a case
    (a case is reviewed once), written with the `reviewed` event, so that the suggestions'
    online accuracy is a GROUP BY over one narrow index instead of the JSON of every event."""

    __tablename__ = "case_reviews"
    # Everything the online accuracy counts is in the index: a period is one range of it.
    __table_args__ = (Index("ix_case_reviews_at", "at", "model", *(f"suggested_{h}" for h in HEADS),
                            *(f"kept_{h}" for h in HEADS)),)

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    at: Mapped[datetime] = mapped_column(AwareDateTime())
    model: Mapped[str] = mapped_column(String(80), default="", server_default="")
    """The version that made the suggestion ('' when the suggestion did not say)."""
    suggested_business_line: Mapped[str | None] = mapped_column(String(40))
    suggested_category: Mapped[str | None] = mapped_column(String(40))
    suggested_severity: Mapped[str | None] = mapped_column(String(20))
    kept_business_line: Mapped[bool] = mapped_column(Boolean)
    kept_category: Mapped[bool] = mapped_column(Boolean)
    kept_severity: Mapped[bool] = mapped_column(Boolean)


# A head added to HEADS needs its two columns here (and a migration).
assert {c.name for c in CaseReview.__table__.columns if c.name.startswith(("kept_", "suggested_"))} == {
    f"{k}_{h}" for k in ("kept", "suggested") for h in HEADS}


_DECIDED = {f"{dialect}_where": text("long_term_measure IS NOT NULL") for dialect in ("postgresql", "sqlite")}
_MEASURED = {f"{dialect}_where": text("corrective_action IS NOT NULL") for dialect in ("postgresql", "sqlite")}


class CaseRecord(Base):
    """The handling record of a case (rules.md §2, §5; 002-A §8-1, §8-2; 002-B 五 3-5; 002-C 五;
    001 第六条): what the handler found and decided, the manager's review, the customer's view at
    the callback. One row a case, its latest values (each step's values are also in the case's
    log); the lists its values come from are the policy's (`record`)."""

    __tablename__ = "case_records"
    # A period's breakdowns read this index alone (one GROUP BY, whatever the number of cases).
    __table_args__ = (Index("ix_case_records_report", "received_at", "valid", "cause", "responsibility_class",
                            "responsible_department", "satisfaction"),
                      # The few long-term measures of a period, for its repeated complaints (002-E 七 11).
                      Index("ix_case_records_long_term", "received_at", "case_id", **_DECIDED),
                      # A period's corrective measures, grouped from this index alone (002-A §7-4).
                      Index("ix_case_records_measures", "received_at", "corrective_action", "cause", "case_id",
                            **_MEASURED))

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(AwareDateTime())
    """The case's (which never changes): reports count a period's records from this table alone."""
    investigation: Mapped[str | None] = mapped_column(Text)
    reply: Mapped[str | None] = mapped_column(Text)
    handling_opinion: Mapped[str | None] = mapped_column(Text)
    corrective_action: Mapped[str | None] = mapped_column(Text)
    cause: Mapped[str | None] = mapped_column(String(40))
    evidence: Mapped[str | None] = mapped_column(Text)
    responsibility_class: Mapped[str | None] = mapped_column(String(40))
    responsible_department: Mapped[str | None] = mapped_column(String(60))
    responsible_person: Mapped[str | None] = mapped_column(String(100))
    valid: Mapped[bool | None]
    invalid_reason: Mapped[str | None] = mapped_column(Text)
    approved: Mapped[bool | None]
    """The manager's review of the handling opinion since the last resolution (None: not reviewed)."""
    review_opinion: Mapped[str | None] = mapped_column(Text)
    reviewed_by: Mapped[str | None] = mapped_column(String(100))
    long_term_measure: Mapped[str | None] = mapped_column(Text)
    satisfaction: Mapped[str | None] = mapped_column(String(40))
    """The customer's satisfaction at the latest callback."""
    customer_words: Mapped[str | None] = mapped_column(Text)
    """What the customer said at the latest callback: may hold personal data (masked by role)."""
    called_back_at: Mapped[datetime | None] = mapped_column(AwareDateTime())


def current_labels(labels: dict[str, Any] | None, suggestion: dict[str, Any] | None) -> dict[str, Any]:
    """The labels a person confirmed, or else the model's suggestion (Case.current_labels)."""
    return labels or (suggestion or {}).get("labels") or {}


def label_columns(labels: dict[str, Any] | None, suggestion: dict[str, Any] | None) -> dict[str, Any]:
    """The denormalised columns of a case with these confirmed labels and this suggestion:
    the heads, `urgent`, `flags`, and from the suggestion's routing `queue_deadline`,
    `focus_owner` and the planned `clocks`."""
    current = current_labels(labels, suggestion)
    routing = (suggestion or {}).get("routing") or {}
    deadlines = [datetime.fromisoformat(c["deadline"]) for c in routing.get("clocks", []) if c.get("deadline")]
    return {**{head: current.get(head) for head in HEADS}, "urgent": is_urgent(current),
            "flags": sorted(set(current.get("flags") or [])), "queue_deadline": min(deadlines, default=None),
            "focus_owner": routing.get("focus_owner") if routing.get("focus_vehicle") else None,
            "clocks": sorted({c["id"] for c in routing.get("clocks", [])
                              if c.get("starts_on") in ("received", "dispatched")})}


def clock_list(clocks: Iterable[str]) -> str | None:
    """Case.planned_clocks or breached_clocks for these clocks: one canonical text (a JSON list,
    in order), so that equal sets group together; None for none."""
    found = sorted(set(clocks))
    return json.dumps(found, ensure_ascii=False, separators=(",", ":")) if found else None


def clocks_in(value: str | None) -> list[str]:
    """The clocks of a Case.planned_clocks or breached_clocks."""
    return json.loads(value) if value else []


class CaseSerial(Base):
    """The last serial number used in each month, for case numbers."""

    __tablename__ = "case_serials"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)
