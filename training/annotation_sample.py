"""Draw the rows the annotators read: real narratives (severity and the six flags) and the
one-line test month (safety, and the flag traps), reproducibly.

Flags other than safety are rare, so rows that a broad word filter marks as possible
candidates are all taken and the rest is a random sample; `selected_by` records which
stratum each row came from, so that figures can be read per stratum.

    .venv/bin/python -m training.annotation_sample OUT_DIR
"""

from __future__ import annotations

import csv
import hashlib
import random
import sys
from pathlib import Path

# The labelled set's copies of ../shared/data (the same bytes), so that a clone draws the same rows.
from training.dataset import NARRATIVES_CSV, SUMMARIES_CSV

# Broad on purpose: a filter that misses positives would bias recall (the random stratum
# measures what it misses).
RARE_FLAG_WORDS = {
    "government": ("12315", "12345", "市场监管", "监管局", "工商", "消协", "消费者协会", "信访", "质监", "有关部门",
                   "相关部门", "政府", "举报", "黑猫", "热线", "315"),
    "legal": ("律师", "法院", "起诉", "报警", "公安", "派出所", "诉讼", "仲裁", "法律", "交警", "警察", "110", "报案"),
    "media": ("媒体", "记者", "曝光", "微博", "抖音", "电视", "网上", "视频", "发帖", "小红书", "头条", "快手", "网络"),
    "extreme": ("横幅", "堵", "砸", "自杀", "跳楼", "打人", "动手", "同归于尽", "极端", "闹", "威胁", "拼命"),
}
REPEAT_WORDS = ("多次", "又", "再次", "反复", "之前", "几次", "两次", "三次", "第二次", "还是", "依旧", "仍然", "屡次")
SAFETY_WORDS = (
    "熄火", "刹车", "制动", "失灵", "失效", "方向", "转向", "安全", "事故", "起火", "着火",
    "自燃", "冒烟", "烧", "受伤", "伤", "气囊", "安全带", "爆胎", "断", "撞", "危险",
    "失控", "加速", "动力", "卡死", "卡滞", "脱落", "抱死", "刹", "隐患", "掉", "飞",
    "溜车", "侧滑", "跑偏", "停车", "脱挡", "失速", "甩尾", "爆缸", "烤糊",
)
TRAP_WORDS = ("多媒体", "报警", "事故维修", "媒体", "12345", "律师", "投诉")
PRICE_WORDS = ("降价", "差价", "保价", "价格", "背刺", "官降", "跌价", "掉价", "贬值", "割韭菜", "韭菜", "老车主",
               "优惠", "补贴", "涨价", "便宜")
"""Words of price: the training narratives a reader reads for business line (`price_sample`)."""


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _has(text: str, words: tuple[str, ...]) -> bool:
    return any(w in text for w in words)


def narrative_sample() -> list[dict[str, str]]:
    """Per month group (test 2024-03, train 2024-01..02): every rare-flag candidate, a
    sample of repeat candidates and a random sample of the rest."""
    rows = _read(NARRATIVES_CSV)
    rng = random.Random(12)
    out: list[dict[str, str]] = []
    groups = ((("2024-03",), 110, 200), (("2024-01", "2024-02"), 60, 150))  # (months, repeat, random): test, train
    for months, n_repeat, n_random in groups:
        pool = [r for r in rows if r["date"][:7] in months]
        rare = [r for r in pool if any(_has(r["text"], w) for w in RARE_FLAG_WORDS.values())]
        rest = [r for r in pool if r not in rare]
        repeat = [r for r in rest if _has(r["text"], REPEAT_WORDS)]
        picked_repeat = rng.sample(repeat, min(n_repeat, len(repeat)))
        others = [r for r in rest if r not in picked_repeat]
        picked_random = rng.sample(others, min(n_random, len(others)))
        for stratum, chosen in (("rare_flag_words", rare), ("repeat_words", picked_repeat), ("random", picked_random)):
            out += [{"id": r["id"], "date": r["date"], "selected_by": stratum, "text": r["text"]} for r in chosen]
    return out


def summary_sample(month: str = "2020-12", seed: int = 13) -> list[dict[str, str]]:
    """A month of one-liners (the test month 2020-12; 2020-11 for development and training):
    every safety candidate, every flag-trap row and a random 300 of the rest."""
    rows = [r for r in _read(SUMMARIES_CSV) if r["date"].startswith(month)]
    rng = random.Random(seed)
    cand = [r for r in rows if _has(r["text"], SAFETY_WORDS) or _has(r["text"], TRAP_WORDS)]
    rest = [r for r in rows if r not in cand]
    out = [{"id": r["id"], "date": r["date"], "selected_by": "filter", "text": r["text"]} for r in cand]
    out += [{"id": r["id"], "date": r["date"], "selected_by": "random", "text": r["text"]}
            for r in rng.sample(rest, 300)]
    return out


def price_sample(seed: int = 27) -> list[dict[str, str]]:
    """Every training narrative (2024-01..02) that names a price word, shuffled: the rows whose
    business line a reader gives (annotations/price_business_line_2024-01_02.csv). The site files
    complaints about a price cut under a defect area as often as under 销售欺诈/变更价格."""
    rows = [r for r in _read(NARRATIVES_CSV)
            if r["date"][:7] in ("2024-01", "2024-02") and _has(r["text"], PRICE_WORDS)]
    random.Random(seed).shuffle(rows)
    return [{"n": str(i + 1), "id": r["id"], "text": r["text"]} for i, r in enumerate(rows)]


def september_sample() -> list[dict[str, str]]:
    """The 2020-09 one-liners read for their flags (annotations/summaries_2020-09.csv): a training
    month no development fold holds out, drawn as 2020-11 and 2020-12 were."""
    return summary_sample("2020-09", seed=29)


def september_batches(batches: int = 6) -> list[list[dict[str, str]]]:
    """`september_sample` as the six annotators read it: split by a hash of the id, each batch
    shuffled (seed 100 + batch) so that the stratum does not show in the order."""
    drawn = september_sample()
    out = []
    for b in range(batches):
        rows = [{"n": "", "id": r["id"], "text": r["text"]} for r in drawn if batch_of(r["id"], batches) == b]
        random.Random(100 + b).shuffle(rows)
        out.append([{**r, "n": str(i + 1)} for i, r in enumerate(rows)])
    return out


def batch_of(row_id: str, batches: int) -> int:
    return int(hashlib.sha256(row_id.encode()).hexdigest()[:8], 16) % batches


def write(rows: list[dict[str, str]], path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def main(out_dir: str) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    narratives = narrative_sample()
    for b in range(3):
        write([r for r in narratives if batch_of(r["id"], 3) == b], out / f"narratives_batch{b + 1}.csv")
    summaries = summary_sample()
    for b in range(2):
        write([r for r in summaries if batch_of(r["id"], 2) == b], out / f"summaries_batch{b + 1}.csv")
    # A blind second pass: a random tenth of the narratives, read by a different annotator.
    second = random.Random(14).sample(narratives, 90)
    for b in range(3):
        # batch b's second pass goes to annotator (b + 1) % 3
        write([r for r in second if batch_of(r["id"], 3) == b], out / f"second_pass_of_batch{b + 1}.csv")
    november = summary_sample("2020-11", seed=15)
    for b in range(2):
        write([r for r in november if batch_of(r["id"], 2) == b], out / f"summaries_2020-11_batch{b + 1}.csv")
    price = price_sample()
    write(price, out / "price_business_line_2024-01_02.csv")
    september = september_batches()
    for b, rows in enumerate(september):
        write(rows, out / f"summaries_2020-09_batch{b + 1}.csv")
    print(f"{len(narratives)} narratives, {len(summaries)} + {len(november)} + {sum(map(len, september))} one-liners, "
          f"{len(second)} second-pass rows, {len(price)} narratives for business line in {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "annotation-queue")
