"""`triage worker` and `serve`: the SLA worker alone, and the HTTP API and web console with an
embedded SLA worker."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from typing import Any

from triage.cli.common import with_db, with_model


# ---- worker --------------------------------------------------------------------------------
def add_worker(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("worker", help="the SLA worker: warnings, breaches, escalations, automatic close")
    p.add_argument("--once", action="store_true", help="one pass, then exit with a summary of what it did")
    p.add_argument("--interval", type=float, default=60.0, help="seconds between passes (default 60)")
    p.add_argument("-v", "--verbose", action="store_true", help="also show the libraries' logs (migrations, …)")
    with_db(p)
    p.set_defaults(func=cmd_worker)


def quiet_logs(verbose: bool) -> None:
    """The worker's own lines (what a pass did) always; the libraries' INFO lines, such as
    alembic's on every start, only with --verbose."""
    import logging

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("triage").setLevel(logging.INFO)


def cmd_worker(args: argparse.Namespace) -> int:
    from triage.case.worker import sla_loop
    from triage.db import init_db, make_engine
    from triage.policy.loader import load_policy

    quiet_logs(args.verbose)
    engine = make_engine(args.db)
    init_db(engine)
    if args.once:
        print(format_pass(*one_pass(engine, load_policy())))
    else:
        sla_loop(engine, load_policy(), args.interval)
    return 0


def one_pass(engine: Any, policy: Any) -> tuple[list[dict[str, Any]], int]:
    """One SLA pass, committed: what it did and how many due cases it examined."""
    from datetime import UTC, datetime

    from sqlalchemy.orm import Session

    from triage.case.worker import run_sla_pass

    with Session(engine) as session:
        done = run_sla_pass(db_session=session, policy=policy, now=datetime.now(UTC))
        session.commit()
    return done, done.checked


_DID = {"warning": "warning", "escalate": "breach, escalated", "notify": "breach, notified",
        "auto_close": "breach, closed automatically"}


def format_pass(done: list[dict[str, Any]], checked: int) -> str:
    """What one pass did, case by case, then the counts."""
    did = Counter(d["did"] for d in done)
    lines = [f"case {d['case']}: clock {d['clock']}: {_DID.get(d['did'], d['did'])}" for d in done]
    lines += [f"{'cases checked':<16}{checked:>7}", f"{'warnings':<16}{did['warning']:>7}",
              f"{'breaches':<16}{sum(n for k, n in did.items() if k != 'warning'):>7}",
              f"{'  escalations':<16}{did['escalate']:>7}", f"{'  notifications':<16}{did['notify']:>7}",
              f"{'  closes':<16}{did['auto_close']:>7}"]
    return "\n".join(lines)


# ---- serve ---------------------------------------------------------------------------------
def add_serve(sub: argparse._SubParsersAction) -> None:
    p = with_model(sub.add_parser("serve", help="the HTTP API and web console, with an embedded SLA worker"))
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1,
                   help="server processes (default 1; one per core for throughput); the SLA worker runs once, "
                        "in the supervising process, whatever their number")
    p.add_argument("--interval", type=float, default=60.0, help="seconds between SLA passes")
    p.add_argument("--no-access-log", dest="access_log", action="store_false",
                   help="no line per request on standard output (behind a proxy that logs them)")
    with_db(p)
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    import os
    import threading

    import uvicorn

    from api.main import SERVE_MODEL, serving_app
    from triage.case.worker import sla_loop
    from triage.classify import registry
    from triage.db import init_db, make_engine
    from triage.policy.loader import load_policy

    if args.workers < 1:
        print("triage serve: --workers must be at least 1", file=sys.stderr)
        return 2
    try:
        registry.load(args.model)  # fail now, not on the first request (e.g. a transformer without torch)
    except (registry.RegistryError, RuntimeError) as exc:
        print(f"triage serve: {exc}", file=sys.stderr)
        return 2
    engine = make_engine(args.db)
    init_db(engine)  # once, here: the server processes find the schema up to date
    # What each server process builds its app from (api.main.serving_app).
    os.environ["TRIAGE_DB_URL"] = engine.url.render_as_string(hide_password=False)
    os.environ[SERVE_MODEL] = args.model or ""
    stop = threading.Event()
    worker = threading.Thread(target=sla_loop, args=(engine, load_policy(), args.interval, False, stop), daemon=True,
                              name="sla-worker")
    worker.start()
    print(f"triage serve: {args.workers} server process(es) on http://{args.host}:{args.port}; "
          f"the SLA worker (a pass every {args.interval:g} s) runs in process {os.getpid()}", file=sys.stderr)
    try:
        if args.workers == 1:
            uvicorn.run(serving_app(engine), host=args.host, port=args.port, access_log=args.access_log)
        else:  # uvicorn supervises the server processes from this one, where the SLA worker runs
            uvicorn.run("api.main:serving_app", factory=True, workers=args.workers, host=args.host, port=args.port,
                        access_log=args.access_log)
    finally:
        stop.set()
    return 0
