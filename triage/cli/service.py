"""`triage worker` and `serve`: the SLA worker and the notification delivery worker alone, and
the HTTP API and web console with both embedded."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from typing import Any

from triage.cli.common import with_db, with_model

DELIVERY_INTERVAL = 5.0
"""Seconds between delivery passes: a new major complaint reaches the general manager within them."""


# ---- worker --------------------------------------------------------------------------------
def add_worker(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("worker", help="the SLA worker (warnings, breaches, escalations, automatic close) and the "
                                      "delivery of notifications")
    p.add_argument("--once", action="store_true", help="one pass of each, then exit with a summary of what they did")
    p.add_argument("--interval", type=float, default=60.0, help="seconds between SLA passes (default 60)")
    p.add_argument("--delivery-interval", type=float, default=DELIVERY_INTERVAL,
                   help=f"seconds between delivery passes (default {DELIVERY_INTERVAL:g})")
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
    import threading

    from triage.case.worker import sla_loop
    from triage.db import init_db, make_engine
    from triage.policy.loader import load_policy

    quiet_logs(args.verbose)
    engine = make_engine(args.db)
    init_db(engine)
    policy = load_policy()
    if args.once:
        print(format_pass(*one_pass(engine, policy)))
        print(format_delivery(one_delivery_pass(engine, policy)))
        return 0
    stop = threading.Event()
    delivery = start_delivery(engine, policy, args.delivery_interval, stop)
    try:
        sla_loop(engine, policy, args.interval)
    finally:
        stop.set()
        delivery.join(timeout=30)
    return 0


def start_delivery(engine: Any, policy: Any, interval: float, stop: Any) -> Any:
    """The delivery worker's thread, started: it sends the outbox's messages until `stop` is set."""
    import threading

    from triage.notify.worker import delivery_loop

    thread = threading.Thread(target=delivery_loop, args=(engine, policy, interval, False, stop), daemon=True,
                              name="delivery-worker")
    thread.start()
    return thread


def one_delivery_pass(engine: Any, policy: Any) -> list[dict[str, Any]]:
    """One delivery pass over the messages due now."""
    from datetime import UTC, datetime

    from sqlalchemy.orm import Session

    from triage.notify.worker import run_delivery_pass

    with Session(engine) as session:
        return run_delivery_pass(db_session=session, policy=policy, now=datetime.now(UTC))


def format_delivery(done: list[dict[str, Any]]) -> str:
    """What one delivery pass did: each failure, then the counts."""
    did = Counter(d["did"] for d in done)
    lines = [f"notification {d['id']} ({d['channel']}): {d['did']}: {d['error']}" for d in done if d["error"]]
    lines += [f"{'messages sent':<16}{did['sent']:>7}", f"{'  to retry':<16}{did['retry']:>7}",
              f"{'  given up':<16}{did['failed']:>7}"]
    return "\n".join(lines)


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
    p.add_argument("--delivery-interval", type=float, default=DELIVERY_INTERVAL,
                   help=f"seconds between delivery passes of notifications (default {DELIVERY_INTERVAL:g})")
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
    policy = load_policy()
    worker = threading.Thread(target=sla_loop, args=(engine, policy, args.interval, False, stop), daemon=True,
                              name="sla-worker")
    worker.start()
    start_delivery(engine, policy, args.delivery_interval, stop)
    print(f"triage serve: {args.workers} server process(es) on http://{args.host}:{args.port}; "
          f"the SLA worker (a pass every {args.interval:g} s) and the delivery of notifications (every "
          f"{args.delivery_interval:g} s) run in process {os.getpid()}", file=sys.stderr)
    try:
        if args.workers == 1:
            uvicorn.run(serving_app(engine), host=args.host, port=args.port, access_log=args.access_log)
        else:  # uvicorn supervises the server processes from this one, where the SLA worker runs
            uvicorn.run("api.main:serving_app", factory=True, workers=args.workers, host=args.host, port=args.port,
                        access_log=args.access_log)
    finally:
        stop.set()
    return 0
