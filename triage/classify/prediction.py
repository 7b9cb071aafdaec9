"""What the models say about one complaint, in the shape the command line and API emit."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ALTERNATIVES = 3
"""How many classes of each head a prediction offers as alternatives."""


@dataclass(slots=True)
class Evidence:
    head: str
    """business_line, category, severity or flags.<flag>"""
    label: str
    start: int
    """Offsets into the original text, end exclusive."""
    end: int
    text: str
    """The original characters at [start, end), each personal datum replaced by its kind ([车牌])."""
    feature: str
    """What the span is: a word ("w:销售"), characters ("c:漏油"), a flag cue ("cue:safety:brakes"), or,
    first on a long text, "clause": the clause that decided the head."""
    weight: float
    """The feature's push toward the label; for a clause, its share of the push (0 to 1)."""


@dataclass(slots=True)
class Prediction:
    id: str
    business_line: str
    category: str
    severity: str
    flags: list[str]
    confidence: dict[str, Any]
    """{head: probability of the predicted label}; "flags" holds {flag: probability it applies}."""
    alternatives: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """{head: [{"label", "p"}, ...]}: the model's most probable classes of the head, up to
    ALTERNATIVES, best first, each with its probability (before the decision biases and the
    major rule, which may have chosen another). For a reviewer to pick from in one click."""
    evidence: list[Evidence] = field(default_factory=list)
    low_confidence: list[str] = field(default_factory=list)
    """Heads (and flags.<flag>) whose confidence is under the model's review threshold."""
    rules: list[str] = field(default_factory=list)
    """Policy rules applied on top of the models, with their source clause."""
    model: str = ""

    def to_json(self) -> dict[str, Any]:
        """What `to_dict` gives, without its copies: for serialising at once. orjson wrote these
        plain dicts in half the time it took over the dataclasses (`triage predict`)."""
        return {"id": self.id, "business_line": self.business_line, "category": self.category,
                "severity": self.severity, "flags": self.flags, "confidence": self.confidence,
                "alternatives": self.alternatives,
                "evidence": [{"head": e.head, "label": e.label, "start": e.start, "end": e.end, "text": e.text,
                              "feature": e.feature, "weight": e.weight} for e in self.evidence],
                "low_confidence": self.low_confidence, "rules": self.rules, "model": self.model}

    def to_dict(self) -> dict[str, Any]:
        # By hand rather than dataclasses.asdict, which deep-copies and dominated `predict` output.
        return {"id": self.id, "business_line": self.business_line, "category": self.category,
                "severity": self.severity, "flags": list(self.flags),
                "confidence": {**self.confidence, "flags": dict(self.confidence.get("flags", {}))},
                "alternatives": {h: [dict(a) for a in alts] for h, alts in self.alternatives.items()},
                "evidence": [{"head": e.head, "label": e.label, "start": e.start, "end": e.end, "text": e.text,
                              "feature": e.feature, "weight": e.weight} for e in self.evidence],
                "low_confidence": list(self.low_confidence), "rules": list(self.rules), "model": self.model}
