"""The JSON API's bodies: what a client sends (…In) and what each route answers (…Out).

The responses are exactly the JSON the routes always returned, key for key: times are the
ISO strings `.isoformat()` makes ("2026-11-23T01:30:00+00:00"), hence `str`, not `datetime`
(which pydantic would print with "Z"); the free-form parts (a model's classification, a
policy's routing, labels, event data, report sections, the model card) are passed through
as they are. Keys that a route leaves out (routing without a channel, the fields of an error
item) are left unset, and the route answers with `response_model_exclude_unset`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

MAX_BATCH = 1000


# ---- requests ----------------------------------------------------------------------------------
class TriageIn(BaseModel):
    text: str = Field(max_length=100_000)
    channel: str | None = None
    received_at: datetime | None = None


class BatchItem(TriageIn):
    id: str


class BatchIn(BaseModel):
    items: list[BatchItem] = Field(max_length=MAX_BATCH)


class IntakeIn(BaseModel):
    channel: str
    text: str = Field(max_length=100_000)
    received_at: datetime
    external_id: str | None = Field(default=None, max_length=120)
    customer_name: str | None = Field(default=None, max_length=100)
    customer_phone: str | None = Field(default=None, max_length=40)
    plate: str | None = Field(default=None, max_length=20)
    vin: str | None = Field(default=None, max_length=17)
    in_warranty: bool | None = None


class IntakeBatchIn(BaseModel):
    items: list[IntakeIn] = Field(max_length=MAX_BATCH)


class AssignIn(BaseModel):
    assignee: str = Field(min_length=1, max_length=100)
    version: int | None = None


class ReviewIn(BaseModel):
    version: int
    corrections: dict[str, Any] | None = None


class ActionIn(BaseModel):
    version: int | None = None
    data: dict[str, Any] = Field(default_factory=dict)


# ---- responses: triage -------------------------------------------------------------------------
class TriageOut(BaseModel):
    """The model's classification, and the policy's routing when a channel was given."""

    classification: dict[str, Any]
    routing: dict[str, Any] | None = None
    """Left out (not null) without a channel."""


class TriageBatchResult(BaseModel):
    """One item: its id and either its triage or the error that stopped it."""

    id: str
    classification: dict[str, Any] | None = None
    routing: dict[str, Any] | None = None
    error: str | None = None


class TriageBatchOut(BaseModel):
    results: list[TriageBatchResult]


# ---- responses: cases --------------------------------------------------------------------------
class CaseEventOut(BaseModel):
    kind: str
    at: str
    actor: str
    data: dict[str, Any] | None


class CaseOut(BaseModel):
    """A case as the caller may see it (triage.case.views.case_view): personal data masked
    for the roles that do not need it."""

    id: int
    number: str
    channel: str
    external_id: str | None
    received_at: str
    state: str
    version: int
    text: str
    customer_name: str | None
    customer_phone: str | None
    plate: str | None
    vin: str | None
    in_warranty: bool | None
    suggestion: dict[str, Any] | None
    labels: dict[str, Any] | None
    responsible_role: str | None
    assignee: str | None
    events: list[CaseEventOut]


class IntakeResult(BaseModel):
    """One item of a batch intake: its case, or the error that stopped it."""

    item: int
    id: int | None = None
    number: str | None = None
    created: bool | None = None
    error: str | None = None


class IntakeBatchOut(BaseModel):
    results: list[IntakeResult]


class CaseSummary(BaseModel):
    id: int
    number: str
    state: str
    channel: str
    received_at: str
    labels: dict[str, Any]
    """The confirmed labels, else the suggestion's ({} before a suggestion)."""
    responsible_role: str | None
    assignee: str | None


class CaseListOut(BaseModel):
    cases: list[CaseSummary]
    next: str | None
    """The cursor of the next page (`?cursor=`), null on the last page."""


class QueueItem(BaseModel):
    id: int
    number: str
    received_at: str
    suggestion: dict[str, Any] | None


class QueueOut(BaseModel):
    cases: list[QueueItem]
    next: str | None
    """The cursor of the next page (`?cursor=`), null on the last page."""


# ---- responses: reports and the model ----------------------------------------------------------
class ReportOut(BaseModel):
    """A month's or a quarter's figures (triage.case.reports.report)."""

    period: str
    from_: str = Field(alias="from")
    to: str
    cases: int
    counts: dict[str, dict[str, int]]
    sla_compliance: dict[str, dict[str, Any]]
    """Per clock: cases, breached, compliance (None without cases), target."""
    repeated_complaints: list[dict[str, Any]]
    repeat_flagged: int
    focus_vehicles: list[dict[str, Any]]


class ModelOut(BaseModel):
    version: str
    card: dict[str, Any] | None
    """None for a model that is not in the registry (loaded by hand)."""
