"""The policy as typed objects: roles, routing rules, escalation chains and SLA clocks.

A policy is data (triage/policy/default.yaml); these classes are what it becomes once
loaded and validated (triage/policy/loader.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# A condition may test these facts of a case; each maps to the allowed values.
CONDITION_KEYS = ("business_line", "category", "severity", "flags", "channel", "in_warranty",
                  "beyond_authority", "rework", "earlier_complaints")

EVENTS = ("received", "dispatched", "first_contact", "resolved", "verified", "closed", "reopened",
          "escalated", "form_rejected", "form_returned")
"""Case events a clock may start or stop on (the case lifecycle of issue 4 emits them)."""

UNITS = ("minutes", "hours", "days", "working_days", "months", "same_day")
BASES = ("24x7", "working_days", "business_hours")
BREACH_ACTIONS = ("escalate", "notify", "auto_close")

NOTIFY_EVENTS = ("major_intake", "sla_warning", "sla_breach", "escalated", "reopened", "suggestion_accuracy_drop")
"""What people can be told of (policy `notifications.recipients.<role>.events`): a new major
case at intake, a clock's warning, its breach, an escalation, a reopened case, and the
suggestions' online accuracy falling below the model card."""
CHANNEL_KINDS = ("smtp", "wecom", "dingtalk", "feishu")
"""E-mail over SMTP, and the group robots of 企业微信, 钉钉 and 飞书."""
ROBOT_KINDS = ("wecom", "dingtalk", "feishu")

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
    """The first share of the clock's time at which its warning falls (the only one, unless
    `warnings` lists more)."""
    pauses_on: tuple[str, ...] = ()
    """Reasons the clock may pause (waiting for parts, customer unreachable)."""
    on_breach: str = "escalate"
    alternatives: dict[str, Duration] = field(default_factory=dict)
    """Other values the documents give, by source; a dealership picks one by setting `limit`."""
    warnings: tuple[float, ...] = ()
    """Every share of the clock's time at which a warning falls, ascending (a policy's
    `warning_at: [0.5, 0.75]`); empty: `warning_at` alone."""

    @property
    def shares(self) -> tuple[float, ...]:
        """The shares of the clock's time at which its warnings fall, ascending."""
        return self.warnings or (self.warning_at,)


@dataclass(frozen=True)
class FocusRule:
    id: str
    when: Condition
    owner: str
    source: str
    note: str = ""


DISPLAYS = ("prefilled", "choices")
"""How the console shows a head of a suggestion: its label filled in for the reviewer to
confirm, or its alternatives offered as choices with none chosen."""


@dataclass(frozen=True)
class SuggestionRules:
    """How suggestions are shown to the reviewer, and how their online accuracy is watched."""

    prefill_at: dict[str, dict[str, float]] = field(default_factory=dict)
    """head -> {class or "default": the confidence from which a suggested class is filled in}."""
    accuracy_margin: float = 0.05
    """How far a head's share of kept suggestions in a month may fall below its held-out
    accuracy on the model card before the managers are told."""
    accuracy_min_reviews: int = 30
    """Reviews of a model's head in the month before its share is compared at all."""

    def prefill_threshold(self, head: str, label: str) -> float:
        table = self.prefill_at.get(head, {})
        return table.get(label, table.get("default", 0.0))


@dataclass(frozen=True)
class NotifyChannel:
    """A way of telling people: its kind (CHANNEL_KINDS) and its settings as the policy gives
    them; secrets and robot URLs are named environment variables (`url_env`, `secret_env`,
    `password_env`), read when a message is sent."""

    id: str
    kind: str
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Recipient:
    channel: str
    address: str = ""
    """An e-mail address; empty for a group robot (its group is the address)."""


@dataclass(frozen=True)
class RoleRecipients:
    role: str
    events: tuple[str, ...]
    to: tuple[Recipient, ...]


@dataclass(frozen=True)
class Notifications:
    """Who is told what, and how (policy `notifications:`). Empty: nobody is told anything."""

    channels: dict[str, NotifyChannel] = field(default_factory=dict)
    recipients: dict[str, RoleRecipients] = field(default_factory=dict)
    major_intake: tuple[Condition, ...] = ()
    """A new case whose suggestion matches any of these is reported at intake (major_intake)."""
    console_url: str = "http://127.0.0.1:8000"
    console_url_env: str = ""
    """The environment variable that overrides `console_url`, where it is set."""
    max_attempts: int = 6
    first_delay: float = 60.0
    """Seconds before the second attempt; each later one waits twice as long, up to `max_delay`."""
    max_delay: float = 3600.0

    def roles_for(self, event: str) -> list[str]:
        """The roles that are told of `event`, in the policy's order."""
        return [r.role for r in self.recipients.values() if event in r.events]


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
    suggestions: SuggestionRules = field(default_factory=SuggestionRules)
    notifications: Notifications = field(default_factory=Notifications)
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
