"""A suggestion: what the model says a complaint is, and where the policy routes it.

The one place where classification meets routing. The stateless API (`POST /v1/triage`),
`triage route` and the case service's suggestion for a new case all call
`classify_and_route`; a person then confirms or corrects it before anything is dispatched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from triage.classify.labels import HEADS
from triage.classify.prediction import Prediction
from triage.policy.model import Policy
from triage.policy.routing import Classification, Context, Decision, route


@dataclass(frozen=True)
class Suggestion:
    prediction: Prediction
    decision: Decision


def classification_of(labels: dict[str, Any]) -> Classification:
    """The routing input from labels (a prediction's, or the ones a person confirmed)."""
    return Classification(*(labels[h] for h in HEADS), tuple(labels.get("flags", ())))


def labels_of(prediction: Prediction) -> dict[str, Any]:
    return {h: getattr(prediction, h) for h in HEADS} | {"flags": list(prediction.flags)}


def classify_and_route(model: Any, policy: Policy, text: str, context: Context) -> Suggestion:
    """Classify `text` with `model` (any backend) and route the result under `policy`.
    Raises TextError for text that cannot be read and RoutingError for a case the policy
    cannot route."""
    prediction = model.predict([text])[0]
    return Suggestion(prediction, route(policy, classification_of(labels_of(prediction)), context))
