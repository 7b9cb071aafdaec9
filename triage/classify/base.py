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
from typing import Any, NamedTuple

import numpy as np

from triage.classify.cues import Cue
from triage.classify.labels import FLAGS, HEADS, REGISTER, flags_forcing_major
from triage.classify.prediction import ALTERNATIVES, Evidence, Prediction
from triage.io import RowError
from triage.text.mask import find_pii, may_hold_pii, name_pii
from triage.text.normalize import NormalizedText, TextError, normalize_batch


class Span(NamedTuple):
    """Evidence a backend found for a head's chosen label: [start, end) of the normalised text.
    A tuple: a backend that makes hundreds of thousands (the scikit-learn one: five per text)
    may give plain (start, end, feature, weight) tuples, at a fifth of the cost."""

    start: int
    end: int
    feature: str
    weight: float


EvidenceFn = Callable[[dict[str, np.ndarray]], dict[str, Sequence[Sequence[tuple[int, int, str, float]]]]]
"""Given the chosen class index per head (one per row), the spans per head and row (`Span`s)."""


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
        # A model with a register head also tells a short complaint told in full (没有任何处理,
        # 提车一周就降价) from a one-line summary of the same length: it gets the longer texts'
        # settings, the ones chosen on the rows of its register.
        self._summary = classes[REGISTER].index("summary") if REGISTER in classes else None
        self.flag_thresholds: dict[str, float] = config.get("flag_thresholds", {})
        self.flag_thresholds_long: dict[str, float] = {**self.flag_thresholds,
                                                       **config.get("flag_thresholds_long", {})}
        # Log-probability offsets per class, so a small class wins a close call (model.json).
        self.bias = self._biases(classes, config.get("decision_bias", {}))
        self.bias_long = self._biases(classes, config.get("decision_bias_long", {}))
        self._names = {name: np.array(cls, dtype=object) for name, cls in classes.items()}
        self.flag_thresholds_cued: dict[str, float] = config.get("flag_thresholds_cued", {})
        """On one-line texts, a flag's threshold where its row has a cue of it (a lower one: 自燃
        scores 0.96 alone and 0.17 in 质保期内自燃希望厂家索赔, a plain cue read weaker in a longer line)."""
        self.flags_need_cue = frozenset(config.get("flags_need_cue", ()))
        """Flags raised only with a cue of theirs in the text: the model's weights for a rare
        flag lean on other cues, and a media flag with no word of the press is no media case."""

    @staticmethod
    def _biases(classes: dict[str, list[str]], table: dict[str, dict[str, float]]) -> dict[str, np.ndarray]:
        return {name: np.array([table.get(name, {}).get(c, 0.0) for c in cls]) for name, cls in classes.items()}

    def short(self, texts: Sequence[str], probs: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """Per row, whether it is read as a one-line summary: no longer than `short_max_chars`
        and, if the model has a register head (`probs` given), read by it as a summary."""
        by_length = np.array([len(t) <= self.short_max_chars for t in texts], dtype=bool)
        if self._summary is None or probs is None or REGISTER not in probs:
            return by_length
        return by_length & (probs[REGISTER][:, self._summary] >= 0.5)

    def choose(self, texts: Sequence[str], probs: dict[str, np.ndarray], short: np.ndarray | None = None
               ) -> dict[str, np.ndarray]:
        """The class index per head and row: argmax of log-probability plus the decision bias
        of the text's register (`short`, when the caller has it already)."""
        short = (self.short(texts, probs) if short is None else short)[:, None]
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
        """The predictions of a batch. Every rule is applied to the whole batch at once, as arrays;
        what varies from row to row in few ways (the raised flags, the review list, the rule cited)
        is spelt out once per distinct case of the batch, and each row gets its own copy."""
        n = len(items)
        texts = [nt.text for _, nt in items]
        short = self.short(texts, probs)
        chosen = self.choose(texts, probs, short)
        spans = evidence_of(chosen)
        flag_names, fp, on, near = self._flag_decisions(probs, cues, short)
        raised, raised_names = _row_subsets(flag_names, on)
        major_by = {code: tuple(flags_forcing_major(names)) for code, names in raised_names.items()}
        rules = {code: f"severity=major: flag {', '.join(by)} (rules.md §2, 002-C 四)"
                 for code, by in major_by.items() if by}

        p_chosen = {h: probs[h][np.arange(n), chosen[h]] for h in HEADS}
        labels = {h: self._names[h][chosen[h]].tolist() for h in HEADS}
        conf = {h: np.round(p_chosen[h], 4).tolist() for h in HEADS}
        forced = self._force_major(raised.tolist(), rules, major_by, flag_names, fp, labels, conf)
        low_codes, low_names = self._review(p_chosen, flag_names, near, forced if rules else None)
        alternatives = {h: self.alternatives(h, probs[h]) for h in HEADS}
        evidence = self._evidence(items, labels, [raised_names[c] for c in raised.tolist()], cues, spans,
                                  (~short).tolist(), forced)
        version = self.version
        return [
            Prediction(row_id, line, category, severity, list(raised_names[code]),
                       {"business_line": c_line, "category": c_category, "severity": c_severity,
                        "flags": dict(zip(flag_names, c_flags))},
                       {"business_line": a_line, "category": a_category, "severity": a_severity},
                       found, list(low_names[low_code]), [rules[code]] if code in rules else [], version)
            for (row_id, _), line, category, severity, code, c_line, c_category, c_severity, c_flags,
            a_line, a_category, a_severity, found, low_code in zip(
                items, labels["business_line"], labels["category"], labels["severity"], raised.tolist(),
                conf["business_line"], conf["category"], conf["severity"], np.round(fp, 4).tolist(),
                alternatives["business_line"], alternatives["category"], alternatives["severity"], evidence,
                low_codes.tolist())]

    @staticmethod
    def _force_major(raised: list[int], rules: dict[int, str], major_by: dict[int, tuple[str, ...]],
                     flag_names: list[str], fp: np.ndarray, labels: dict[str, list[str]],
                     conf: dict[str, list[float]]) -> list[bool]:
        """Per row, whether its flags made the severity major (rules.md §2, 002-C 四) where the
        model chose another: then the flags, not the severity model, are the reason, and the
        severity's confidence is the likeliest of them (`labels` and `conf` changed in place)."""
        forced = [False] * len(raised)
        for r, (code, severity) in enumerate(zip(raised, labels["severity"])):
            if code in rules and severity != "major":
                forced[r] = True
                labels["severity"][r] = "major"
                conf["severity"][r] = round(max(float(fp[r, flag_names.index(f)]) for f in major_by[code]), 4)
        return forced

    def _review(self, p_chosen: dict[str, np.ndarray], flag_names: list[str], near: np.ndarray,
                forced: list[bool] | None) -> tuple[np.ndarray, dict[int, tuple[str, ...]]]:
        """The review list of each row, as `_row_subsets` codes: the heads under their confidence
        threshold (not a severity the flags forced), then the flags near theirs."""
        low = np.empty((len(near), len(HEADS) + len(flag_names)), dtype=bool)
        for j, h in enumerate(HEADS):
            low[:, j] = p_chosen[h] < self.low_confidence.get(h, 0.6)
        low[:, len(HEADS):] = near
        if forced is not None:
            low[:, HEADS.index("severity")] &= ~np.array(forced)
        return _row_subsets([*HEADS, *(f"flags.{f}" for f in flag_names)], low)

    def _flag_decisions(self, probs: dict[str, np.ndarray], cues: Sequence[Sequence[Cue]], short: np.ndarray
                        ) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        """The flags the model has, each row's probability that each applies (none for a flag
        that needs a cue of its own and has none), which are raised at the register's
        threshold, and which are near it."""
        n = len(short)
        flag_names = [f for f in FLAGS if f"flags.{f}" in probs]
        fp = np.column_stack([probs[f"flags.{f}"][:, 1] for f in flag_names]) if flag_names else np.zeros((n, 0))
        thresholds = np.where(short[:, None], [self.flag_thresholds.get(f, 0.5) for f in flag_names],
                              [self.flag_thresholds_long.get(f, 0.5) for f in flag_names])
        if (self.flags_need_cue | self.flag_thresholds_cued.keys()) & set(flag_names):
            cued = cued_flags(cues, flag_names)
            # A gated flag stays where its row has a cue of it; any other flag stays everywhere.
            fp *= cued | [f not in self.flags_need_cue for f in flag_names]
            lower = [self.flag_thresholds_cued.get(f, 1.0) for f in flag_names]
            thresholds = np.where(cued & short[:, None], np.minimum(thresholds, lower), thresholds)
        return flag_names, fp, fp >= thresholds, np.abs(fp - thresholds) < self.low_confidence.get("flags", 0.15)

    @staticmethod
    def _evidence(items: Sequence[tuple[str, NormalizedText]], labels: dict[str, list[str]],
                  flags: list[tuple[str, ...]], cues: Sequence[Sequence[Cue]],
                  spans: dict[str, Sequence[Sequence[tuple[int, int, str, float]]]], long_text: list[bool],
                  forced: list[bool]) -> list[list[Evidence]]:
        """Each row's evidence, as `to_evidence` gives it; a severity the flags forced has only
        theirs. Most rows raise no flag, and their text is the original, with no personal data:
        their spans are the evidence as they are, made head by head over the batch instead of
        one call per row."""
        out: list[list[Evidence]] = []
        plain: list[int] = []
        no_spans: tuple[Span, ...] = ()
        for r, ((_, nt), raised, maybe_pii) in enumerate(zip(items, flags, may_hold_pii([nt.original
                                                                                          for _, nt in items]))):
            if raised or maybe_pii or nt.offsets is not None:
                out.append(to_evidence(
                    nt, {h: labels[h][r] for h in HEADS}, raised, cues[r],
                    {h: no_spans if h == "severity" and forced[r] else spans[h][r] for h in HEADS}, long_text[r]))
            else:
                out.append([])
                plain.append(r)
        for head in HEADS:
            head_labels, head_spans = labels[head], spans[head]
            for r in plain:
                if head_spans[r]:
                    found, label, original = out[r], head_labels[r], items[r][1].original
                    for a, b, feature, weight in head_spans[r]:
                        found.append(Evidence(head, label, a, b, original[a:b], feature, weight))
        return out


_BITS = np.int64(1) << np.arange(62, dtype=np.int64)


def cued_flags(cues: Sequence[Sequence[Cue]], flag_names: Sequence[str]) -> np.ndarray:
    """Rows x `flag_names`: whether the row's cues hold one of that flag."""
    cued = np.zeros((len(cues), len(flag_names)), dtype=bool)
    column = {f: j for j, f in enumerate(flag_names)}
    for r, row in enumerate(cues):
        for c in row:
            if c.flag in column:
                cued[r, column[c.flag]] = True
    return cued


def _row_subsets(names: Sequence[str], mask: np.ndarray) -> tuple[np.ndarray, dict[int, tuple[str, ...]]]:
    """Each row's subset of `names` (the columns `mask` sets) as one code, and the names of
    every code the batch holds, in the order of `names`."""
    if len(names) > len(_BITS):
        raise ValueError("too many columns to code a row's subset in 64 bits")
    codes = mask.astype(np.int64) @ _BITS[:len(names)]
    # A set, not np.unique: that one imports numpy.ma, a fiftieth of a second of every start.
    return codes, {code: tuple(name for j, name in enumerate(names) if code >> j & 1)
                   for code in set(codes.tolist())}


def to_evidence(nt: NormalizedText, labels: dict[str, str], flags: Sequence[str], cues: Sequence[Cue],
                spans: dict[str, Sequence[tuple[int, int, str, float]]], clause: bool = False) -> list[Evidence]:
    """The cues of the raised flags, then each head's spans (`Span`), as offsets into the original
    text; each snippet names the kind of any personal datum in it instead of showing it. With
    `clause` (a long text), a flag's evidence is the whole clause its cue was read in: in a
    narrative, "报警" alone does not show whether the customer called the police."""
    # Loops rather than comprehensions: a row has a few spans, fewer than a comprehension's own
    # call is worth.
    found: list[tuple[str, str, int, int, str, float]] = []
    if flags:
        for cue in cues:
            if cue.flag in flags:
                found.append((f"flags.{cue.flag}", cue.flag, *(cue.clause if clause else (cue.start, cue.end)),
                              f"cue:{cue.key}", 1.0))
    for head in HEADS:
        for start, end, feature, weight in spans[head]:
            found.append((head, labels[head], start, end, feature, weight))
    if not found:
        return []
    original = nt.original
    pii = find_pii(original)
    out = []
    if nt.offsets is None and not pii:  # the usual case: the normalised text is the original
        for head, label, a, b, feature, weight in found:
            out.append(Evidence(head, label, a, b, original[a:b], feature, weight))
        return out
    for head, label, start, end, feature, weight in found:
        a, b = nt.span_to_original(start, end)
        # Personal data in the snippet shows as the kind it is ([车牌], [电话]): stars would hide
        # from the reviewer what fired. start and end still point into the original text.
        snippet = name_pii(original, pii, a, b) if pii else original[a:b]
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
        rows = list(rows)
        results: list[Prediction | RowError | None] = []
        good: list[tuple[int, str, NormalizedText]] = []
        for n, ((row_id, _), nt) in enumerate(zip(rows, normalize_batch([text for _, text in rows]))):
            if isinstance(nt, TextError):
                results.append(RowError(row_id, first_row + n, str(nt)))
            else:
                good.append((n, row_id, nt))
                results.append(None)
        if good:
            for (n, _, _), pred in zip(good, self._predict_normalized([(i, t) for _, i, t in good])):
                results[n] = pred
        return results  # type: ignore[return-value]

    def _predict_normalized(self, items: list[tuple[str, NormalizedText]]) -> list[Prediction]:
        raise NotImplementedError
