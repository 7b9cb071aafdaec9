"""`triage train` and `export-feedback`: new models, from the labelled set and the reviewers'
corrections."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from triage.classify.labels import HEADS
from triage.cli.common import with_db


# ---- train ---------------------------------------------------------------------------------
def add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model from the labelled set; made current unless it is worse than the "
                                     "current one")
    p.add_argument("--backend", choices=["sklearn", "transformer", "ensemble"], default="sklearn",
                   help="sklearn (default; made current unless the held-out rows tell it apart as worse than the "
                        "current model on an accuracy, major recall or a flag's recall), transformer (needs the "
                        "transformer extra) or ensemble (of --members); the last two are made current only with "
                        "--current")
    p.add_argument("--base-model", metavar="PATH",
                   help="transformer: fine-tune this local checkpoint folder (a Chinese BERT or RoBERTa) instead "
                        "of pre-training a character BERT here")
    p.add_argument("--tiny", action="store_true", help="transformer: a tiny configuration (seconds; smoke tests)")
    p.add_argument("--members", nargs="+", metavar="NAME", help="ensemble: the registry models to average")
    p.add_argument("--weights", nargs="+", type=float, help="ensemble: one weight per member (default equal)")
    p.add_argument("--tune-on-dev", action="store_true",
                   help="ensemble: choose its decision biases and long-text flag thresholds on the development rows "
                        "(only honest when no member was fitted on them)")
    current = p.add_mutually_exclusive_group()
    current.add_argument("--current", action="store_true",
                         help="make the new model current (sklearn: even when it is worse than the current one)")
    current.add_argument("--no-current", action="store_true", help="write the model but keep serving the current one")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.add_argument("--with-feedback", nargs="+", metavar="FILE",
                   help="also train on these labelled files (reviewers' corrections)")
    p.add_argument("--registry", help="model registry folder (default: models/)")
    p.add_argument("--compare-peers", action="store_true",
                   help="sklearn: also train the peers (char TF-IDF + LR, fastText) on the same real rows and put "
                        "the comparison in the model card (a few minutes; fastText comes with the dev extra)")
    p.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    if args.backend == "ensemble":
        return _train_ensemble(args)
    from training.dataset import feedback_examples

    files = args.with_feedback or []
    feedback = feedback_examples(files, on_error=lambda message: print(f"triage train: {message}", file=sys.stderr))
    sources = [Path(f) for f in files]
    if args.backend == "transformer":
        return _train_transformer(args, feedback, sources)
    from training.train import train

    print(train(feedback, sources, make_current=True if args.current else False if args.no_current else None,
                registry=_registry(args), log=_log, peers=args.compare_peers))
    return 0


def _log(message: str) -> None:
    print(message, file=sys.stderr)


def _registry(args: argparse.Namespace) -> Path | None:
    return Path(args.registry) if args.registry else None


def _train_ensemble(args: argparse.Namespace) -> int:
    from training.ensemble import build_ensemble
    from triage.classify.registry import ModelError, RegistryError

    if not args.members or len(args.members) < 2:
        print("triage train: --backend ensemble needs --members A B [...]", file=sys.stderr)
        return 2
    if args.weights and (len(args.weights) != len(args.members) or min(args.weights) <= 0):
        print("triage train: give one positive --weights value per member", file=sys.stderr)
        return 2
    try:
        print(build_ensemble(args.members, args.weights, _registry(args), make_current=args.current, log=_log,
                             tune_on_dev=args.tune_on_dev))
    except (RegistryError, ModelError, RuntimeError) as exc:  # RuntimeError: torch missing
        print(f"triage train: {exc}", file=sys.stderr)
        return 2
    return 0


def _train_transformer(args: argparse.Namespace, feedback: list, sources: list[Path]) -> int:
    from triage.classify.transformer import require_torch

    try:
        require_torch()
    except RuntimeError as exc:
        print(f"triage train: {exc}", file=sys.stderr)
        return 2
    from training.transformer.config import TransformerConfig, tiny
    from training.transformer.train import check_base_model, train_transformer

    base = Path(args.base_model) if args.base_model else None
    if base:
        try:
            check_base_model(base)
        except ValueError as exc:
            print(f"triage train: {exc}", file=sys.stderr)
            return 2
    print(train_transformer(tiny() if args.tiny else TransformerConfig(), base, feedback, sources, _registry(args),
                            make_current=args.current, log=_log, progress=not args.quiet))
    return 0


# ---- export-feedback -----------------------------------------------------------------------
def add_export_feedback(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export-feedback", help="reviewers' corrections as labelled CSV, for `train --with-feedback`")
    p.add_argument("-o", "--output", help="CSV file (default: standard output)")
    with_db(p)
    p.set_defaults(func=cmd_export_feedback)


def cmd_export_feedback(args: argparse.Namespace) -> int:
    import csv

    from triage.case.service import feedback_rows
    from triage.db import open_session

    with open_session(args.db) as session:
        rows = feedback_rows(db_session=session)
    out: TextIO = sys.stdout if args.output in (None, "-") else open(args.output, "w", encoding="utf-8", newline="")  # noqa: SIM115
    try:
        writer = csv.DictWriter(out, fieldnames=["id", "text", "channel", *HEADS, "flags"])
        writer.writeheader()
        writer.writerows(rows)
    finally:
        if out is not sys.stdout:
            out.close()
    print(f"triage export-feedback: {len(rows)} corrected case(s)", file=sys.stderr)
    return 0
