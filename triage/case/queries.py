"""The lists of cases as SQL: every filter on an indexed column (the denormalised label
columns and `case_flags` of case/models.py), the order in SQL, and keyset pagination, so
that a page costs the same at ten cases or a year's. The service runs these
(`service.list_cases`, `service.review_queue`).

A page ends with an opaque cursor: the sort key of its last case, which the next page
continues after. Unlike an offset it neither skips nor repeats a case when cases arrive
or leave the list between two pages.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, literal, select, tuple_

from triage.case.models import Case, CaseFlag
from triage.db import AwareDateTime

MAX_LIST = 1000

NOT_CLOSED = Case.state != literal("closed", literal_execute=True)
"""Cases not closed, the value written into the statement: the predicate of the partial index
ix_cases_open_assignee, which a plan prepared for a bound parameter could not use."""


@dataclass(frozen=True)
class CaseFilters:
    """What a list of cases may be narrowed by; None means any."""

    state: str | None = None
    channel: str | None = None
    role: str | None = None
    """The responsible role."""
    severity: str | None = None
    flag: str | None = None
    received_from: datetime | None = None
    received_to: datetime | None = None
    breached: bool | None = None
    """Whether any SLA clock of the case was breached."""
    assignee: str | None = None
    number: str | None = None
    """Part of the case number (2026-11-000042)."""
    limit: int = 100


@dataclass(frozen=True)
class Page:
    cases: list[Case]
    next: str | None
    """The cursor of the next page; None on the last."""


class BadCursor(ValueError):
    """A cursor this list did not hand out."""


def page_size(limit: int) -> int:
    return max(1, min(limit, MAX_LIST))


# ---- cursors ---------------------------------------------------------------------------------------
def encode(kind: str, *key: Any) -> str:
    raw = json.dumps([kind, *(k.isoformat() if isinstance(k, datetime) else k for k in key)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(cursor: str, kind: str, types: tuple[type, ...]) -> tuple[Any, ...]:
    """The sort key in a cursor of this kind of list; datetime entries may be null."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        raise BadCursor("the cursor is not one this list handed out") from None
    if not (isinstance(raw, list) and len(raw) == len(types) + 1 and raw[0] == kind):
        raise BadCursor("the cursor is not one this list handed out")
    key: list[Any] = []
    for value, kind_of in zip(raw[1:], types, strict=True):
        if kind_of is datetime:
            try:
                value = None if value is None else datetime.fromisoformat(value)
            except (TypeError, ValueError):
                raise BadCursor("the cursor is not one this list handed out") from None
            if value is not None and value.tzinfo is None:
                raise BadCursor("the cursor is not one this list handed out")
        # bool is an int to isinstance: a flag must not pass for an id, nor an id for a flag
        elif type(value) is not kind_of:
            raise BadCursor("the cursor is not one this list handed out")
        key.append(value)
    return tuple(key)


def _instant(value: datetime | None) -> Any:
    """A bound instant typed as the column, so that SQLite compares it in the stored form."""
    return literal(value, AwareDateTime())


# ---- the list of cases: received_at desc, id desc --------------------------------------------------
LIST = "cases"


def list_query(filters: CaseFilters, *, cursor: str | None, only_assignee: str | None) -> Select[tuple[Case]]:
    """Cases newest first, narrowed by `filters` (and to one person's with `only_assignee`),
    after the cursor's case."""
    query = select(Case).order_by(Case.received_at.desc(), Case.id.desc())
    for column, value in ((Case.state, filters.state), (Case.channel, filters.channel),
                          (Case.responsible_role, filters.role), (Case.severity, filters.severity),
                          (Case.assignee, filters.assignee), (Case.assignee, only_assignee)):
        if value is not None:
            query = query.where(column == value)
    if filters.flag is not None:
        query = query.where(exists().where(CaseFlag.case_id == Case.id, CaseFlag.flag == filters.flag))
    if filters.received_from is not None:
        query = query.where(Case.received_at >= _instant(filters.received_from))
    if filters.received_to is not None:
        query = query.where(Case.received_at < _instant(filters.received_to))
    if filters.breached is not None:
        query = query.where(Case.breached == filters.breached)
    if filters.number:
        query = query.where(Case.number.contains(filters.number, autoescape=True))
    if cursor is not None:
        received_at, case_id = decode(cursor, LIST, (datetime, int))
        if received_at is None:
            raise BadCursor("the cursor is not one this list handed out")
        query = query.where(tuple_(Case.received_at, Case.id) < tuple_(_instant(received_at), literal(case_id)))
    return query


def list_cursor(case: Case) -> str:
    return encode(LIST, case.received_at, case.id)


# ---- the review queue: urgent first, then the nearest deadline, then id ---------------------------
QUEUE = "queue"
# The queue's order as ranges of one index (state, urgent, queue_deadline, id), each read in index
# order: SQLite sorts nulls first and PostgreSQL last, and no index serves urgent-desc with
# deadline-asc on both, so a page reads segment after segment instead.
SEGMENTS = ((True, True), (True, False), (False, True), (False, False))
"""(urgent, has a deadline), in queue order."""


def queue_segments(cursor: str | None) -> list[Select[tuple[Case]]]:
    """The queries of the queue's segments from the cursor's case on, in order; each is
    ordered and needs only a limit."""
    start, after = 0, None
    if cursor is not None:
        urgent, deadline, case_id = decode(cursor, QUEUE, (bool, datetime, int))
        start, after = SEGMENTS.index((urgent, deadline is not None)), (deadline, case_id)
    out = []
    for n, (urgent, dated) in enumerate(SEGMENTS[start:], start):
        query = select(Case).where(Case.state == "suggested", Case.urgent == urgent)
        if dated:
            query = query.where(Case.queue_deadline.is_not(None)).order_by(Case.queue_deadline, Case.id)
        else:
            query = query.where(Case.queue_deadline.is_(None)).order_by(Case.id)
        if after is not None and n == start:
            deadline, case_id = after
            query = query.where(_after_in_segment(deadline, case_id))
        out.append(query)
    return out


def _after_in_segment(deadline: datetime | None, case_id: int) -> ColumnElement[bool]:
    if deadline is None:
        return Case.id > case_id
    return tuple_(Case.queue_deadline, Case.id) > tuple_(_instant(deadline), literal(case_id))


def queue_cursor(case: Case) -> str:
    return encode(QUEUE, case.urgent, case.queue_deadline, case.id)
