"""`triage models`: the registry's models, one model's card, which one is served (to make a
model `triage train` held back current, or to roll back), and the history of that choice."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from triage.cli.common import EXIT_OK, dump

REGISTERS = ("summary", "narrative")


def add_models(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="the trained models: list them, show a card, choose the one to serve")
    p.add_argument("--registry", help="model registry folder (default: $TRIAGE_MODELS_DIR, else models/)")
    actions = p.add_subparsers(dest="action", required=True)
    listed = actions.add_parser("list", help="every model, its held-out figures per register, the current one marked")
    listed.add_argument("--json", action="store_true", help="one JSON object per model, one per line")
    listed.set_defaults(func=cmd_list)
    show = actions.add_parser("show", help="a model's card (default: the current model's)")
    show.add_argument("name", nargs="?", help="the model's name (default: the current one)")
    show.set_defaults(func=cmd_show)
    use = actions.add_parser("use", help="serve this model from now on (checked, then made current; servers take it "
                                         "up within seconds)")
    use.add_argument("name", help="the model's name, as `triage models list` gives it")
    use.set_defaults(func=cmd_use)
    changes = actions.add_parser("history", help="every change of the served model: when, from which, who and why")
    changes.add_argument("--json", action="store_true", help="one JSON object per change, one per line")
    changes.set_defaults(func=cmd_history)


def _root(args: argparse.Namespace) -> Path | None:
    return Path(args.registry) if args.registry else None


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def cmd_list(args: argparse.Namespace) -> int:
    from triage.classify.registry import MODEL_FIGURES, summaries

    models = summaries(_root(args))
    if args.json:
        for m in models:
            print(dump(m))
        return EXIT_OK
    # Two groups of four figures: each register's accuracies and its major recall.
    heads = "".join(f"{name:>8}" for name in ("BL", "cat.", "sev.", "major R"))
    print(f"  {'':<32} {'':<11} {'':<17}{'one-liners (held out)':<32}narratives (held out)")
    print(f"  {'model':<32} {'backend':<11} {'trained (UTC)':<17}{heads}{heads}")
    for m in models:
        mark = "*" if m["current"] else " "
        if "error" in m:
            print(f"{mark} {m['name']:<32} {m['error']}")
            continue
        figures = [_f(m["held_out"].get(register, {}).get("/".join(key))) for register in REGISTERS
                   for key in MODEL_FIGURES]
        promotion = m["promotion"] or {}
        held = promotion.get("decided_by") == "gate" and not promotion.get("made_current")
        print(f"{mark} {m['name']:<32} {m['backend'] or '?':<11} {(m['created'] or '?')[:16].replace('T', ' '):<17}"
              + "".join(f"{v:>8}" for v in figures) + ("  held back by the gate" if held else ""))
    if not models:
        print("(no models)", file=sys.stderr)
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    from triage.classify.registry import model_dir

    print((model_dir(args.name, _root(args)) / "card.md").read_text(encoding="utf-8"), end="")
    return EXIT_OK


def cmd_use(args: argparse.Namespace) -> int:
    from triage.classify.registry import use

    before = use(args.name, _root(args))
    print(f"{args.name} is already current" if before == args.name else f"serving {args.name} (was {before or 'none'})",
          file=sys.stderr)
    print(args.name)
    return EXIT_OK


def cmd_history(args: argparse.Namespace) -> int:
    from triage.classify.registry import history

    for change in history(_root(args)):
        print(dump(change) if args.json else
              f"{change['at']}  {change['before'] or '-'} -> {change['model']}  by {change['by']}: {change['reason']}")
    return EXIT_OK
