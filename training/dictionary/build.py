"""Build triage/text/automotive_dict.txt from the real data's brand/series columns plus
hand-written domain vocabulary (handlists.py). Prints statistics.

    python -m training.dictionary.build
"""
import csv
import json
import logging
import re
from collections import Counter, OrderedDict
from pathlib import Path

import jieba

from training.dictionary import handlists as H

HERE = Path(__file__).resolve().parent

CSV = HERE.parent / "data" / "real" / "complaints_12365auto_2020.csv"
OUT = HERE.parent.parent / "triage" / "text" / "automotive_dict.txt"
REMOVE_FILE = HERE / "removed.txt"   # word<TAB>reason, filled in after verification

jieba.setLogLevel(logging.WARNING)
base = jieba.Tokenizer()
base.initialize()

with CSV.open(encoding="utf-8") as f:
    rows = list(csv.DictReader(f))
texts = [r["text"] for r in rows]

# jieba keeps a run of these characters together before looking words up; an entry with
# any other character (space, ·, π, Ⅱ, brackets) can never be matched as one token.
JIEBA_BLOCK = re.compile(r"^[\u4E00-\u9FD5a-zA-Z0-9+#&._%\-]+$")
CJK_RUN = re.compile(r"[\u4E00-\u9FD5]+")
PURE_ASCII = re.compile(r"^[A-Za-z0-9]+$")

# Column values that are not car brands/series a complaint would name, or that are
# ordinary words (发现 'find', 大陆 'mainland', 阳光 'sunshine' ...).
EXCLUDE = {
    "时风牌SSF3042DDP53", "润知星牌", "多士星", "箱货", "轻卡货车", "云梯车", "C535小顶房车",
    "标致摩托", "vivacity125", "发现", "大陆", "阳光", "熊猫", "芝麻", "凯旋", "领主", "冒险家",
    "经典帝豪", "发现运动版", "揽胜运动版", "宋", "唐", "炮", "现代", "北京", "南京", "天津",
    "福建", "郑州", "东南", "广众汽车豪沃", "EV系列", "跃进", "红岩", "长安标致雪铁龙DS",
    "小顶房车", "风度", "北斗星", "解放", "海狮",
}
# CJK pieces of mixed series names that are not names themselves.
STOP_RUNS = {"青春版", "新能源", "系列", "经典", "运动版", "小卡", "新卡", "视界", "纯电", "纯电动",
             "插电混动", "进口", "汽车"}
SUFFIXES = ("新能源", "纯电动", "纯电", "插电混动", "青春版", "经典", "小卡", "新卡", "视界")


def clean(s: str) -> str:
    s = re.sub(r"[（(][^）)]*[）)]", "", s).replace("·", "").strip()
    return s


def series_forms(series: str) -> list[str]:
    out = []
    inner = re.findall(r"[（(]([^）)]*)[）)]", series)
    s = clean(series)
    for suf in SUFFIXES:
        if s.endswith(suf) and len(s) > len(suf):
            s = s[: -len(suf)]
    parts = s.split()
    cand = [p for p in parts if CJK_RUN.search(p) or "-" in p]
    cand += [i for i in inner if i != "进口" and CJK_RUN.search(i)]
    for p in cand:
        out.append(p)
        for run in CJK_RUN.findall(p):
            if len(run) >= 2 and run not in STOP_RUNS:
                out.append(run)
    return out


def brand_forms(brand: str) -> list[str]:
    b = clean(brand)
    if b.endswith("进口") and len(b) > 3:
        b = b[:-2]
    out = [b]
    if "-" in b:
        out.append(b.replace("-", ""))
    for suf in ("电动汽车集团", "电动车", "新能源", "汽车"):
        if b.endswith(suf) and len(b) - len(suf) >= 2:
            stem = b[: -len(suf)]
            out.append(stem)
            for run in CJK_RUN.findall(stem):
                if len(run) >= 2 and run != stem:
                    out.append(run)
            break
    return out


def words(block: str) -> list[str]:
    return block.split()


# ---- section 1: brands and series -------------------------------------------------
col_brand, col_series = OrderedDict(), OrderedDict()
for r in rows:
    for f in brand_forms(r["brand"]):
        col_brand.setdefault(f, r["brand"])
    for f in series_forms(r["series"]):
        col_series.setdefault(f, r["series"])

sections = OrderedDict()
origin = {}
sec1 = []
for w in col_brand:
    sec1.append((w, "brand-column"))
for w in col_series:
    sec1.append((w, "series-column"))
for w in words(H.BRAND_EXTRA + " 长安标致雪铁龙"):
    sec1.append((w, "brand-hand"))
for w in words(H.SERIES_EXTRA):
    sec1.append((w, "series-hand"))
sections["1_brands_series"] = sec1
sections["2_parts_systems"] = [(w, "hand") for w in words(H.PARTS)]
sections["3_faults_symptoms"] = [(w, "hand") for w in words(H.FAULTS)]
sections["4_roles_process"] = [(w, "hand") for w in words(H.ROLES)]
sections["5_fixed_expressions"] = [(w, "hand") for w in words(H.EXPRESSIONS)]

removed = {}
try:
    for ln in REMOVE_FILE.read_text(encoding="utf-8").splitlines(keepends=True):
        if ln.strip() and not ln.startswith("#"):
            w, why = ln.rstrip("\n").split("\t", 1)
            removed[w] = why
except FileNotFoundError:
    pass

PRIORITY = ["5_fixed_expressions", "1_brands_series", "2_parts_systems", "3_faults_symptoms",
            "4_roles_process"]
TAG = {"1_brands_series": "nz", "2_parts_systems": "n", "3_faults_symptoms": "v",
       "4_roles_process": "n", "5_fixed_expressions": "l"}
NEVER_SPLIT = {"多媒体", "故障报警", "报警灯", "胎压报警", "事故维修", "事故车", "车质网", "4S店",
               "安全隐患", "刹车失灵", "市场监管局", "消费者协会"}
# faults that are nouns rather than verb phrases
FAULT_NOUNS = {"异味", "车内异味", "汽油味", "烧焦味", "色差", "裂纹", "裂痕", "噪音大", "积碳",
               "故障灯", "共振", "车身共振", "紧急模式", "跛行模式", "偶发性", "冷启动", "热车",
               "高温", "怠速", "冷车", "异常响声", "甲醛超标", "续航虚标"}

entries = OrderedDict()
dropped = Counter()
skipped = []
for sec in PRIORITY:
    for w, how in sections[sec]:
        if w in EXCLUDE:
            skipped.append((w, sec, "excluded: ordinary word or not a car name"))
            continue
        if w in removed:
            skipped.append((w, sec, "removed after segmentation check: " + removed[w]))
            continue
        if not JIEBA_BLOCK.match(w):
            skipped.append((w, sec, "character jieba cannot keep in one token"))
            continue
        if len(w) < 2:
            skipped.append((w, sec, "single character"))
            continue
        if sec == "1_brands_series" and PURE_ASCII.match(w):
            skipped.append((w, sec, "pure ASCII: jieba keeps it whole without a dictionary"))
            continue
        if w in entries:
            dropped[(entries[w]["section"], sec)] += 1
            continue
        entries[w] = {"section": sec, "how": how}

# frequencies and tags
for w, e in entries.items():
    sec = e["section"]
    n = len(w)
    if sec == "1_brands_series":
        if e["how"].startswith("brand") and n >= 4:
            f = 20000
        elif e["how"].startswith("brand"):
            f = 10000
        else:
            f = 8000
    elif sec == "5_fixed_expressions":
        f = 20000 if w in NEVER_SPLIT else 12000
    else:
        f = 8000 if n >= 4 else 5000
    if w in NEVER_SPLIT:
        f = 20000
    default = base.FREQ.get(w) or 0
    e["default_freq"] = default
    e["freq"] = max(f, default) if default <= 20000 else default
    tag = TAG[sec]
    if sec == "3_faults_symptoms" and w in FAULT_NOUNS:
        tag = "n"
    if sec == "5_fixed_expressions" and w in {"车质网", "市场监管局", "市场监督管理局", "工商局",
                                              "消费者协会", "消协", "国家市场监督管理总局"}:
        tag = "nt"
    e["tag"] = tag
    e["texts_with"] = sum(1 for t in texts if w in t)

ORDER = list(sections)
with open(OUT, "w", encoding="utf-8", newline="\n") as fh:
    for w, e in sorted(entries.items(), key=lambda kv: ORDER.index(kv[1]["section"])):
        fh.write(f"{w} {e['freq']} {e['tag']}\n")

stats = {
    "per_section": Counter(e["section"] for e in entries.values()),
    "per_section_how": Counter(f"{e['section']}:{e['how']}" for e in entries.values()),
    "per_section_in_texts": Counter(e["section"] for e in entries.values() if e["texts_with"]),
    "cross_section_duplicates": {f"{a}<-{b}": c for (a, b), c in dropped.items()},
    "skipped": skipped,
    "total": len(entries),
    "column_brands": len(set(r["brand"] for r in rows)),
    "column_series": len(set(r["series"] for r in rows)),
}
print(json.dumps({k: v for k, v in stats.items() if k != "skipped"}, ensure_ascii=False, indent=1))
print("skipped:", len(skipped))
