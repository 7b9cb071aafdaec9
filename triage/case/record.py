"""The handling record's rules (rules.md §2, §5; issue 14), apart from the database: which fields
a step may write, what their values may be, which of them a case must hold at a step (the
policy's `record.required`), whether the manager reviews the handling opinion before the
callback (`record.review`), and what a satisfaction level means. The case service applies them
(service.resolve, review_opinion, callback); the console and the forms read the same lists."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from triage.case.models import Case, CaseRecord
from triage.policy.model import RECORD_CONDITION_KEYS, RECORD_FIELDS, Condition, Policy
from triage.text.mask import mask_pii

MAX_TEXT = 4000
"""A free-text field's length limit (a page of the paper form)."""

TEXT_FIELDS = tuple(name for name, (_, kind) in RECORD_FIELDS.items() if kind == "text")
"""The free-text fields: what may hold personal data (the customer's words above all), masked
for the roles that do not see it (views.case_view) and on every printout and report."""


def step_fields(step: str) -> tuple[str, ...]:
    return tuple(name for name, (at, _) in RECORD_FIELDS.items() if at == step)


def parse(step: str, data: Mapping[str, Any], policy: Policy) -> tuple[dict[str, Any], list[str]]:
    """The record fields of `data` that `step` writes, as stored (text stripped, an empty text
    None), and the problems with them: a field of another step, a value not in the policy's
    list, a text too long. Keys that are not record fields are left to the caller."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name, value in data.items():
        if name not in RECORD_FIELDS:
            continue
        at, kind = RECORD_FIELDS[name]
        if at != step:
            problems.append(f"{name}: recorded at the {at} step, not at {step}")
            continue
        if value is None:
            values[name] = None
        elif kind == "bool":
            if not isinstance(value, bool):
                problems.append(f"{name}: true or false, not {value!r}")
                continue
            values[name] = value
        elif kind == "text":
            text = str(value).strip()
            if len(text) > MAX_TEXT:
                problems.append(f"{name}: at most {MAX_TEXT} characters")
                continue
            values[name] = text or None
        else:
            known = [c.id for c in policy.record.choices(kind)]
            if value not in known:
                problems.append(f"{name}: {value!r} is not one of {', '.join(known)}")
                continue
            values[name] = value
    return values, problems


def values_of(record: CaseRecord | None) -> dict[str, Any]:
    """Every field of a case's record (None where nothing is recorded)."""
    return {name: getattr(record, name) if record is not None else None for name in RECORD_FIELDS}


def facts(case: Case, values: Mapping[str, Any]) -> dict[str, Any]:
    """What a requirement's `when` tests: the case's current labels, channel and warranty, and the
    record's valid, cause, approved and satisfaction."""
    return facts_of(case.current_labels, case.channel, case.in_warranty, values)


def facts_of(labels: Mapping[str, Any], channel: str, in_warranty: bool | None,
             values: Mapping[str, Any]) -> dict[str, Any]:
    return {**labels, "channel": channel, "in_warranty": in_warranty,
            **{key: values.get(key) for key in RECORD_CONDITION_KEYS}}


def conditions(step: str, policy: Policy, case_facts: Mapping[str, Any]) -> dict[str, list[dict[str, tuple[Any, ...]]]]:
    """For a form: the fields `step` may require of a case with these facts, each with the record
    values that make it required ({} for always): a requirement whose test of the case fails is
    left out, one that tests the record (valid, cause...) applies once the form has those values."""
    out: dict[str, list[dict[str, tuple[Any, ...]]]] = {}
    for r in policy.record.required:
        tests = r.when.tests
        case_part = Condition({k: v for k, v in tests.items() if k not in RECORD_CONDITION_KEYS})
        if r.step != step or not case_part.matches(dict(case_facts)):
            continue
        own = {k: v for k, v in tests.items() if k in RECORD_CONDITION_KEYS}
        for name in r.fields:
            out.setdefault(name, []).append(own)
    return {name: out[name] for name in RECORD_FIELDS if name in out}


def required(step: str, policy: Policy, case_facts: Mapping[str, Any]) -> list[str]:
    """The fields a case with these facts must hold at `step`, in the record's order."""
    needed = {name for r in policy.record.required if r.step == step and r.when.matches(dict(case_facts))
              for name in r.fields}
    return [name for name in RECORD_FIELDS if name in needed]


def missing(step: str, policy: Policy, case: Case, values: Mapping[str, Any]) -> list[str]:
    """The fields `step` requires of the case that `values` (the record as it would stand) lack."""
    return [name for name in required(step, policy, facts(case, values)) if values.get(name) is None]


def awaiting_review(policy: Policy, state: str, case_facts: Mapping[str, Any]) -> bool:
    """A resolved case whose handling opinion a manager is yet to review before the callback
    (002-B 五 4): the policy asks it of the case (`record.review`), and none was given since the
    case was last resolved (`approved` is None)."""
    when = policy.record.review_when
    return (state == "resolved" and case_facts.get("approved") is None and when is not None
            and when.matches(dict(case_facts)))


def is_satisfied(policy: Policy, satisfaction: str | None) -> bool:
    """Whether a satisfaction level closes the loop; any other sends the case back (002-A §7)."""
    choice = policy.record.choice("satisfaction", satisfaction)
    return bool(choice and choice.satisfied)


def masked(values: Mapping[str, Any]) -> dict[str, Any]:
    """Record values with personal data in their free text masked (mask_pii keeps lengths)."""
    return {k: mask_pii(v) if k in TEXT_FIELDS and isinstance(v, str) else v for k, v in values.items()}
