"""`triage policy check` and `route`: a policy file validated, and a complaint classified and
routed under the policy."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from triage.cli.classify import format_prediction
from triage.cli.common import dump, load_model, with_model

if TYPE_CHECKING:
    from triage.policy.model import Policy
    from triage.policy.routing import Decision


# ---- policy check --------------------------------------------------------------------------
def add_policy(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("policy", help="routing and SLA policy files")
    policy_sub = p.add_subparsers(dest="policy_command", required=True)
    check = policy_sub.add_parser("check", help="load and validate a policy file")
    check.add_argument("file", help="policy YAML file")
    check.set_defaults(func=cmd_policy_check)


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
        lines.append(f"{'clock':<14} {c.id:<22} {c.limit:<16} {due}{mark}  [{c.source}]")
    lines += [f"{'rule fired':<14} {r.id} [{r.source}] {r.why}" for r in decision.rules_fired]
    return "\n".join(lines)
