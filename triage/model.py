"""The serving model: one object that loads, predicts with confidences and explains itself.

Training (training/train.py) fits scikit-learn estimators and exports their parameters
here as plain arrays: `model.npz` (no pickles; loading runs no code from the file) and
`model.json`, whose SHA-256 is checked against the model card before anything is used.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import expit

from triage.features import FeatureSpace
from triage.flags.cues import Cue, find_cues
from triage.labels import FLAGS, HEADS, MAJOR_FLAGS
from triage.prediction import Evidence, Prediction, RowError
from triage.text.mask import find_pii
from triage.text.normalize import NormalizedText, TextError, normalize

ARTIFACT = "model.npz"
CONFIG = "model.json"
CARD = "card.json"


class ModelError(RuntimeError):
    """A model folder that is missing, incomplete or altered since it was written."""


@dataclass
class LinearHead:
    """A linear classifier with per-class sigmoid calibration (Platt), as exported from
    CalibratedClassifierCV(method="sigmoid", ensemble=False)."""

    classes: list[str]
    coef: np.ndarray  # (k, d), k = 1 for a binary head
    intercept: np.ndarray  # (k,)
    calib_a: np.ndarray  # (k,)
    calib_b: np.ndarray  # (k,)

    def decision(self, X: sp.csr_matrix) -> np.ndarray:
        return np.asarray(X @ self.coef.T) + self.intercept

    def predict_proba(self, X: sp.csr_matrix) -> np.ndarray:
        return self.proba_from_decision(self.decision(X))

    def proba_from_decision(self, d: np.ndarray) -> np.ndarray:
        p = expit(-(d * self.calib_a + self.calib_b))
        if len(self.classes) == 2:
            return np.hstack([1.0 - p, p])
        total = p.sum(axis=1, keepdims=True)
        return np.divide(p, total, out=np.full_like(p, 1.0 / len(self.classes)), where=total > 0)

    def class_weights(self, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each row, (sign, row of coef) of the weights that speak for its chosen class."""
        if len(self.classes) == 2:
            return np.where(chosen == 1, 1.0, -1.0), np.zeros_like(chosen)
        return np.ones(len(chosen)), chosen


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class _NoEvidence:
    def __getitem__(self, r: int) -> list[tuple[int, float]]:
        return []


_NO_EVIDENCE = _NoEvidence()


class TriageModel:
    """Business line, category, severity and six flags for Chinese complaint text."""

    def __init__(self, space: FeatureSpace, heads: dict[str, LinearHead], config: dict[str, Any]) -> None:
        self.space = space
        self.heads = heads
        self.config = config
        self.version: str = config.get("version", "unversioned")
        self.low_confidence: dict[str, float] = config.get("low_confidence", {})
        self.flag_thresholds: dict[str, float] = config.get("flag_thresholds", {})
        # Log-probability offsets per class, so a small class wins a close call (model.json).
        self._bias = {name: np.array([config.get("decision_bias", {}).get(name, {}).get(c, 0.0)
                                      for c in head.classes]) for name, head in heads.items()}
        self._bias_max_chars: int = config.get("decision_bias_max_chars", 10**9)
        # All heads in one weight matrix: one sparse product per batch instead of one per head.
        self._slices: dict[str, slice] = {}
        start = 0
        for name, head in heads.items():
            self._slices[name] = slice(start, start + head.coef.shape[0])
            start += head.coef.shape[0]
        self._W = np.ascontiguousarray(np.vstack([h.coef for h in heads.values()]).T, dtype=np.float32)
        self._b = np.concatenate([h.intercept for h in heads.values()])
        self._names: list[str] = space.names_.tolist()

    # ---- persistence -------------------------------------------------------------------
    def save(self, folder: Path) -> dict[str, str]:
        folder.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = dict(self.space.to_arrays())
        for name, head in self.heads.items():
            arrays[f"{name}.coef"] = head.coef.astype(np.float32)
            arrays[f"{name}.intercept"] = head.intercept.astype(np.float64)
            arrays[f"{name}.calib_a"] = head.calib_a.astype(np.float64)
            arrays[f"{name}.calib_b"] = head.calib_b.astype(np.float64)
        config = {**self.config, "heads": {n: h.classes for n, h in self.heads.items()}}
        np.savez_compressed(folder / ARTIFACT, **arrays)
        (folder / CONFIG).write_text(json.dumps(config, ensure_ascii=False, indent=1), encoding="utf-8")
        return {ARTIFACT: _sha256(folder / ARTIFACT), CONFIG: _sha256(folder / CONFIG)}

    @classmethod
    def load(cls, folder: Path, expected: dict[str, str] | None = None) -> TriageModel:
        """Load a model folder; `expected` (default: the card's hashes) must match the files."""
        folder = Path(folder)
        if expected is None:
            try:
                expected = json.loads((folder / CARD).read_text(encoding="utf-8"))["artifacts"]
            except (OSError, KeyError, ValueError) as exc:
                raise ModelError(f"{folder}: no readable model card with artifact hashes ({exc})") from exc
        for name in (ARTIFACT, CONFIG):
            path = folder / name
            if not path.exists():
                raise ModelError(f"{folder}: {name} is missing")
            if _sha256(path) != expected.get(name):
                raise ModelError(f"{path}: SHA-256 does not match the model card; refusing to load it")
        config = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
        with np.load(folder / ARTIFACT, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        space = FeatureSpace.from_arrays(arrays)
        heads = {
            name: LinearHead(list(classes), arrays[f"{name}.coef"], arrays[f"{name}.intercept"],
                             arrays[f"{name}.calib_a"], arrays[f"{name}.calib_b"])
            for name, classes in config["heads"].items()
        }
        width = len(space.names_)
        for name, head in heads.items():
            if head.coef.shape[1] != width:
                raise ModelError(f"{folder}: head {name} has {head.coef.shape[1]} weights for {width} features")
        return cls(space, heads, config)

    # ---- prediction --------------------------------------------------------------------
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
        texts = [nt.text for _, nt in items]
        cues = [find_cues(t) for t in texts]
        X = self.space.transform(texts, cues)
        decision = np.asarray(X @ self._W) + self._b
        probs = {name: head.proba_from_decision(decision[:, self._slices[name]]) for name, head in self.heads.items()}
        # The decision biases were chosen on one-line complaints and apply to those only.
        short = (np.array([len(t) for t in texts]) <= self._bias_max_chars)[:, None]
        with np.errstate(divide="ignore"):
            chosen = {h: (np.log(probs[h]) + self._bias[h] * short).argmax(axis=1) for h in HEADS}
        evidence = {name: self._top_features(X, self.heads[name], chosen[name]) for name in chosen}

        n = len(items)
        flag_names = [f for f in FLAGS if f"flags.{f}" in probs]
        fp = np.column_stack([probs[f"flags.{f}"][:, 1] for f in flag_names]) if flag_names else np.zeros((n, 0))
        thresholds = np.array([self.flag_thresholds.get(f, 0.5) for f in flag_names])
        on = fp >= thresholds
        near = np.abs(fp - thresholds) < self.low_confidence.get("flags", 0.15)
        major_cols = [j for j, f in enumerate(flag_names) if f in MAJOR_FLAGS]
        major_p = np.where(on[:, major_cols], fp[:, major_cols], 0.0).max(axis=1) if major_cols else np.zeros(n)
        rows = np.arange(n)
        label_of = {h: [self.heads[h].classes[i] for i in chosen[h].tolist()] for h in HEADS}
        conf_of = {h: np.round(probs[h][rows, chosen[h]], 4).tolist() for h in HEADS}
        low_of = {h: (probs[h][rows, chosen[h]] < self.low_confidence.get(h, 0.6)).tolist() for h in HEADS}
        fp_rounded = np.round(fp, 4).tolist()
        on_rows, near_rows, major_rows = on.tolist(), near.tolist(), major_p.tolist()

        preds = []
        for r, (row_id, nt) in enumerate(items):
            flags = [f for f, hit in zip(flag_names, on_rows[r]) if hit]
            labels = {h: label_of[h][r] for h in HEADS}
            conf: dict[str, Any] = {h: conf_of[h][r] for h in HEADS}
            rules = []
            top = evidence
            if major_rows[r] > 0:
                major_by = [f for f in flags if f in MAJOR_FLAGS]
                if labels["severity"] != "major":
                    labels["severity"] = "major"
                    conf["severity"] = round(major_rows[r], 4)
                    # The flags, not the severity model, are the reason: their cues are the evidence.
                    top = {**evidence, "severity": _NO_EVIDENCE}
                rules.append(f"severity=major: flag {', '.join(major_by)} (rules.md §2, 002-C 四)")
            conf["flags"] = dict(zip(flag_names, fp_rounded[r]))
            low = [h for h in HEADS if low_of[h][r] and not (h == "severity" and top is not evidence)]
            low += [f"flags.{f}" for f, close in zip(flag_names, near_rows[r]) if close]
            preds.append(Prediction(
                id=row_id, business_line=labels["business_line"], category=labels["category"],
                severity=labels["severity"], flags=flags, confidence=conf,
                evidence=self._evidence(nt, r, labels, flags, cues[r], top),
                low_confidence=low, rules=rules, model=self.version))
        return preds

    def _top_features(self, X: sp.csr_matrix, head: LinearHead, chosen: np.ndarray, k: int = 2
                      ) -> list[list[tuple[int, float]]]:
        """For each row, the k features that pushed hardest toward the chosen label.

        Linear in the number of non-zeros (k passes of a segmented max), since sorting
        every row's features cost more than the whole prediction."""
        sign, row_of_coef = head.class_weights(chosen)
        n = X.shape[0]
        counts = np.diff(X.indptr)
        rows = np.repeat(np.arange(n), counts)
        contrib = (X.data * head.coef[row_of_coef[rows], X.indices] * sign[rows]).astype(np.float64)
        out: list[list[tuple[int, float]]] = [[] for _ in range(n)]
        nonempty = np.flatnonzero(counts)
        if not len(nonempty):
            return out
        for _ in range(k):
            best = np.full(n, -np.inf)
            best[nonempty] = np.maximum.reduceat(contrib, X.indptr[nonempty])
            hit = np.flatnonzero((contrib == best[rows]) & (contrib > 0))
            if not len(hit):
                break
            _, first = np.unique(rows[hit], return_index=True)
            pos = hit[first]
            for r, i, w in zip(rows[pos].tolist(), X.indices[pos].tolist(), np.round(contrib[pos], 4).tolist()):
                out[r].append((i, w))
            contrib[pos] = -np.inf
        return out

    def _evidence(self, nt: NormalizedText, r: int, labels: dict[str, str], flags: list[str],
                  cues: list[Cue], top: dict[str, list[list[tuple[int, float]]]]) -> list[Evidence]:
        found: list[tuple[str, str, int, int, str, float]] = [
            (f"flags.{cue.flag}", cue.flag, cue.start, cue.end, f"cue:{cue.key}", 1.0)
            for cue in cues if cue.flag in flags]
        for head in HEADS:
            for index, weight in top[head][r]:
                name = self._names[index]
                span = self._locate(nt.text, name, cues)
                if span is not None:
                    found.append((head, labels[head], span[0], span[1], name, weight))
        if not found:
            return []
        pii = find_pii(nt.original)
        out = []
        for head, label, start, end, feature, weight in found:
            a, b = nt.span_to_original(start, end)
            snippet = nt.original[a:b]
            if pii and any(s.start < b and a < s.end for s in pii):
                snippet = "*" * len(snippet)
            out.append(Evidence(head, label, a, b, snippet, feature, weight))
        return out

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
