"""Our model beside the peers, trained on exactly the same real rows, in one run: character
1-3-gram TF-IDF with logistic regression, and fastText over characters plus jieba words.
Figures per register (one-liners of 2020-12, narratives of 2024-03) and per class; where a peer
is ahead, its difference from ours with a 95 % paired bootstrap interval, and the figures on which
the rows tell the two apart.

    .venv/bin/python bench/peer_baseline.py [--model models/<version>] [--json out.json] [--card]

--card writes the comparison into the model's card (card.json and card.md), as
`triage train --compare-peers` does when it trains, so that a served model's card can be
measured again without training it again. fastText is a dev dependency (`pip install -e .[dev]`).
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
    ap.add_argument("--card", action="store_true", help="write the comparison into the model's card")
    args = ap.parse_args()
    folder = Path(args.model) if args.model else registry.model_dir()
    model = registry.load_from(folder.parent, folder.name)
    real = dataset.real_examples()
    train = [e for e in real if e.split == "train"]
    test = [e for e in real if e.split == "test"]
    print(f"train {len(train)} real rows, test {len(test)} real rows; ours: {model.version}", file=sys.stderr)
    comparison = compare.run(train, test, {"ours": model}, log=lambda m: print(m, file=sys.stderr))
    section = compare.card_section(comparison, "ours")
    print(section["table"])
    print("\nwhere a peer is ahead (the peer's difference from ours, 95 % paired bootstrap interval):")
    for line in section["shortfalls"] or ["(nowhere)"]:
        print(f"- {line}")
    for peer, ahead in section["clear"].items():
        print(f"\ntold apart from {peer} (interval excludes zero; ours minus the peer): ours ahead on "
              f"{len(ahead['ours'])}, behind on {len(ahead['peer'])}")
        for who in ("ours", "peer"):
            for line in ahead[who]:
                print(f"- {'ahead' if who == 'ours' else 'behind'}: {line}")
    if args.json:
        Path(args.json).write_text(json.dumps(comparison.as_json(), ensure_ascii=False, indent=1), encoding="utf-8")
    if args.card:
        card = json.loads((folder / registry.CARD).read_text(encoding="utf-8"))
        card["evaluation"]["peers"] = section
        registry.write_card(folder, card)
        print(f"\nwritten into {folder / registry.CARD} and card.md", file=sys.stderr)


if __name__ == "__main__":
    main()
