"""Online accuracy: the share of the model's suggestions that the reviewers kept, per head, per
suggested class and per model version, for a month (or any period); and the watch on it that
tells the managers when a head falls below its held-out accuracy on the model card.

Read from `case_reviews` (one row a review: the model version, the suggested label and whether
it was kept, per head; migration 0010 filled it from the review events logged before it),
aggregated by the database over its index by time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Integer, case, cast, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from triage.case.models import CaseReview
from triage.case.reports import months_ending, period_bounds
from triage.classify import registry
from triage.classify.labels import HEADS
from triage.notify import service as notify
from triage.policy.calendar import TZ
from triage.policy.model import Policy, SuggestionRules

log = logging.getLogger("triage.suggestions")

DROP_EVENT = "suggestion_accuracy_drop"
CardOf = Callable[[str], dict[str, Any] | None]
"""A model version's card, or None for a version the registry no longer holds."""


def registry_card(version: str) -> dict[str, Any] | None:
    """The card of `version` in the registry in use, if it is there."""
    try:
        return registry.card(version)
    except (registry.RegistryError, OSError, ValueError):
        return None


# ---- the figures ----------------------------------------------------------------------------------
def _kept(head: str) -> ColumnElement[Any]:
    """1 when the reviewer kept the head's suggested label, else 0."""
    return cast(getattr(CaseReview, f"kept_{head}"), Integer)


def _suggested(head: str) -> InstrumentedAttribute[str | None]:
    return getattr(CaseReview, f"suggested_{head}")


def _between(start: datetime, end: datetime) -> tuple[ColumnElement[bool], ...]:
    return CaseReview.at >= start, CaseReview.at < end


def online_accuracy(*, db_session: Session, start: datetime, end: datetime, label: str,
                    card_of: CardOf = registry_card) -> dict[str, Any]:
    """The period's reviews: per head the share kept overall and per suggested class; per model
    version the same, with the held-out accuracy of each head on the version's card (None
    when the card is gone or gives none). One GROUP BY over the period's range of the index
    of reviews."""
    suggested = [_suggested(h) for h in HEADS]
    rows = db_session.execute(select(CaseReview.model, *suggested, func.count(), *(func.sum(_kept(h)) for h in HEADS))
                              .where(*_between(start, end)).group_by(CaseReview.model, *suggested)).all()
    overall = _empty_heads()
    models: dict[str, dict[str, Any]] = {}
    for version, *rest in sorted(rows, key=lambda r: tuple(str(v) for v in r[:4])):
        labels, n, kept_n = rest[:3], int(rest[3]), [int(k or 0) for k in rest[4:]]
        entry = models.setdefault(version, {"model": version, "reviews": 0, "heads": _empty_heads()})
        entry["reviews"] += n
        for head, suggested_label, k in zip(HEADS, labels, kept_n, strict=True):
            for figures in (overall[head], entry["heads"][head]):
                _add(figures, n, k)
                _add(figures["classes"].setdefault(suggested_label or "unknown", _tally()), n, k)
    held_out_of = {version: held_out_accuracy(card_of(version) if version else None) for version in models}
    for version, entry in models.items():
        for head, figures in entry["heads"].items():
            figures["held_out"] = held_out_of[version].get(head)
    for figures in [*overall.values(), *(f for e in models.values() for f in e["heads"].values())]:
        _finish(figures)
    return {"period": label, "from": start.isoformat(), "to": end.isoformat(),
            "reviews": sum(e["reviews"] for e in models.values()), "heads": overall,
            "models": sorted(models.values(), key=lambda e: -e["reviews"])}


def _tally() -> dict[str, Any]:
    return {"reviews": 0, "kept": 0, "share": None}


def _empty_heads() -> dict[str, dict[str, Any]]:
    return {h: {**_tally(), "classes": {}} for h in HEADS}


def _add(figures: dict[str, Any], n: int, kept: int) -> None:
    figures["reviews"] += n
    figures["kept"] += kept


def _finish(figures: dict[str, Any]) -> None:
    for f in [figures, *figures.get("classes", {}).values()]:
        f["share"] = round(f["kept"] / f["reviews"], 4) if f["reviews"] else None
    if "classes" in figures:  # most reviewed first
        figures["classes"] = dict(sorted(figures["classes"].items(), key=lambda kv: (-kv[1]["reviews"], kv[0])))


def held_out_accuracy(card: dict[str, Any] | None) -> dict[str, float]:
    """Per head, the accuracy on the held-out real complaints that the model card reports
    (evaluation.real_test.<head>.accuracy): the figure the reviewers' kept share is held to."""
    test = ((card or {}).get("evaluation") or {}).get("real_test") or {}
    return {h: float(test[h]["accuracy"]) for h in HEADS
            if isinstance(test.get(h), dict) and isinstance(test[h].get("accuracy"), (int, float))}


def accuracy_trend(*, db_session: Session, label: str, count: int = 6) -> list[dict[str, Any]]:
    """Per month up to the period's end, each head's share kept (all model versions)."""
    months = months_ending(label, count)
    bounds = [period_bounds(month=m)[:2] for m in months]
    month = case(*((CaseReview.at < end, n) for n, (_, end) in enumerate(bounds))).label("month")
    inner = select(month, *(_kept(h).label(f"k_{h}") for h in HEADS)).where(
        *_between(bounds[0][0], bounds[-1][1])).subquery()
    found = {r[0]: r for r in db_session.execute(
        select(inner.c.month, func.count(), *(func.sum(inner.c[f"k_{h}"]) for h in HEADS)).group_by(inner.c.month))}
    out = []
    for n, m in enumerate(months):
        reviews, *kept = found[n][1:] if n in found else (0, *(0 for _ in HEADS))
        heads = {h: {"reviews": int(reviews), "kept": int(k or 0)} for h, k in zip(HEADS, kept, strict=True)}
        for figures in heads.values():
            _finish(figures)
        out.append({"month": m, "reviews": int(reviews), "heads": heads})
    return out


# ---- the watch ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Drop:
    """A head of a model version whose kept share in the month fell below its held-out accuracy
    by more than the policy's margin."""

    month: str
    model: str
    head: str
    kept_share: float
    held_out: float
    margin: float
    reviews: int

    @property
    def key(self) -> str:
        """One message per month, model version and head, however often the watch runs."""
        return f"{DROP_EVENT}:{self.month}:{self.model}:{self.head}"

    def text(self) -> str:
        return (f"{self.month}: the reviewers kept {self.kept_share:.1%} of the {self.head} suggestions of model "
                f"{self.model} ({self.reviews} reviews), {self.held_out - self.kept_share:.1%} below its held-out "
                f"accuracy of {self.held_out:.1%} on the model card (margin {self.margin:.0%})")


def drops_in(figures: dict[str, Any], rules: SuggestionRules) -> list[Drop]:
    """The drops of an online_accuracy result under the policy's margin and least reviews."""
    out = []
    for entry in figures["models"]:
        for head, f in entry["heads"].items():
            if f["held_out"] is None or f["reviews"] < rules.accuracy_min_reviews or f["share"] is None:
                continue
            if f["held_out"] - f["share"] > rules.accuracy_margin:
                out.append(Drop(figures["period"], entry["model"], head, f["share"], f["held_out"],
                                rules.accuracy_margin, f["reviews"]))
    return out


def accuracy_drops(db_session: Session, *, month: str, rules: SuggestionRules,
                   card_of: CardOf = registry_card) -> list[Drop]:
    """The heads whose kept share in `month` (YYYY-MM) fell below the model card by more than
    the policy's margin. Raises reports.PeriodError for a month that is not YYYY-MM."""
    start, end, label = period_bounds(month=month)
    return drops_in(online_accuracy(db_session=db_session, start=start, end=end, label=label, card_of=card_of), rules)


def month_report(*, db_session: Session, month: str, rules: SuggestionRules,
                 card_of: CardOf = registry_card) -> dict[str, Any]:
    """`online_accuracy` of a month (YYYY-MM, else reports.PeriodError) with the policy's margin
    and its drops."""
    start, end, label = period_bounds(month=month)
    figures = online_accuracy(db_session=db_session, start=start, end=end, label=label, card_of=card_of)
    return {**figures, "margin": rules.accuracy_margin, "min_reviews": rules.accuracy_min_reviews,
            "drops": [asdict(d) for d in drops_in(figures, rules)]}


def notify_drops(db_session: Session, drops: list[Drop], *, policy: Policy, now: datetime) -> list[dict[str, Any]]:
    """Tell the roles whose notifications.recipients list suggestion_accuracy_drop of each
    drop, through the outbox in the caller's transaction: the one place a drop leaves this
    module. No case's log is the place for it. The drop's key makes it one message per month,
    model version, head and recipient however often the watch runs; `written` counts the
    messages new this time."""
    sent = []
    for drop in drops:
        subject = f"建议准确率下降：{drop.head}（{drop.model}）"
        written = notify.enqueue_for_role(db_session=db_session, policy=policy, event=DROP_EVENT, subject=subject,
                                          body=drop.text(), key=drop.key, now=now)
        if written:
            log.warning("%s: %s [%s], %d messages", DROP_EVENT, drop.text(), drop.key, written)
        sent.append({"event": DROP_EVENT, "key": drop.key, "at": now.isoformat(), "subject": subject,
                     "body": drop.text(), "written": written, **asdict(drop)})
    return sent


def check_accuracy(db_session: Session, *, policy: Policy, now: datetime,
                   card_of: CardOf = registry_card) -> list[dict[str, Any]]:
    """The watch: the drops of the month of `now` (local time), notified. Run by the SLA worker
    at most once an hour; a drop is told once per month, model and head (its key)."""
    month = now.astimezone(TZ).strftime("%Y-%m")
    drops = accuracy_drops(db_session, month=month, rules=policy.suggestions, card_of=card_of)
    return notify_drops(db_session, drops, policy=policy, now=now)


def csv_rows(figures: dict[str, Any]) -> list[list[Any]]:
    """The online accuracy as rows of the dashboard's CSV (section, key, detail, value)."""
    rows: list[list[Any]] = []
    for entry in figures["models"]:
        for head, f in entry["heads"].items():
            key = f"{entry['model']}/{head}"
            rows += [["suggestions", key, "reviews", f["reviews"]], ["suggestions", key, "kept", f["kept"]],
                     ["suggestions", key, "kept_share", _blank(f["share"])],
                     ["suggestions", key, "held_out", _blank(f["held_out"])]]
            for cls, c in f["classes"].items():
                rows += [["suggestions", f"{key}={cls}", "reviews", c["reviews"]],
                         ["suggestions", f"{key}={cls}", "kept_share", _blank(c["share"])]]
    return rows


def trend_csv_rows(months: list[dict[str, Any]]) -> list[list[Any]]:
    return [["suggestions_trend", m["month"], head, _blank(f["share"])]
            for m in months for head, f in m["heads"].items()]


def _blank(value: float | None) -> Any:
    return "" if value is None else value

