"""The policy as typed objects: roles, routing rules, escalation chains and SLA clocks.

A policy is data (triage/policy/default.yaml); these classes are what it becomes once
loaded and validated (triage/policy/loader.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# A condition may test these facts of a case; each maps to the allowed values.
CONDITION_KEYS = ("business_line", "category", "severity", "flags", "channel", "in_warranty",
                  "beyond_authority", "rework", "earlier_complaints")

EVENTS = ("received", "dispatched", "first_contact", "resolved", "verified", "closed", "reopened",
          "escalated", "form_rejected", "form_returned")
"""Case events a clock may start or stop on (the case lifecycle of issue 4 emits them)."""

UNITS = ("minutes", "hours", "days", "working_days", "months", "same_day")
BASES = ("24x7", "working_days", "business_hours")
BREACH_ACTIONS = ("escalate", "notify", "auto_close")

_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)\s*(minutes?|hours?|days?|working[_ ]days?|months?)|(same[_ ]day))\s*$")


class PolicyError(ValueError):
    """A policy file that cannot be used; the message lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Duration:
    amount: float
    unit: str  # one of UNITS

    @classmethod
    def parse(cls, text: str) -> Duration:
        m = _DURATION.match(str(text))
        if not m:
            raise ValueError(f"{text!r} is not a duration (e.g. '30 minutes', '24 hours', '3 working_days', "
                             "'7 days', '3 months', 'same_day')")
        if m.group(3):
            return cls(1, "same_day")
        unit = m.group(2).replace(" ", "_")
        unit = unit if unit.endswith("s") else unit + "s"
        return cls(float(m.group(1)), unit)

    def __str__(self) -> str:
        if self.unit == "same_day":
            return "same_day"
        amount = int(self.amount) if self.amount == int(self.amount) else self.amount
        return f"{amount} {self.unit}"


@dataclass(frozen=True)
class Condition:
    """Every key present must match; a key holds the values any of which matches."""

    tests: dict[str, tuple[str | bool, ...]] = field(default_factory=dict)

    def matches(self, facts: dict[str, object]) -> bool:
        for key, allowed in self.tests.items():
            value = facts.get(key)
            if key == "flags":
                if not set(value or ()) & set(allowed):
                    return False
            elif value not in allowed:
                return False
        return True

    def overlaps(self, other: Condition) -> bool:
        """Whether some case could satisfy both (keys tested by only one are free)."""
        for key in self.tests.keys() & other.tests.keys():
            if key != "flags" and not set(self.tests[key]) & set(other.tests[key]):
                return False
        return True


@dataclass(frozen=True)
class Rule:
    id: str
    when: Condition
    responsible: str
    assists: tuple[str, ...]
    escalation: str | None
    priority: int
    source: str
    note: str = ""


@dataclass(frozen=True)
class Clock:
    id: str
    name: str
    limit: Duration
    basis: str
    starts_on: str
    stops_on: tuple[str, ...]
    when: Condition
    source: str
    warning_at: float = 0.8
    pauses_on: tuple[str, ...] = ()
    """Reasons the clock may pause (waiting for parts, customer unreachable)."""
    on_breach: str = "escalate"
    alternatives: dict[str, Duration] = field(default_factory=dict)
    """Other values the documents give, by source; a dealership picks one by setting `limit`."""


@dataclass(frozen=True)
class FocusRule:
    id: str
    when: Condition
    owner: str
    source: str
    note: str = ""


@dataclass(frozen=True)
class Policy:
    name: str
    roles: dict[str, str]
    """role id -> the name the dealership uses for it."""
    rules: tuple[Rule, ...]
    escalation: dict[str, tuple[str, ...]]
    clocks: tuple[Clock, ...]
    focus: tuple[FocusRule, ...]
    crisis: Condition
    crisis_team: tuple[str, ...]
    calendar: dict[str, object]
    channels: dict[str, str] = field(default_factory=dict)
    role_sources: dict[str, str] = field(default_factory=dict)
    record: RecordPolicy = field(default_factory=lambda: RecordPolicy())
    """The handling record: its lists, labels and which fields each case type requires."""


# ---- the handling record (rules.md §2, §5; issue 14) ---------------------------------------------------
RECORD_STEPS = ("resolve", "review", "callback")
"""The steps that write the record: the handler resolves (002-A §8-2), the manager reviews the
handling opinion (002-B 五 4), customer care calls the customer back (002-A §7, §8-2)."""

RECORD_FIELDS: dict[str, tuple[str, str]] = {
    # field -> (the step that records it, its kind: text, bool, or the record list its value is from)
    "investigation": ("resolve", "text"), "reply": ("resolve", "text"), "handling_opinion": ("resolve", "text"),
    "corrective_action": ("resolve", "text"), "cause": ("resolve", "causes"), "evidence": ("resolve", "text"),
    "responsibility_class": ("resolve", "responsibility_classes"),
    "responsible_department": ("resolve", "departments"), "responsible_person": ("resolve", "text"),
    "valid": ("resolve", "bool"), "invalid_reason": ("resolve", "text"),
    "approved": ("review", "bool"), "review_opinion": ("review", "text"), "long_term_measure": ("review", "text"),
    "satisfaction": ("callback", "satisfaction"), "customer_words": ("callback", "text"),
}
"""Every field of the record; which of them a case must hold is the policy's (`record.required`)."""

RECORD_CONDITION_KEYS = ("valid", "cause", "approved", "satisfaction")
"""What a requirement may test of the record itself, besides the facts of the case (CONDITION_KEYS)."""


@dataclass(frozen=True)
class Choice:
    """One value of a record list: its id, the name the documents use, and what they prescribe."""

    id: str
    name: str
    source: str = ""
    handling: str = ""
    """The prescribed handling (a cause's, 002-B 五 3) or the definition (a responsibility class's, 002-C 五)."""
    satisfied: bool | None = None
    """Of a satisfaction level: whether the callback closes the loop (else the case goes back)."""


@dataclass(frozen=True)
class Requirement:
    """At `step`, a case matching `when` must hold `fields`."""

    step: str
    when: Condition
    fields: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class RecordPolicy:
    causes: tuple[Choice, ...] = ()
    responsibility_classes: tuple[Choice, ...] = ()
    departments: tuple[Choice, ...] = ()
    satisfaction: tuple[Choice, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    """field -> the label the console and the printed forms give it."""
    required: tuple[Requirement, ...] = ()
    review_when: Condition | None = None
    """The cases whose handling opinion a manager reviews before the callback (None: none)."""
    reviewers: dict[str, str] = field(default_factory=dict)
    """business line -> the role that reviews (销售经理 / 服务经理)."""

    def choices(self, kind: str) -> tuple[Choice, ...]:
        return getattr(self, kind) if kind in ("causes", "responsibility_classes", "departments",
                                                "satisfaction") else ()

    def choice(self, kind: str, value: str | None) -> Choice | None:
        return next((c for c in self.choices(kind) if c.id == value), None)

    def label(self, name: str) -> str:
        return self.labels.get(name, name)
