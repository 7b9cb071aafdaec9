"""Speed and memory of the serving model, on real one-line complaints.

    .venv/bin/python bench/bench_predict.py [--n 10000]

Prints: model load time; predict throughput (batched, as `triage predict` runs) on N real
one-line complaints and its ratio to bare `jieba.lcut` over the same texts; the same for
the `triage predict` command end to end (CSV in, JSON Lines out); p50 / p99 latency of
one in-process classify call; peak resident memory. Single process, one thread.
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import argparse
import csv
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def real_texts(n: int) -> list[str]:
    with (ROOT / "training/data/real/complaints_12365auto_2020.csv").open(encoding="utf-8") as f:
        texts = [r["text"] for r in csv.DictReader(f)]
    return (texts * (n // len(texts) + 1))[:n]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    args = ap.parse_args()
    texts = real_texts(args.n)
    results: dict[str, object] = {"texts": len(texts)}

    t = time.perf_counter()
    from triage.classify import registry
    from triage.text.tokenize import tokenizer

    tokenizer()
    results["jieba_init_s"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    model = registry.load()
    results["model_load_s"] = round(time.perf_counter() - t, 3)
    results["model"] = model.version

    import jieba

    jieba.setLogLevel(60)
    jieba.initialize()
    t = time.perf_counter()
    for x in texts:
        jieba.lcut(x)
    jieba_rate = len(texts) / (time.perf_counter() - t)
    results["bare_jieba_lcut_per_s"] = round(jieba_rate)

    model.predict(texts[:512])  # warm caches
    t = time.perf_counter()
    for i in range(0, len(texts), 512):
        model.predict_rows([(str(j), x) for j, x in enumerate(texts[i:i + 512])])
    rate = len(texts) / (time.perf_counter() - t)
    results["predict_per_s"] = round(rate)
    results["predict_vs_bare_jieba"] = round(rate / jieba_rate, 3)

    lat = []
    for x in texts[:1000]:
        t = time.perf_counter()
        model.predict([x])
        lat.append((time.perf_counter() - t) * 1000)
    lat.sort()
    results["classify_p50_ms"] = round(statistics.median(lat), 3)
    results["classify_p99_ms"] = round(lat[int(len(lat) * 0.99) - 1], 3)
    results["peak_rss_mb_in_process"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.csv"
        with src.open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(["id", "text"])
            w.writerows((i, x) for i, x in enumerate(texts))
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "triage.cli", "predict", str(src), "-o", str(Path(tmp) / "out.jsonl"),
                        "-q"], check=True, cwd=ROOT)
        wall = time.perf_counter() - t
        results["cli_predict_wall_s"] = round(wall, 2)
        results["cli_predict_per_s_incl_startup"] = round(len(texts) / wall)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
