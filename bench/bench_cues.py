"""How often each flag cue fires on the real data, and how long `find_cues` takes.

    .venv/bin/python bench/bench_cues.py [--against REV]

Normalises every one-liner (complaints_12365auto_2020-06_12.csv) and narrative
(complaints_aqsiq_2024-01_03.csv) of ../shared/data, then counts the rows each flag and
each cue fires on, and times `find_cues` over each file (normalisation excluded; best of
three passes). With `--against REV`, the cues.py of that git revision runs beside the
current one, so that a change shows as before/after. Prints the figures; nothing is
asserted: there is no gold for flags on these rows.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from triage.classify import cues as current
from triage.text.normalize import TextError, normalize

DATA = ROOT.parent / "shared" / "data"
FILES = {"one-liners": DATA / "complaints_12365auto_2020-06_12.csv",
         "narratives": DATA / "complaints_aqsiq_2024-01_03.csv"}


def load_texts(path: Path) -> list[str]:
    out = []
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            try:
                out.append(normalize(row["text"]).text)
            except TextError:
                continue
    return out


def cues_at(rev: str) -> ModuleType:
    """cues.py as it was at a git revision, as a module of its own."""
    source = subprocess.run(["git", "show", f"{rev}:triage/classify/cues.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "cues_before.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("cues_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def measure(find: Callable[[str], list], texts: list[str]) -> tuple[Counter, Counter, float]:
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        found = [find(t) for t in texts]
        best = min(best, time.perf_counter() - t0)
    by_flag: Counter = Counter()
    by_cue: Counter = Counter()
    for cs in found:
        by_flag.update({c.flag for c in cs})
        by_cue.update({f"{c.flag}:{c.name}" for c in cs})
    return by_flag, by_cue, best * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", help="a git revision whose cues.py runs beside the current one")
    args = parser.parse_args()
    versions: dict[str, Callable[[str], list]] = {}
    if args.against:
        versions[args.against] = cues_at(args.against).find_cues
    versions["current"] = current.find_cues
    for register, path in FILES.items():
        texts = load_texts(path)
        results = {name: measure(find, texts) for name, find in versions.items()}
        print(f"\n## {register}: {len(texts):,} rows (rows each flag / cue fires on)")
        print(f"{'':26}" + "".join(f"{name:>12}" for name in versions))
        flags = sorted({f for r in results.values() for f in r[0]})
        for flag in flags:
            print(f"{flag:26}" + "".join(f"{r[0][flag]:>12,}" for r in results.values()))
        keys = sorted({k for r in results.values() for k in r[1]})
        for key in keys:
            print(f"  {key:24}" + "".join(f"{r[1][key]:>12,}" for r in results.values()))
        print(f"{'find_cues, ms total':26}" + "".join(f"{r[2]:>12.0f}" for r in results.values()))


if __name__ == "__main__":
    main()
