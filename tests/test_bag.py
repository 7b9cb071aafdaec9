"""The long-text member: fastText exported as a linear head over the mean of its tokens
(triage.classify.bag, training.fasttext_export), and its place in the served model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from training import dataset
from training.fasttext_export import bigram_bucket, export, fit_fasttext, fnv1a, probabilities
from training.peers import expand
from triage.classify.bag import EOS, MeanBagHead, bigram, tokens_of
from triage.classify.registry import ModelError, sha256
from triage.classify.sklearn import SklearnModel
from triage.text.normalize import normalize


@pytest.fixture(scope="module")
def fitted():
    """fastText fitted on 3,000 real one-liners and the training narratives, and the held-out
    narratives (the test month's first 300) as tokens."""
    real = list(dataset.real_examples())
    train = [e for e in real if e.split == "train" and e.register == "summary"][:3000]
    train += [e for e in real if e.split == "train" and e.register == "narrative"]
    texts, ys, _ = expand(train, "business_line")
    tokens = tokens_of([normalize(t).text for t in texts])
    held = [normalize(e.text).text for e in real if e.split == "test" and e.register == "narrative"][:300]
    return fit_fasttext(tokens, ys), tokens, tokens_of(held)


def test_fasttext_hashes_reproduce_its_probabilities_exactly(fitted):
    """The whole of fastText's forward pass from its own rows: the words' and every bigram's
    bucket (FNV-1a with sign-extended bytes, int32 hashes widened to uint64), their mean, the
    output matrix, softmax. A bucket off by anything gives another row of random numbers."""
    model, _, held = fitted
    words = {w: i for i, w in enumerate(model.get_words())}
    bucket = int(model.f.getArgs().bucket)
    out = np.asarray(model.get_output_matrix(), dtype=np.float64)
    ours = []
    for toks in held:
        ids = [words[t] for t in toks if t in words]
        ids += [len(words) + bigram_bucket(a, b, bucket) for a, b in zip(toks, toks[1:])]
        z = out @ np.mean([model.get_input_vector(i) for i in ids], axis=0)
        ours.append(np.exp(z - z.max()) / np.exp(z - z.max()).sum())
    assert len(held) == 300
    assert np.abs(np.array(ours) - probabilities(model, held)[0]).max() < 1e-4


def test_fnv1a_sign_extends_bytes_as_cpp_chars():
    assert fnv1a("") == 2166136261
    assert fnv1a("a") == 0xE40C292C  # FNV-1a of one ASCII byte, the published test vector
    # A byte >= 0x80 is XORed as 0xFFFFFFxx: not the textbook FNV-1a of "é" (0xC3 0xA9).
    textbook = 2166136261
    for b in "é".encode():
        textbook = ((textbook ^ b) * 16777619) & 0xFFFFFFFF
    assert fnv1a("é") != textbook


def test_export_matches_fasttext_on_held_out_narratives(fitted):
    model, tokens, held = fitted
    head = export(model, tokens)
    theirs, classes = probabilities(model, held)
    assert classes == head.classes
    ours = head.predict_proba(held)
    # The one difference: a bigram unseen in training, whose bucket another bigram trained.
    assert np.abs(ours - theirs).max() < 0.02
    assert (ours.argmax(axis=1) == theirs.argmax(axis=1)).sum() == 300
    assert head.weights.shape == (len(model.get_words()) + len({bigram(a, b) for t in tokens
                                                                 for a, b in zip(t, t[1:])}), 2)


def test_mean_over_known_tokens_and_every_bigram():
    head = MeanBagHead.from_terms(["a", "b"], ["刹车", "失灵", EOS, bigram("刹车", "失灵")],
                                  np.array([[1.0, 0.0], [0.0, 3.0], [0.5, 0.5], [2.0, -2.0]]))
    z = head.logits([["刹车", "失灵", "了", EOS]])
    # tokens found: 刹车, 失灵, EOS (了 is unknown: not counted); bigrams: 3, one known.
    assert np.allclose(z, [[(1.0 + 0.0 + 0.5 + 2.0) / 6, (0.0 + 3.0 + 0.5 - 2.0) / 6]])
    assert np.allclose(head.predict_proba([["刹车", "失灵", "了", EOS]]).sum(), 1.0)
    # Only EOS known, over itself and two bigrams.
    assert np.allclose(head.logits([["完全", "陌生", EOS]]), [[0.5 / 3, 0.5 / 3]])
    # A text of no tokens (tokens_of always ends one with EOS) reads as nothing found, beside others.
    assert np.allclose(head.logits([[], ["刹车", EOS], []]), [[0, 0], [1.5 / 3, 0.5 / 3], [0, 0]])


def test_tokens_are_words_then_characters_without_whitespace():
    [toks] = tokens_of(["刹车 失灵\n了"], [["刹车", "失灵", "了"]])
    assert toks == ["刹车", "失灵", "了", "刹", "车", "失", "灵", "了", EOS]


def test_bad_arrays_are_refused():
    good = MeanBagHead.from_terms(["a", "b"], ["x", "y", "z"], np.zeros((3, 2)))
    s1, h2 = good.table.s1, good.table.h2
    assert MeanBagHead.from_arrays(["a", "b"], s1, h2, good.weights).weights.shape == (3, 2)
    with pytest.raises(ValueError, match="bag head") as refused:
        MeanBagHead.from_arrays(["a", "b"], s1, h2, np.zeros((3, 3)))
    assert "3 keys and 2 classes with rows of (3, 3)" in str(refused.value)


@pytest.fixture(scope="module")
def member_model():
    """The small model's heads (no flags) with a long-text member of business line at 0.5, and the
    label counts `fit` reports."""
    from tests.conftest import small_examples
    from training.train import TrainConfig, fit

    return fit(small_examples(), TrainConfig(folds=3, long_member={"business_line": 0.5}), "test-member", flags=())


def _long_and_short():
    long_texts = [e.text for e in dataset.real_examples() if e.register == "narrative" and len(e.text) > 60][:40]
    short = ["提车时发现漆面有划痕", "保养后发动机异响", "销售顾问承诺的礼包没给"]
    return [normalize(t).text for t in long_texts + short], len(long_texts)


def test_the_member_mixes_into_long_texts_only(member_model):
    small_model, _ = member_model
    assert set(small_model.long_members) == {"business_line"}
    texts, n_long = _long_and_short()
    alone = SklearnModel(small_model.space, small_model.heads, small_model.config)
    mixed, _ = small_model.head_probabilities(texts, [[] for _ in texts])
    plain, _ = alone.head_probabilities(texts, [[] for _ in texts])
    member = small_model.long_members["business_line"]
    share = small_model.config["long_member"]["business_line"]["share"]
    theirs = member.predict_proba(tokens_of(texts[:n_long]))
    theirs = theirs[:, [member.classes.index(c) for c in small_model.heads["business_line"].classes]]
    assert share == 0.5
    assert np.allclose(mixed["business_line"][:n_long], 0.5 * plain["business_line"][:n_long] + 0.5 * theirs)
    assert np.abs(mixed["business_line"][:n_long] - plain["business_line"][:n_long]).max() > 0.01
    assert np.array_equal(mixed["business_line"][n_long:], plain["business_line"][n_long:])
    assert np.array_equal(mixed["category"], plain["category"])


def test_saved_and_loaded_with_the_member(member_model, tmp_path):
    small_model, _ = member_model
    texts, _ = _long_and_short()
    hashes = small_model.save(tmp_path / "m")
    loaded = SklearnModel.load(tmp_path / "m", hashes)
    a, _ = small_model.head_probabilities(texts, [[] for _ in texts])
    b, _ = loaded.head_probabilities(texts, [[] for _ in texts])
    assert np.allclose(a["business_line"], b["business_line"], atol=1e-6)
    assert json.loads((tmp_path / "m" / "model.json").read_text())["long_member"]["business_line"]["share"] == 0.5


def test_a_member_without_its_arrays_is_a_model_error(member_model, tmp_path):
    small_model, _ = member_model
    folder = tmp_path / "m"
    small_model.save(folder)
    with np.load(folder / "model.npz") as npz:
        arrays = {k: npz[k] for k in npz.files if k != "long.business_line.weights"}
    assert SklearnModel.load(folder, expected=_hashes(folder)).long_members  # whole, it loads
    np.savez(folder / "model.npz", **arrays)
    with pytest.raises(ModelError, match="long-text member") as refused:
        SklearnModel.load(folder, expected=_hashes(folder))
    assert "long.business_line.weights" in str(refused.value)


def _hashes(folder):
    """The files' own hashes, as a card would give them (the test changes the files on purpose)."""
    return {name: sha256(folder / name) for name in ("model.npz", "model.json")}


def test_the_member_is_fitted_on_every_row_written_ones_too(member_model, small_model):
    from collections import Counter

    from tests.conftest import small_examples

    model, counts = member_model
    examples = small_examples()
    _, labels, _ = expand(examples, "business_line")
    assert len([e for e in examples if e.source == "written"]) == 30
    assert counts["long_member.business_line"] == dict(Counter(labels))
    assert sum(counts["long_member.business_line"].values()) == sum(
        len(e.gold["business_line"]) for e in examples if e.gold.get("business_line")) == 392
    assert model.config["long_member"] == {"business_line": {"share": 0.5, "classes": model.long_members[
        "business_line"].classes}}
    # Off by default (TrainConfig.long_member): the served setting has no member.
    assert small_model.long_members == {}
    assert "long_member" not in small_model.config


def test_a_member_of_a_bad_share_is_a_model_error(member_model, tmp_path):
    small_model, _ = member_model
    folder = tmp_path / "m"
    small_model.save(folder)
    config = json.loads((folder / "model.json").read_text())
    for share in (0, 1.5, "half", None):
        config["long_member"]["business_line"]["share"] = share
        (folder / "model.json").write_text(json.dumps(config))
        with pytest.raises(ModelError, match="long-text member of business_line"):
            SklearnModel.load(folder, expected=_hashes(folder))
    config["long_member"]["business_line"]["share"] = 1.0  # the whole: it loads
    (folder / "model.json").write_text(json.dumps(config))
    loaded = SklearnModel.load(folder, expected=_hashes(folder))
    assert loaded.config["long_member"]["business_line"]["share"] == 1.0
