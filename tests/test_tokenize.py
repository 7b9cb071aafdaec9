"""Words in NumPy: `segment` cuts exactly as jieba's lcut(HMM=False) with the user dictionary,
its table is cached and rebuilt when it should be, and the hash tables find what they hold."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from triage.text import tokenize
from triage.text.hashing import KeyTable, SpanHasher, codepoints, hash_strings
from triage.text.normalize import normalize
from triage.text.tokenize import _DROP, segment, tokenizer, words

REAL = Path(__file__).resolve().parents[1] / "training" / "data" / "real"


def jieba_words(text: str) -> list[str]:
    """What `words` was: jieba itself."""
    return [w for w in tokenizer().lcut(text, HMM=False) if w not in _DROP]


def real_texts() -> list[str]:
    texts = []
    with (REAL / "complaints_aqsiq_2024-01_03.csv").open(encoding="utf-8") as f:
        texts += [r["text"] for r in csv.DictReader(f)]  # every narrative
    with (REAL / "complaints_12365auto_2020-06_12.csv").open(encoding="utf-8") as f:
        texts += [r["text"] for i, r in enumerate(csv.DictReader(f)) if i % 5 == 0]
    return texts


EDGES = ["", " ", "\r\n", "a\r\nb", "\r\r\n", "中\r", "ABC123 x y", "4S店4s店换了3次", "c++好用", "100%满意",
         "a.b-c_d", "iPhone12Pro Max", "\ud800中文", "\x00中\x00", "【投诉】 奔驰GLC——发动机异响……",
         "转向机漏油，4S店说正常。\n客户：不认可",
         "一" * 300, "刹车失灵" * 200 + "ABS", "12345 12315", "ＡＢＣ全角"]


def test_segment_is_jieba_on_real_complaints():
    texts = real_texts()
    texts += [normalize(t).text for t in texts] + EDGES
    got = []
    for i in range(0, len(texts), 512):
        got += segment(texts[i:i + 512]).strings()
    assert got == [jieba_words(t) for t in texts]


_ALPHABET = st.sampled_from(list("大众朗逸变速箱顿挫刹车失灵发动机异响4S店服务态度东风日产一汽丰田aZz09+#&._%- \n\r\t"
                                  "，。！？、：“”（）【】…—·"))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(_ALPHABET, max_size=40), max_size=6))
def test_segment_is_jieba_on_any_text(texts):
    assert segment(texts).strings() == [jieba_words(t) for t in texts]
    assert [words(t) for t in texts] == [jieba_words(t) for t in texts]


def test_tokens_point_into_their_text():
    tok = segment(["发动机异响", "", "4S店态度差"])
    assert tok.strings() == [["发动机", "异响"], [], ["4S店", "态度", "差"]]
    assert tok.row.tolist() == [0, 0, 2, 2, 2]
    assert tok.joined[tok.start[2]:tok.end[2]] == "4S店"


def test_word_table_is_cached_and_rebuilt_when_the_dictionary_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("TRIAGE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(tokenize, "_table", None)
    built = tokenize.word_table()
    files = list((tmp_path / "cache").glob("words-*.npz"))
    assert len(files) == 1
    again = tokenize.WordTable.load(files[0])
    assert np.array_equal(again.keys.s1, built.keys.s1) and np.array_equal(again.logp, built.logp, equal_nan=True)
    assert (again.single, again.max_len) == (built.single, built.max_len)

    # Another user dictionary is another file; the first is not read for it.
    original = tokenize.USER_DICT
    other = tmp_path / "dict.txt"
    other.write_text(original.read_text(encoding="utf-8") + "超级无敌刹车 100 n\n", encoding="utf-8")
    monkeypatch.setattr(tokenize, "USER_DICT", other)
    assert tokenize._table_path() != files[0]
    monkeypatch.setattr(tokenize, "USER_DICT", original)
    assert tokenize._table_path() == files[0]

    # A damaged cache file is rebuilt, not trusted or fatal.
    files[0].write_bytes(b"not a table")
    monkeypatch.setattr(tokenize, "_table", None)
    assert tokenize.word_table().max_len == built.max_len
    assert tokenize.WordTable.load(files[0]).max_len == built.max_len


def test_word_table_without_a_writable_cache(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("TRIAGE_CACHE_DIR", str(blocker / "cache"))  # under a file: cannot be made
    monkeypatch.setattr(tokenize, "_table", None)
    assert segment(["发动机异响"]).strings() == [["发动机", "异响"]]


def test_key_table_finds_exactly_its_keys():
    rng = np.random.default_rng(3)
    strings = sorted({"".join(rng.choice(list("甲乙丙丁戊abc"), size=rng.integers(1, 6))) for _ in range(3000)})
    keys, others = strings[::2], strings[1::2]
    table = KeyTable(*hash_strings(keys))
    q = hash_strings(keys + others)
    assert table.find(*q).tolist() == list(range(len(keys))) + [-1] * len(others)
    # A first hash that matches but a second that does not is no hit.
    h1, h2 = hash_strings(keys[:5])
    assert table.find(h1, h2 + np.uint64(1)).tolist() == [-1] * 5
    with pytest.raises(ValueError):
        KeyTable(np.array([5, 5], dtype=np.uint64), np.array([1, 2], dtype=np.uint64))


def test_span_hashes_compose():
    text = "刹车失灵 4S店"
    hasher = SpanHasher(codepoints(text))
    a, b = hasher(np.array([0]), np.array([2])), hasher(np.array([5]), np.array([8]))
    space = hash_strings([" "])
    joined = hasher.concat(hasher.concat(a, space, 1), b, 3)
    assert [x.tolist() for x in joined] == [x.tolist() for x in hash_strings(["刹车 4S店"])]


@pytest.mark.parametrize("python_route", [0, 10**9])
def test_both_ways_of_finding_the_route_are_jiebas(python_route, monkeypatch):
    """The route is found step by step in NumPy for a batch, in a Python loop for a short text
    or the last steps of a batch: each alone gives jieba's words."""
    monkeypatch.setattr(tokenize, "_PYTHON_ROUTE", python_route)
    texts = real_texts()[::7] + EDGES
    got = []
    for i in range(0, len(texts), 256):
        got += segment(texts[i:i + 256]).strings()
    assert got == [jieba_words(t) for t in texts]
