"""The `triage` command: classify, predict, evaluate, train."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from triage.classify.labels import HEADS, LabelError, parse_gold, parse_gold_flags
from triage.classify.prediction import Prediction
from triage.classify.tagging import predict_stream
from triage.io import RowError


def _model(name: str | None):
    from triage.classify import registry

    return registry.load(name)


def _dump(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


# ---- classify ------------------------------------------------------------------------------
def cmd_classify(args: argparse.Namespace) -> int:
    from triage.text.normalize import TextError

    text = sys.stdin.read() if args.text == "-" else args.text
    try:
        pred = _model(args.model).predict([text])[0]
    except TextError as exc:
        print(f"triage classify: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(_dump(pred.to_dict()))
    else:
        print(format_prediction(pred))
    return 0


def format_prediction(p: Prediction) -> str:
    from triage.classify.labels import FLAGS, LABELS

    low = set(p.low_confidence)
    lines = []
    for head in HEADS:
        label = getattr(p, head)
        mark = "  (low confidence: please check)" if head in low else ""
        lines.append(f"{head:<14} {label} {LABELS[head][label]}  p={p.confidence[head]:.2f}{mark}")
    flags = ", ".join(f"{f} {FLAGS[f]} p={p.confidence['flags'][f]:.2f}" for f in p.flags) or "none"
    lines.append(f"{'flags':<14} {flags}")
    near = [h.split(".", 1)[1] for h in p.low_confidence if h.startswith("flags.")]
    if near:
        lines.append(f"{'':<14} near the threshold: {', '.join(near)}")
    for rule in p.rules:
        lines.append(f"{'rule':<14} {rule}")
    for e in p.evidence:
        where = f"[{e.start}:{e.end}] {e.text!r}"
        lines.append(f"{'evidence':<14} {e.head}={e.label}: {where} ({e.feature}, {e.weight:+.2f})")
    lines.append(f"{'model':<14} {p.model}")
    return "\n".join(lines)


# ---- predict -------------------------------------------------------------------------------
class _Progress:
    """A progress bar on a terminal's stderr (by bytes read of the file; a running count for
    standard input); silent when stderr is not a terminal."""

    def __init__(self, enabled: bool) -> None:
        from triage.io import ReadProgress

        self.enabled = enabled and sys.stderr.isatty()
        self.read = ReadProgress()
        self.start = time.perf_counter()
        self.last = 0.0

    def update(self, done: int, errors: int, final: bool = False) -> None:
        now = time.perf_counter()
        if not self.enabled or (not final and now - self.last < 0.2):
            return
        self.last = now
        rate = done / max(now - self.start, 1e-9)
        bar = ""
        if self.read.total_bytes:
            share = min(1.0, self.read.read_bytes / self.read.total_bytes)
            bar = f"[{'#' * int(share * 30):<30}] {share:4.0%} "
        sys.stderr.write(f"\r{bar}{done:,} rows, {errors:,} errors, {rate:,.0f} rows/s")
        if final:
            sys.stderr.write("\n")
        sys.stderr.flush()


def cmd_predict(args: argparse.Namespace) -> int:
    from triage.io import InputError

    model = _model(args.model)
    out: TextIO = sys.stdout if args.output in (None, "-") else open(args.output, "w", encoding="utf-8")  # noqa: SIM115
    progress = _Progress(not args.quiet)
    done = errors = 0
    try:
        for _, result in predict_stream(model, args.input, args.format, args.encoding, progress.read):
            done += 1
            if isinstance(result, RowError):
                errors += 1
                print(f"triage predict: {result.error}", file=sys.stderr)
            out.write(_dump(result.to_dict()) + "\n")
            progress.update(done, errors)
    except InputError as exc:
        print(f"triage predict: {args.input}: {exc}", file=sys.stderr)
        return 2
    finally:
        if out is not sys.stdout:
            out.close()
    progress.update(done, errors, final=True)
    if errors:
        print(f"triage predict: {errors} of {done} rows could not be read (see the errors above)", file=sys.stderr)
    return 1 if errors and errors == done else 0


# ---- evaluate ------------------------------------------------------------------------------
def cmd_evaluate(args: argparse.Namespace) -> int:
    from triage.classify.evaluate import Scorer, format_report
    from triage.io import InputError

    model = _model(args.model)
    scorer = Scorer()
    errors = 0
    try:
        for row, result in predict_stream(model, args.file, args.format, args.encoding):
            if isinstance(result, RowError):
                errors += 1
                print(f"triage evaluate: {result.error}", file=sys.stderr)
                continue
            try:
                gold = {h: parse_gold(h, row.fields.get(h)) for h in HEADS}
                gold_flags = parse_gold_flags(row.fields.get("flags"))
            except LabelError as exc:
                errors += 1
                print(f"triage evaluate: row {row.row}: {exc}", file=sys.stderr)
                continue
            scorer.add(gold, gold_flags, {h: getattr(result, h) for h in HEADS}, result.flags)
    except InputError as exc:
        print(f"triage evaluate: {args.file}: {exc}", file=sys.stderr)
        return 2
    result = scorer.result()
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(format_report(result))
        if errors:
            print(f"\n{errors} rows skipped (errors above)")
    return 0


# ---- train ---------------------------------------------------------------------------------
def cmd_train(args: argparse.Namespace) -> int:
    from training.train import train

    log = lambda m: print(m, file=sys.stderr)  # noqa: E731
    registry = Path(args.registry) if args.registry else None
    if args.backend == "ensemble":
        from training.ensemble import build_ensemble
        from triage.classify.registry import ModelError, RegistryError

        if not args.members or len(args.members) < 2:
            print("triage train: --backend ensemble needs --members A B [...]", file=sys.stderr)
            return 2
        if args.weights and (len(args.weights) != len(args.members) or min(args.weights) <= 0):
            print("triage train: give one positive --weights value per member", file=sys.stderr)
            return 2
        try:
            print(build_ensemble(args.members, args.weights, registry, make_current=args.current, log=log))
        except (RegistryError, ModelError, RuntimeError) as exc:  # RuntimeError: torch missing
            print(f"triage train: {exc}", file=sys.stderr)
            return 2
        return 0
    feedback, sources = [], []
    if args.with_feedback:
        from training.dataset import labelled_record
        from triage.io import read_rows

        for path in args.with_feedback:
            for row in read_rows(path):
                if isinstance(row, RowError):
                    print(f"triage train: {path}: {row.error}", file=sys.stderr)
                    continue
                feedback.append(labelled_record({"id": row.id, "text": row.text, **row.fields}, "feedback", "train"))
            sources.append(Path(path))
    if args.backend == "transformer":
        from triage.classify.transformer import require_torch

        try:
            require_torch()
        except RuntimeError as exc:
            print(f"triage train: {exc}", file=sys.stderr)
            return 2
        from training.transformer.config import TransformerConfig, tiny
        from training.transformer.train import check_base_model, train_transformer

        if args.base_model:
            try:
                check_base_model(Path(args.base_model))
            except ValueError as exc:
                print(f"triage train: {exc}", file=sys.stderr)
                return 2

        cfg = tiny() if args.tiny else TransformerConfig()
        folder = train_transformer(cfg, Path(args.base_model) if args.base_model else None, feedback, sources,
                                   registry, make_current=args.current, log=log, progress=not args.quiet)
    else:
        folder = train(feedback, sources, make_current=not args.no_current, registry=registry, log=log)
    print(folder)
    return 0


# ---- feedback --------------------------------------------------------------------------------
def cmd_export_feedback(args: argparse.Namespace) -> int:
    import csv

    from triage.case.service import feedback_rows
    from triage.db import open_session

    with open_session(args.db) as session:
        rows = feedback_rows(session)
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


# ---- service: tokens, worker, server -----------------------------------------------------------
def cmd_token_create(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from triage.case.access import create_token
    from triage.db import open_session

    with open_session(args.db) as session:
        try:
            token = create_token(session, args.name, args.role, datetime.now(UTC))
        except ValueError as exc:
            print(f"triage token create: {exc}", file=sys.stderr)
            return 2
        session.commit()
    print(token)
    print(f"triage token create: token for {args.name} ({args.role}); it is shown only now", file=sys.stderr)
    return 0


def cmd_user_add(args: argparse.Namespace) -> int:
    """A console account; the password comes from standard input (one line) or a prompt."""
    import getpass
    from datetime import UTC, datetime

    from triage.auth.service import AuthError, create_account
    from triage.db import open_session

    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("password: ")
    with open_session(args.db) as session:
        try:
            create_account(session, args.username, args.name or args.username, args.role, password,
                           datetime.now(UTC))
        except AuthError as exc:
            print(f"triage user add: {exc}", file=sys.stderr)
            return 2
        session.commit()
    print(f"triage user add: {args.username} ({args.role}) can sign in to the console", file=sys.stderr)
    return 0


def cmd_intake(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from triage.case.flows import intake_rows
    from triage.db import open_session
    from triage.io import InputError, read_rows
    from triage.policy.loader import load_policy

    with open_session(args.db) as session:
        try:
            policy = load_policy(args.policy) if args.policy else load_policy()
            result = intake_rows(session, read_rows(args.file, args.format, args.encoding), policy,
                                 _model(args.model), args.actor, datetime.now(UTC), args.channel)
        except InputError as exc:
            print(f"triage intake: {args.file}: {exc}", file=sys.stderr)
            return 2
        session.commit()
    for error in result["errors"]:
        print(f"triage intake: {error}", file=sys.stderr)
    print(f"{result['created']} cases created, {result['existing']} already there, {len(result['errors'])} errors")
    return 1 if result["errors"] and not (result["created"] or result["existing"]) else 0


def sla_loop(db: str | None, interval: float, once: bool, stop: threading.Event | None = None) -> int:
    import logging
    from datetime import UTC, datetime

    from sqlalchemy.orm import Session

    from triage.case.flows import run_sla_pass
    from triage.db import init_db, make_engine
    from triage.policy.loader import load_policy

    log = logging.getLogger("triage.worker")
    engine = make_engine(db)
    init_db(engine)
    policy = load_policy()
    while True:
        with Session(engine) as session:
            done = run_sla_pass(session, policy, datetime.now(UTC))
            session.commit()
        for d in done:
            log.warning("case %s: clock %s: %s", d["case"], d["clock"], d["did"])
        if once or (stop is not None and stop.wait(interval)):
            return 0
        if stop is None:
            time.sleep(interval)


def cmd_worker(args: argparse.Namespace) -> int:
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    return sla_loop(args.db, args.interval, args.once)


def cmd_serve(args: argparse.Namespace) -> int:
    import threading

    import uvicorn

    from api.main import create_app
    from triage.classify import registry
    from triage.db import init_db, make_engine

    name = args.model
    try:
        registry.load(name)  # fail now, not on the first request (e.g. a transformer without torch)
    except (registry.RegistryError, RuntimeError) as exc:
        print(f"triage serve: {exc}", file=sys.stderr)
        return 2
    engine = make_engine(args.db)
    init_db(engine)
    stop = threading.Event()
    worker = threading.Thread(target=sla_loop, args=(args.db, args.interval, False, stop), daemon=True)
    worker.start()
    try:
        uvicorn.run(create_app(engine, lambda: registry.load(name)), host=args.host, port=args.port)
    finally:
        stop.set()
    return 0


# ---- policy and routing -------------------------------------------------------------------
def cmd_policy_check(args: argparse.Namespace) -> int:
    from triage.policy.loader import load_policy
    from triage.policy.model import PolicyError

    try:
        policy = load_policy(args.file)
    except PolicyError as exc:
        print(f"triage policy check: {args.file}: {len(exc.problems)} problem(s)", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print(f"{args.file}: OK — {len(policy.roles)} roles, {len(policy.rules)} rules, "
          f"{len(policy.escalation)} escalation chains, {len(policy.clocks)} clocks")
    return 0


def cmd_route(args: argparse.Namespace) -> int:
    from datetime import datetime

    from triage.policy.calendar import TZ, CalendarError
    from triage.policy.loader import DEFAULT_POLICY, load_policy
    from triage.policy.model import PolicyError
    from triage.policy.routing import Classification, Context, RoutingError, route
    from triage.text.normalize import TextError

    try:
        at = datetime.strptime(args.at, "%Y-%m-%d %H:%M").replace(tzinfo=TZ)
    except ValueError:
        print(f"triage route: --at {args.at!r} is not a time like '2026-11-23 14:30' (Asia/Shanghai)",
              file=sys.stderr)
        return 2
    try:
        policy = load_policy(args.policy or DEFAULT_POLICY)
        pred = _model(args.model).predict([args.text])[0]
        decision = route(policy, Classification(pred.business_line, pred.category, pred.severity, tuple(pred.flags)),
                         Context(args.channel, at, in_warranty=args.in_warranty,
                                 earlier_complaints=args.earlier_complaints, earlier_repairs=args.earlier_repairs,
                                 beyond_authority=args.beyond_authority))
    except (TextError, PolicyError, RoutingError, CalendarError) as exc:
        print(f"triage route: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(_dump({"classification": pred.to_dict(), "decision": decision.to_dict()}))
        return 0
    print(format_prediction(pred))
    print()
    print(f"{'responsible':<14} {decision.responsible} {decision.responsible_name}")
    print(f"{'assists':<14} {', '.join(f'{r} {policy.roles[r]}' for r in decision.assists) or '-'}")
    print(f"{'escalation':<14} {' → '.join(policy.roles[r] for r in decision.escalation) or '-'}")
    print(f"{'crisis':<14} {'YES: ' + ', '.join(decision.crisis_team) if decision.crisis else 'no'}")
    print(f"{'focus vehicle':<14} {'yes (' + str(decision.focus_owner) + ')' if decision.focus_vehicle else 'no'}")
    for c in decision.clocks:
        due = c.deadline or f"starts on {c.starts_on}"
        mark = " (if dispatched at receipt)" if c.provisional and c.deadline else ""
        print(f"{'clock':<14} {c.id:<22} {c.limit:<16} {due}{mark}  [{c.source}]")
    for r in decision.rules_fired:
        print(f"{'rule fired':<14} {r.id} [{r.source}] {r.why}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="triage", description="Complaint triage for car dealerships (4S店).")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_model(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--model", help="model name in the registry (default: the current one)")
        return p

    def with_input(p: argparse.ArgumentParser) -> None:
        p.add_argument("--format", choices=["csv", "jsonl"], help="input format (default: by file extension, else csv)")
        p.add_argument("--encoding", default="utf-8", help="input encoding (default utf-8; e.g. gbk)")

    p = with_model(sub.add_parser("classify", help="classify one complaint text"))
    p.add_argument("text", help="the complaint text, or - to read it from standard input")
    p.add_argument("--json", action="store_true", help="print the prediction as JSON")
    p.set_defaults(func=cmd_classify)

    p = with_model(sub.add_parser("predict", help="classify every row of a CSV or JSON Lines file"))
    p.add_argument("input", help="CSV or JSON Lines file with id and text columns; - for standard input")
    p.add_argument("-o", "--output", help="JSON Lines output file (default: standard output)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    with_input(p)
    p.set_defaults(func=cmd_predict)

    p = with_model(sub.add_parser("evaluate", help="score the model on a labelled file"))
    p.add_argument("file", help="labelled CSV or JSON Lines file (shared/spec/labels-and-data-format.md)")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    with_input(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("train", help="train a model from the labelled set and make it current")
    p.add_argument("--backend", choices=["sklearn", "transformer", "ensemble"], default="sklearn",
                   help="sklearn (default; made current), transformer (needs the transformer extra) or ensemble "
                        "(of --members); the last two are made current only with --current")
    p.add_argument("--base-model", metavar="PATH",
                   help="transformer: fine-tune this local checkpoint folder (a Chinese BERT or RoBERTa) instead "
                        "of pre-training a character BERT here")
    p.add_argument("--tiny", action="store_true", help="transformer: a tiny configuration (seconds; smoke tests)")
    p.add_argument("--members", nargs="+", metavar="NAME", help="ensemble: the registry models to average")
    p.add_argument("--weights", nargs="+", type=float, help="ensemble: one weight per member (default equal)")
    p.add_argument("--current", action="store_true", help="transformer/ensemble: make the new model current")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.add_argument("--with-feedback", nargs="+", metavar="FILE",
                   help="also train on these labelled files (reviewers' corrections)")
    p.add_argument("--no-current", action="store_true", help="write the model but keep serving the current one")
    p.add_argument("--registry", help="model registry folder (default: models/)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("export-feedback", help="reviewers' corrections as labelled CSV, for `train --with-feedback`")
    p.add_argument("-o", "--output", help="CSV file (default: standard output)")
    p.add_argument("--db", help="database URL (default: $TRIAGE_DB_URL or sqlite:///triage.db)")
    p.set_defaults(func=cmd_export_feedback)

    p = sub.add_parser("token", help="API tokens")
    token_sub = p.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser("create", help="create an API token with a role; prints it once")
    create.add_argument("--name", required=True)
    create.add_argument("--role", required=True, choices=["customer_care", "handler", "manager", "admin"])
    create.add_argument("--db", help="database URL (default: $TRIAGE_DB_URL or sqlite:///triage.db)")
    create.set_defaults(func=cmd_token_create)

    p = with_model(sub.add_parser("intake", help="record the complaints of a file as cases, with suggestions"))
    p.add_argument("file", help="CSV or JSON Lines with id and text (and optionally channel, received_at, …)")
    with_input(p)
    p.add_argument("--channel", help="channel of rows that have no channel column (phone, oem_ticket, …)")
    p.add_argument("--actor", default="import", help="who recorded them (shown in each case's log)")
    p.add_argument("--policy", help="policy YAML file (default: the bundled policy)")
    p.add_argument("--db", help="database URL (default: $TRIAGE_DB_URL or sqlite:///triage.db)")
    p.set_defaults(func=cmd_intake)

    p = sub.add_parser("user", help="console accounts")
    user_sub = p.add_subparsers(dest="user_command", required=True)
    add = user_sub.add_parser("add", help="create a console account with a role")
    add.add_argument("username", help="sign-in name; cases are assigned to it")
    add.add_argument("--role", required=True, choices=["customer_care", "handler", "manager", "admin"])
    add.add_argument("--name", help="display name, e.g. 王经理")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.add_argument("--db", help="database URL (default: $TRIAGE_DB_URL or sqlite:///triage.db)")
    add.set_defaults(func=cmd_user_add)

    p = sub.add_parser("worker", help="the SLA worker: warnings, breaches, escalations, automatic close")
    p.add_argument("--once", action="store_true", help="one pass, then exit")
    p.add_argument("--interval", type=float, default=60.0, help="seconds between passes (default 60)")
    p.add_argument("--db", help="database URL (default: $TRIAGE_DB_URL or sqlite:///triage.db)")
    p.set_defaults(func=cmd_worker)

    p = with_model(sub.add_parser("serve", help="the HTTP API and web console, with an embedded SLA worker"))
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--interval", type=float, default=60.0, help="seconds between SLA passes")
    p.add_argument("--db", help="database URL (default: $TRIAGE_DB_URL or sqlite:///triage.db)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("policy", help="routing and SLA policy files")
    policy_sub = p.add_subparsers(dest="policy_command", required=True)
    check = policy_sub.add_parser("check", help="load and validate a policy file")
    check.add_argument("file", help="policy YAML file")
    check.set_defaults(func=cmd_policy_check)

    p = with_model(sub.add_parser("route", help="classify a complaint and route it under the policy"))
    p.add_argument("text", help="the complaint text")
    p.add_argument("--channel", required=True, help="intake channel id (oem_ticket, phone, onsite, callback_sales, …)")
    p.add_argument("--at", required=True, help="received time, 'YYYY-MM-DD HH:MM' in Asia/Shanghai")
    p.add_argument("--policy", help="policy YAML file (default: the bundled policy)")
    p.add_argument("--in-warranty", action="store_true", default=None, help="the vehicle is in warranty")
    p.add_argument("--earlier-complaints", type=int, default=0, help="earlier complaints on this vehicle")
    p.add_argument("--earlier-repairs", type=int, default=0, help="earlier repairs of this fault")
    p.add_argument("--beyond-authority", action="store_true", help="beyond the dealership's power (goes to the OEM)")
    p.add_argument("--json", action="store_true", help="print classification and decision as JSON")
    p.set_defaults(func=cmd_route)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
