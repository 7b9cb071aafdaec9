"""How the transformer reads a text longer than its encoder (no torch needed: the
encoding and the pooled heads are numpy): the head, the head and tail, or every character
in equal windows pooled together; and the threads it may use."""

from __future__ import annotations

import numpy as np
import pytest

from triage.classify.registry import ModelError
from triage.classify.transformer import THREADS_ENV, cpu_threads
from triage.classify.transformer.chars import CLS, SEP, CharTokenizer
from triage.classify.transformer.encoding import TextEncoder
from triage.classify.transformer.heads import TokenStateModel

LONG = "甲" * 30 + "乙" * 30 + "丙"
TOKENIZER = CharTokenizer(["甲", "乙", "丙", "丁"])


def _chars(encoder: TextEncoder, text: str) -> list[str]:
    spans = encoder.windows([text])[2]
    return [text[a:b] for row in spans for a, b in row if b > a]


def test_head_reads_the_beginning_only():
    assert _chars(TextEncoder(TOKENIZER, 22, "head"), LONG) == list("甲" * 20)


def test_head_tail_reads_both_ends():
    kept = _chars(TextEncoder(TOKENIZER, 22, "head_tail"), LONG)
    assert kept == list("甲" * 10 + "乙" * 9 + "丙")


def test_chunks_read_every_character_once_in_equal_windows():
    ids, mask, spans, owner = TextEncoder(TOKENIZER, 22, "chunks").windows(["丁丁", LONG])
    assert owner.tolist() == [0, 1, 1, 1, 1]
    lengths = mask.sum(axis=1).tolist()
    assert lengths == [4, 17, 17, 17, 18]  # 61 characters in 4 windows of 15 or 16, not 20+20+20+1
    assert all(ids[w, 0] == CLS and ids[w, lengths[w] - 1] == SEP for w in range(5))
    read = [LONG[a:b] for w in range(1, 5) for a, b in spans[w] if b > a]
    assert "".join(read) == LONG


def test_an_unknown_window_is_refused():
    with pytest.raises(ValueError, match="unknown window"):
        TextEncoder(TOKENIZER, 22, "middle")


class _OneHot(TokenStateModel):
    """A stand-in encoder: each token's state is the one-hot vector of its id."""

    def token_states(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return np.eye(len(TOKENIZER), dtype=np.float32)[ids]


def _model(window: str) -> _OneHot:
    hidden = len(TOKENIZER)
    weight = np.zeros((2, hidden), dtype=np.float32)
    weight[1, TOKENIZER.index["丙"]] = 50.0  # "丙" anywhere decides the category
    heads = {"business_line": ["after_sales", "sales"], "category": ["product_quality", "service"],
             "severity": ["grumble", "major"]}
    linear = {h: (weight if h == "category" else np.zeros((2, hidden), dtype=np.float32), np.zeros(2))
              for h in heads}
    return _OneHot(linear, TextEncoder(TOKENIZER, 22, window), {"version": "one-hot", "heads": heads})


def test_a_long_text_pools_every_window_and_its_evidence_points_into_the_tail():
    probs, terms, spans = _model("chunks").head_probabilities([LONG])
    tokens = 61 + 2 * 4  # every character, and each window's [CLS] and [SEP]
    expected = 50.0 / tokens
    assert probs["category"][0, 1] == pytest.approx(1 / (1 + np.exp(-expected)))
    assert len(spans[0]) == tokens and terms[0]["category"].shape == (tokens, 2)
    p = _model("chunks").predict([LONG])[0]
    assert any(e.head == "category" and e.text == "丙" and e.start == 60 for e in p.evidence)
    # The head alone never sees the last character.
    head, _, _ = _model("head").head_probabilities([LONG])
    assert head["category"][0, 1] == pytest.approx(0.5)


def test_threads_come_from_the_environment(monkeypatch):
    monkeypatch.setenv(THREADS_ENV, "1")
    assert cpu_threads() == 1
    monkeypatch.delenv(THREADS_ENV)
    assert 1 <= cpu_threads() <= 2
    for wrong in ("0", "two"):
        monkeypatch.setenv(THREADS_ENV, wrong)
        with pytest.raises(ModelError, match=THREADS_ENV):
            cpu_threads()
