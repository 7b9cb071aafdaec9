"""Peak memory of `triage predict` as the input grows: streaming means it stays flat.

    .venv/bin/python bench/bench_stream_memory.py [--sizes 10000 200000]
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 200_000])
    args = ap.parse_args()
    with (ROOT / "training/data/real/complaints_12365auto_2020.csv").open(encoding="utf-8") as f:
        texts = [r["text"] for r in csv.DictReader(f)]
    out = []
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "in.csv"
            with src.open("w", encoding="utf-8", newline="") as f:
                w = csv.writer(f)
                w.writerow(["id", "text"])
                w.writerows((i, texts[i % len(texts)]) for i in range(n))
            code = ("import resource, sys; from triage.cli import main; rc = main(sys.argv[1:]); "
                    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); sys.exit(rc)")
            t = time.perf_counter()
            cmd = [sys.executable, "-c", code, "predict", str(src), "-o", str(Path(tmp) / "o.jsonl"), "-q"]
            r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
            wall = time.perf_counter() - t
            out.append({"rows": n, "wall_s": round(wall, 1), "rows_per_s": round(n / wall),
                        "peak_rss_mb": round(int(r.stderr.strip().splitlines()[-1]) / 1024, 1)})
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
