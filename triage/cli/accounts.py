"""`triage token create` and `user add`: API tokens and console accounts."""

from __future__ import annotations

import argparse
import sys

from triage.auth.permissions import ROLES
from triage.cli.common import EXIT_UNUSABLE, with_db


# ---- token create --------------------------------------------------------------------------
def add_token(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("token", help="API tokens")
    token_sub = p.add_subparsers(dest="token_command", required=True)
    _token_create(token_sub.add_parser("create", help="create an API token with a role; prints it once"))


def _token_create(p: argparse.ArgumentParser) -> None:
    p.add_argument("--name", required=True)
    p.add_argument("--role", required=True, choices=ROLES)
    with_db(p)
    p.set_defaults(func=cmd_token_create)


def cmd_token_create(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from triage.auth.tokens import create
    from triage.db import open_session

    with open_session(args.db) as session:
        try:
            token = create(db_session=session, name=args.name, role=args.role, now=datetime.now(UTC))
        except ValueError as exc:
            print(f"triage token create: {exc}", file=sys.stderr)
            return 2
        session.commit()
    print(token)
    print(f"triage token create: token for {args.name} ({args.role}); it is shown only now", file=sys.stderr)
    return 0


# ---- user add ------------------------------------------------------------------------------
def add_user(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("user", help="console accounts")
    user_sub = p.add_subparsers(dest="user_command", required=True)
    _user_add(user_sub.add_parser("add", help="create a console account with a role"))


def _user_add(p: argparse.ArgumentParser) -> None:
    p.add_argument("username", help="sign-in name; cases are assigned to it")
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument("--name", help="display name, e.g. 王经理")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    with_db(p)
    p.set_defaults(func=cmd_user_add)


def cmd_user_add(args: argparse.Namespace) -> int:
    """A console account; the password comes from standard input (one line) or a prompt."""
    import getpass
    from datetime import UTC, datetime

    from triage.auth.service import AuthError, create_account
    from triage.db import open_session

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif not sys.stdin.isatty():
        # getpass would fall back to echoing standard input, or fail with a traceback when it is empty.
        print("triage user add: no terminal to ask for the password on: pass --password-stdin and send the "
              "password on standard input, e.g. printf '%s\\n' \"$PASSWORD\" | triage user add NAME --role ROLE "
              "--password-stdin", file=sys.stderr)
        return EXIT_UNUSABLE
    else:
        try:
            password = getpass.getpass("password: ")
        except EOFError:
            print("triage user add: no password given", file=sys.stderr)
            return EXIT_UNUSABLE
    with open_session(args.db) as session:
        try:
            create_account(db_session=session, username=args.username, display_name=args.name or args.username,
                           role=args.role, password=password, now=datetime.now(UTC))
        except AuthError as exc:
            print(f"triage user add: {exc}", file=sys.stderr)
            return EXIT_UNUSABLE
        session.commit()
    print(f"triage user add: {args.username} ({args.role}) can sign in to the console", file=sys.stderr)
    return 0
