"""The policy file: the default loads, and every kind of mistake is reported clearly."""

from __future__ import annotations

import copy

import pytest
import yaml

from triage.policy.loader import DEFAULT_POLICY, load_policy, parse_policy
from triage.policy.model import Duration, PolicyError


@pytest.fixture
def raw():
    return yaml.safe_load(DEFAULT_POLICY.read_text(encoding="utf-8"))


def problems(raw) -> str:
    with pytest.raises(PolicyError) as exc:
        parse_policy(raw)
    return str(exc.value)


def test_default_policy_loads_and_cites_every_rule_and_clock():
    policy = load_policy()
    assert len(policy.rules) >= 14 and len(policy.clocks) >= 13
    assert all(r.source for r in policy.rules) and all(c.source for c in policy.clocks)
    assert policy.roles["service_manager"] == "服务经理"


@pytest.mark.parametrize(("text", "amount", "unit"), [
    ("30 minutes", 30, "minutes"), ("2 hours", 2, "hours"), ("24 hours", 24, "hours"), ("7 days", 7, "days"),
    ("3 working_days", 3, "working_days"), ("4 working days", 4, "working_days"), ("3 months", 3, "months"),
    ("same_day", 1, "same_day"), ("1 day", 1, "days"),
])
def test_durations_parse(text, amount, unit):
    assert Duration.parse(text) == Duration(amount, unit)


@pytest.mark.parametrize("text", ["", "soon", "3", "three days", "-2 hours", "2 fortnights"])
def test_bad_durations_are_refused(text):
    with pytest.raises(ValueError, match="not a duration"):
        Duration.parse(text)


def test_unknown_role(raw):
    raw["rules"][0]["responsible"] = "chief_happiness_officer"
    assert "unknown role 'chief_happiness_officer'" in problems(raw)


def test_unknown_clock_reference_and_event(raw):
    raw["rules"][1]["clocks"] = ["no_such_clock"]
    raw["clocks"][0]["stops_on"] = ["teleported"]
    msg = problems(raw)
    assert "unknown clock 'no_such_clock'" in msg and "unknown event 'teleported'" in msg


def test_escalation_cycle(raw):
    raw["escalation"]["sales"] = ["retail_manager", "sales_director", "retail_manager"]
    assert "escalation cycle: retail_manager → sales_director → retail_manager" in problems(raw)


def test_two_rules_matching_the_same_case_at_the_same_priority(raw):
    dup = copy.deepcopy(raw["rules"][-1])
    dup["id"] = "shadow"
    raw["rules"].append(dup)
    msg = problems(raw)
    assert "'after-sales-customer-issue' and 'shadow' can match the same case at the same priority 50" in msg


def test_bad_duration_in_a_clock(raw):
    raw["clocks"][1]["limit"] = "half an hour"
    assert "clocks[1] (oem_first_response).limit: 'half an hour' is not a duration" in problems(raw)


def test_unknown_label_and_condition(raw):
    raw["rules"][2]["when"] = {"severity": ["catastrophic"], "weather": ["rain"]}
    msg = problems(raw)
    assert "severity has unknown value(s) ['catastrophic']" in msg and "unknown condition 'weather'" in msg


def test_every_problem_is_reported_at_once(raw):
    raw["rules"][0]["responsible"] = "nobody"
    raw["clocks"][0]["basis"] = "lunar"
    raw["clocks"][2]["source"] = ""
    assert len(problems(raw).splitlines()) == 3


def test_alternative_values_of_the_documents_are_expressible(raw):
    # 002-A §5 gives 4 working days for the callback, 002-E 七 10 gives 2 days: either is a valid limit.
    for alternative in ("4 working_days", "2 days"):
        raw_copy = copy.deepcopy(raw)
        clock = next(c for c in raw_copy["clocks"] if c["id"] == "callback_verification")
        clock["limit"] = alternative
        policy = parse_policy(raw_copy)
        assert str(next(c for c in policy.clocks if c.id == "callback_verification").limit) == alternative
    policy = load_policy()
    callback = next(c for c in policy.clocks if c.id == "callback_verification")
    assert {str(d) for d in callback.alternatives.values()} == {"4 working_days", "2 days"}


def test_role_names_are_the_dealerships_own(raw):
    raw["roles"]["service_manager"] = {"name": "售后经理", "source": "our org chart"}
    assert parse_policy(raw).roles["service_manager"] == "售后经理"


def test_unreadable_files(tmp_path):
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [unclosed", encoding="utf-8")
    with pytest.raises(PolicyError, match="not valid YAML"):
        load_policy(bad)
