"""The test months' gold beside a blind careful reading (training/audit.py): per register and
head, the estimated agreement with the reader of the codes, of the model that drew the sample,
of the current model, and (with --peers) of the two peers trained on the same real rows.

    .venv/bin/python bench/audit_gold.py [--peers]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training import audit, dataset
from training.compare import predictions_of
from training.peers import PEERS, PeerModel
from triage.classify.registry import current_name, load


def main() -> None:
    examples = dataset.build()
    test = [e for e in examples if e.split == "test" and e.source == "real"
            and any(e.gold.get(h) for h in audit.HEADS)]
    texts = [e.text for e in test]
    labellers = {"codes": {e.id: {h: e.gold.get(h) or () for h in audit.HEADS} for e in test}}
    for name in dict.fromkeys([audit.SAMPLED_WITH, current_name()]):
        heads, _ = predictions_of(load(name), texts)
        labellers[name] = {e.id: {h: heads[h][i] for h in audit.HEADS} for i, e in enumerate(test)}
    if "--peers" in sys.argv[1:]:
        train = [e for e in examples if e.split == "train" and e.source == "real"]
        for name, make in PEERS.items():
            heads, _ = PeerModel(make).fit(train).predict(texts)
            labellers[name] = {e.id: {h: heads[h][i] for h in audit.HEADS} for i, e in enumerate(test)}

    sampled = labellers[audit.SAMPLED_WITH]
    rows = audit.load()
    by_id = {e.id: e for e in test}
    missing = [r.id for r in rows if r.id not in by_id]
    if missing:
        raise SystemExit(f"audit rows not in the test months: {missing[:3]}")
    print(f"{len(rows)} rows read blind; strata from {audit.SAMPLED_WITH}")
    print("| register | head | " + " | ".join(labellers) + " |")
    print("|---|---|" + "---|" * len(labellers))
    for register in ("summary", "narrative"):
        rows_of = [e for e in test if e.register == register]
        # The strata, as drawn: "disagreed" when the sampling model missed a head that has a
        # gold label; "agreed" when it missed none and both heads have one.
        disagreed = {e.id for e in rows_of
                     if any(e.gold.get(h) and not audit.agrees(sampled[e.id][h], frozenset(e.gold[h]))
                            for h in audit.HEADS)}
        agreed = {e.id for e in rows_of if e.id not in disagreed and all(e.gold.get(h) for h in audit.HEADS)}
        read = [r for r in rows if r.register == register]
        wrong = [r.id for r in read if r.id not in (disagreed if r.stratum == "disagreed" else agreed)]
        if wrong:
            raise SystemExit(f"{len(wrong)} audit rows are not in the stratum the sampling model gives: {wrong[:3]}")
        for head in audit.HEADS:
            # Per head, the rows with a gold label of that head, in both the strata and the sample.
            sizes = {"disagreed": sum(1 for i in disagreed if by_id[i].gold.get(head)), "agreed": len(agreed)}
            sample = [r for r in read if by_id[r.id].gold.get(head)]
            figures = [audit.estimate(sample, sizes, head, lambda r, lab=lab, h=head: lab[r.id][h])
                       for lab in labellers.values()]
            print(f"| {register} | {head} (n={sum(sizes.values())}, read {len(sample)}) | "
                  + " | ".join(f"{v:.3f}" for v in figures) + " |")


if __name__ == "__main__":
    main()
