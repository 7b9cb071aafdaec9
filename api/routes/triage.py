"""Stateless triage: classify a text and, given its channel, route it; no case is created.

The busiest routes of the service: they answer JSON they serialise themselves, once, with
orjson. The response models document the answer (OpenAPI, generated clients); validating a
whole classification and routing against them, and encoding it with the standard library,
cost more than routing the complaint."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from fastapi import APIRouter, Response

from api.deps import CurrentUser, Model, Now, PolicyDep
from api.errors import ProblemError, problems
from api.schemas import BatchIn, TriageBatchOut, TriageIn, TriageOut
from triage.policy.calendar import CalendarError
from triage.policy.model import Policy
from triage.policy.routing import Context, RoutingError
from triage.suggestion import classify_and_route
from triage.text.normalize import TextError

router = APIRouter()


def _triage(model: Any, policy: Policy, item: TriageIn, now: datetime) -> dict[str, Any]:
    """The classification, and the routing when a channel is given; a text or a time that
    cannot be triaged is a ProblemError (an unreadable text is reported before a bad time)."""
    try:
        if not item.channel:
            return {"classification": model.predict([item.text])[0].to_dict()}
        at = item.received_at or now
        if at.tzinfo is None:
            model.predict([item.text])  # raises TextError for an unreadable text
            raise ProblemError(400, "Bad request", "received_at must carry a timezone")
        found = classify_and_route(model, policy, item.text, Context(item.channel, at))
    except TextError as exc:
        raise ProblemError(400, "Unreadable text", str(exc)) from None
    except RoutingError as exc:
        raise ProblemError(400, "Cannot route", str(exc)) from None
    except CalendarError as exc:
        raise ProblemError(422, "Cannot place the time", str(exc)) from None
    # The decision as a dataclass: orjson writes it field by field, as Decision.to_dict (asdict)
    # would, without the deep copy that cost more than the encoding.
    return {"classification": found.prediction.to_dict(), "routing": found.decision}


def _json(content: dict[str, Any]) -> Response:
    return Response(orjson.dumps(content), media_type="application/json")


@router.post("/v1/triage", summary="Classify and route a text; no case is created", response_model=TriageOut,
             responses=problems(400, 401, 413, 422))
async def triage_text(body: TriageIn, _: CurrentUser, model: Model, policy: PolicyDep, now: Now) -> Response:
    return _json(_triage(model, policy, body, now))


@router.post("/v1/triage/batch", summary="Classify and route many texts; a bad item is an error item",
             response_model=TriageBatchOut, responses=problems(401, 413, 422))
async def triage_batch(body: BatchIn, _: CurrentUser, model: Model, policy: PolicyDep, now: Now) -> Response:
    results = []
    for item in body.items:
        try:
            results.append({"id": item.id, **_triage(model, policy, item, now)})
        except ProblemError as exc:
            results.append({"id": item.id, "error": exc.detail})
    return _json({"results": results})
