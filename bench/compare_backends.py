"""The scikit-learn model, the transformer and their ensemble, measured in one run on the
same held-out real complaints, register by register: the one-liners of 2020-12 and the
narratives of 2024-03 (training.dataset.TEST_MONTHS; labels from training.dataset).

    .venv/bin/python bench/compare_backends.py [--sklearn NAME] [--transformer NAME] [--ensemble NAME]

Defaults: the newest sklearn-*, transformer-* and ensemble-* folders of the registry.
Prints a markdown table (accuracy and macro-F1 per head, safety recall and precision,
throughput batched as `triage predict` runs, p50 / p99 latency of one-text calls; best
of two runs); each other backend's difference from scikit-learn with a 95 % paired
bootstrap interval (the same resampled rows for both models), so that a gap the rows
cannot tell from noise is not taken for a win; the cost of the transformer's evidence
against a gradient x input alternative; then the figures as JSON. torch uses 2 threads
(the machine's cores); numpy / BLAS 1, as in bench_predict.py.
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from training import dataset
from training.compare import predictions_of
from training.peers import scored_rows
from training.train import score
from triage.classify import registry
from triage.classify.bootstrap import paired
from triage.classify.labels import HEADS

# The figures the bootstrap compares: (name, its key in triage.classify.bootstrap).
COMPARED = [*((f"{h} macro-F1", (h, "macro_f1")) for h in HEADS),
            ("major recall", ("major", "recall")),
            ("safety recall", ("flags", "safety", "recall")),
            ("safety precision", ("flags", "safety", "precision"))]


def newest(prefix: str) -> str | None:
    names = [n for n in registry.list_models() if n.startswith(prefix)]
    return max(names) if names else None


def speed(model, texts: list[str], single: int, runs: int = 2) -> dict[str, float]:
    """Best of `runs` (the machine may be shared: another tenant's burst is not the model's)."""
    model.predict(texts[:64])  # warm up
    rates, p50s, p99s = [], [], []
    for _ in range(runs):
        t = time.perf_counter()
        for i in range(0, len(texts), 512):
            model.predict_rows([(str(j), x) for j, x in enumerate(texts[i:i + 512])])
        rates.append(len(texts) / (time.perf_counter() - t))
        lat = []
        for x in texts[:single]:
            t = time.perf_counter()
            model.predict([x])
            lat.append((time.perf_counter() - t) * 1000)
        lat.sort()
        p50s.append(statistics.median(lat))
        p99s.append(lat[max(0, int(len(lat) * 0.99) - 1)])
    return {"texts_per_s": round(max(rates), 1), "p50_ms": round(min(p50s), 2), "p99_ms": round(min(p99s), 2),
            "runs": runs}


def evidence_cost(model, texts: list[str], repeat: int = 3) -> dict[str, float]:
    """ms per 64 one-line texts: plain forward; forward with the per-token terms (the
    evidence served); forward plus one backward per head (gradient x input)."""
    import torch

    net, enc = model.network, model.text_encoder
    ids, mask, _ = enc.batch(texts[:64])

    def timed(fn) -> float:
        fn()
        t = time.perf_counter()
        for _ in range(repeat):
            fn()
        return round((time.perf_counter() - t) / repeat * 1000, 1)

    def plain():
        with torch.inference_mode():
            net(ids, mask)

    def terms():
        with torch.inference_mode():
            net.logits_and_contributions(ids, mask)

    def gradient():
        embeddings = net.encoder.get_input_embeddings()(ids).detach().requires_grad_(True)
        states = net.encoder(inputs_embeds=embeddings, attention_mask=mask).last_hidden_state
        from triage.classify.transformer.network import _key, mean_pool

        pooled = mean_pool(states, mask)
        for h in HEADS:
            chosen = net.heads[_key(h)](pooled).max(dim=1).values.sum()
            (grad,) = torch.autograd.grad(chosen, embeddings, retain_graph=True)
            (grad * embeddings).sum(dim=-1)

    return {"forward_ms": timed(plain), "forward_with_token_terms_ms": timed(terms),
            "forward_plus_gradient_x_input_ms": timed(gradient)}


def rows_of(model, examples: list) -> list[tuple]:
    """Each row's Scorer.add arguments, so that any resample of rows can be scored."""
    (rows,) = scored_rows(examples, *predictions_of(model, [e.text for e in examples])).values()
    return rows


def differences(base: list[tuple], other: list[tuple]) -> dict[str, dict]:
    """other - base for each compared figure, with its 95 % paired bootstrap interval."""
    intervals = paired(base, other)
    return {name: {"difference": intervals[key].difference, "ci95": [intervals[key].low, intervals[key].high]}
            for name, key in COMPARED if key in intervals}


def row(name: str, version: str, s: dict, sp: dict) -> str:
    cells = [f"{s[h]['accuracy']:.3f} / {s[h]['macro_f1']:.3f}" for h in HEADS]
    safety = s["flags"]["per_flag"]["safety"]
    return (f"| {name} (`{version}`) | " + " | ".join(cells)
            + f" | {safety['recall']:.3f} / {safety['precision']:.3f} | {sp['texts_per_s']:,.0f} | "
              f"{sp['p50_ms']:.1f} / {sp['p99_ms']:.1f} |")


REGISTERS = {"summary": "one-liners", "narrative": "narratives"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sklearn", default=newest("sklearn-"))
    ap.add_argument("--transformer", default=newest("transformer-"))
    ap.add_argument("--ensemble", default=newest("ensemble-"))
    ap.add_argument("--n", type=int, default=3000, help="texts for the throughput run (each register's rows, repeated)")
    ap.add_argument("--single", type=int, default=500, help="one-text calls for the latency figures")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(2)
    held_out = [e for e in dataset.build() if e.source == "real" and e.split == "test"]
    models = {label: name for label, name in (("scikit-learn", args.sklearn), ("transformer", args.transformer),
                                              ("ensemble", args.ensemble)) if name}
    loaded, results = {}, {}
    for label, name in models.items():
        t = time.perf_counter()
        loaded[label] = registry.load(name)
        results[label] = {"model": name, "load_s": round(time.perf_counter() - t, 2)}
    for register, title in REGISTERS.items():
        examples = [e for e in held_out if e.register == register]
        texts = [e.text for e in examples]
        bulk = (texts * (args.n // len(texts) + 1))[:args.n]
        per_row: dict[str, list[tuple]] = {}
        lines = ["| model | business line acc / macro-F1 | category acc / macro-F1 | severity acc / macro-F1 "
                 "| safety recall / precision | texts/s (batches of 512) | latency p50 / p99 ms (one text) |",
                 "| --- | --- | --- | --- | --- | --- | --- |"]
        for label, model in loaded.items():
            s = score(model, examples)
            sp = speed(model, bulk, args.single)
            results[label][register] = {"score": {h: s[h] for h in (*HEADS, "major")}
                                        | {"safety": s["flags"]["per_flag"]["safety"]}, "speed": sp}
            per_row[label] = rows_of(model, examples)
            lines.append(row(label, models[label], s, sp))
        first = results[next(iter(loaded))][register]["score"]
        print(f"\n## {title}: held-out real complaints of {dataset.TEST_MONTHS[register]}, {len(examples)} rows "
              f"(business line n={first['business_line']['n']}, category n={first['category']['n']}, "
              f"severity n={first['severity']['n']}, safety positives {first['safety']['support']})\n")
        print("\n".join(lines))
        others = [label for label in per_row if label != "scikit-learn"]
        if "scikit-learn" in per_row and others:
            diff = {label: differences(per_row["scikit-learn"], per_row[label]) for label in others}
            results[f"difference_from_scikit_learn ({register})"] = diff
            print("\ndifference from scikit-learn, with its 95 % paired bootstrap interval (1000 resamples):\n")
            print("| figure | " + " | ".join(others) + " |")
            print("| --- |" + " --- |" * len(others))
            for name, _ in COMPARED:
                if not all(name in diff[label] for label in others):
                    continue
                cells = [f"{diff[label][name]['difference']:+.3f} [{diff[label][name]['ci95'][0]:+.3f}, "
                         f"{diff[label][name]['ci95'][1]:+.3f}]" for label in others]
                print(f"| {name} | " + " | ".join(cells) + " |")
    if args.transformer:
        cost = evidence_cost(loaded["transformer"], [e.text for e in held_out if e.register == "summary"])
        results["transformer_evidence_cost_per_64_texts"] = cost
        print("\ntransformer evidence cost, ms per 64 one-liners:", json.dumps(cost))
    print()
    print(json.dumps(results, ensure_ascii=False))


if __name__ == "__main__":
    main()
