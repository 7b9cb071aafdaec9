"""`triage intake`: the complaints of a file recorded as cases, each with a suggestion."""

from __future__ import annotations

import argparse
import sys

from triage.cli.common import (
    EXIT_CODES,
    EXIT_OK,
    EXIT_ROWS_FAILED,
    EXIT_UNUSABLE,
    load_model,
    with_db,
    with_input,
    with_model,
)


def add_intake(sub: argparse._SubParsersAction) -> None:
    p = with_model(sub.add_parser("intake", help="record the complaints of a file as cases, with suggestions",
                                  epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter))
    p.add_argument("file", help="CSV or JSON Lines with id and text (and optionally channel, received_at, …)")
    with_input(p)
    p.add_argument("--channel", help="channel of rows that have no channel column (phone, oem_ticket, …)")
    p.add_argument("--actor", default="import", help="who recorded them (shown in each case's log)")
    p.add_argument("--policy", help="policy YAML file (default: the bundled policy)")
    with_db(p)
    p.set_defaults(func=cmd_intake)


def cmd_intake(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from triage.case.flows import intake_rows
    from triage.db import open_session
    from triage.io import InputError, read_rows
    from triage.policy.loader import load_policy

    with open_session(args.db) as session:
        try:
            policy = load_policy(args.policy) if args.policy else load_policy()
            result = intake_rows(db_session=session, rows=read_rows(args.file, args.format, args.encoding),
                                 policy=policy, model=load_model(args.model), actor=args.actor,
                                 now=datetime.now(UTC), channel=args.channel)
        except InputError as exc:
            print(f"triage intake: {args.file}: {exc}", file=sys.stderr)
            return EXIT_UNUSABLE
        session.commit()
    for error in result["errors"]:
        print(f"triage intake: {error}", file=sys.stderr)
    print(f"{result['created']} cases created, {result['existing']} already there, {len(result['errors'])} errors")
    return EXIT_ROWS_FAILED if result["errors"] else EXIT_OK
