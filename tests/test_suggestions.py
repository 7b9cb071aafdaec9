"""Suggestions worth confirming in one click: the alternatives every prediction carries, the
policy's choice of showing a head filled in or as choices, the review that refuses to accept
a head offered as choices without a choice, and the online accuracy (the share of
suggestions the reviewers kept) with its watch against the model card."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.main import create_app
from triage.auth.tokens import create as create_token
from triage.case import suggestion_accuracy
from triage.case.models import Case, CaseEvent, CaseReview
from triage.case.service import ChoiceRequired, IntakeRequest, intake_and_suggest, review
from triage.classify.base import Decoder
from triage.classify.labels import HEADS, LABELS
from triage.classify.prediction import Prediction
from triage.notify.models import Notification
from triage.policy.calendar import TZ
from triage.policy.loader import load_policy, parse_policy
from triage.policy.model import PolicyError, SuggestionRules
from triage.suggestion import display_of

POLICY = load_policy()
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=TZ)


class Scripted:
    """A model whose text says its prediction: "line=sales cat=service sev=grumble pcat=0.4
    model=v1" (unsaid heads: after_sales, service, complaint at 0.9)."""

    version = "scripted"

    def predict(self, texts: list[str]) -> list[Prediction]:
        out = []
        for text in texts:
            said = dict(re.findall(r"(\w+)=(\S*)", text))
            labels = {"business_line": said.get("line", "after_sales"), "category": said.get("cat", "service"),
                      "severity": said.get("sev", "complaint")}
            conf = {h: float(said.get("p" + {"business_line": "line", "category": "cat", "severity": "sev"}[h],
                                          0.9)) for h in HEADS}
            alternatives = {h: [{"label": labels[h], "p": conf[h]}] + [
                {"label": c, "p": round((1 - conf[h]) / 2, 4)} for c in LABELS[h] if c != labels[h]][:2]
                for h in HEADS}
            out.append(Prediction(id="0", **labels, flags=[f for f in said.get("flags", "").split(",") if f],
                                  confidence={**conf, "flags": {}}, alternatives=alternatives,
                                  model=said.get("model", self.version)))
        return out


def suggested_case(engine, text: str, at: datetime = T0, policy=POLICY, ticket: str | None = None) -> int:
    with Session(engine) as s:
        case, _ = intake_and_suggest(db_session=s, request=IntakeRequest("phone", text, at, ticket),
                                     model=Scripted(), policy=policy, actor="hotline", now=at)
        s.commit()
        return case.id


# ---- alternatives ---------------------------------------------------------------------------------
def test_alternatives_are_the_three_most_probable_classes_best_first():
    decoder = Decoder({"category": ["a", "b", "c", "d"], "business_line": ["x", "y"]}, {})
    probs = np.array([[0.1, 0.5, 0.1, 0.3], [0.25, 0.25, 0.5, 0.0], [0.0, 0.0, 1.0, 0.0]])
    assert decoder.alternatives("category", probs) == [
        [{"label": "b", "p": 0.5}, {"label": "d", "p": 0.3}, {"label": "a", "p": 0.1}],  # ties: the first class
        [{"label": "c", "p": 0.5}, {"label": "a", "p": 0.25}, {"label": "b", "p": 0.25}],
        [{"label": "c", "p": 1.0}]]  # a class the model gives nothing is no alternative
    assert decoder.alternatives("business_line", np.array([[0.3, 0.7]])) == [
        [{"label": "y", "p": 0.7}, {"label": "x", "p": 0.3}]]


def test_every_prediction_carries_its_alternatives(small_model):
    from triage.cli.common import dump, dump_line

    texts = ["发动机异响，希望尽快处理", "销售顾问态度很差", "高速上刹车突然失灵，我已经报警了", "漏油"]
    compared = 0
    for p in small_model.predict(texts):
        assert set(p.alternatives) == set(HEADS)
        for head in HEADS:
            alternatives = p.alternatives[head]
            assert 1 <= len(alternatives) <= 3
            assert [a["p"] for a in alternatives] == sorted((a["p"] for a in alternatives), reverse=True)
            assert all(a["label"] in small_model.classes[head] for a in alternatives)
            # The suggested label's probability is its confidence, unless the major rule forced it.
            mine = [a["p"] for a in alternatives if a["label"] == getattr(p, head)]
            if mine and not (head == "severity" and p.rules):
                assert mine[0] == p.confidence[head]
                compared += 1
        assert p.to_dict()["alternatives"] == p.alternatives
        assert dump_line(p) == (dump(p.to_dict()) + "\n").encode()  # `predict` writes them as classify does
    assert compared >= 2 * len(texts)  # the suggested label is among its head's alternatives, as a rule


def test_the_api_and_its_openapi_show_the_alternatives(engine, small_model):
    with Session(engine) as s:
        token = create_token(db_session=s, name="care-1", role="customer_care", now=T0)
        s.commit()
    app = create_app(engine, lambda: small_model, POLICY, clock=lambda: T0)
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {token}"}
        r = client.post("/v1/triage", json={"text": "发动机异响", "channel": "phone"}, headers=headers)
        assert r.status_code == 200
        alternatives = r.json()["classification"]["alternatives"]
        assert set(alternatives) == set(HEADS) and all(1 <= len(v) <= 3 for v in alternatives.values())
        schemas = client.get("/openapi.json").json()["components"]["schemas"]
        assert schemas["Classification"]["properties"]["alternatives"] == {"$ref": "#/components/schemas/Alternatives"}
        assert schemas["Alternative"]["required"] == ["label", "p"]
        assert "display" in schemas["SuggestionOut"]["properties"]
        case_id = client.post("/v1/cases", json={"channel": "phone", "text": "发动机异响",
                                                 "received_at": T0.isoformat()}, headers=headers).json()["id"]
        queued = client.get("/v1/queue", headers=headers).json()["cases"][0]
        assert queued["id"] == case_id and set(queued["suggestion"]["alternatives"]) == set(HEADS)
        assert set(queued["suggestion"]["display"].values()) <= {"prefilled", "choices"}


def test_a_suggestion_stored_before_alternatives_is_shown_filled_in():
    from triage.suggestion import as_shown

    old = {"model": "m", "labels": {"business_line": "sales", "category": "service", "severity": "grumble"}}
    shown = as_shown(old)
    assert shown["alternatives"] == {h: [] for h in HEADS} and shown["display"] == {h: "prefilled" for h in HEADS}
    assert as_shown(None) is None


# ---- the policy: filled in or offered as choices -----------------------------------------------------
def test_the_policy_chooses_per_head_and_class():
    rules = POLICY.suggestions
    assert rules.prefill_threshold("severity", "grumble") == 0.6 and rules.prefill_threshold("severity", "major") == 0.5
    labels = {"business_line": "after_sales", "category": "service", "severity": "grumble", "flags": []}
    assert display_of(rules, labels, {"business_line": 0.9, "category": 0.49, "severity": 0.55}) == {
        "business_line": "prefilled", "category": "choices", "severity": "choices"}
    assert display_of(rules, {**labels, "severity": "complaint"}, {"business_line": 0.5, "category": 0.5,
                                                                   "severity": 0.55})["severity"] == "prefilled"
    # A major severity the rule forced (a safety flag) is the rule's: filled in whatever its probability.
    forced = {**labels, "severity": "major", "flags": ["safety"]}
    assert display_of(rules, forced, {"business_line": 0.9, "category": 0.9, "severity": 0.15})["severity"] == \
        "prefilled"
    assert display_of(SuggestionRules(), labels, {h: 0.0 for h in HEADS}) == {h: "prefilled" for h in HEADS}


def test_policy_check_validates_the_suggestions_section():
    import yaml

    from triage.policy.loader import DEFAULT_POLICY

    raw = yaml.safe_load(DEFAULT_POLICY.read_text(encoding="utf-8"))
    raw["suggestions"] = {"prefill_at": {"colour": {"default": 0.5}, "category": {"nonsense": 0.5, "service": 1.5}},
                          "online_accuracy": {"margin": -1, "min_reviews": 0, "notify": ["nobody"], "often": 1},
                          "shown": True}
    with pytest.raises(PolicyError) as caught:
        parse_policy(raw)
    problems = "\n".join(caught.value.problems)
    for expected in ("prefill_at.colour: unknown head", "category.nonsense: unknown class",
                     "category.service: 1.5 must be a confidence", "margin: -1", "min_reviews: 0",
                     "unknown key 'notify'", "notifications.recipients", "unknown key 'often'",
                     "unknown key 'shown'"):
        assert expected in problems
    del raw["suggestions"]
    assert parse_policy(raw).suggestions == SuggestionRules()  # without the section: always filled in


def test_policy_check_says_how_suggestions_are_shown(capsys):
    from triage.cli.policy import cmd_policy_check
    from triage.policy.loader import DEFAULT_POLICY

    class Args:
        file = str(DEFAULT_POLICY)

    assert cmd_policy_check(Args()) == 0
    out = capsys.readouterr().out
    assert "severity default 0.5, grumble 0.6" in out and "customer_director" in out


# ---- the review ------------------------------------------------------------------------------------
def test_accepting_a_head_offered_as_choices_is_refused_naming_it(engine):
    case_id = suggested_case(engine, "cat=repair_quality pcat=0.4 sev=grumble psev=0.55")
    with Session(engine) as s:
        case = s.get(Case, case_id)
        assert case.suggestion["display"] == {"business_line": "prefilled", "category": "choices",
                                              "severity": "choices"}
        assert case.suggestion["alternatives"]["category"][0]["label"] == "repair_quality"
        with pytest.raises(ChoiceRequired, match="category, severity were offered as choices") as caught:
            review(db_session=s, case_id=case_id, reviewer="care", policy=POLICY, now=T0)
        assert caught.value.status == 422
        with pytest.raises(ChoiceRequired, match="severity"):  # one chosen, one not
            review(db_session=s, case_id=case_id, reviewer="care", policy=POLICY, now=T0,
                   corrections={"category": "repair_quality"})
        s.rollback()
    with Session(engine) as s:
        case = review(db_session=s, case_id=case_id, reviewer="care", policy=POLICY, now=T0,
                      corrections={"category": "repair_quality", "severity": "complaint"})
        reviewed = next(e for e in case.events if e.kind == "reviewed")
        assert reviewed.data["suggested"] == {"business_line": "after_sales", "category": "repair_quality",
                                              "severity": "grumble"}
        assert reviewed.data["kept"] == {"business_line": True, "category": True, "severity": False}
        assert case.state == "confirmed" and case.labels["severity"] == "complaint"


def test_the_api_answers_a_422_problem_naming_the_head(engine):
    case_id = suggested_case(engine, "cat=repair_quality pcat=0.4")
    with Session(engine) as s:
        token = create_token(db_session=s, name="care-1", role="customer_care", now=T0)
        s.commit()
        version = s.get(Case, case_id).version
    with TestClient(create_app(engine, Scripted, POLICY, clock=lambda: T0)) as client:
        headers = {"Authorization": f"Bearer {token}"}
        r = client.post(f"/v1/cases/{case_id}/review", json={"version": version}, headers=headers)
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
        assert "category was offered as choices" in r.json()["detail"]
        r = client.post(f"/v1/cases/{case_id}/review",
                        json={"version": version, "corrections": {"category": "service"}}, headers=headers)
        assert r.status_code == 200 and r.json()["labels"]["category"] == "service"


# ---- online accuracy ---------------------------------------------------------------------------------
def reviewed(engine, text: str, at: datetime, corrections: dict[str, Any] | None = None) -> int:
    case_id = suggested_case(engine, text, at)
    with Session(engine) as s:
        review(db_session=s, case_id=case_id, reviewer="care", policy=POLICY, now=at + timedelta(minutes=5),
               corrections=corrections)
        s.commit()
    return case_id


CARDS = {"v1": {"evaluation": {"real_test": {h: {"accuracy": a} for h, a in
                                             (("business_line", 0.96), ("category", 0.90), ("severity", 0.90))}}}}


def test_online_accuracy_per_head_class_and_model_by_month(engine):
    nov = datetime(2026, 11, 10, 10, 0, tzinfo=TZ)
    for _ in range(3):
        reviewed(engine, "cat=service model=v1", nov)
    reviewed(engine, "cat=service model=v1", nov, {"category": "repair_quality"})
    reviewed(engine, "cat=product_quality model=v1", nov, {"severity": "major"})
    reviewed(engine, "cat=service model=v2", nov, {"business_line": "sales"})
    # Reviewed at 00:30 on 1 December in Shanghai (still November in UTC): December's.
    reviewed(engine, "cat=service model=v1", datetime(2026, 12, 1, 0, 25, tzinfo=TZ), {"category": "other"})
    with Session(engine) as s:
        figures = suggestion_accuracy.month_report(db_session=s, month="2026-11", rules=POLICY.suggestions,
                                                   card_of=CARDS.get)
    assert figures["reviews"] == 6
    category = figures["heads"]["category"]
    assert (category["reviews"], category["kept"], category["share"]) == (6, 5, round(5 / 6, 4))
    assert category["classes"] == {"service": {"reviews": 5, "kept": 4, "share": 0.8},
                                   "product_quality": {"reviews": 1, "kept": 1, "share": 1.0}}
    assert figures["heads"]["severity"]["kept"] == 5 and figures["heads"]["business_line"]["kept"] == 5
    v1, v2 = figures["models"]
    assert (v1["model"], v1["reviews"], v2["model"], v2["reviews"]) == ("v1", 5, "v2", 1)
    assert v1["heads"]["category"]["share"] == 0.8 and v1["heads"]["category"]["held_out"] == 0.90
    assert v2["heads"]["business_line"] == {"reviews": 1, "kept": 0, "share": 0.0, "held_out": None,
                                            "classes": {"after_sales": {"reviews": 1, "kept": 0, "share": 0.0}}}
    with Session(engine) as s:
        december = suggestion_accuracy.month_report(db_session=s, month="2026-12", rules=POLICY.suggestions,
                                                    card_of=CARDS.get)
        trend = suggestion_accuracy.accuracy_trend(db_session=s, label="2026-12")
    assert december["reviews"] == 1 and december["heads"]["category"]["share"] == 0.0
    assert [(m["month"], m["reviews"], m["heads"]["category"]["share"]) for m in trend[-2:]] == [
        ("2026-11", 6, round(5 / 6, 4)), ("2026-12", 1, 0.0)]
    assert trend[0]["heads"]["category"]["share"] is None


def test_online_accuracy_of_a_month_past_the_calendar_packages_last_year(engine):
    """Months are local calendar months, not working days: 2031 counts as 2026 does."""
    at = datetime(2031, 3, 31, 23, 50, tzinfo=TZ)  # reviewed at 23:55 Shanghai time: still March
    reviewed(engine, "cat=service model=v1", at)
    reviewed(engine, "cat=service model=v1", at, {"category": "other"})
    with Session(engine) as s:
        march = suggestion_accuracy.month_report(db_session=s, month="2031-03", rules=POLICY.suggestions,
                                                 card_of=CARDS.get)
        trend = suggestion_accuracy.accuracy_trend(db_session=s, label="2031-04")
    assert march["reviews"] == 2 and march["heads"]["category"]["share"] == 0.5
    assert [(m["month"], m["reviews"]) for m in trend[-2:]] == [("2031-03", 2), ("2031-04", 0)]


def test_reviewers_confirming_at_once_each_count_once(engine):
    """Four reviewers confirm twelve cases at the same time, each in their own session (on the
    SQLite file, one writer at a time): every review is counted, none twice."""
    from concurrent.futures import ThreadPoolExecutor

    ids = [suggested_case(engine, f"cat=service model=v1 #{i}", T0) for i in range(12)]

    def confirm(mine: list[int]) -> None:
        for n, case_id in enumerate(mine):
            with Session(engine) as s:
                review(db_session=s, case_id=case_id, reviewer="care", policy=POLICY, now=T0 + timedelta(minutes=5),
                       corrections={"category": "other"} if n == 0 else None)
                s.commit()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(confirm, [ids[k::4] for k in range(4)]))
    with Session(engine) as s:
        assert sorted(s.scalars(select(CaseReview.case_id))) == sorted(ids)
        figures = suggestion_accuracy.month_report(db_session=s, month="2026-11", rules=POLICY.suggestions,
                                                   card_of=CARDS.get)
    assert (figures["reviews"], figures["heads"]["category"]["kept"]) == (12, 8)


def test_the_migration_fills_the_reviews_from_the_review_events(engine):
    """0010 fills case_reviews from the events; a review logged before `kept` and `suggested`
    were recorded counts a head as kept when it has no correction, its suggested class from
    the case's suggestion."""
    from alembic.script import ScriptDirectory

    from triage.db import alembic_config

    from .test_migrations import downgrade, upgrade

    current = reviewed(engine, "cat=repair_quality model=v2", T0, {"severity": "major"})
    kept = reviewed(engine, "cat=service model=v1", T0)
    changed = reviewed(engine, "cat=service model=v1", T0, {"category": "other"})
    with Session(engine) as s:
        for case_id in (kept, changed):
            event = next(e for e in s.get(Case, case_id).events if e.kind == "reviewed")
            event.data = {k: v for k, v in event.data.items() if k not in ("kept", "suggested", "model")}
        s.commit()
        written = _reviews(s)
    before = ScriptDirectory.from_config(alembic_config(str(engine.url))).get_revision("0010").down_revision
    downgrade(engine, before)
    upgrade(engine, "head")
    with Session(engine) as s:
        assert _reviews(s) == written  # the same rows the service wrote, from the events alone
        assert written[current][1:] == ("v2", "after_sales", "repair_quality", "complaint", True, True, False)
        figures = suggestion_accuracy.month_report(db_session=s, month="2026-11", rules=POLICY.suggestions,
                                                   card_of=CARDS.get)
    assert figures["heads"]["category"]["classes"] == {
        "service": {"reviews": 2, "kept": 1, "share": 0.5}, "repair_quality": {"reviews": 1, "kept": 1, "share": 1.0}}
    assert figures["heads"]["severity"]["kept"] == 2
    assert [(m["model"], m["reviews"]) for m in figures["models"]] == [("v1", 2), ("v2", 1)]


def _reviews(s: Session) -> dict[int, tuple[Any, ...]]:
    columns = ["at", "model", *(f"suggested_{h}" for h in HEADS), *(f"kept_{h}" for h in HEADS)]
    return {r.case_id: tuple(getattr(r, c) for c in columns) for r in s.scalars(select(CaseReview))}


def test_a_drop_below_the_model_card_by_more_than_the_margin_is_told_once_per_key(engine, caplog):
    rules = replace(POLICY.suggestions, accuracy_min_reviews=10, accuracy_margin=0.05)
    for i in range(10):  # category kept 8 of 10 (0.80 against 0.90: a drop); severity 9 of 10 (0.90: none)
        corrections = {"category": "other"} if i < 2 else {"severity": "major"} if i == 2 else None
        reviewed(engine, "cat=service model=v1", T0, corrections)
    with Session(engine) as s:
        drops = suggestion_accuracy.accuracy_drops(s, month="2026-11", rules=rules, card_of=CARDS.get)
        assert [(d.model, d.head, d.kept_share, d.held_out, d.reviews) for d in drops] == [
            ("v1", "category", 0.8, 0.9, 10)]
        assert drops[0].key == "suggestion_accuracy_drop:2026-11:v1:category"
        # Within the margin, or with fewer reviews than the policy asks for: nothing to tell.
        assert suggestion_accuracy.accuracy_drops(s, month="2026-11", rules=replace(rules, accuracy_margin=0.15),
                                                  card_of=CARDS.get) == []
        assert suggestion_accuracy.accuracy_drops(s, month="2026-11", rules=replace(rules, accuracy_min_reviews=11),
                                                  card_of=CARDS.get) == []
        assert suggestion_accuracy.accuracy_drops(s, month="2026-11", rules=rules, card_of=lambda v: None) == []
        policy = replace(POLICY, suggestions=rules)
        with caplog.at_level(logging.WARNING, logger="triage.suggestions"):
            sent = suggestion_accuracy.check_accuracy(s, policy=policy, now=T0 + timedelta(days=1), card_of=CARDS.get)
            s.commit()
            # The watch runs every hour: the same drop again writes nothing more.
            again = suggestion_accuracy.check_accuracy(s, policy=policy, now=T0 + timedelta(days=1, hours=1),
                                                       card_of=CARDS.get)
            s.commit()
    told = policy.notifications.roles_for("suggestion_accuracy_drop")
    assert told  # the default policy tells someone
    assert [m["key"] for m in sent] == ["suggestion_accuracy_drop:2026-11:v1:category"]
    assert [m["written"] for m in again] == [0]
    assert "80.0%" in sent[0]["body"] and "90.0%" in sent[0]["body"]
    assert caplog.text.count("suggestion_accuracy_drop: ") == 1
    with Session(engine) as s:
        messages = s.query(Notification).filter_by(event="suggestion_accuracy_drop").all()
        assert {m.role for m in messages} == set(told) and len(messages) == sent[0]["written"]
        assert all(m.case_id is None and "80.0%" in m.body for m in messages)
        # Told outside any case: no case's log holds it.
        assert not [e for e in s.query(CaseEvent) if "accuracy" in e.kind]


def test_held_out_accuracy_is_read_from_the_served_model_card():
    from triage.classify import registry

    card = registry.card()
    figures = suggestion_accuracy.held_out_accuracy(card)
    assert set(figures) == set(HEADS)
    assert figures["category"] == card["evaluation"]["real_test"]["category"]["accuracy"]
    assert suggestion_accuracy.held_out_accuracy(None) == {} and suggestion_accuracy.held_out_accuracy({}) == {}


def test_the_report_route_and_the_dashboard_with_its_csv(engine):
    from triage.auth.service import create_account

    from .console_seed import PASSWORD

    for i in range(3):
        reviewed(engine, "cat=service", T0, {"category": "other"} if i == 0 else None)
    with Session(engine) as s:
        token = create_token(db_session=s, name="manager-1", role="manager", now=T0)
        handler = create_token(db_session=s, name="handler-1", role="handler", now=T0)
        create_account(db_session=s, username="manager", display_name="王经理", role="manager", password=PASSWORD,
                       now=T0)
        s.commit()
    with TestClient(create_app(engine, Scripted, POLICY, clock=lambda: T0), base_url="http://console.test") as client:
        r = client.get("/v1/reports/suggestions?month=2026-11", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["reviews"] == 3 and body["heads"]["category"]["share"] == round(2 / 3, 4)
        assert body["models"][0]["model"] == "scripted" and body["margin"] == 0.05 and body["drops"] == []
        for bad in ("2026-13", "2026-1", "nov"):
            r = client.get(f"/v1/reports/suggestions?month={bad}", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
        assert client.get("/v1/reports/suggestions", headers={"Authorization": f"Bearer {token}"}).status_code == 422
        r = client.get("/v1/reports/suggestions?month=2026-11", headers={"Authorization": f"Bearer {handler}"})
        assert r.status_code == 403
        client.post("/login", data={"username": "manager", "password": PASSWORD, "next": "/dashboard"})
        page = client.get("/dashboard?period=2026-11").text
        assert 'id="suggestion-accuracy"' in page and "系统建议的保留率" in page
        assert '<b id="accuracy-reviews">3</b>' in page and "保留 2/3" in page
        rows = client.get("/dashboard.csv?period=2026-11").text.splitlines()
        assert "suggestions,scripted/category,kept_share,0.6667" in rows
        assert "suggestions,scripted/category=service,reviews,3" in rows
        assert "suggestions_trend,2026-11,category,0.6667" in rows


def test_the_worker_loop_looks_at_the_accuracy_at_most_once_an_hour(engine, monkeypatch):
    from types import SimpleNamespace

    from triage.case import worker

    calls = []
    monkeypatch.setattr(worker, "check_accuracy", lambda session, **kw: calls.append(kw["now"]))
    monkeypatch.setattr(worker, "run_sla_pass", lambda **kw: [])
    ticks = iter([0.0, 10.0, 3599.0, 3600.0, 3601.0, 9000.0, 9001.0])
    monkeypatch.setattr(worker, "time", SimpleNamespace(monotonic=lambda: next(ticks)))
    passes = []

    class Stop:
        def wait(self, _: float) -> bool:
            passes.append(1)
            return len(passes) >= 7

    worker.sla_loop(engine, POLICY, 60, stop=Stop())
    assert len(passes) == 7 and len(calls) == 3  # at 0, 3600 and 9000 seconds


def test_json_of_a_drop_names_what_the_managers_need():
    drop = suggestion_accuracy.Drop("2026-11", "v1", "category", 0.8, 0.9, 0.05, 40)
    text = drop.text()
    assert "2026-11" in text and "category" in text and "v1" in text and "40 reviews" in text
    assert json.loads(json.dumps(drop.__dict__))["head"] == "category"


def test_a_severity_the_major_rule_changed_was_not_kept(engine):
    """The reviewer adds a safety flag: the severity becomes major by the rule, with no correction
    of its own; the suggested severity was not kept all the same."""
    reviewed(engine, "sev=complaint model=v1", T0, {"flags": ["safety"]})
    with Session(engine) as s:
        figures = suggestion_accuracy.month_report(db_session=s, month="2026-11", rules=POLICY.suggestions,
                                                   card_of=CARDS.get)
    assert figures["heads"]["severity"]["classes"] == {"complaint": {"reviews": 1, "kept": 0, "share": 0.0}}
    assert figures["heads"]["category"]["kept"] == 1
