"""The transformer served by torch and by onnxruntime (its ONNX export), side by side, on
one thread: load time in a fresh process (imports included, and whether torch was
imported), texts per second of whole predictions (`predict`, batches of 512 as `triage
predict` runs; best of two runs) on 2,000 one-liners and 500 narratives of the test
months, and the largest difference between their probabilities on those texts.

    .venv/bin/python bench/bench_onnx.py [--torch transformer-<v>] [--onnx onnx-<v>] [--json out.json]

Defaults: the newest transformer-* and onnx-* folders of the registry.
"""

from __future__ import annotations

import os

os.environ.setdefault("TRIAGE_TORCH_THREADS", "1")
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from training import dataset
from triage.classify import registry

LOAD = ("import sys, time; t = time.perf_counter(); from triage.classify import registry; "
        "m = registry.load(sys.argv[1]); m.predict(['刹车失灵']); "
        "print(time.perf_counter() - t, 'torch' in sys.modules)")


def newest(prefix: str) -> str:
    return max(n for n in registry.list_models() if n.startswith(prefix))


def load_seconds(name: str) -> dict[str, object]:
    """Best of three fresh processes: import, load (hash checks included), one prediction."""
    runs = []
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", LOAD, name], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
        runs.append((float(out[0]), out[1] == "True"))
    best = min(runs)
    return {"seconds": round(best[0], 3), "imports_torch": best[1]}


def rate(model, texts: list[str], runs: int = 2) -> float:
    model.predict(texts[:64])
    best = float("inf")
    for _ in range(runs):
        t = time.perf_counter()
        for i in range(0, len(texts), 512):
            model.predict(texts[i:i + 512])
        best = min(best, time.perf_counter() - t)
    return round(len(texts) / best, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--torch", dest="torch_name")
    ap.add_argument("--onnx", dest="onnx_name")
    ap.add_argument("--json")
    args = ap.parse_args()
    names = {"torch": args.torch_name or newest("transformer-"), "onnxruntime": args.onnx_name or newest("onnx-")}
    test = sorted((e for e in dataset.real_examples() if e.split == "test"), key=lambda e: e.id)
    texts = {"one-liners": [e.text for e in test if e.register == "summary"][:2000],
             "narratives": [e.text for e in test if e.register == "narrative"][:500]}
    figures: dict[str, dict[str, object]] = {}
    models = {}
    for runtime, name in names.items():
        models[runtime] = registry.load(name)
        figures[runtime] = {"model": name, "load": load_seconds(name),
                            **{f"{k} texts/s": rate(models[runtime], v) for k, v in texts.items()}}
        print(runtime, json.dumps(figures[runtime], ensure_ascii=False), file=sys.stderr)
    from training.transformer.onnx_export import largest_difference

    figures["largest_probability_difference"] = {
        k: largest_difference(models["torch"], models["onnxruntime"], v) for k, v in texts.items()}
    print("| | " + " | ".join(names) + " |\n|---|---|---|")
    print("| model | " + " | ".join(names.values()) + " |")
    print("| load in a fresh process (s, imports included) | "
          + " | ".join(str(figures[r]["load"]["seconds"]) for r in names) + " |")
    print("| imports torch | " + " | ".join(str(figures[r]["load"]["imports_torch"]) for r in names) + " |")
    for k in texts:
        print(f"| {k} ({len(texts[k])}) texts/s, 1 thread | "
              + " | ".join(str(figures[r][f"{k} texts/s"]) for r in names) + " |")
    print(f"\nlargest probability difference: {json.dumps(figures['largest_probability_difference'])}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
