"""The scikit-learn backend: linear heads over one feature space (triage.classify.features).

Training (training/train.py) fits scikit-learn estimators and exports their parameters
here as plain arrays: `model.npz` (no pickles; loading runs no code from the file) and
`model.json`, whose SHA-256 is checked against the model card before anything is used.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from triage.classify.bag import MeanBagHead, tokens_of
from triage.classify.base import Decoder, ServingModel
from triage.classify.clauses import Context
from triage.classify.cues import Cue, find_cues_batch
from triage.classify.features import FeatureSpace
from triage.classify.labels import HEADS
from triage.classify.prediction import Prediction
from triage.classify.registry import CONFIG, ModelError, card_artifacts, sha256, verify_files
from triage.classify.sparse import SparseRows
from triage.text.normalize import NormalizedText

if TYPE_CHECKING:
    import scipy.sparse as sp

ARTIFACT = "model.npz"

CLAUSE_FEATURES = 12
"""How many of a long text's strongest features its deciding clause is read from (per head)."""
CLAUSE_MAX_SHARE = 0.6
"""A deciding clause longer than this share of the text is not shown: an owner who writes without
punctuation has one clause, and it would point at everything."""


@dataclass
class LinearHead:
    """A linear classifier and its calibration.

    `method="sigmoid"`: per-class Platt scaling, as exported from
    CalibratedClassifierCV(method="sigmoid", ensemble=False); used for binary heads.
    `method="softmax"`: the multinomial softmax of the decision values times one learned
    inverse temperature (`calib_a[0]`). It keeps the model's own argmax: per-class Platt
    scaling renormalised moves close calls to the big class, which cost the small classes
    a tenth of their recall on the development months."""

    classes: list[str]
    coef: np.ndarray  # (k, d), k = 1 for a binary head
    intercept: np.ndarray  # (k,)
    calib_a: np.ndarray  # (k,), or (1,) for softmax
    calib_b: np.ndarray  # (k,), or (1,) for softmax
    method: str = "sigmoid"
    evidence_coef: np.ndarray | None = None
    """(k, d): the weights the evidence is read from, when not `coef`. A head that mixes in a
    character-only member (training.train, TrainConfig.char_head) decides with the mixture but
    shows the word-and-character member's features: the character member leans on single
    characters, which tell a reviewer nothing."""

    def decision(self, X: SparseRows | sp.csr_matrix) -> np.ndarray:
        return np.asarray(X @ self.coef.T) + self.intercept

    def predict_proba(self, X: SparseRows | sp.csr_matrix) -> np.ndarray:
        return self.proba_from_decision(self.decision(X))

    def proba_from_decision(self, d: np.ndarray) -> np.ndarray:
        if self.method == "softmax":
            if d.shape[1] == 1:  # a binary logistic regression: the decision is class 1's against class 0
                d = np.hstack([np.zeros_like(d), d])
            z = d * self.calib_a[0]
            z = np.exp(z - z.max(axis=1, keepdims=True))
            return z / z.sum(axis=1, keepdims=True)
        # The logistic function 1 / (1 + e^z), without overflow for a large z; scipy.special's
        # expit gave the same to the last bit or two, and its import cost every run 60 ms.
        p = np.exp(-np.logaddexp(0.0, d * self.calib_a + self.calib_b))
        if len(self.classes) == 2:
            return np.hstack([1.0 - p, p])
        total = p.sum(axis=1, keepdims=True)
        return np.divide(p, total, out=np.full_like(p, 1.0 / len(self.classes)), where=total > 0)

    def class_weights(self, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each row, (sign, row of coef) of the weights that speak for its chosen class."""
        if len(self.classes) == 2:
            return np.where(chosen == 1, 1.0, -1.0), np.zeros_like(chosen)
        return np.ones(len(chosen)), chosen


class SklearnModel(ServingModel):
    """Business line, category, severity and six flags for Chinese complaint text."""

    def __init__(self, space: FeatureSpace, heads: dict[str, LinearHead], config: dict[str, Any],
                 long_members: dict[str, MeanBagHead] | None = None) -> None:
        self.space = space
        self.heads = heads
        self.config = config
        self.long_members = long_members or {}
        """Per head, a second member read on the longer texts only (triage.classify.bag; its share in
        config["long_member"]): fastText's mean of tokens and bigrams, which led ours on the narratives'
        business line on both development folds; none in the served model (TrainConfig.long_member)."""
        self._long_share = {h: float(config["long_member"][h]["share"]) for h in self.long_members}
        for name, member in self.long_members.items():
            if name not in heads or sorted(member.classes) != sorted(heads[name].classes):
                raise ModelError(f"the long-text member of {name} has classes {member.classes}")
        self.version: str = config.get("version", "unversioned")
        self.classes: dict[str, list[str]] = {name: head.classes for name, head in heads.items()}
        self._decoder = Decoder(self.classes, config)
        # All heads in one weight matrix: one sparse product per batch instead of one per head.
        self._slices: dict[str, slice] = {}
        start = 0
        for name, head in heads.items():
            self._slices[name] = slice(start, start + head.coef.shape[0])
            start += head.coef.shape[0]
        self._W = np.ascontiguousarray(np.vstack([h.coef for h in heads.values()]).T, dtype=np.float32)
        self._b = np.concatenate([h.intercept for h in heads.values()])
        self._features: dict[int, tuple[str, str]] = {}
        """The name and the needle (`_needle`) of each column an evidence has shown so far."""

    # ---- persistence -------------------------------------------------------------------
    def save(self, folder: Path) -> dict[str, str]:
        folder.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = dict(self.space.to_arrays())
        for name, head in self.heads.items():
            arrays[f"{name}.coef"] = head.coef.astype(np.float32)
            arrays[f"{name}.intercept"] = head.intercept.astype(np.float64)
            arrays[f"{name}.calib_a"] = head.calib_a.astype(np.float64)
            arrays[f"{name}.calib_b"] = head.calib_b.astype(np.float64)
            if head.evidence_coef is not None:
                arrays[f"{name}.evidence_coef"] = head.evidence_coef.astype(np.float32)
        for name, member in self.long_members.items():
            arrays.update({f"long.{name}.{k}": v for k, v in member.arrays().items()})
        config = {**self.config, "heads": {n: h.classes for n, h in self.heads.items()},
                  "calibration": {n: h.method for n, h in self.heads.items()}}
        if self.long_members:
            config["long_member"] = {n: {"share": self._long_share[n], "classes": m.classes}
                                     for n, m in self.long_members.items()}
        # Stored, not deflated: inflating took a quarter of the load, for 1.5x the bytes on disk.
        np.savez(folder / ARTIFACT, **arrays)
        (folder / CONFIG).write_text(json.dumps(config, ensure_ascii=False, indent=1), encoding="utf-8")
        return {ARTIFACT: sha256(folder / ARTIFACT), CONFIG: sha256(folder / CONFIG)}

    @classmethod
    def load(cls, folder: Path, expected: dict[str, str] | None = None) -> SklearnModel:
        """Load a model folder; `expected` (default: the card's hashes) must match the files."""
        folder = Path(folder)
        if expected is None:
            expected = card_artifacts(folder)
        verify_files(folder, (ARTIFACT, CONFIG), expected)
        config = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
        with np.load(folder / ARTIFACT, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        space = FeatureSpace.from_arrays(arrays)
        methods = config.get("calibration", {})
        heads = {
            name: LinearHead(list(classes), arrays[f"{name}.coef"], arrays[f"{name}.intercept"],
                             arrays[f"{name}.calib_a"], arrays[f"{name}.calib_b"], methods.get(name, "sigmoid"),
                             arrays.get(f"{name}.evidence_coef"))
            for name, classes in config["heads"].items()
        }
        width = space.n_features_
        for name, head in heads.items():
            if head.coef.shape[1] != width:
                raise ModelError(f"{folder}: head {name} has {head.coef.shape[1]} weights for {width} features")
            if head.evidence_coef is not None and head.evidence_coef.shape != head.coef.shape:
                raise ModelError(f"{folder}: head {name} has evidence weights of shape {head.evidence_coef.shape}")
        members = {}
        for name, member in config.get("long_member", {}).items():
            try:
                if not 0.0 < float(member["share"]) <= 1.0:
                    raise ValueError(f"a share of {member['share']}")
                members[name] = MeanBagHead.from_arrays(member["classes"], arrays[f"long.{name}.s1"],
                                                        arrays[f"long.{name}.h2"], arrays[f"long.{name}.weights"])
            except (KeyError, TypeError, ValueError) as e:
                raise ModelError(f"{folder}: the long-text member of {name}: {e!r}") from e
        return cls(space, heads, config, members)

    # ---- prediction --------------------------------------------------------------------
    def head_probabilities(self, texts: list[str], cues: list[list[Cue]]
                           ) -> tuple[dict[str, np.ndarray], SparseRows]:
        """Per head, (rows, classes) probabilities; and the feature matrix, for the evidence."""
        X = self.space.rows(texts, cues)
        decision = np.asarray(X @ self._W) + self._b
        probs = {name: head.proba_from_decision(decision[:, self._slices[name]]) for name, head in self.heads.items()}
        if self.long_members:
            long = np.flatnonzero(~self._decoder.short(texts, probs))
            if len(long):
                tokens = tokens_of([texts[i] for i in long])
                for name, member in self.long_members.items():
                    columns = [member.classes.index(c) for c in self.heads[name].classes]
                    theirs = member.predict_proba(tokens)[:, columns]
                    share = self._long_share[name]
                    probs[name][long] = (1.0 - share) * probs[name][long] + share * theirs
        return probs, X

    def spans(self, texts: list[str], cues: list[list[Cue]], X: SparseRows, chosen: dict[str, np.ndarray]
              ) -> dict[str, list[list[tuple[int, int, str, float]]]]:
        """Per head and row, where the two features that pushed hardest toward the chosen label are;
        on a text longer than a one-line summary, first the clause that pushed hardest
        (`_deciding_clauses`)."""
        rows_of_entries = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
        pushes = {head: self._pushes_toward(X, self.heads[head], chosen[head], rows_of_entries) for head in HEADS}
        out = {head: self._spans_at(texts, cues, *self._top_features(X, self.heads[head], chosen[head],
                                                                        rows=rows_of_entries, push=pushes[head]))
               for head in HEADS}
        # By length: a short text has a clause or two, whichever register the head reads it in.
        long = np.flatnonzero(~self._decoder.short(texts)).tolist()
        for r, head, clause in self._deciding_clauses(texts, cues, X, pushes, long, rows_of_entries):
            out[head][r].insert(0, clause)
        return out

    def _pushes_toward(self, X: SparseRows, head: LinearHead, chosen: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Each entry's push toward its row's chosen label (`_pushes` with the head's weights)."""
        sign, row_of_coef = head.class_weights(chosen)
        coef = head.coef if head.evidence_coef is None else head.evidence_coef
        return self._pushes(X.data, X.indices, head, coef, sign, row_of_coef, rows)

    def _deciding_clauses(self, texts: list[str], cues: list[list[Cue]], X: SparseRows,
                          pushes: dict[str, np.ndarray], long: list[int], rows: np.ndarray,
                          k: int = CLAUSE_FEATURES) -> Iterator[tuple[int, str, tuple[int, int, str, float]]]:
        """For each long row and head, the clause that holds the largest part of the push toward the
        chosen label: the row's k strongest pushing features, each push shared among the places the
        feature occurs, summed per clause (clauses.Context). Its weight is that clause's share of the
        push found in the text. A row whose best clause is most of the text has none: it would point
        at everything. The strongest features of every row are picked at once per head (one sort),
        and where a feature occurs is found once per row, for every head."""
        if not long:
            return
        is_long = np.zeros(X.shape[0], dtype=bool)
        is_long[long] = True
        entries = np.flatnonzero(is_long[rows])
        contexts: dict[int, tuple[Context, list[int], dict[int, list[int]]]] = {}
        for head in HEADS:
            push = pushes[head][entries]
            pushing = push > 0
            at, push, row = entries[pushing], push[pushing], rows[entries][pushing]
            order = np.lexsort((-push, row))  # row by row, the strongest first
            at, push, row = at[order], push[order], row[order]
            first = np.flatnonzero(np.concatenate([[True], row[1:] != row[:-1]]))
            rank = np.arange(len(row)) - np.repeat(first, np.diff(np.append(first, len(row))))
            top = rank < k
            columns, values, row_list = X.indices[at[top]].tolist(), push[top].tolist(), row[top].tolist()
            for r, group in _runs(row_list):
                if r not in contexts:
                    context = Context(texts[r])
                    contexts[r] = (context, context.clause_indices(), {})
                context, clause_of, places = contexts[r]  # places: column -> the clause of each place
                by_clause: dict[int, float] = {}
                total = 0.0
                for i in group:
                    column, value = columns[i], values[i]
                    where = places.get(column)
                    if where is None:
                        where = places[column] = [clause_of[p] for p in self._places(texts[r], column, cues[r])]
                    if where:
                        share = value / len(where)
                        total += value
                        for clause in where:
                            by_clause[clause] = by_clause.get(clause, 0.0) + share
                if by_clause:
                    best = max(by_clause, key=by_clause.__getitem__)
                    start, end = context.clause_span(best)
                    if end - start <= CLAUSE_MAX_SHARE * len(texts[r]):
                        yield r, head, (start, end, "clause", round(by_clause[best] / total, 4))

    def _feature(self, column: int) -> tuple[str, str]:
        """A column's name and needle (`_needle`), kept once asked for."""
        feature = self._features.get(column)
        if feature is None:
            name = self.space.feature_name(column)
            feature = self._features[column] = (name, self._needle(name))
        return feature

    def _places(self, text: str, column: int, cues: list[Cue]) -> list[int]:
        """Where a feature starts in the text, every time (a cue: where it was found)."""
        name, needle = self._feature(column)
        if not needle:
            key = name.partition(":")[2]
            return [cue.start for cue in cues if cue.key == key]
        places, pos = [], text.find(needle)
        while pos >= 0:
            places.append(pos)
            pos = text.find(needle, pos + 1)
        return places

    def _spans_at(self, texts: list[str], cues: list[list[Cue]], rows: list[int], columns: list[int],
                  weights: list[float]) -> list[list[tuple[int, int, str, float]]]:
        """Per row, the spans (`Span`s as plain tuples) of the features (rows[i], columns[i],
        weights[i]) found in its text."""
        found: list[list[tuple[int, int, str, float]]] = [[] for _ in texts]
        for r, column, weight in zip(rows, columns, weights):
            name, needle = self._feature(column)
            if needle:  # the common case, a word or characters: as _locate, without its parsing
                pos = texts[r].find(needle)
                if pos >= 0:
                    found[r].append((pos, pos + len(needle), name, weight))
            else:
                span = self._locate(texts[r], name, cues[r])
                if span is not None:
                    found[r].append((span[0], span[1], name, weight))
        return found

    def _predict_normalized(self, items: list[tuple[str, NormalizedText]]) -> list[Prediction]:
        texts = [nt.text for _, nt in items]
        cues = find_cues_batch(texts)
        probs, X = self.head_probabilities(texts, cues)
        return self._decoder.decode(items, probs, cues, lambda chosen: self.spans(texts, cues, X, chosen))

    def _top_features(self, X: SparseRows, head: LinearHead, chosen: np.ndarray, k: int = 2,
                      rows: np.ndarray | None = None, push: np.ndarray | None = None
                      ) -> tuple[list[int], list[int], list[float]]:
        """For each row, the k features that pushed hardest toward the chosen label (the first
        of equal ones), as (row, feature, weight rounded) lists, row by row, the strongest first;
        `rows`, the row of each stored entry of X, and `push`, each entry's push
        (`_pushes_toward`), if known.

        Linear in the number of non-zeros (k passes of a segmented max), since sorting
        every row's features cost more than the whole prediction."""
        n = X.shape[0]
        counts = np.diff(X.indptr)
        if rows is None:
            rows = np.repeat(np.arange(n), counts)
        if push is None:
            push = self._pushes_toward(X, head, chosen, rows)
        contrib = push.copy()
        nonempty = np.flatnonzero(counts)
        picked: list[np.ndarray] = []
        for _ in range(k if len(nonempty) else 0):
            # Each row's largest push, if it pushes toward the label; else one no entry equals.
            best = np.full(n, np.inf)
            most = np.maximum.reduceat(contrib, X.indptr[nonempty])
            best[nonempty] = np.where(most > 0, most, np.inf)
            hit = np.flatnonzero(contrib == best[rows])
            if not len(hit):
                break
            hit_rows = rows[hit]  # in order: the first hit of each row is its first run's start
            pos = hit[np.flatnonzero(np.concatenate([[True], hit_rows[1:] != hit_rows[:-1]]))]
            picked.append(pos)
            contrib[pos] = -np.inf
        if not picked:
            return [], [], []
        pos = np.concatenate(picked)
        pos = pos[np.argsort(rows[pos], kind="stable")]  # row by row, each row's rounds in order
        return rows[pos].tolist(), X.indices[pos].tolist(), np.round(push[pos], 4).tolist()

    @staticmethod
    def _pushes(data: np.ndarray, columns: np.ndarray, head: LinearHead, coef: np.ndarray, sign: np.ndarray,
                row_of_coef: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Each entry's value times its column's weight in `coef` (the head's, or its evidence
        weights) for its row's label (float64), as `class_weights` gives them: a binary head has
        one row of weights, whose sign says which label it pushes toward; a multiclass head's
        row is the label's, its sign +1."""
        if len(head.classes) == 2:
            return data * coef[0, columns] * sign[rows]
        return (data * coef[row_of_coef[rows], columns]).astype(np.float64)

    @staticmethod
    def _needle(feature: str) -> str:
        """What `_locate` searches the text for, or "" for a cue (found among the cues)."""
        kind, _, body = feature.partition(":")
        return "" if kind == "cue" else body.replace(" ", "") if kind == "w" else body

    @staticmethod
    def _locate(text: str, feature: str, cues: list[Cue]) -> tuple[int, int] | None:
        kind, _, body = feature.partition(":")
        if kind == "cue":
            for cue in cues:
                if cue.key == body:
                    return cue.start, cue.end
            return None
        needle = body.replace(" ", "") if kind == "w" else body
        pos = text.find(needle)
        return (pos, pos + len(needle)) if pos >= 0 else None


def _runs(values: list[int]) -> Iterator[tuple[int, range]]:
    """(value, the positions of its run) of each run of equal values."""
    start = 0
    for i in range(1, len(values) + 1):
        if i == len(values) or values[i] != values[start]:
            yield values[start], range(start, i)
            start = i
