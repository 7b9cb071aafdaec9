"""Speed and memory of the serving model, on real one-line complaints and real narratives.

    .venv/bin/python bench/bench_predict.py [--n 50000] [--narratives-only | --one-liners-only]

One-liners: the 26,102 of training/data/real/complaints_12365auto_2020-06_12.csv, cycled to N
rows (each text then appears about twice for N = 50,000). Narratives: the 2,667 of
complaints_aqsiq_2024-01_03.csv, once each.

For each register it prints texts/s, wall clock and CPU, of:
- bare `jieba.lcut(text, HMM=False)`: jieba's default dictionary, unknown-word HMM off, as our
  tokenizer cuts (the like-for-like reference); and `jieba.lcut(text)` (HMM on, jieba's default);
- in-process predict (batched as `triage predict` runs, the model loaded and warm);
- the whole `triage predict FILE -o OUT.jsonl` command: CSV in, JSON Lines out, interpreter
  start-up, imports and model load included;
and the ratio of each predict rate to bare jieba's; and, process to process, of the command's
rate to a whole `python -c` process that reads the same CSV and calls jieba.lcut (HMM off) on
each text (interpreter start-up and jieba's dictionary load included). Then: model load in a cold process (import +
load of the current registry model; the jieba word table cached, and once without the cache,
as on a machine's first run), p50 / p99 latency of one in-process classify call, peak resident
memory. Single process, one thread. On a shared machine the wall clock swings with the load of
others: the CPU-time ratios are the steadier figure.
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
REAL = ROOT / "training" / "data" / "real"
ONE_LINERS = REAL / "complaints_12365auto_2020-06_12.csv"
NARRATIVES = REAL / "complaints_aqsiq_2024-01_03.csv"


def read_texts(path: Path, n: int | None = None) -> list[str]:
    with path.open(encoding="utf-8") as f:
        texts = [r["text"] for r in csv.DictReader(f)]
    return texts if n is None else (texts * (n // len(texts) + 1))[:n]


class Clock:
    """Wall clock and CPU time (this process, or its finished children) of a block."""

    def __init__(self, children: bool = False) -> None:
        self.who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF

    def _cpu(self) -> float:
        r = resource.getrusage(self.who)
        return r.ru_utime + r.ru_stime

    def __enter__(self) -> Clock:
        self.t, self.c = time.perf_counter(), self._cpu()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.t, self._cpu() - self.c


def rates(n: int, clock: Clock) -> dict[str, float]:
    return {"per_s_wall": round(n / clock.wall), "per_s_cpu": round(n / clock.cpu)}


def ratio(ours: dict[str, float], ref: dict[str, float]) -> dict[str, float]:
    return {k: round(ours[k] / ref[k], 3) for k in ("per_s_wall", "per_s_cpu")}


def register(name: str, texts: list[str], model) -> dict[str, object]:
    import jieba

    out: dict[str, object] = {"texts": len(texts), "median_chars": statistics.median(map(len, texts))}
    refs = {}
    for label, hmm in (("bare_jieba_lcut_hmm_off", False), ("bare_jieba_lcut_hmm_on", True)):
        with Clock() as c:
            for x in texts:
                jieba.lcut(x, HMM=hmm)
        refs[label] = out[label] = rates(len(texts), c)

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / f"{name}.csv"
        write_csv(src, texts)
        with Clock(children=True) as c:
            subprocess.run([sys.executable, "-c", JIEBA_PROCESS, str(src)], check=True, cwd=ROOT)
        refs["bare_jieba_lcut_hmm_off_whole_process"] = out["bare_jieba_lcut_hmm_off_whole_process"] = rates(
            len(texts), c)

    model.predict(texts[:512])  # warm
    with Clock() as c:
        for i in range(0, len(texts), 512):
            model.predict_rows([(str(j), x) for j, x in enumerate(texts[i:i + 512])])
    out["predict_in_process"] = rates(len(texts), c)

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / f"{name}.csv"
        write_csv(src, texts)
        with Clock(children=True) as c:
            subprocess.run([sys.executable, "-m", "triage.cli", "predict", str(src), "-o", str(Path(tmp) / "out.jsonl"),
                            "-q"], check=True, cwd=ROOT)
        out["triage_predict_whole_process"] = {**rates(len(texts), c), "wall_s": round(c.wall, 2),
                                               "cpu_s": round(c.cpu, 2)}
    for label, ref in refs.items():
        if label.endswith("whole_process"):
            out[f"triage_predict_whole_process_vs_{label}"] = ratio(out["triage_predict_whole_process"], ref)  # type: ignore[arg-type]
            continue
        for what in ("predict_in_process", "triage_predict_whole_process"):
            out[f"{what}_vs_{label}"] = ratio(out[what], ref)  # type: ignore[arg-type]
    return out


def write_csv(path: Path, texts: list[str]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "text"])
        w.writerows((i, x) for i, x in enumerate(texts))


JIEBA_PROCESS = ("import csv, sys, jieba; jieba.setLogLevel(60); f = open(sys.argv[1], encoding='utf-8'); "
                 "[jieba.lcut(r['text'], HMM=False) for r in csv.DictReader(f)]")
"""Bare jieba as a whole process too: interpreter, its dictionary (from its cache), the CSV."""

LOAD = ("import time; t = time.perf_counter(); from triage.classify import registry; m = registry.load(); "
        "print(time.perf_counter() - t)")


def cold_load(runs: int = 5) -> dict[str, object]:
    """Import + load of the current model in a fresh interpreter (the time inside it, and the
    whole process from outside, interpreter start-up included)."""
    def once(env: dict[str, str] | None = None) -> tuple[float, float]:
        t = time.perf_counter()
        r = subprocess.run([sys.executable, "-c", LOAD], check=True, cwd=ROOT, capture_output=True, text=True,
                           env=env)
        return float(r.stdout.strip().splitlines()[-1]), time.perf_counter() - t

    once()  # the word table into the cache, the files into the page cache
    inside, process = zip(*(once() for _ in range(runs)))
    with tempfile.TemporaryDirectory() as tmp:
        first, _ = once({**os.environ, "TRIAGE_CACHE_DIR": tmp})
    return {"import_and_load_s_median": round(statistics.median(inside), 3), "import_and_load_s_best": round(
        min(inside), 3), "whole_process_s_median": round(statistics.median(process), 3),
        "first_run_without_word_table_cache_s": round(first, 3)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=50_000, help="one-liners, the real ones cycled to this many")
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--narratives-only", action="store_true")
    group.add_argument("--one-liners-only", action="store_true")
    args = ap.parse_args()

    import jieba

    jieba.setLogLevel(60)
    jieba.initialize()
    from triage.classify import registry

    results: dict[str, object] = {"model_load_cold": cold_load()}
    model = registry.load()
    results["model"] = model.version
    one = read_texts(ONE_LINERS, args.n)
    if not args.narratives_only:
        results[f"one_liners ({ONE_LINERS.name}, cycled to {args.n})"] = register("one_liners", one, model)
    if not args.one_liners_only:
        results[f"narratives ({NARRATIVES.name})"] = register("narratives", read_texts(NARRATIVES), model)

    lat = []
    for x in one[:1000]:
        t = time.perf_counter()
        model.predict([x])
        lat.append((time.perf_counter() - t) * 1000)
    lat.sort()
    results["classify_one_liner_p50_ms"] = round(statistics.median(lat), 3)
    results["classify_one_liner_p99_ms"] = round(lat[int(len(lat) * 0.99) - 1], 3)
    results["peak_rss_mb_in_process"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(results, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
