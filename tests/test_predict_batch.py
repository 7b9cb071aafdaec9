"""`predict` reads a batch at once (issue 12, throughput): each batch path gives exactly what the
row-by-row reading it replaced gives, on real one-liners and narratives and on the edge cases
(personal data, Traditional and full-width text, raised and forced flags, texts that run into
each other when joined)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from triage.classify import registry
from triage.classify.base import Decoder, to_evidence
from triage.classify.cues import find_cues, find_cues_batch
from triage.classify.labels import FLAGS, HEADS, REGISTER, flags_forcing_major
from triage.classify.prediction import Prediction
from triage.classify.tagging import batches
from triage.cli.common import dump_line
from triage.io import RowError, read_rows
from triage.text.hashing import _SPREAD, MASK, KeyTable, _inverse
from triage.text.mask import find_pii, may_hold_pii
from triage.text.normalize import normalize

REAL = Path(__file__).resolve().parents[1] / "training" / "data" / "real"

EDGES = [
    "车主张三先生，电话13812345678，车牌粤B12345，刹车失灵报警了",
    "我叫李四，身份证号110101199003071234，车架号LSVAU2180N2183294，发动机异响，已投诉12315",
    "我的車在行駛中熄火，差點出車禍，已經報警，粵B12345",
    "ＡＢＳ故障灯亮，４Ｓ店不管，打了１２３１５",
    "😡刹车失灵！！！  4S店说可以去起诉，我不想闹大",
    "   前后有空格   \n\n 第二行 记者 ",
    "王先生反映：变速箱顿挫，多次维修未果，要找媒体曝光，邮箱 abc@example.com 座机 020-12345678",
    "行驶中突然熄火，差点追尾，已经第三次维修了，不解决就去法院起诉，并且找电视台曝光，还要去市场监管局投诉，再不行就跳楼",
    "客服：您好\n客户：我的车又坏了，第三次了\n客服：您先别急\n客户：不解决我就报警",
    "車主陳先生，車牌粵Ｂ１２３４５，剎車失靈",
    "發動機異響，4S店拒絕三包，已向消協投訴，將訴諸法律",
    "凯越刹车总泵损坏 刹车失灵",  # 车总 is no surname and title: no [姓名] in its evidence
    "李经理推诿",  # with no flag raised, a name in the evidence is named [姓名]
    "😀  大众朗逸变速箱异响，4S店态度差",  # no flag, no personal data, but not the text as written
    "车牌粵ＢＡＢＣＤＥ停在店里", "邮箱ａｂｃ＠ｅｘａｍｐｌｅ.com",  # personal data once folded
    # Joined, these run into each other: the end of one and the start of the next make a cue.
    "这台车的刹车", "失灵了两次", "又去", "店里修", "1231", "5已经打了", "我姓", "王，电话1381234", "5678",
    "!!!", "a", "汽车",
]


def _texts(path: Path, every: int = 1, limit: int | None = None) -> list[str]:
    with path.open(encoding="utf-8") as f:
        texts = [r["text"] for i, r in enumerate(csv.DictReader(f)) if i % every == 0]
    return texts[:limit]


@pytest.fixture(scope="module")
def samples() -> list[str]:
    """2,000 real one-liners, 300 real narratives and the edge cases, as written."""
    return (_texts(REAL / "complaints_12365auto_2020-06_12.csv", every=13, limit=2000)
            + _texts(REAL / "complaints_aqsiq_2024-01_03.csv", every=8, limit=300) + EDGES)


@pytest.fixture(scope="module")
def shipped():
    return registry.load()


# ---- cues and personal data over the joined batch -------------------------------------------
def test_cues_of_a_batch_are_each_texts_own(samples):
    texts = [normalize(t).text for t in samples]
    want = [find_cues(t) for t in texts]
    assert sum(map(bool, want)) > 100  # the samples hold cues to find
    assert find_cues_batch(texts) == want
    assert find_cues_batch(samples) == [find_cues(t) for t in samples]
    # A match that runs from one text into the next hides nothing of the second.
    pairs = [["这台车的刹车", "制动失灵"], ["这台车的刹车", "失灵了"], ["又去", "店里修了三次"], ["拨打1231", "5投诉"],
             ["多次到", "4S店维修"]]
    for pair in pairs:
        assert find_cues("".join(pair))  # joined, they make a cue
        assert find_cues_batch(pair) == [find_cues(t) for t in pair], pair
    holding_the_separator = ["含\x00的文本报警了", "刹车失灵"]
    assert find_cues_batch(holding_the_separator) == [find_cues(t) for t in holding_the_separator]


def test_no_cue_pattern_looks_past_the_separator():
    """What keeps the joined search exact: a match that runs into the next text marks it, but a
    negative look-around that took the separator for a stop would hide a match unseen."""
    import re._compiler as sre_compile
    import re._parser as sre_parse

    from triage.classify.cues import _CUES, _JOIN

    def negative_bodies(node):
        if isinstance(node, sre_parse.SubPattern):
            for op, av in node.data:
                if op is sre_parse.ASSERT_NOT:
                    yield av[1]
                yield from negative_bodies(av)
        elif isinstance(node, (list, tuple)):
            for item in node:
                yield from negative_bodies(item)

    bodies = [body for _, _, pattern in _CUES for body in negative_bodies(sre_parse.parse(pattern))]
    assert len(bodies) > 5
    assert not [body for body in bodies if sre_compile.compile(body).match(_JOIN)]


def test_a_text_said_to_hold_no_personal_data_holds_none(samples):
    texts = [*samples, "电话1381234", "5678", "我姓", "王先生", "粵Ｂ１２３４５"]
    maybe = may_hold_pii(texts)
    holding = [m for t, m in zip(texts, maybe) if find_pii(t)]
    assert len(holding) >= 3 and all(holding)
    assert sum(maybe) < len(texts) / 2  # and most are not searched again


# ---- the decoder, batch against row by row -------------------------------------------------
def reference_decode(decoder: Decoder, items, probs: dict[str, np.ndarray], cues, evidence_of) -> list[Prediction]:
    """The decoder as it was written before issue 12's batch version: one row at a time."""
    texts = [nt.text for _, nt in items]
    # One-line settings: a short text that the register head, if the model has one, reads as a summary.
    summary = decoder.classes[REGISTER].index("summary") if REGISTER in decoder.classes else None
    short = np.array([len(t) <= decoder.short_max_chars and (summary is None or probs[REGISTER][i, summary] >= 0.5)
                      for i, t in enumerate(texts)], dtype=bool)
    chosen = decoder.choose(texts, probs, short)
    evidence = evidence_of(chosen)
    n = len(items)
    flag_names = [f for f in FLAGS if f"flags.{f}" in probs]
    fp = np.column_stack([probs[f"flags.{f}"][:, 1] for f in flag_names]) if flag_names else np.zeros((n, 0))
    for j, f in enumerate(flag_names):
        if f in decoder.flags_need_cue:
            fp[:, j] *= np.array([any(c.flag == f for c in row) for row in cues], dtype=float)
    thresholds = np.where(short[:, None], [decoder.flag_thresholds.get(f, 0.5) for f in flag_names],
                          [decoder.flag_thresholds_long.get(f, 0.5) for f in flag_names])
    on, near = fp >= thresholds, np.abs(fp - thresholds) < decoder.low_confidence.get("flags", 0.15)
    rows = np.arange(n)
    conf_of = {h: np.round(probs[h][rows, chosen[h]], 4).tolist() for h in HEADS}
    alternatives = {h: decoder.alternatives(h, probs[h]) for h in HEADS}
    preds = []
    for r, (row_id, nt) in enumerate(items):
        flags = [f for f, hit in zip(flag_names, on[r].tolist()) if hit]
        labels = {h: decoder.classes[h][int(chosen[h][r])] for h in HEADS}
        conf: dict[str, Any] = {h: conf_of[h][r] for h in HEADS}
        rules, forced = [], False
        major_by = flags_forcing_major(flags)
        if major_by:
            if labels["severity"] != "major":
                labels["severity"] = "major"
                conf["severity"] = round(max(fp.tolist()[r][flag_names.index(f)] for f in major_by), 4)
                forced = True
            rules.append(f"severity=major: flag {', '.join(major_by)} (rules.md §2, 002-C 四)")
        conf["flags"] = dict(zip(flag_names, np.round(fp, 4).tolist()[r]))
        low = [h for h in HEADS if probs[h][r, chosen[h][r]] < decoder.low_confidence.get(h, 0.6)
               and not (h == "severity" and forced)]
        low += [f"flags.{f}" for f, close in zip(flag_names, near[r].tolist()) if close]
        spans = {h: () if h == "severity" and forced else evidence[h][r] for h in HEADS}
        preds.append(Prediction(
            id=row_id, business_line=labels["business_line"], category=labels["category"],
            severity=labels["severity"], flags=flags, confidence=conf,
            alternatives={h: alternatives[h][r] for h in HEADS},
            evidence=to_evidence(nt, labels, flags, cues[r], spans, clause=not short[r]),
            low_confidence=low, rules=rules, model=decoder.version))
    return preds


def _scored(model, texts: list[str]):
    items = [(str(i), normalize(t)) for i, t in enumerate(texts)]
    normalized = [nt.text for _, nt in items]
    cues = find_cues_batch(normalized)
    probs, X = model.head_probabilities(normalized, cues)
    return items, probs, cues, lambda chosen: model.spans(normalized, cues, X, chosen)


def test_the_shipped_models_batch_is_its_rows_one_by_one(shipped, samples):
    assert len(samples) > 2000
    for start in range(0, len(samples), 700):
        items, probs, cues, evidence_of = _scored(shipped, samples[start:start + 700])
        got = shipped._decoder.decode(items, probs, cues, evidence_of)
        want = reference_decode(shipped._decoder, items, probs, cues, evidence_of)
        assert [p.to_dict() for p in got] == [p.to_dict() for p in want]
        assert [dump_line(p) for p in got] == [dump_line(p) for p in want]
    # What the edge cases are there for: each road of the evidence was taken.
    preds = shipped.predict(EDGES)
    assert any("[姓名]" in e.text for p in preds if not p.flags for e in p.evidence)  # personal data named
    assert not any("[姓名]" in e.text for e in preds[EDGES.index("凯越刹车总泵损坏 刹车失灵")].evidence)
    assert any(p.rules for p in preds) and any(e.head.startswith("flags.") for p in preds for e in p.evidence)


@pytest.mark.parametrize("seed", range(6))
def test_flags_forced_severity_and_review_lists_of_any_probabilities(seed):
    """Probabilities drawn at random: every combination of raised, near and forced flags, a
    flag that needs a cue of its own, both registers."""
    rng = np.random.default_rng(seed)
    classes = {"business_line": ["after_sales", "sales"], "category": ["product_quality", "service", "other"],
               "severity": ["grumble", "complaint", "major"], **{f"flags.{f}": ["0", "1"] for f in FLAGS}}
    if seed % 2:
        classes[REGISTER] = ["narrative", "summary"]
    decoder = Decoder(classes, {"version": "t", "flag_thresholds": {f: 0.5 for f in FLAGS},
                                "flag_thresholds_long": {"media": 0.7}, "flags_need_cue": ["legal"],
                                "low_confidence": {"business_line": 0.8, "severity": 0.7, "flags": 0.2},
                                "decision_bias_max_chars": 10})
    texts = ["我已经报警了", "刹车失灵", "发动机异响，多次维修未果，准备起诉", "车主张三电话13812345678"] * 40
    n = len(texts)
    probs = {h: rng.dirichlet(np.ones(len(c)) * 0.5, size=n) for h, c in classes.items() if not h.startswith("flags.")}
    probs |= {f"flags.{f}": np.column_stack([1 - (p := rng.random(n) ** 2), p]) for f in FLAGS}
    items = [(str(i), normalize(t)) for i, t in enumerate(texts)]
    cues = find_cues_batch([nt.text for _, nt in items])
    spans = {h: [[(0, 2, f"w:{h}", 0.5)] if i % 3 else [] for i in range(n)] for h in HEADS}
    got = decoder.decode(items, probs, cues, lambda chosen: spans)
    want = reference_decode(decoder, items, probs, cues, lambda chosen: spans)
    assert [p.to_dict() for p in got] == [p.to_dict() for p in want]
    forced = [p for p in got if p.rules and p.confidence["severity"] in p.confidence["flags"].values()]
    assert forced and any(not p.rules for p in got) and any(p.low_confidence for p in got)


# ---- look-ups, batches, files ----------------------------------------------------------------
def test_a_key_table_walks_to_the_largest_hash_and_no_further():
    top = MASK * _inverse(int(_SPREAD)) & MASK  # spreads to the largest 64-bit value, the walk's end
    table = KeyTable(np.array([7, top], dtype=np.uint64), np.array([1, 2], dtype=np.uint64))
    found = table.find(np.array([top, 7, 8], dtype=np.uint64), np.array([2, 1, 1], dtype=np.uint64))
    assert found.tolist() == [1, 0, -1]
    alone = KeyTable(np.array([7], dtype=np.uint64), np.array([1], dtype=np.uint64))
    assert alone.find(np.array([top], dtype=np.uint64), np.array([2], dtype=np.uint64)).tolist() == [-1]
    empty = KeyTable(np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.uint64))
    assert empty.find(np.array([top, 3], dtype=np.uint64), np.array([0, 0], dtype=np.uint64)).tolist() == [-1, -1]


def test_batches_end_at_a_count_or_a_weight():
    rows = iter(["aaaa", "b", "cc", "dddddd", "e", "f"])
    assert list(batches(rows, 3, 5, len)) == [["aaaa", "b"], ["cc", "dddddd"], ["e", "f"]]
    assert list(batches(iter(range(7)), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(batches(iter(["x" * 50]), 3, 5, len)) == [["x" * 50]]


def test_a_csv_of_id_and_text_reads_as_a_csv_of_more_columns(tmp_path, monkeypatch):
    import triage.io

    path = tmp_path / "plain.csv"
    path.write_text("id,text\n1,大众朗逸异响\n2,多了一列,service\n,没有编号\n 4 ,前后空格的编号\n\n , \n"
                    '5,"引号里的,逗号"\n6,"多行\n文本"\n7,最后一行\n8\n', encoding="utf-8")

    def rows() -> list[Any]:
        return [r if isinstance(r, RowError) else (r.row, r.id, r.text, r.fields) for r in read_rows(str(path))]

    fast = rows()
    monkeypatch.setattr(triage.io, "_just_id_and_text", lambda header: False)
    assert fast == rows()
    assert len(fast) == 8 and sum(isinstance(r, RowError) for r in fast) == 3


def test_feature_names_are_built_one_by_one_as_all_at_once(shipped):
    space = shipped.space
    columns = [0, space._n_words - 1, space._n_words, space.n_text_ - 1, space.n_text_, space.n_features_ - 1]
    names = [space.feature_name(c) for c in columns]
    assert names[0].startswith("w:") and names[2].startswith("c:") and names[4].startswith("cue:")
    assert names[5].startswith("meta:")
    assert list(space.names_[columns]) == names and len(space.names_) == space.n_features_


def test_register_and_dialogue_columns_of_a_batch_are_each_texts_own(samples):
    from triage.classify.features import _meta_pairs, meta_columns

    texts = samples + ["字" * 40, "字" * 41, "字" * 200, "字" * 201, "客服：您好\n客户：车又坏了",
                       "客服:您好\n客户:车又坏了", "客服：您好，客户：车又坏了", ""]
    rows, columns = _meta_pairs(texts)
    got = sorted(zip(rows.tolist(), columns.tolist()))
    assert got == sorted((r, m) for r, text in enumerate(texts) for m in meta_columns(text))
    assert sum(m == 3 for _, m in got) >= 2


def test_a_batch_normalises_as_its_texts_one_by_one(samples, monkeypatch):
    from triage.text import normalize as module
    from triage.text.normalize import TextError, normalize_batch

    def each(texts: list[str]) -> list[Any]:
        out = []
        for text in texts:
            try:
                out.append(normalize(text))
            except TextError as exc:
                out.append(("error", str(exc)))
        return out

    def batch(texts: list[str]) -> list[Any]:
        return [("error", str(r)) if isinstance(r, TextError) else r for r in normalize_batch(texts)]

    texts = samples + [" 前面有空格", "后面有空格 ", "后面换行\n", "两个  空格", "制表\t\t符", "全角ＡＢＣ", "表情😀",
                       "\u3000全角空格", "", "   ", "x" * 100_001, "\x01" * 20 + "二进制", "控制\x07字符",
                       "繁體中文，還有歐元€"]
    assert batch(texts) == each(texts)
    assert normalize_batch([]) == []

    class Shorter:
        """A conversion that shortens a phrase, as some of OpenCC's may: text by text, then."""

        def convert(self, text: str) -> str:
            return text.replace("乾隆", "乾")

    monkeypatch.setattr(module, "_t2s", Shorter)
    assert batch(["乾隆皇帝", "大众朗逸"]) == each(["乾隆皇帝", "大众朗逸"])


def test_patterns_from_the_cache_match_as_re_compiles_them(samples, tmp_path, monkeypatch):
    import json
    import re

    from triage.classify.cues import _CUES
    from triage.text import patterns

    monkeypatch.setenv("TRIAGE_CACHE_DIR", str(tmp_path))
    sources = [pattern for _, _, pattern in _CUES] + [r"(?P<year>\d{4})-(\d\d)", r"[Aa]bc"]
    first = patterns.compile_all(sources)  # compiled, and written
    [path] = tmp_path.glob("patterns-*.json")
    monkeypatch.setattr(re, "compile", None)  # from here on, re compiles nothing: the file is read
    cached = patterns.compile_all(sources)
    monkeypatch.undo()
    text = "\n".join(samples)
    assert len(first) == len(cached) == len(sources)
    for a, b in zip(first, cached, strict=True):
        assert (b.pattern, b.flags, b.groups, b.groupindex) == (a.pattern, a.flags, a.groups, a.groupindex)
        assert [m.span() for m in b.finditer(text)] == [m.span() for m in a.finditer(text)]
    assert cached[-2].match("2024-03").groupdict() == {"year": "2024"}

    monkeypatch.setenv("TRIAGE_CACHE_DIR", str(tmp_path))
    path.write_text(json.dumps([[0, [1, 2, 3], 0, {}, []]] * len(sources)))  # damaged: compiled again
    again = patterns.compile_all(sources)
    assert [p.pattern for p in again] == sources and again[0].search("我找记者曝光")
    assert len(json.loads(path.read_text())) == len(sources) and json.loads(path.read_text())[0][1] != [1, 2, 3]


def _sorted_top(X, head, chosen, k: int = 2) -> tuple[list[int], list[int], list[float]]:
    """Each row's k strongest pushes toward its label, by sorting the row."""
    sign, row_of_coef = head.class_weights(chosen)
    coef = head.coef if head.evidence_coef is None else head.evidence_coef  # what the evidence reads
    out: tuple[list[int], list[int], list[float]] = ([], [], [])
    for r in range(X.shape[0]):
        a, b = X.indptr[r], X.indptr[r + 1]
        push = [float(np.float32(X.data[i]) * coef[row_of_coef[r], X.indices[i]]) * sign[r] for i in range(a, b)]
        for i in sorted((i for i in range(b - a) if push[i] > 0), key=lambda i: (-push[i], i))[:k]:
            out[0].append(r)
            out[1].append(int(X.indices[a + i]))
            out[2].append(round(push[i], 4))
    return out


def test_the_strongest_features_are_those_a_sort_of_each_row_finds(shipped, samples):
    """_top_features, a segmented max over the batch, against sorting each row's pushes: on real
    texts, and on rows made to hold ties, nothing but pulls away from the label, or nothing."""
    from triage.classify.sklearn import LinearHead
    from triage.classify.sparse import SparseRows

    texts = [normalize(t).text for t in samples[:800]]
    cues = find_cues_batch(texts)
    probs, X = shipped.head_probabilities(texts, cues)
    chosen = shipped._decoder.choose(texts, probs)
    for head_name in HEADS:
        got = shipped._top_features(X, shipped.heads[head_name], chosen[head_name])
        want = _sorted_top(X, shipped.heads[head_name], chosen[head_name])
        assert got[:2] == want[:2] and np.allclose(got[2], want[2], atol=1e-4) and len(got[0]) > 1000

    coef = np.array([[0.5, 0.5, -1.0, 0.2, 0.0], [-0.3, 0.1, 0.1, -0.2, 0.4], [0.0, 0.0, 0.0, 0.0, -0.1]],
                    dtype=np.float32)
    rows = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 4, 4, 4])
    cols = np.array([0, 1, 2, 3, 0, 3, 4, 2, 4, 0, 1, 2])
    X, _ = SparseRows.from_pairs(rows, cols, (5, 5))
    X.data = np.linspace(0.5, 1.5, len(X.data)).astype(np.float32)
    X.data[:2] = 1.0  # two equal pushes in row 0
    cases = ((["a", "b", "c"], coef, [0, 0, 1, 2, 2]), (["no", "yes"], coef[:1], [1, 0, 1, 0, 0]))
    for classes, weights, labels in cases:
        head = LinearHead(classes, weights, np.zeros(len(weights)), np.ones(1), np.zeros(1), "softmax")
        chosen = np.array(labels)
        got = shipped._top_features(X, head, chosen)
        want = _sorted_top(X, head, chosen)
        assert got[0] and got[:2] == want[:2] and np.allclose(got[2], want[2], atol=1e-4)
    assert 2 not in want[0] and 3 not in want[0]  # a row with only pulls, and an empty row, have none
