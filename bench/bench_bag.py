"""The long-text member (triage.classify.bag): fastText exported as a linear head over the mean of
its tokens, beside fastText itself, on the development narratives of fold 0.

Fits fastText on fold 0's real fitting rows for business line (the peer's settings), exports it,
and prints: the fit and export times, the exported rows and their bytes against fastText's input
table, how far the exported probabilities are from fastText's and how often the argmax differs,
and the member's rate on the narratives (tokens cut and looked up, one batch), best of --repeat.
Needs the dev extra (fastText).

    .venv/bin/python bench/bench_bag.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training import dataset
from training.experiments import dev_split
from training.fasttext_export import export, fit_fasttext, probabilities
from training.peers import expand
from triage.classify.bag import tokens_of
from triage.text.normalize import normalize


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    fit_rows, dev = dev_split(0, dataset.build())
    texts, ys, _ = expand([e for e in fit_rows if e.source == "real"], "business_line")
    t0 = time.perf_counter()
    tokens = tokens_of([normalize(t).text for t in texts])
    model = fit_fasttext(tokens, ys)
    t1 = time.perf_counter()
    head = export(model, tokens)
    t2 = time.perf_counter()
    narratives = [normalize(e.text).text for e in dev if e.register == "narrative"]
    best = float("inf")
    for _ in range(args.repeat):
        start = time.perf_counter()
        ours = head.predict_proba(tokens_of(narratives))
        best = min(best, time.perf_counter() - start)
    theirs, _ = probabilities(model, tokens_of(narratives))  # the export keeps fastText's label order
    stored = sum(a.nbytes for a in head.arrays().values())
    table = (len(model.get_words()) + int(model.f.getArgs().bucket)) * model.get_dimension() * 4
    print(f"fastText fit on {len(texts):,} rows: {t1 - t0:.1f} s; export {t2 - t1:.1f} s")
    print(f"exported rows: {head.weights.shape[0]:,} x {head.weights.shape[1]} classes, {stored / 1e6:.1f} MB "
          f"(fastText's input table: {table / 1e6:,.0f} MB)")
    print(f"development narratives: {len(narratives)}; largest probability difference "
          f"{np.abs(ours - theirs).max():.4f}, mean {np.abs(ours - theirs).mean():.5f}; "
          f"argmax differs on {(ours.argmax(1) != theirs.argmax(1)).sum()}")
    print(f"member rate: {len(narratives) / best:,.0f} narratives/s (best of {args.repeat})")


if __name__ == "__main__":
    main()
