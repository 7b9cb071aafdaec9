"""A suggestion: what the model says a complaint is, and where the policy routes it.

The one place where classification meets routing. The stateless API (`POST /v1/triage`),
`triage route` and the case service's suggestion for a new case all call
`classify_and_route`; a person then confirms or corrects it before anything is dispatched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from triage.classify.labels import HEADS, flags_forcing_major
from triage.classify.prediction import Prediction
from triage.policy.model import Policy, SuggestionRules
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


def display_of(rules: SuggestionRules, labels: dict[str, Any], confidence: dict[str, Any]) -> dict[str, str]:
    """Per head, how the reviewer is shown the suggestion (policy.model.DISPLAYS): "prefilled"
    when its confidence reaches the policy's threshold for the suggested class, else
    "choices", its alternatives with none chosen. A severity the major rule forced is the
    rule's, not the model's guess: it is filled in whatever the flag's probability."""
    forced = labels.get("severity") == "major" and bool(flags_forcing_major(labels.get("flags") or ()))
    return {h: "prefilled" if (h == "severity" and forced)
            or float(confidence.get(h) or 0.0) >= rules.prefill_threshold(h, labels[h]) else "choices"
            for h in HEADS}


def as_shown(suggestion: dict[str, Any] | None) -> dict[str, Any] | None:
    """A case's stored suggestion with its alternatives and display for every head, as the API
    and the console show it: one stored before they were has no alternatives, and was filled in."""
    if suggestion is None:
        return None
    alternatives = suggestion.get("alternatives") or {}
    display = suggestion.get("display") or {}
    if all(h in alternatives and h in display for h in HEADS):
        return suggestion
    return {**suggestion, "alternatives": {h: alternatives.get(h, []) for h in HEADS},
            "display": {h: display.get(h, "prefilled") for h in HEADS}}
