"""On a complaint told in full, each head's evidence starts with the clause that decided it
(issue 12: "Evidence on a long text points at the clauses that decided it")."""

from __future__ import annotations

import numpy as np
import pytest

from training import dataset
from triage.classify import registry
from triage.classify.clauses import Context
from triage.classify.labels import HEADS
from triage.classify.sklearn import CLAUSE_MAX_SHARE

PREAMBLE = "本人是一名普通上班族，去年年底在本市一家店里看中了这款车，当时考虑了很久，和家人商量后才决定购买，"


@pytest.fixture(scope="module")
def shipped():
    return registry.load()


def clause_evidence(prediction, head: str) -> list:
    return [e for e in prediction.evidence if e.head == head and e.feature == "clause"]


def test_the_deciding_clause_comes_first_and_is_a_clause_of_the_text(shipped):
    text = PREAMBLE + "提车前销售承诺送三次保养，到现在一次都没有兑现，销售经理一直推脱。"
    (p,) = shipped.predict([text])
    assert p.business_line == "sales"
    first = next(e for e in p.evidence if e.head == "business_line")
    assert first.feature == "clause" and 0 < first.weight <= 1
    assert first.text == text[first.start:first.end]
    assert Context(text).clause(first.start, first.end) == (first.start, first.end)
    assert "销售" in first.text and first.start >= len(PREAMBLE)  # not the preamble's words
    assert len(clause_evidence(p, "business_line")) == 1  # one clause per head


def test_short_texts_and_unpunctuated_ones_have_no_clause(shipped):
    (short,) = shipped.predict(["4S店销售承诺送保养，到现在没有兑现，客服也不回电话"])  # three clauses
    # evidence there is (each head's strongest features), only no clause among it
    assert {e.head for e in short.evidence} == set(HEADS)
    assert [e.feature for e in short.evidence if e.feature == "clause"] == []
    run_on = "本人去年在店里买车时销售承诺送三次保养到现在一次都没有兑现销售经理一直推脱客服也不回电话厂家也不管"
    (p,) = shipped.predict([run_on])
    assert len(run_on) > 40 and {e.head for e in p.evidence} == set(HEADS)
    assert [e.feature for e in p.evidence if e.feature == "clause"] == []


def test_personal_data_in_a_deciding_clause_is_named_not_shown(shipped):
    text = PREAMBLE + "提车一个月车牌京A12345的车发动机就漏油严重，"
    (p,) = shipped.predict([text])
    clauses = [e for e in p.evidence if e.feature == "clause"]
    plated = [e for e in clauses if "京A12345" in text[e.start:e.end]]
    # Which heads decide in the plate's clause is the weights' call (business line and category here).
    assert {e.head for e in plated} >= {"business_line", "category"}, [(e.head, e.feature, e.text) for e in p.evidence]
    assert all(e.text == "提车一个月车牌[车牌]的车发动机就漏油严重" for e in plated)
    assert all("京A12345" not in e.text for e in p.evidence)


def test_real_narratives_get_a_clause_for_most_heads_and_its_share_is_a_share(shipped):
    rows = [e for e in dataset.real_examples() if e.split == "test" and e.register == "narrative"
            and len(e.text) > 80][:300]
    assert len(rows) == 300
    with_clause = {h: 0 for h in HEADS}
    for ex, p in zip(rows, shipped.predict([e.text for e in rows])):
        for head in HEADS:
            found = clause_evidence(p, head)
            assert len(found) <= 1
            if found:
                e = found[0]
                with_clause[head] += 1
                assert 0 < e.weight <= 1 and e.end - e.start <= CLAUSE_MAX_SHARE * len(ex.text)
                assert ex.text[e.start:e.end] == e.text or "[" in e.text  # masked personal data
    # most long narratives are punctuated: a clause for business line and category on most of them
    assert with_clause["business_line"] > 240 and with_clause["category"] > 240, with_clause


def test_the_clause_is_where_the_push_is(shipped):
    """Moving the deciding sentence to the front moves the clause with it."""
    tail = "提车前销售承诺送三次保养，到现在一次都没有兑现。"
    a = PREAMBLE + tail
    b = tail + PREAMBLE
    pa, pb = shipped.predict([a, b])
    ca, cb = clause_evidence(pa, "business_line")[0], clause_evidence(pb, "business_line")[0]
    assert ca.text == cb.text and ca.start > cb.start
    assert np.isclose(ca.weight, cb.weight, atol=0.05)


@pytest.mark.parametrize("seed", range(5))
def test_a_clause_by_index_is_the_clause_around_any_of_its_characters(seed):
    rnd = np.random.default_rng(seed)
    alphabet = list("车店修好漏油了说我他") + ["，", "。", " ", "！", "2.0T", "\n", "；"]
    text = "".join(rnd.choice(alphabet, 120))
    context = Context(text)
    index = context.clause_indices()
    assert len(index) == len(text) and index == sorted(index)
    checked = 0
    for p, ch in enumerate(text):
        if ch in "，。！；\n" or ch.isspace():
            continue
        assert context.clause_span(index[p]) == context.clause(p, p + 1), (text, p)
        checked += 1
    assert checked > 50


@pytest.mark.parametrize(("text", "index"), [("", []), ("一", [0]), ("，", [1]), ("车坏了，说", [0, 0, 0, 1, 1]),
                                             ("2.0T。漏", [0, 0, 0, 0, 1, 1])])
def test_a_clause_end_mark_belongs_to_the_next_clause(text, index):
    assert Context(text).clause_indices() == index
