"""The labelled set: real complaints labelled from their codes and by the team's
annotator, the team's written examples, and reviewers' corrections.

Sources stay apart (`Example.source`) so that the model card reports on real data alone.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from training.codes import REPEAT_CODES, labels_from_area, labels_from_codes
from triage.classify.labels import FLAGS, HEADS, parse_gold, parse_gold_flags
from triage.io import RowError, read_rows

DATA = Path(__file__).parent / "data"
SUMMARIES_CSV = DATA / "real" / "complaints_12365auto_2020-06_12.csv"
NARRATIVES_CSV = DATA / "real" / "complaints_aqsiq_2024-01_03.csv"
WRITTEN = DATA / "written"
ANNOTATIONS = DATA / "annotations"

TEST_MONTHS = {"summary": "2020-12", "narrative": "2024-03"}
"""The latest month of each real source: held out, never trained on, never used for a choice."""
TEST_MONTH = TEST_MONTHS["summary"]
WRITTEN_HOLDOUT_PERCENT = 20
"""Written examples held out (by a hash of their id) to report on the longer registers."""

HOW_LABELLED: dict[str, str] = {
    "business_line/category": "real one-liners: the site's problem codes mapped by shared/data/README.md (union when "
                              "several codes); real narratives: the other site's problem area and type, mapped by "
                              "the same README, except the training narratives that speak of price, whose business "
                              "line a reader gave (annotations/price_business_line_2024-01_02.csv); written rows: "
                              "labelled by their writers",
    "severity": "real rows: the team's annotators (one-liners: a sample of 2020-06..08, 600 of 2020-10, a "
                "stratified 1,715 of 2020-11 and 1,884 of 2020-12; narratives: a stratified 875 of 2024-01..03); "
                "written rows: their writers",
    "flags": "safety on one-liners: the annotators' reading of every 2020-06..08 row matched by a broad filter "
             "plus a random sample (the rest negative), and the annotated rows of 2020-09 (flags only), 2020-10, "
             "2020-11 and 2020-12; on narratives: "
             "the 875 annotated rows; repeat on one-liners: code J298 or the annotators; media/legal/government/"
             "extreme: negative on one-liners (the site's summaries hold none), the annotators on narratives; "
             "written rows: their writers",
}
"""For the model cards: where each head's gold comes from."""


@dataclass(slots=True)
class Example:
    id: str
    text: str
    source: str  # "real", "written" or "feedback"
    split: str  # "train" or "test"
    register: str = "summary"
    date: str = ""
    gold: dict[str, tuple[str, ...] | None] = field(default_factory=dict)
    flags: dict[str, bool | None] = field(default_factory=dict)
    """Per flag: True, False, or None when that flag is not labelled for this row."""


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _annotated(pattern: str) -> dict[str, dict[str, str]]:
    """Annotator rows (id, severity, flags) of the files matching `pattern`, by id."""
    return {r["id"]: r for path in sorted(ANNOTATIONS.glob(pattern)) for r in _read_csv(path)}


def _annotation_labels(note: dict[str, str]) -> tuple[tuple[str, ...] | None, dict[str, bool | None]]:
    gold_flags = parse_gold_flags(note.get("flags")) or frozenset()
    return parse_gold("severity", note.get("severity")), {f: f in gold_flags for f in FLAGS}


FLAGS_ONLY = "summaries_2020-09.csv"
"""Annotations whose rows give the training flags but not severity. The 2020-09 sample was drawn
for safety (every row a safety or flag-trap word matches, and 300 others); fitted on its
severities too, the severity head lost 8 of the 338 annotated development narratives (accuracy
0.793 -> 0.769, both folds) and gained 0.002 on the 2,315 one-liners
(training/data/annotations/README.md, 2026-12-01)."""


def summary_examples() -> list[Example]:
    """The one-line complaints (12365auto, 2020-06..12) with labels from codes and annotations.

    Rows an annotator read carry the annotator's severity and flags. Otherwise, on the
    training months: safety is labelled on every row of 2020-06..08 (rows outside the
    annotator's broad filter count as negative); media, legal, government and extreme do
    not occur in this site's summaries (shared/data/README.md), so they are negative;
    repeat comes from the code J298 (多次返修). Unread rows of the test month carry no
    severity or flags: they are scored on business line and category only.
    """
    safety = {r["id"]: r["safety"] == "1" for r in _read_csv(ANNOTATIONS / "safety_2020-06_08.csv")}
    severity = {r["id"]: r["severity"] for r in _read_csv(ANNOTATIONS / "severity_2020-06_08.csv")}
    notes = {**_annotated("test_2020-10.csv"), **_annotated("summaries_2020-*.csv")}
    flags_only = _annotated(FLAGS_ONLY)
    out = []
    for r in _read_csv(SUMMARIES_CSV):
        codes = [c for c in r["problem_codes"].split(",") if c.strip()]
        bl, cat = labels_from_codes(codes)
        split = "test" if r["date"].startswith(TEST_MONTHS["summary"]) else "train"
        flags: dict[str, bool | None] = {f: None for f in FLAGS}
        sev = None
        if r["id"] in notes:
            sev, flags = _annotation_labels(notes[r["id"]])
            if r["id"] in flags_only:
                sev = None
        elif split == "train":
            if r["date"][:7] in ("2020-06", "2020-07", "2020-08"):
                flags["safety"] = safety.get(r["id"], False)
            for f in ("media", "legal", "government", "extreme"):
                flags[f] = False
            if codes:
                flags["repeat"] = bool(REPEAT_CODES & set(codes))
            if r["id"] in severity:
                sev = parse_gold("severity", severity[r["id"]])
        out.append(Example(r["id"], r["text"], "real", split, "summary", r["date"],
                           {"business_line": bl, "category": cat, "severity": sev}, flags))
    return out


PRICE_READING = ANNOTATIONS / "price_business_line_2024-01_02.csv"
"""A reader's business line of the training narratives that speak of price (annotations README)."""


def price_business_line() -> dict[str, tuple[str, ...]]:
    """Per narrative id of PRICE_READING, the reader's business line: the training gold of that
    row in place of the one its problem area maps to. The site files a complaint about a price
    cut after purchase under a defect area as often as under 销售欺诈/变更价格, while the rules
    (shared/spec/rules.md, 000 §2.2) put price under sales."""
    out = {}
    for r in _read_csv(PRICE_READING):
        gold = parse_gold("business_line", r["business_line"])
        if not gold:
            raise ValueError(f"{PRICE_READING.name}: {r['id']} has no business line")
        out[r["id"]] = gold
    return out


def narrative_examples() -> list[Example]:
    """The complaints told in full (中国汽车质量网, 2024-01..03): business line and category
    from the site's problem area and type, the business line of the training rows a reader
    read for price from that reading (`price_business_line`); severity and flags on the rows
    the annotators read (training/data/annotations/narratives_2024.csv), unlabelled elsewhere."""
    notes = _annotated("narratives_2024*.csv")
    read = price_business_line()
    out = []
    for r in _read_csv(NARRATIVES_CSV):
        bl, cat = labels_from_area(r["problem_area"], r["problem_type"])
        split = "test" if r["date"].startswith(TEST_MONTHS["narrative"]) else "train"
        if r["id"] in read:
            if split == "test":
                raise ValueError(f"{PRICE_READING.name}: {r['id']} is a row of the test month")
            bl = read[r["id"]]
        flags: dict[str, bool | None] = {f: None for f in FLAGS}
        sev = None
        if r["id"] in notes:
            sev, flags = _annotation_labels(notes[r["id"]])
        out.append(Example(r["id"], r["text"], "real", split, "narrative", r["date"],
                           {"business_line": bl, "category": cat, "severity": sev}, flags))
    return out


def vehicle_names() -> dict[str, tuple[str, ...]]:
    """Per real row, the brand and series its site filed it under (both sites' columns): the
    words of a one-liner that name the vehicle rather than the complaint (training.train's
    brand-blind heads)."""
    return {r["id"]: tuple(n for n in (r["brand"].strip(), r["series"].strip()) if n)
            for path in (SUMMARIES_CSV, NARRATIVES_CSV) for r in _read_csv(path)}


def site_groups() -> dict[str, tuple[str, ...]]:
    """Per real row, the site's own classification: a one-liner's problem codes, a narrative's
    problem area (as "area:…"); training.frontier's finer classes."""
    groups: dict[str, tuple[str, ...]] = {}
    for r in _read_csv(SUMMARIES_CSV):
        groups[r["id"]] = tuple(c.strip() for c in r["problem_codes"].split(",") if c.strip())
    for r in _read_csv(NARRATIVES_CSV):
        groups[r["id"]] = (f"area:{r['problem_area'].strip()}",)
    return groups


def real_examples() -> list[Example]:
    return [*summary_examples(), *narrative_examples()]


def _written_split(example_id: str) -> str:
    bucket = int(hashlib.sha256(example_id.encode()).hexdigest()[:8], 16) % 100
    return "test" if bucket < WRITTEN_HOLDOUT_PERCENT else "train"


def labelled_record(record: dict, source: str, split: str | None = None) -> Example:
    """An Example from a record in the labels-doc format (CSV row or JSON object)."""
    gold_flags = parse_gold_flags(record.get("flags"))
    flags = {f: (None if gold_flags is None else f in gold_flags) for f in FLAGS}
    rid = str(record["id"])
    return Example(rid, record["text"], source, split or _written_split(rid), record.get("register", "summary"),
                   record.get("date", ""), {h: parse_gold(h, record.get(h)) for h in HEADS}, flags)


def feedback_examples(paths: Iterable[str | Path], on_error: Callable[[str], None] = lambda message: None
                      ) -> list[Example]:
    """Labelled files of reviewers' corrections (`triage export-feedback`) as training
    examples; a row that cannot be read is reported to `on_error` and left out."""
    out = []
    for path in paths:
        for row in read_rows(str(path)):
            if isinstance(row, RowError):
                on_error(f"{path}: {row.error}")
                continue
            out.append(labelled_record({"id": row.id, "text": row.text, **row.fields}, "feedback", "train"))
    return out


def written_examples() -> list[Example]:
    out = []
    for path in sorted(WRITTEN.glob("*.jsonl")):
        with path.open(encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    out.append(labelled_record(json.loads(line), "written"))
    return out


def sources(extra: Iterable[Path] = ()) -> list[dict[str, str]]:
    """Every file the labelled set is built from, with its hash, for the model card."""
    paths = [SUMMARIES_CSV, NARRATIVES_CSV, *sorted(ANNOTATIONS.glob("*.csv")), *sorted(WRITTEN.glob("*.jsonl")),
             *extra]
    return [{"path": str(p.relative_to(DATA.parent.parent) if p.is_relative_to(DATA.parent.parent) else p),
             "sha256": file_sha256(p)} for p in paths if p.exists()]


def build(feedback: Iterable[Example] = ()) -> list[Example]:
    return [*real_examples(), *written_examples(), *feedback]
