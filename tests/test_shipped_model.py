"""The model that ships in models/ (the one `triage` serves by default): it loads, its
card says what it was trained on and how it measured, and it respects the traps and the
severity rule."""

from __future__ import annotations

import pytest

from triage.classify import registry
from triage.classify.labels import FLAGS, HEADS, MAJOR_FLAGS


@pytest.fixture(scope="module")
def shipped():
    return registry.load()


def test_card_documents_data_metrics_and_versions():
    card = registry.card()
    assert card["artifacts"]["model.npz"] and card["artifacts"]["model.json"]
    paths = [s["path"] for s in card["data"]["sources"]]
    assert any(p.endswith("complaints_12365auto_2020-06_12.csv") for p in paths)
    assert any(p.endswith("complaints_aqsiq_2024-01_03.csv") for p in paths)
    assert all(len(s["sha256"]) == 64 for s in card["data"]["sources"])
    assert card["training_seconds"] > 0 and "scikit-learn" in card["libraries"]
    real = card["evaluation"]["real_test"]
    for head in ("business_line", "category"):
        assert real[head]["n"] > 100 and real[head]["per_class"]
    assert real["flags"]["per_flag"]["safety"]["support"] > 0
    by_register = card["evaluation"]["real_test_by_register"]
    assert set(by_register) == {"summary", "narrative"}
    assert by_register["narrative"]["category"]["n"] > 1000 and by_register["narrative"]["major"]["n"] > 500
    # The peers, trained on the same rows in the same run, are in the card beside it.
    peers = card["evaluation"]["peers"]
    assert "fastText" in peers["table"] and "char TF-IDF + LR" in peers["table"]
    # Each gap to a peer carries its paired interval, whose point is the figures' own difference.
    from triage.classify.bootstrap import flatten

    checked = 0
    for peer, by_register in peers["intervals"].items():
        for register, by_key in by_register.items():
            mine, theirs = flatten(peers["figures"]["ours"][register]), flatten(peers["figures"][peer][register])
            for key, (difference, low, high) in by_key.items():
                a, b = mine[tuple(key.split("/"))], theirs[tuple(key.split("/"))]
                assert abs((b - a) - difference) <= 2e-4 and low <= difference <= high, (peer, register, key)
                checked += 1
    assert checked > 100
    assert any(line.startswith("summary safety flag precision: char TF-IDF + LR") for line in peers["shortfalls"])
    assert len(peers["clear"]["fastText"]["ours"]) > len(peers["clear"]["fastText"]["peer"]) > 0
    assert (registry.model_dir() / "card.md").read_text(encoding="utf-8") == registry.card_markdown(card)
    counts = card["data"]["train_label_counts"]
    assert set(counts["flags"]) == set(FLAGS)


TRAPS = [
    "大众迈腾中控多媒体黑屏死机",
    "多媒体系统无法连接手机蓝牙希望处理",
    "发动机故障报警灯常亮4S店查不出原因",
    "仪表提示胎压报警，一直响",
    "事故维修后车门有色差，钣喷质量差",
    "车辆做完事故维修后异响",
    "客户：我的车多媒体屏幕老是黑屏\n客服：好的，我们安排技师检查。",
]


@pytest.mark.parametrize("text", TRAPS)
def test_traps_raise_no_media_legal_government_or_extreme(shipped, text):
    p = shipped.predict([text])[0]
    assert not set(p.flags) & {"media", "legal", "government", "extreme"}, (p.flags, p.confidence["flags"])


@pytest.mark.parametrize(("text", "flag"), [
    ("一汽大众速腾高速行驶中刹车失灵，差点追尾", "safety"),
    ("车辆停放时自燃，整车烧毁", "safety"),
    ("再不给我退车，我就找电视台记者曝光你们", "media"),
    ("我已经向市场监管局和12315投诉了", "government"),
    ("我已经请了律师，准备起诉你们4S店", "legal"),
    ("明天我就带人来店门口拉横幅", "extreme"),
])
def test_clear_flags_are_found_and_make_it_major(shipped, text, flag):
    p = shipped.predict([text])[0]
    assert flag in p.flags, p.confidence["flags"]
    assert p.severity == "major"


def test_severity_rule_holds_for_every_prediction(shipped):
    raising = ["车辆停放时自燃，整车烧毁", "我已经向市场监管局和12315投诉了", "明天我就带人来店门口拉横幅"]
    texts = TRAPS + raising + ["修了三次还是异响", "销售顾问承诺的保养没兑现", "要求退车赔偿，否则投诉到底"]
    preds = shipped.predict(texts)
    with_major_flag = [p for p in preds if set(p.flags) & MAJOR_FLAGS]
    assert len(with_major_flag) >= len(raising)  # the rule below is exercised, not skipped
    for p in with_major_flag:
        assert p.severity == "major" and any("002-C 四" in r for r in p.rules), (p.flags, p.severity, p.rules)
    for p in preds:
        assert all(0.0 <= p.confidence[h] <= 1.0 for h in HEADS)


@pytest.fixture(scope="module")
def written_test(shipped):
    """The held-out written rows (never trained on) and the shipped model's predictions of them."""
    from training.dataset import written_examples

    rows = [e for e in written_examples() if e.split == "test"]
    return rows, shipped.predict([e.text for e in rows])


def test_media_and_extreme_are_found_in_held_out_letters_and_transcripts(written_test):
    """Issue 12's register the hotline teams send: the held-out written letters and transcripts
    (never trained on). Until 2026-12-02 the cues missed half their media (晚报的记者联系了我,
    发到了抖音, @了官方账号) and a third of their extreme (把车横在大门口, 让他小心点)."""
    rows, predictions = zip(*((e, p) for e, p in zip(*written_test) if e.register in ("letter", "transcript")))
    found = {}
    for flag in ("media", "extreme"):
        gold = [e.flags.get(flag) is True for e in rows]
        raised = [flag in p.flags for p in predictions]
        hits = sum(g and r for g, r in zip(gold, raised))
        found[flag] = (hits, sum(gold), sum(raised))
    (media, media_support, media_raised), (extreme, extreme_support, extreme_raised) = found["media"], found["extreme"]
    assert media_support >= 15 and extreme_support >= 15, found
    assert media >= 0.9 * media_support and extreme >= 0.7 * extreme_support, found
    assert media >= 0.9 * media_raised and extreme >= 0.9 * extreme_raised, found


def test_the_customers_own_misuse_is_read_as_a_customer_issue_in_held_out_written_rows(written_test):
    """The sites' codes have no customer issue (用户问题: misuse, misunderstanding), so the head
    sees it in the written rows alone and chose it for a third of the held-out ones; the bias
    of TrainConfig (chosen on the written training rows, training.experiments --customer-issue)
    takes it to a half, at a precision of 0.75."""
    rows, predictions = zip(*((e, p) for e, p in zip(*written_test) if e.gold.get("category")))
    gold = ["customer_issue" in e.gold["category"] for e in rows]
    chosen = [p.category == "customer_issue" for p in predictions]
    support, hits = sum(gold), sum(g and c for g, c in zip(gold, chosen))
    assert support >= 30
    assert hits / support >= 0.45, (hits, support)
    assert hits / sum(chosen) >= 0.7, (hits, sum(chosen))


def test_safety_is_found_in_the_held_out_one_liners(shipped):
    """Issue 12's goal is recall 0.95 at precision 0.90 on the test month's annotated one-liners
    (never trained on). The safety cues of 2026-12-02 (a handbrake, a wheel rim, a drive shaft,
    power steering, a seat belt failing; 无故爆胎 no longer negated) took the served model from 379
    to 383 of 407 at precision 0.927; with the cues before them this one finds 377 and fails."""
    from training.dataset import summary_examples

    rows = [e for e in summary_examples() if e.split == "test" and e.flags.get("safety") is not None]
    raised = ["safety" in p.flags for p in shipped.predict([e.text for e in rows])]
    gold = [e.flags["safety"] is True for e in rows]
    hits = sum(g and r for g, r in zip(gold, raised))
    assert sum(gold) == 407 and hits >= 0.94 * sum(gold) and hits >= 0.92 * sum(raised), (hits, sum(gold), sum(raised))
