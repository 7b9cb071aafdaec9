"""The labelled set reads the annotation files as revised: the re-read of the 2020-06..08 safety
labels and the severities that follow from them (training/data/annotations/
safety_2020-06_08_revisions.csv) reaches the training rows."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from training import dataset
from training.codes import labels_from_area


def _rows(name: str) -> list[dict[str, str]]:
    with (dataset.ANNOTATIONS / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def summaries() -> dict[str, dataset.Example]:
    return {e.id: e for e in dataset.summary_examples()}


def test_every_revised_label_is_the_one_the_training_rows_carry(summaries):
    revisions = _rows("safety_2020-06_08_revisions.csv")
    assert len(revisions) > 100 and {r["field"] for r in revisions} == {"safety", "severity"}
    for r in revisions:
        example = summaries[r["id"]]
        assert example.split == "train" and example.date[:7] in ("2020-06", "2020-07", "2020-08"), r["id"]
        if r["field"] == "safety":
            assert example.flags["safety"] is (r["new"] == "1"), (r["id"], example.text, r)
        else:
            assert example.gold["severity"] == (r["new"],), (r["id"], example.text, r)


def test_a_steering_fault_with_no_failure_stated_is_not_safety_now(summaries):
    # The first pass counted any 转向机 fault; the guide asks for steering that fails or locks.
    example = summaries["12365auto:487051"]
    assert "转向机故障" in example.text
    assert example.flags["safety"] is False


def test_a_sticking_steering_row_once_labelled_safe_is_safety_now(summaries):
    # 转向卡滞 was 0 in the first pass; the written convention makes sticking steering safety.
    example = summaries["12365auto:515271"]
    assert "转向卡滞" in example.text
    assert example.flags["safety"] is True


def test_rows_of_the_enlarged_source_are_read_not_negative_by_default(summaries):
    # 自燃 while driving, in a row the first pass never saw: it used to train as a negative.
    example = summaries["12365auto:516385"]
    assert "自燃" in example.text and example.flags["safety"] is True


def test_the_revision_file_and_the_safety_file_agree():
    files = {"safety": {r["id"]: r["safety"] for r in _rows("safety_2020-06_08.csv")},
             "severity": {r["id"]: r["severity"] for r in _rows("severity_2020-06_08.csv")}}
    revisions = _rows("safety_2020-06_08_revisions.csv")
    assert len(revisions) == 362  # 357 safety labels and 5 severities (annotations README)
    for r in revisions:
        assert files[r["field"]][r["id"]] == r["new"] != r["old"], r
        assert r["reason"].strip(), r


def test_safety_and_major_agree_on_the_rows_of_both_2020_06_08_files():
    # The annotation README: in the 2020-06..08 files safety = 1 <=> major (every major there is safety).
    safety = {r["id"]: r["safety"] == "1" for r in _rows("safety_2020-06_08.csv")}
    severity = _rows("severity_2020-06_08.csv")
    # The random 600, of which 47 are major; checked against the safety file wherever both read a row.
    assert len(severity) == 600 and sum(r["severity"] == "major" for r in severity) == 47
    for r in severity:
        assert (r["severity"] == "major") is safety.get(r["id"], False), r


def test_the_source_hashes_of_the_card_include_the_revision_file():
    paths = [Path(s["path"]).name for s in dataset.sources()]
    assert "safety_2020-06_08_revisions.csv" in paths and "price_business_line_2024-01_02.csv" in paths


@pytest.fixture(scope="module")
def narratives() -> dict[str, dataset.Example]:
    return {e.id: e for e in dataset.narrative_examples()}


def test_the_training_narratives_read_for_price_carry_the_readers_business_line(narratives):
    read = _rows("price_business_line_2024-01_02.csv")
    assert len(read) == 129 and {r["annotator"] for r in read} == {"annotator-9"}
    with dataset.NARRATIVES_CSV.open(encoding="utf-8", newline="") as f:
        areas = {r["id"]: (r["problem_area"], r["problem_type"]) for r in csv.DictReader(f)}
    moved = 0
    for r in read:
        example = narratives[r["id"]]
        assert example.split == "train" and example.date[:7] in ("2024-01", "2024-02"), r["id"]
        assert example.gold["business_line"] == tuple(r["business_line"].split("|")), r
        bl, category = labels_from_area(*areas[r["id"]])
        assert example.gold["category"] == category, r  # the reading gives business line only
        moved += bl is not None and "sales" not in bl and "sales" in example.gold["business_line"]
    # Complaints about a price cut that the site filed under a defect area (annotations README).
    assert moved == 47


def test_a_price_cut_filed_under_a_defect_area_is_sales_for_training(narratives):
    example = narratives["aqsiq:20240229172454515699"]  # filed under 车身
    assert labels_from_area("车身", "")[0] == ("after_sales",)
    assert "降价" in example.text and example.gold["business_line"] == ("sales",)


def test_a_reading_that_names_a_test_month_row_or_no_label_is_refused(monkeypatch, tmp_path, narratives):
    test_row = next(e for e in narratives.values() if e.split == "test")
    path = tmp_path / "reading.csv"
    monkeypatch.setattr(dataset, "PRICE_READING", path)
    path.write_text(f"id,business_line,annotator,annotator_note\n{test_row.id},sales,annotator-9,\n", encoding="utf-8")
    with pytest.raises(ValueError, match=f"^{re.escape(f'reading.csv: {test_row.id} is a row of the test month')}$"):
        dataset.narrative_examples()
    train_row = next(e for e in narratives.values() if e.split == "train")
    path.write_text(f"id,business_line,annotator,annotator_note\n{train_row.id},,annotator-9,\n", encoding="utf-8")
    with pytest.raises(ValueError, match=f"^{re.escape(f'reading.csv: {train_row.id} has no business line')}$"):
        dataset.narrative_examples()
    path.write_text(f"id,business_line,annotator,annotator_note\n{train_row.id},sales,annotator-9,\n", encoding="utf-8")
    assert {e.id: e for e in dataset.narrative_examples()}[train_row.id].gold["business_line"] == ("sales",)


def test_the_price_reading_holds_exactly_the_rows_its_sample_draws():
    from training.annotation_sample import PRICE_WORDS, price_sample

    drawn = price_sample()
    assert len(drawn) == 129
    assert [r["id"] for r in drawn] == [r["id"] for r in _rows("price_business_line_2024-01_02.csv")]
    assert [r["id"] for r in drawn if not any(w in r["text"] for w in PRICE_WORDS)] == []


def test_the_september_reading_holds_exactly_the_rows_its_sample_draws(summaries):
    from training.annotation_sample import september_sample
    from training.experiments import dev_fold

    drawn = september_sample()
    read = _rows("summaries_2020-09.csv")
    assert len(read) == 1858 and sum("safety" in r["flags"].split("|") for r in read) == 418
    assert [(r["id"], r["selected_by"]) for r in read] == [(r["id"], r["selected_by"]) for r in drawn]
    assert {r["annotator"] for r in read} == {f"annotator-{i}" for i in range(10, 16)}
    # A training month no development fold holds out: the folds' figures measure what it adds.
    assert [r["id"] for r in read if dev_fold(summaries[r["id"]]) is not None] == []
    assert [r["id"] for r in read if "safety" in r["flags"].split("|") and r["severity"] != "major"] == []


def test_the_september_flags_reach_the_training_rows_and_only_the_read_rows_carry_them(summaries):
    read = {r["id"]: r for r in _rows(dataset.FLAGS_ONLY)}
    september = [e for e in summaries.values() if e.date.startswith("2020-09")]
    assert (len(september), len(read)) == (5213, 1858)
    carried = [(e.id, sorted(f for f, on in e.flags.items() if on)) for e in september if e.id in read]
    wanted = [(i, sorted(f for f in read[i]["flags"].split("|") if f != "none")) for i, _ in carried]
    assert carried == wanted and sum("safety" in flags for _, flags in carried) > 300
    # Drawn for safety, they give flags only: their severities cost the narratives' severity.
    assert [e.id for e in september if e.gold["severity"] is not None] == []
    # The rest of the month was not read: no safety label, rather than a negative one.
    assert [e.id for e in september if e.id not in read and e.flags["safety"] is not None] == []


def test_the_september_batches_split_the_drawn_rows_by_id_hash():
    from training.annotation_sample import batch_of, september_batches, september_sample

    batches = september_batches()
    drawn = [r["id"] for r in september_sample()]
    assert sorted(r["id"] for rows in batches for r in rows) == sorted(drawn)
    assert [r["id"] for b, rows in enumerate(batches) for r in rows if batch_of(r["id"], 6) != b] == []
    assert [[r["n"] for r in rows] for rows in batches] == [[str(i + 1) for i in range(len(rows))] for rows in batches]
    # Shuffled: the filter rows (drawn first) do not all come first in a batch.
    first_random = [next(i for i, r in enumerate(rows) if r["id"] in drawn[1558:]) for rows in batches]
    assert max(first_random) < 100
