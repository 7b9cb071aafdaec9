"""`triage policy check` and `route`: a policy file validated, and a complaint classified and
routed under the policy."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from triage.cli.classify import format_prediction
from triage.cli.common import dump, load_model, with_model

if TYPE_CHECKING:
    from triage.policy.model import Policy
    from triage.policy.routing import Decision


# ---- policy check, load-notice ------------------------------------------------------------
def add_policy(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("policy", help="routing and SLA policy files, and the yearly holiday notices")
    policy_sub = p.add_subparsers(dest="policy_command", required=True)
    check = policy_sub.add_parser("check", help="load and validate a policy file or a holiday notice file")
    check.add_argument("file", help="policy YAML file, or a year's holiday notice (YAML or JSON)")
    check.set_defaults(func=cmd_policy_check)
    load = policy_sub.add_parser(
        "load-notice", help="check a year's State Council holiday notice and put it in force",
        description="Checks the notice file and copies it into the policy's notices folder as YEAR.yaml; "
                    "running services use it within a second, and deadlines counting that year are no "
                    "longer provisional.")
    load.add_argument("file", help="the notice file (YAML or JSON, see docs/calendar.md)")
    load.add_argument("--policy", help="policy YAML file naming the notices folder (default: the bundled policy)")
    load.set_defaults(func=cmd_load_notice)


def cmd_policy_check(args: argparse.Namespace) -> int:
    from triage.policy.loader import load_policy
    from triage.policy.model import PolicyError
    from triage.policy.notice import is_notice

    if is_notice(args.file):
        return _check_notice(args.file)
    try:
        policy = load_policy(args.file)
    except PolicyError as exc:
        return _problems(args.file, exc.problems)
    print(f"{args.file}: OK — {len(policy.roles)} roles, {len(policy.rules)} rules, "
          f"{len(policy.escalation)} escalation chains, {len(policy.clocks)} clocks")
    rules = policy.suggestions
    shown = "; ".join(f"{head} " + ", ".join(f"{label} {at:g}" for label, at in table.items())
                      for head, table in rules.prefill_at.items()) or "always"
    told = ", ".join(policy.notifications.roles_for("suggestion_accuracy_drop")) or "no one"
    print(f"suggestions: filled in from confidence {shown}; online accuracy more than {rules.accuracy_margin:.0%} "
          f"under the model card (from {rules.accuracy_min_reviews} reviews) is reported to {told}")
    print(format_notifications(policy))
    _print_record(policy)
    return _check_notice_folders(policy)


def format_notifications(policy: Policy) -> str:
    """Who is told of what, over which channels, and the channels not configured here (their
    environment variables unset: their messages fail until they are set)."""
    from triage.notify.channels import missing_settings
    from triage.policy.model import NOTIFY_EVENTS

    n = policy.notifications
    if not n.channels:
        return "notifications: none (no notifications section: nobody is told of anything)"
    lines = [f"notifications: {len(n.channels)} channels ("
             + ", ".join(f"{c.id}: {c.kind}" for c in n.channels.values())
             + f"), recipients for {len(n.recipients)} roles; links to {n.console_url}"
             + (f" (or ${n.console_url_env})" if n.console_url_env else "")
             + f"; {n.max_attempts} attempts, from {n.first_delay:g} s apart doubling to {n.max_delay:g} s"]
    lines.append("  event                      roles that list it (an event on a case: the role it concerns, of these)")
    for event in NOTIFY_EVENTS:
        roles = n.roles_for(event)
        lines.append(f"  {event:<26} {', '.join(roles) if roles else '(nobody)'}")
    for channel in n.channels.values():
        missing = missing_settings(channel)
        if missing:
            lines.append(f"  warning: channel {channel.id}: {', '.join(missing)} not set here; its messages fail "
                         "until set")
    responsible = sorted({r.responsible for r in policy.rules} - set(n.recipients))
    if responsible:
        lines.append(f"  note: roles responsible by the rules that are told of nothing: {', '.join(responsible)}")
    return "\n".join(lines)


def _print_record(policy: Policy) -> None:
    """The handling record's lists and requirements (issue 14)."""
    record = policy.record
    print(f"record: {len(record.causes)} causes, {len(record.responsibility_classes)} responsibility classes, "
          f"{len(record.departments)} departments, {len(record.satisfaction)} satisfaction levels; "
          f"{len(record.required)} requirements; manager review before the callback: "
          f"{'yes' if record.review_when is not None else 'no'}")


def _check_notice(path: str) -> int:
    from triage.policy.notice import NoticeError, read_notice

    try:
        notice = read_notice(path)
    except NoticeError as exc:
        return _problems(path, exc.problems)
    for warning in notice.warnings:
        print(f"  warning: {warning}", file=sys.stderr)
    print(f"{path}: OK — holiday notice for {notice.year} ({notice.source}): {len(notice.holidays)} days off, "
          f"{len(notice.workdays)} adjusted working days")
    return 0


def _check_notice_folders(policy: Policy) -> int:
    """The notices the policy's calendar reads, and which source answers for which years."""
    from triage.policy.calendar import LIBRARY_FIRST_YEAR, LIBRARY_LAST_YEAR, LIBRARY_VERSION, notice_folders
    from triage.policy.notice import load_notices

    folders = notice_folders(policy)
    loaded = load_notices(folders)
    years = ", ".join(str(y) for y in sorted(loaded.notices)) or "none"
    print(f"calendar: notices for {years} (from {', '.join(map(str, folders))}); chinesecalendar "
          f"{LIBRARY_VERSION} for {LIBRARY_FIRST_YEAR}–{LIBRARY_LAST_YEAR}; any other year by the statutory "
          "rules (deadlines marked provisional)")
    if loaded.problems:
        return _problems("notices", list(loaded.problems))
    return 0


def _problems(where: str, problems: list[str]) -> int:
    print(f"triage policy check: {where}: {len(problems)} problem(s)", file=sys.stderr)
    for problem in problems:
        print(f"  - {problem}", file=sys.stderr)
    return 1


def cmd_load_notice(args: argparse.Namespace) -> int:
    from triage.policy.calendar import invalidate_calendars
    from triage.policy.loader import DEFAULT_POLICY, load_policy
    from triage.policy.model import PolicyError
    from triage.policy.notice import install_notice

    try:
        policy = load_policy(args.policy or DEFAULT_POLICY)
        notice, target = install_notice(args.file, Path(str(policy.calendar["notices_dir"])))
    except PolicyError as exc:  # NoticeError too
        print(f"triage policy load-notice: {len(exc.problems)} problem(s); nothing loaded", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"triage policy load-notice: cannot write the notices folder ({exc})", file=sys.stderr)
        return 1
    invalidate_calendars()
    for warning in notice.warnings:
        print(f"  warning: {warning}", file=sys.stderr)
    print(f"loaded the {notice.year} holiday notice ({notice.source}) into {target}; running services use it "
          f"within a second, and deadlines counting {notice.year} are no longer provisional")
    return 0


# ---- route ---------------------------------------------------------------------------------
def add_route(sub: argparse._SubParsersAction) -> None:
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


def cmd_route(args: argparse.Namespace) -> int:
    from datetime import datetime

    from triage.policy.calendar import TZ, CalendarError
    from triage.policy.loader import DEFAULT_POLICY, load_policy
    from triage.policy.model import PolicyError
    from triage.policy.routing import Context, RoutingError
    from triage.suggestion import classify_and_route
    from triage.text.normalize import TextError

    try:
        at = datetime.strptime(args.at, "%Y-%m-%d %H:%M").replace(tzinfo=TZ)
    except ValueError:
        print(f"triage route: --at {args.at!r} is not a time like '2026-11-23 14:30' (Asia/Shanghai)",
              file=sys.stderr)
        return 2
    try:
        policy = load_policy(args.policy or DEFAULT_POLICY)
        model = load_model(args.model)
        context = Context(args.channel, at, in_warranty=args.in_warranty, earlier_complaints=args.earlier_complaints,
                          earlier_repairs=args.earlier_repairs, beyond_authority=args.beyond_authority)
        suggestion = classify_and_route(model, policy, args.text, context)
    except (TextError, PolicyError, RoutingError, CalendarError) as exc:
        print(f"triage route: {exc}", file=sys.stderr)
        return 2
    pred, decision = suggestion.prediction, suggestion.decision
    if args.json:
        print(dump({"classification": pred.to_dict(), "decision": decision.to_dict()}))
        return 0
    print(format_prediction(pred))
    print()
    print(format_decision(decision, policy))
    return 0


def format_decision(decision: Decision, policy: Policy) -> str:
    """A routing decision as `triage route` prints it: who, every clock, the rules that fired."""
    lines = [f"{'responsible':<14} {decision.responsible} {decision.responsible_name}",
             f"{'assists':<14} {', '.join(f'{r} {policy.roles[r]}' for r in decision.assists) or '-'}",
             f"{'escalation':<14} {' → '.join(policy.roles[r] for r in decision.escalation) or '-'}",
             f"{'crisis':<14} {'YES: ' + ', '.join(decision.crisis_team) if decision.crisis else 'no'}",
             f"{'focus vehicle':<14} {'yes (' + str(decision.focus_owner) + ')' if decision.focus_vehicle else 'no'}"]
    for c in decision.clocks:
        due = c.deadline or f"starts on {c.starts_on}"
        mark = " (if dispatched at receipt)" if c.provisional and c.deadline else ""
        mark += " *provisional" if c.calendar_provisional else ""
        lines.append(f"{'clock':<14} {c.id:<22} {c.limit:<16} {due}{mark}  [{c.source}]")
    lines += [f"{'rule fired':<14} {r.id} [{r.source}] {r.why}" for r in decision.rules_fired]
    if any(c.calendar_provisional for c in decision.clocks):
        lines.append("*provisional: counted on holidays computed from the statutory rules, with no adjusted working "
                     "weekends (调休); the year's State Council notice is not loaded yet "
                     "(triage policy load-notice FILE), and may move these deadlines")
    return "\n".join(lines)
