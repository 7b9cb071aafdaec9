"""The policy file: the default loads, and every kind of mistake is reported clearly."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import yaml

from triage.policy.loader import DEFAULT_POLICY, load_policy, parse_policy
from triage.policy.model import Duration, PolicyError
from triage.policy.notice import NoticeError, install_notice, load_notices, read_notice

ROOT = Path(__file__).resolve().parent.parent


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


# ---- the calendar part of the policy ------------------------------------------------------------
def test_notices_folder_is_relative_to_the_policy_file_or_in_the_data_dir(raw, tmp_path, monkeypatch):
    raw["calendar"]["notices_dir"] = "notices"
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    assert load_policy(tmp_path / "policy.yaml").calendar["notices_dir"] == tmp_path / "notices"
    monkeypatch.setenv("TRIAGE_DATA_DIR", str(tmp_path / "data"))
    assert load_policy().calendar["notices_dir"] == tmp_path / "data" / "notices"


def test_calendar_mistakes_are_reported(raw):
    raw["calendar"].update(business_hours=["17:30", "08:30"], extra_holidays=["2027-02-30", "2027-03-15"],
                           extra_workdays=["2027-03-15"], notices_dir=7)
    found = problems(raw)
    assert "2027-02-30" in found and "must open before it closes" in found
    assert "2027-03-15 is listed both in extra_holidays and in extra_workdays" in found
    assert "calendar.notices_dir: 7 is not a folder" in found


# ---- holiday notices (triage/policy/notice.py) ---------------------------------------------------
GOOD_NOTICE = """\
# A plausible 2027 notice, for the tests only: the real one is published in November 2026.
year: 2027
source: 国办发明电〔2026〕（测试用）
holidays:
  元旦: 2027-01-01..2027-01-03
  春节: 2027-02-05..2027-02-12
  清明节: 2027-04-03..2027-04-05
  劳动节: 2027-05-01..2027-05-05
  端午节: 2027-06-09
  中秋节: 2027-09-15
  国庆节: [2027-10-01..2027-10-03, "2027-10-04/2027-10-07"]
workdays: [2027-01-31, 2027-02-20, 2027-05-08]
"""


def write(tmp_path, text, name="2027.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_notice_reads(tmp_path):
    notice = read_notice(write(tmp_path, GOOD_NOTICE))
    assert notice.year == 2027 and notice.source.startswith("国办发明电")
    assert len(notice.holidays) == 3 + 8 + 3 + 5 + 1 + 1 + 7
    assert notice.holidays[date(2027, 10, 5)] == "国庆节"
    assert notice.workdays == {date(2027, 1, 31), date(2027, 2, 20), date(2027, 5, 8)}
    assert notice.warnings == ()
    as_json = {"year": 2027, "source": "s", "holidays": {"春节": "2027-02-05..2027-02-12"}, "workdays": []}
    assert read_notice(write(tmp_path, json.dumps(as_json), "2027.json")).holidays[date(2027, 2, 12)] == "春节"


@pytest.mark.parametrize(("change", "message"), [
    (("workdays: [2027-01-31, 2027-02-20, 2027-05-08]", "workdays: [2027-02-22]"),
     "2027-02-22 is a Monday; list only the weekend days"),
    (("workdays: [2027-01-31, 2027-02-20, 2027-05-08]", "workdays: [2027-02-06]"),
     "2027-02-06 is both a holiday (春节) and a working day"),
    (("端午节: 2027-06-09", "端午节: 2026-06-09"), "holidays.端午节: 2026-06-09 is not in 2027"),
    (("端午节: 2027-06-09", "端午节: 2027-06-31"), "'2027-06-31' is not a date (YYYY-MM-DD) or a period"),
    (("端午节: 2027-06-09", "端午节: 2027-06-09..2027-06-01"), "ends before it starts"),
    (("端午节: 2027-06-09", "端午节: 2027-06-09..2027-08-09"), "is longer than 31 days"),
    (("中秋节: 2027-09-15", "中秋节: 2027-10-01"), "2027-10-01 is also listed under 中秋节"),
    (("source: 国办发明电〔2026〕（测试用）", "sauce: x"), "unknown key 'sauce'"),
    (("source: 国办发明电〔2026〕（测试用）", "source: ''"), "source: cite the notice"),
    (("year: 2027", "year: next"), "year: 'next' is not a year"),
    (("workdays: [2027-01-31, 2027-02-20, 2027-05-08]", "workdays: 2027-01-31"), "workdays: must be a list"),
    (("year: 2027", "year: 2028"), "named for 2027 but holds the notice for 2028"),
])
def test_bad_notices_are_refused_with_a_clear_message(tmp_path, change, message):
    old, new = change
    assert old in GOOD_NOTICE
    with pytest.raises(NoticeError) as exc:
        read_notice(write(tmp_path, GOOD_NOTICE.replace(old, new)))
    assert message in str(exc.value)


def test_a_statutory_day_not_given_off_is_a_warning(tmp_path):
    notice = read_notice(write(tmp_path, GOOD_NOTICE.replace("端午节: 2027-06-09", "端午节: 2027-06-10")))
    assert notice.warnings == (f"{tmp_path / '2027.yaml'}: 2027-06-09 (端午节, a statutory holiday) is a Wednesday "
                               "the notice does not give off; check the dates",)


def test_the_december_before_may_hold_the_new_years_arrangement(tmp_path):
    notice = read_notice(write(tmp_path, GOOD_NOTICE.replace("元旦: 2027-01-01..2027-01-03",
                                                             "元旦: 2026-12-31..2027-01-01")))
    assert notice.holidays[date(2026, 12, 31)] == "元旦"
    with pytest.raises(NoticeError, match="2026-11-30 is not in 2027"):
        read_notice(write(tmp_path, GOOD_NOTICE.replace("元旦: 2027-01-01..2027-01-03", "元旦: 2026-11-30")))


def test_install_replaces_the_years_file_and_load_skips_broken_ones(tmp_path):
    src = write(tmp_path, GOOD_NOTICE, "notice.yaml")
    folder = tmp_path / "notices"
    (folder).mkdir()
    (folder / "2027.json").write_text("{}", encoding="utf-8")
    (folder / "2028.yaml").write_text("year: 2028\nholidays: {}\n", encoding="utf-8")
    notice, target = install_notice(src, folder)
    assert target == folder / "2027.yaml" and target.read_text(encoding="utf-8") == GOOD_NOTICE
    assert not (folder / "2027.json").exists()
    loaded = load_notices([folder])
    assert set(loaded.notices) == {2027} and loaded.notices[2027].holidays == notice.holidays
    assert any("2028.yaml" in p for p in loaded.problems)
    with pytest.raises(NoticeError):  # a bad notice is never installed
        install_notice(write(tmp_path, "year: 2029\n", "bad.yaml"), folder)
    assert not (folder / "2029.yaml").exists()


# ---- `triage policy check` and `load-notice` ----------------------------------------------------
def cli(tmp_path, *args):
    env = {**os.environ, "TRIAGE_DATA_DIR": str(tmp_path / "var")}
    return subprocess.run([sys.executable, "-m", "triage.cli", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=120)


def test_policy_check_of_notice_files(tmp_path):
    r = cli(tmp_path, "policy", "check", str(write(tmp_path, GOOD_NOTICE)))
    assert r.returncode == 0, r.stderr
    assert "OK — holiday notice for 2027" in r.stdout and "28 days off, 3 adjusted working days" in r.stdout
    bad = write(tmp_path, GOOD_NOTICE.replace("workdays: [2027-01-31, 2027-02-20, 2027-05-08]",
                                              "workdays: [2027-02-06, 2027-02-22]"), "bad.yaml")
    r = cli(tmp_path, "policy", "check", str(bad))
    assert r.returncode == 1
    assert "2 problem(s)" in r.stderr and "2027-02-22 is a Monday" in r.stderr and "2027-02-06 is both" in r.stderr
    r = cli(tmp_path, "policy", "check", str(write(tmp_path, GOOD_NOTICE.replace("端午节: 2027-06-09",
                                                                                 "端午节: 2027-06-10"), "w.yaml")))
    assert r.returncode == 0 and "warning: " in r.stderr and "2027-06-09 (端午节" in r.stderr


def test_policy_check_reports_the_calendar_sources_and_broken_notices(tmp_path):
    r = cli(tmp_path, "policy", "check", str(DEFAULT_POLICY))
    assert r.returncode == 0, r.stderr
    assert "calendar: notices for none" in r.stdout and "chinesecalendar" in r.stdout and "provisional" in r.stdout
    r = cli(tmp_path, "policy", "load-notice", str(write(tmp_path, GOOD_NOTICE, "n.yaml")))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "var" / "notices" / "2027.yaml").exists()
    r = cli(tmp_path, "policy", "check", str(DEFAULT_POLICY))
    assert r.returncode == 0 and "calendar: notices for 2027" in r.stdout
    (tmp_path / "var" / "notices" / "2028.yaml").write_text("year: 2028\n", encoding="utf-8")
    r = cli(tmp_path, "policy", "check", str(DEFAULT_POLICY))
    assert r.returncode == 1 and "skipped: " in r.stderr and "2028.yaml" in r.stderr
    r = cli(tmp_path, "policy", "load-notice", str(write(tmp_path, "year: 2029\n", "bad.yaml")))
    assert r.returncode == 1 and "nothing loaded" in r.stderr
