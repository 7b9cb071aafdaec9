"""The `triage` command. Each command group is a module here that adds its subcommands to the
parser and holds their handlers; a handler parses and checks its arguments, calls the domain
and prints. Importing this package stays cheap: what a command needs is imported when it runs."""

from __future__ import annotations

import argparse
import sys

from triage.cli import accounts, cases, classify, models, policy, service, train
from triage.cli.common import EXIT_CODES, EXIT_UNUSABLE

COMMANDS = (
    classify.add_classify, classify.add_predict, classify.add_evaluate,
    train.add_train, models.add_models, train.add_export_feedback,
    accounts.add_token, cases.add_intake, accounts.add_user,
    service.add_worker, service.add_serve,
    policy.add_policy, policy.add_route,
)
"""The subcommands, in the order `triage --help` lists them."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="triage", description="Complaint triage for car dealerships (4S店).",
                                     epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from triage.classify.registry import ModelError, RegistryError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (RegistryError, ModelError) as exc:  # an unknown --model or --against; a model folder altered
        print(f"triage {args.command}: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130
