"""Our model beside the peers, trained on exactly the same real rows, in one run: character
1-3-gram TF-IDF with logistic regression, and fastText over characters plus jieba words.
Figures per register (one-liners of 2020-12, narratives of 2024-03) and per class.

    .venv/bin/python bench/peer_baseline.py [--model models/<version>] [--json out.json]

fastText is a dev dependency (`pip install -e .[dev]`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from training import compare, dataset
from triage.classify import registry


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="a model folder (default: the registry's current model)")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()
    model = registry.load_from(Path(args.model)) if args.model else registry.load()
    real = dataset.real_examples()
    train = [e for e in real if e.split == "train"]
    test = [e for e in real if e.split == "test"]
    print(f"train {len(train)} real rows, test {len(test)} real rows; ours: {model.version}", file=sys.stderr)
    figures = compare.run(train, test, {f"ours ({model.version})": model},
                          log=lambda m: print(m, file=sys.stderr))
    print(compare.table(figures))
    print("\nwhere a peer is ahead:")
    for line in compare.shortfalls(figures, next(iter(figures))) or ["(nowhere)"]:
        print(f"- {line}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
