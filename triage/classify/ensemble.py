"""An ensemble backend: the per-head probabilities of member models (here the
scikit-learn model and the transformer), averaged with fixed weights, then the shared
post-processing (triage.classify.base). Its evidence is every member's, for the labels the
ensemble chose.

A folder holds `model.json`: the member names in the registry, the SHA-256 of each
member's card (a member retrained under the same name is refused), the weights and the
post-processing settings. The members load with their own checks.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from triage.classify.base import Decoder, ServingModel
from triage.classify.cues import find_cues_batch
from triage.classify.labels import HEADS
from triage.classify.prediction import Prediction
from triage.classify.registry import CARD, CONFIG, ModelError, card_artifacts, sha256, verify_files
from triage.classify.sklearn import SklearnModel
from triage.text.normalize import NormalizedText


class EnsembleModel(ServingModel):
    def __init__(self, members: list[ServingModel], weights: list[float], config: dict[str, Any]) -> None:
        if len(members) != len(weights) or not members:
            raise ModelError("an ensemble needs one weight per member")
        self.members = members
        self.weights = np.asarray(weights, dtype=float) / float(np.sum(weights))
        self.config = config
        self.version: str = config.get("version", "unversioned")
        # Columns aligned by class name; a class a member never saw has probability 0 in it.
        heads = set.intersection(*(set(m.classes) for m in members))
        self.classes: dict[str, list[str]] = {
            h: sorted({c for m in members for c in m.classes[h]}) for h in members[0].classes if h in heads}
        if any(h not in self.classes for h in HEADS):
            raise ModelError("ensemble members must share the business line, category and severity heads")
        self._decoder = Decoder(self.classes, config)

    def save(self, folder: Path) -> dict[str, str]:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / CONFIG).write_text(json.dumps(self.config, ensure_ascii=False, indent=1), encoding="utf-8")
        return {CONFIG: sha256(folder / CONFIG)}

    @classmethod
    def load(cls, folder: Path, load_member) -> EnsembleModel:
        """`load_member(name)` gives a member from the same registry."""
        folder = Path(folder)
        expected = card_artifacts(folder)
        verify_files(folder, (CONFIG,), expected)
        path = folder / CONFIG
        config = json.loads(path.read_text(encoding="utf-8"))
        members = []
        for m in config["members"]:
            card = folder.parent / m["name"] / CARD
            if not card.exists() or hashlib.sha256(card.read_bytes()).hexdigest() != m["card_sha256"]:
                raise ModelError(f"{folder}: member {m['name']} is missing or not the model the ensemble was built on")
            members.append(load_member(m["name"]))
        return cls(members, [m["weight"] for m in config["members"]], config)

    def head_probabilities(self, texts: list[str], cues) -> tuple[dict[str, np.ndarray], list]:
        """Per head (rows, classes) the weighted mean of the members' probabilities of the
        normalised `texts`; and each member's (probabilities, evidence function, member)."""
        outputs = [_member_scores(m, texts, cues) for m in self.members]
        probs = {}
        for h, cls in self.classes.items():
            total = np.zeros((len(texts), len(cls)))
            for w, (p, _, member) in zip(self.weights, outputs):
                for j, c in enumerate(cls):
                    if c in member.classes[h]:
                        total[:, j] += w * p[h][:, member.classes[h].index(c)]
            probs[h] = total
        return probs, outputs

    def _predict_normalized(self, items: list[tuple[str, NormalizedText]]) -> list[Prediction]:
        texts = [nt.text for _, nt in items]
        cues = find_cues_batch(texts)
        probs, outputs = self.head_probabilities(texts, cues)

        def evidence(chosen: dict[str, np.ndarray]) -> dict[str, list[list[tuple[int, int, str, float]]]]:
            out: dict[str, list[list[tuple[int, int, str, float]]]] = {h: [[] for _ in texts] for h in HEADS}
            for _, spans_of, member in outputs:
                # A member's evidence for the chosen label, in its own class numbering; none
                # for rows whose label that member does not know.
                known = {h: np.array([self.classes[h][i] in member.classes[h] for i in chosen[h]]) for h in HEADS}
                mine = {h: np.array([member.classes[h].index(self.classes[h][i]) if k else 0
                                     for i, k in zip(chosen[h], known[h])], dtype=int) for h in HEADS}
                for h, rows in spans_of(mine).items():
                    for r, spans in enumerate(rows):
                        if known[h][r]:
                            out[h][r].extend(spans)
            return out

        return self._decoder.decode(items, probs, cues, evidence)


def _member_scores(member: ServingModel, texts: list[str], cues):
    """(probabilities per head, evidence function, member) of one member."""
    if isinstance(member, SklearnModel):
        probs, X = member.head_probabilities(texts, cues)
        return probs, lambda chosen: member.spans(texts, cues, X, chosen), member
    probs, terms, token_spans = member.head_probabilities(texts)  # a transformer (torch or ONNX)
    return probs, lambda chosen: member.spans(texts, terms, token_spans, chosen), member
