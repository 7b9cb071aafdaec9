"""The case service on a real SQLite file: intake (idempotent per channel ticket), the
suggestion, a person's confirmation or correction, the lifecycle, optimistic locking,
the review queue and the corrections exported for training."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from triage.case.models import Case, CaseEvent, CaseReview
from triage.case.service import (
    CaseError,
    Conflict,
    IntakeRequest,
    InvalidTransition,
    NotAHandler,
    NotFound,
    act,
    assign,
    feedback_rows,
    intake,
    intake_and_suggest,
    review,
    review_queue,
)
from triage.policy.calendar import TZ
from triage.policy.loader import load_policy

from .record_data import RESOLVE, SATISFIED, UNSATISFIED, approve

POLICY = load_policy()
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=TZ)


def new_case(engine, small_model, text="一汽大众速腾变速箱顿挫，希望尽快处理", channel="oem_ticket", external_id="DN-1",
             at=T0, **kw):
    with Session(engine) as s:
        case, created = intake_and_suggest(db_session=s, request=IntakeRequest(channel, text, at, external_id, **kw),
                                           model=small_model, policy=POLICY, actor="care-1", now=at)
        s.commit()
        return case.id, created


def test_intake_numbers_cases_by_month_and_is_idempotent_per_ticket(engine, small_model):
    first, created = new_case(engine, small_model)
    again, created_again = new_case(engine, small_model)
    assert created and not created_again and first == again
    other, _ = new_case(engine, small_model, external_id="DN-2")
    phone, _ = new_case(engine, small_model, channel="phone", external_id="DN-1")  # same id, other channel
    december, _ = new_case(engine, small_model, external_id="DN-3", at=datetime(2026, 12, 1, 9, tzinfo=TZ))
    with Session(engine) as s:
        numbers = {s.get(Case, i).number for i in (first, other, phone, december)}
    assert numbers == {"2026-11-000001", "2026-11-000002", "2026-11-000003", "2026-12-000001"}


@pytest.mark.parametrize(("text", "channel", "message"), [
    ("   ", "phone", "empty"), ("x\x00y", "phone", "binary"), ("刹车\ud800失灵", "phone", "surrogate"),
    ("发动机异响", "pigeon", "unknown channel"),
])
def test_bad_intake_is_refused_and_writes_nothing(engine, text, channel, message):
    with Session(engine) as s:
        with pytest.raises(CaseError, match=message):
            intake(db_session=s, request=IntakeRequest(channel, text, T0), policy=POLICY, actor="care-1")
        s.rollback()
        assert s.scalar(select(Case)) is None and s.scalar(select(CaseEvent)) is None


def test_accept_then_full_lifecycle_with_unsatisfied_callback(engine, small_model):
    case_id, _ = new_case(engine, small_model)
    with Session(engine) as s:
        case = review(db_session=s, case_id=case_id, reviewer="care-1", policy=POLICY, now=T0 + timedelta(minutes=5))
        assert case.state == "confirmed" and case.responsible_role == case.suggestion["routing"]["responsible"]
        for action, kw in [("contact", {}), ("resolve", {**RESOLVE, "form": "returned"}), ("approve", {}),
                           ("callback", UNSATISFIED), ("resolve", {}), ("approve", {}), ("callback", SATISFIED),
                           ("close", {})]:
            if action == "approve":
                approve(s, case_id, POLICY, T0 + timedelta(hours=1))
                continue
            act(db_session=s, case_id=case_id, action=action, actor="handler-1", policy=POLICY,
                now=T0 + timedelta(hours=1), data=kw)
        s.commit()
        kinds = [e.kind for e in s.get(Case, case_id).events]
    assert kinds == ["received", "suggested", "reviewed", "dispatched", "first_contact", "resolved", "opinion_approved",
                     "reopened", "resolved", "opinion_approved", "verified", "closed"]


def test_correction_is_kept_from_to_and_exported_for_training(engine, small_model):
    case_id, _ = new_case(engine, small_model, text="4S店销售顾问承诺送保养没兑现")
    with Session(engine) as s:
        suggested = s.get(Case, case_id).suggestion["labels"]
        new_category = "service" if suggested["category"] != "service" else "other"
        case = review(db_session=s, case_id=case_id, reviewer="care-2", policy=POLICY, now=T0,
                      corrections={"business_line": "销售", "category": new_category, "flags": ["government"]})
        s.commit()
        reviewed = next(e for e in case.events if e.kind == "reviewed")
        assert reviewed.data["corrections"]["category"] == {"from": suggested["category"], "to": new_category}
        assert case.labels["severity"] == "major"  # government makes it major (rules.md §2)
        rows = feedback_rows(db_session=s)
    assert rows == [{"id": case.number, "text": "4S店销售顾问承诺送保养没兑现", "channel": "oem_ticket",
                     "business_line": "sales", "category": new_category, "severity": "major",
                     "flags": "government"}]


def test_bad_corrections_are_refused(engine, small_model):
    case_id, _ = new_case(engine, small_model)
    with Session(engine) as s:
        with pytest.raises(CaseError, match="unknown category"):
            review(db_session=s, case_id=case_id, reviewer="care-1", policy=POLICY, now=T0,
                   corrections={"category": "weather"})
        with pytest.raises(CaseError, match="unknown role"):
            review(db_session=s, case_id=case_id, reviewer="care-1", policy=POLICY, now=T0,
                   corrections={"responsible_role": "janitor"})
        assert s.get(Case, case_id).state == "suggested"


def test_two_reviewers_at_once_one_wins(engine, small_model):
    case_id, _ = new_case(engine, small_model)
    with Session(engine) as a, Session(engine) as b:
        version = a.get(Case, case_id).version
        b.get(Case, case_id)
        review(db_session=a, case_id=case_id, reviewer="care-1", policy=POLICY, now=T0, expected_version=version)
        a.commit()
        with pytest.raises((Conflict, InvalidTransition)):
            review(db_session=b, case_id=case_id, reviewer="care-2", policy=POLICY, now=T0, expected_version=version)
    with Session(engine) as s:
        assert [e.actor for e in s.get(Case, case_id).events if e.kind == "reviewed"] == ["care-1"]
        assert s.scalars(select(CaseReview.case_id)).all() == [case_id]


def test_a_second_reviewer_without_a_version_gets_a_conflict_and_writes_no_review(engine, small_model):
    """B read the case before A confirmed it and sends no version: B's review is refused and
    writes nothing, its review row included (nothing half-written)."""
    case_id, _ = new_case(engine, small_model)
    with Session(engine) as a, Session(engine) as b:
        b.get(Case, case_id)
        review(db_session=a, case_id=case_id, reviewer="care-1", policy=POLICY, now=T0)
        a.commit()
        with pytest.raises((Conflict, InvalidTransition)):
            review(db_session=b, case_id=case_id, reviewer="care-2", policy=POLICY, now=T0,
                   corrections={"category": "other"})
        b.rollback()
    with Session(engine) as s:
        assert [(r.case_id, r.kept_category) for r in s.scalars(select(CaseReview))] == [(case_id, True)]


def test_stale_write_from_a_second_session_is_a_conflict(engine, small_model):
    case_id, _ = new_case(engine, small_model)
    with Session(engine) as a, Session(engine) as b:
        review(db_session=a, case_id=case_id, reviewer="care-1", policy=POLICY, now=T0)
        a.commit()
        stale = b.get(Case, case_id)
        b.expire_all()
        with pytest.raises(Conflict):
            act(db_session=b, case_id=case_id, action="contact", actor="handler", policy=POLICY, now=T0,
                expected_version=stale.version - 1)


def test_invalid_transitions_and_unknown_cases(engine, small_model):
    case_id, _ = new_case(engine, small_model)
    with Session(engine) as s:
        with pytest.raises(InvalidTransition, match="cannot become resolved"):
            # not confirmed yet: nothing is dispatched unreviewed
            act(db_session=s, case_id=case_id, action="resolve", actor="handler", policy=POLICY, now=T0)
        with pytest.raises(NotFound):
            act(db_session=s, case_id=9999, action="resolve", actor="handler", policy=POLICY, now=T0)
        with pytest.raises(CaseError, match="unknown action"):
            act(db_session=s, case_id=case_id, action="teleport", actor="handler", policy=POLICY, now=T0)


def test_a_case_goes_only_to_a_handler_the_service_knows(engine, small_model):
    from triage.auth.service import create_account
    from triage.auth.tokens import create as create_token

    case_id, _ = new_case(engine, small_model)
    with Session(engine) as s:
        create_account(db_session=s, username="zhang", display_name="张师傅", role="handler", password="p" * 8, now=T0)
        create_account(db_session=s, username="wang", display_name="王经理", role="manager", password="p" * 8, now=T0)
        create_token(db_session=s, name="hotline-handler", role="handler", now=T0)
        review(db_session=s, case_id=case_id, reviewer="care-1", policy=POLICY, now=T0)
        for nobody in ("stranger", "wang", " "):  # unknown, not a handler, empty
            with pytest.raises(NotAHandler):
                assign(db_session=s, case_id=case_id, assignee=nobody, actor="care-1", now=T0)
        assert s.get(Case, case_id).assignee is None
        for handler in ("zhang", "hotline-handler"):  # a console account, an API token's name
            assert assign(db_session=s, case_id=case_id, assignee=handler, actor="care-1", now=T0).assignee == handler
        s.commit()
        assigned = [e.data["to"] for e in s.get(Case, case_id).events if e.kind == "assigned"]
    assert assigned == ["zhang", "hotline-handler"]


def test_review_queue_puts_major_safety_and_media_first(engine, small_model):
    calm, _ = new_case(engine, small_model, text="车门有点异响希望处理", external_id="A")
    urgent, _ = new_case(engine, small_model, text="行驶中刹车失灵，我要找记者曝光", external_id="B",
                         at=T0 + timedelta(hours=1))
    with Session(engine) as s:
        queue = [c.id for c in review_queue(db_session=s).cases]
    assert queue.index(urgent) < queue.index(calm)


def test_export_feedback_then_train_with_it(engine, small_model, tmp_path):
    """The corrections a reviewer made come out of `triage export-feedback` in the
    labelled-data format that `triage train --with-feedback` reads."""
    import csv
    import subprocess
    import sys
    from pathlib import Path

    from training.dataset import labelled_record

    case_id, _ = new_case(engine, small_model, text="提车时被收了三千元金融服务费", external_id="F-1")
    with Session(engine) as s:
        review(db_session=s, case_id=case_id, reviewer="care-1", policy=POLICY, now=T0,
               corrections={"business_line": "sales", "category": "other"})
        s.commit()
    out = tmp_path / "feedback.csv"
    root = Path(__file__).resolve().parent.parent
    r = subprocess.run([sys.executable, "-m", "triage.cli", "export-feedback", "--db", str(engine.url), "-o", str(out)],
                       capture_output=True, text=True, cwd=root, timeout=120)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == 1 and rows[0]["business_line"] == "sales" and rows[0]["category"] == "other"
    example = labelled_record(rows[0], "feedback", "train")
    assert example.gold["category"] == ("other",) and example.flags["media"] is False
