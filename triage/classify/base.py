"""From per-head probabilities to `Prediction`s: the rules every backend shares.

Every serving model (scikit-learn, transformer, an ensemble of both) ends in the same
steps, so that a complaint gets the same shape of answer and the same policy whichever
model scored it: flag thresholds, decision biases on one-line texts, severity forced to
"major" by any flag but repeat (with the rule cited), the review list of low-confidence
heads, and evidence mapped back to the text the user wrote with personal data masked.

A backend supplies the probabilities and, once the labels are chosen, its own evidence
for them as spans of the normalised text (`Span`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from triage.classify.cues import Cue
from triage.classify.labels import FLAGS, HEADS, flags_forcing_major
from triage.classify.prediction import ALTERNATIVES, Evidence, Prediction
from triage.io import RowError
from triage.text.mask import find_pii, name_pii
from triage.text.normalize import NormalizedText, TextError, normalize


@dataclass(slots=True)  # not frozen: a frozen one took three times as long to make, 300,000 per 50,000 texts
class Span:
    """Evidence a backend found for a head's chosen label: [start, end) of the normalised text."""

    start: int
    end: int
    feature: str
    weight: float


EvidenceFn = Callable[[dict[str, np.ndarray]], dict[str, Sequence[Sequence[Span]]]]
"""Given the chosen class index per head (one per row), the spans per head and row."""


class Decoder:
    """The post-processing settings of one model (its model.json) and the classes of its heads."""

    def __init__(self, classes: dict[str, list[str]], config: dict[str, Any]) -> None:
        self.classes = classes
        self.version: str = config.get("version", "unversioned")
        self.low_confidence: dict[str, float] = config.get("low_confidence", {})
        # The register of a text: one-line summaries (up to `decision_bias_max_chars`) and
        # longer text (narratives, letters, transcripts) have their own decision biases and
        # flag thresholds, each chosen on its own register's development rows.
        self.short_max_chars: int = config.get("decision_bias_max_chars", 10**9)
        self.flag_thresholds: dict[str, float] = config.get("flag_thresholds", {})
        self.flag_thresholds_long: dict[str, float] = {**self.flag_thresholds,
                                                       **config.get("flag_thresholds_long", {})}
        # Log-probability offsets per class, so a small class wins a close call (model.json).
        self.bias = self._biases(classes, config.get("decision_bias", {}))
        self.bias_long = self._biases(classes, config.get("decision_bias_long", {}))
        self._names = {name: np.array(cls, dtype=object) for name, cls in classes.items()}
        self.flags_need_cue = frozenset(config.get("flags_need_cue", ()))
        """Flags raised only with a cue of theirs in the text: the model's weights for a rare
        flag lean on other cues, and a media flag with no word of the press is no media case."""

    @staticmethod
    def _biases(classes: dict[str, list[str]], table: dict[str, dict[str, float]]) -> dict[str, np.ndarray]:
        return {name: np.array([table.get(name, {}).get(c, 0.0) for c in cls]) for name, cls in classes.items()}

    def short(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([len(t) <= self.short_max_chars for t in texts], dtype=bool)

    def choose(self, texts: Sequence[str], probs: dict[str, np.ndarray], short: np.ndarray | None = None
               ) -> dict[str, np.ndarray]:
        """The class index per head and row: argmax of log-probability plus the decision bias
        of the text's register (`short`, when the caller has it already)."""
        short = (self.short(texts) if short is None else short)[:, None]
        with np.errstate(divide="ignore"):
            return {h: (np.log(probs[h]) + np.where(short, self.bias[h], self.bias_long[h])).argmax(axis=1)
                    for h in HEADS}

    def alternatives(self, head: str, probs: np.ndarray) -> list[list[dict[str, Any]]]:
        """Per row, the head's ALTERNATIVES most probable classes, best first (the first of
        equal ones), as {"label", "p"} with p rounded as the confidences are; a class whose
        probability rounds to 0 (one an ensemble member never saw) is no alternative."""
        k = min(ALTERNATIVES, probs.shape[1])
        # A head has a handful of classes: a full sort of each row costs less than argpartition's bookkeeping.
        top = np.argsort(-probs, axis=1, kind="stable")[:, :k]
        p = np.round(np.take_along_axis(probs, top, axis=1), 4)
        names = self._names[head][top].tolist()
        # Unrolled for the usual shapes: these small dicts are most of what alternatives cost `predict`.
        if k == 3 and p[:, 2].all():
            return [[{"label": a, "p": x}, {"label": b, "p": y}, {"label": c, "p": z}]
                    for (a, b, c), (x, y, z) in zip(names, p.tolist())]
        if k == 2 and p[:, 1].all():
            return [[{"label": a, "p": x}, {"label": b, "p": y}] for (a, b), (x, y) in zip(names, p.tolist())]
        return [[{"label": n, "p": q} for n, q in zip(row, ps) if q > 0] for row, ps in zip(names, p.tolist())]

    def decode(self, items: Sequence[tuple[str, NormalizedText]], probs: dict[str, np.ndarray],
               cues: Sequence[Sequence[Cue]], evidence_of: EvidenceFn) -> list[Prediction]:
        texts = [nt.text for _, nt in items]
        short = self.short(texts)
        chosen = self.choose(texts, probs, short)
        evidence = evidence_of(chosen)
        n = len(items)
        flag_names = [f for f in FLAGS if f"flags.{f}" in probs]
        fp = np.column_stack([probs[f"flags.{f}"][:, 1] for f in flag_names]) if flag_names else np.zeros((n, 0))
        for j, f in enumerate(flag_names):
            if f in self.flags_need_cue:
                fp[:, j] *= np.array([any(c.flag == f for c in row) for row in cues], dtype=float)
        thresholds = np.where(short[:, None], [self.flag_thresholds.get(f, 0.5) for f in flag_names],
                              [self.flag_thresholds_long.get(f, 0.5) for f in flag_names])
        on = fp >= thresholds
        near = np.abs(fp - thresholds) < self.low_confidence.get("flags", 0.15)
        long_text = (~short).tolist()
        rows = np.arange(n)
        label_of = {h: [self.classes[h][i] for i in chosen[h].tolist()] for h in HEADS}
        conf_of = {h: np.round(probs[h][rows, chosen[h]], 4).tolist() for h in HEADS}
        low_of = {h: (probs[h][rows, chosen[h]] < self.low_confidence.get(h, 0.6)).tolist() for h in HEADS}
        fp_rows, fp_rounded = fp.tolist(), np.round(fp, 4).tolist()
        alt_line, alt_category, alt_severity = (self.alternatives(h, probs[h]) for h in HEADS)
        on_rows, near_rows = on.tolist(), near.tolist()

        preds = []
        for r, (row_id, nt) in enumerate(items):
            flags = [f for f, hit in zip(flag_names, on_rows[r]) if hit]
            labels = {h: label_of[h][r] for h in HEADS}
            conf: dict[str, Any] = {h: conf_of[h][r] for h in HEADS}
            rules = []
            forced = False
            major_by = flags_forcing_major(flags)
            if major_by:
                if labels["severity"] != "major":
                    labels["severity"] = "major"
                    conf["severity"] = round(max(fp_rows[r][flag_names.index(f)] for f in major_by), 4)
                    # The flags, not the severity model, are the reason: their cues are the evidence.
                    forced = True
                rules.append(f"severity=major: flag {', '.join(major_by)} (rules.md §2, 002-C 四)")
            conf["flags"] = dict(zip(flag_names, fp_rounded[r]))
            low = [h for h in HEADS if low_of[h][r] and not (h == "severity" and forced)]
            low += [f"flags.{f}" for f, close in zip(flag_names, near_rows[r]) if close]
            spans = {h: () if h == "severity" and forced else evidence[h][r] for h in HEADS}
            preds.append(Prediction(
                id=row_id, business_line=labels["business_line"], category=labels["category"],
                severity=labels["severity"], flags=flags, confidence=conf,
                alternatives={"business_line": alt_line[r], "category": alt_category[r], "severity": alt_severity[r]},
                evidence=to_evidence(nt, labels, flags, cues[r], spans, clause=long_text[r]),
                low_confidence=low, rules=rules, model=self.version))
        return preds


def to_evidence(nt: NormalizedText, labels: dict[str, str], flags: list[str], cues: Sequence[Cue],
                spans: dict[str, Sequence[Span]], clause: bool = False) -> list[Evidence]:
    """The cues of the raised flags, then each head's spans, as offsets into the original text;
    each snippet names the kind of any personal datum in it instead of showing it. With
    `clause` (a long text), a flag's evidence is the whole clause its cue was read in: in a
    narrative, "报警" alone does not show whether the customer called the police."""
    found: list[tuple[str, str, int, int, str, float]] = [
        (f"flags.{cue.flag}", cue.flag, *(cue.clause if clause else (cue.start, cue.end)), f"cue:{cue.key}", 1.0)
        for cue in cues if cue.flag in flags]
    for head in HEADS:
        for s in spans[head]:
            found.append((head, labels[head], s.start, s.end, s.feature, s.weight))
    if not found:
        return []
    pii = find_pii(nt.original)
    out = []
    for head, label, start, end, feature, weight in found:
        a, b = nt.span_to_original(start, end)
        # Personal data in the snippet shows as the kind it is ([车牌], [电话]): stars would hide
        # from the reviewer what fired. start and end still point into the original text.
        snippet = name_pii(nt.original, pii, a, b) if pii else nt.original[a:b]
        out.append(Evidence(head, label, a, b, snippet, feature, weight))
    return out


class ServingModel:
    """What every backend offers: `predict` and `predict_rows` over `_predict_normalized`."""

    version: str
    config: dict[str, Any]
    classes: dict[str, list[str]]
    """Per head (and flags.<flag>), its classes in the order of its probability columns."""

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """Predictions for texts; raises TextError on the first text that cannot be read."""
        out = self.predict_rows([(str(i), t) for i, t in enumerate(texts)])
        for p in out:
            if isinstance(p, RowError):
                raise TextError(p.error)
        return out  # type: ignore[return-value]

    def predict_rows(self, rows: Iterable[tuple[str, str]], first_row: int = 1) -> list[Prediction | RowError]:
        """Predict a batch of (id, text); a row that cannot be read becomes a RowError."""
        results: list[Prediction | RowError | None] = []
        good: list[tuple[int, str, NormalizedText]] = []
        for n, (row_id, text) in enumerate(rows):
            try:
                good.append((n, row_id, normalize(text)))
                results.append(None)
            except TextError as exc:
                results.append(RowError(row_id, first_row + n, str(exc)))
        if good:
            for (n, _, _), pred in zip(good, self._predict_normalized([(i, t) for _, i, t in good])):
                results[n] = pred
        return results  # type: ignore[return-value]

    def _predict_normalized(self, items: list[tuple[str, NormalizedText]]) -> list[Prediction]:
        raise NotImplementedError
