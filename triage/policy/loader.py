"""Load and validate a policy file; every problem is reported at once, with its place."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from triage.classify.labels import FLAGS, HEADS, LABELS
from triage.policy.model import (
    BASES,
    BREACH_ACTIONS,
    CHANNEL_KINDS,
    CONDITION_KEYS,
    EVENTS,
    NOTIFY_EVENTS,
    RECORD_CONDITION_KEYS,
    RECORD_FIELDS,
    RECORD_STEPS,
    ROBOT_KINDS,
    Choice,
    Clock,
    Condition,
    Duration,
    FocusRule,
    Notifications,
    NotifyChannel,
    Policy,
    PolicyError,
    Recipient,
    RecordPolicy,
    Requirement,
    RoleRecipients,
    Rule,
    SuggestionRules,
)
from triage.policy.notice import default_notices_dir

DEFAULT_POLICY = Path(__file__).with_name("default.yaml")
_BOOL_KEYS = ("in_warranty", "beyond_authority", "rework", "earlier_complaints")


def load_policy(path: str | Path = DEFAULT_POLICY) -> Policy:
    """The policy in `path`, or PolicyError listing everything wrong with it."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError([f"{path}: cannot read it ({exc.strerror or exc})"]) from None
    except yaml.YAMLError as exc:
        raise PolicyError([f"{path}: not valid YAML ({exc})"]) from None
    return parse_policy(raw, Path(path).resolve().parent)


def parse_policy(raw: Any, base: Path | None = None) -> Policy:
    """The policy in `raw`; a relative `calendar.notices_dir` is taken from `base` (the policy
    file's folder), else from the current folder."""
    problems: list[str] = []
    if not isinstance(raw, dict):
        raise PolicyError(["the policy must be a mapping with roles, rules, escalation and clocks"])

    roles_raw = _mapping(raw, "roles", problems)
    roles = {rid: str(v.get("name", rid)) if isinstance(v, dict) else str(v) for rid, v in roles_raw.items()}
    role_sources = {rid: str(v.get("source", "")) for rid, v in roles_raw.items() if isinstance(v, dict)}
    channels_raw = _mapping(raw, "channels", problems)
    channels = set(channels_raw)

    def role(ref: Any, where: str) -> str:
        if ref not in roles:
            problems.append(f"{where}: unknown role {ref!r} (roles: {', '.join(sorted(roles))})")
        return str(ref)

    def condition(data: Any, where: str) -> Condition:
        if data is None:
            return Condition()
        if not isinstance(data, dict):
            problems.append(f"{where}: a condition must be a mapping of fact -> allowed values")
            return Condition()
        tests: dict[str, tuple[Any, ...]] = {}
        for key, values in data.items():
            values = tuple(values) if isinstance(values, list) else (values,)
            if key not in CONDITION_KEYS:
                problems.append(f"{where}: unknown condition {key!r} (known: {', '.join(CONDITION_KEYS)})")
                continue
            allowed: set[Any] | None = None
            if key in LABELS:
                allowed = set(LABELS[key])
            elif key == "flags":
                allowed = set(FLAGS)
            elif key == "channel":
                allowed = channels
            elif key in _BOOL_KEYS:
                allowed = {True, False}
            bad = [v for v in values if allowed is not None and v not in allowed]
            if bad:
                problems.append(f"{where}: {key} has unknown value(s) {bad} (known: {sorted(map(str, allowed or ()))})")
            tests[key] = values
        return Condition(tests)

    escalation: dict[str, tuple[str, ...]] = {}
    for name, chain in _mapping(raw, "escalation", problems).items():
        where = f"escalation.{name}"
        if not isinstance(chain, list) or not chain:
            problems.append(f"{where}: must be a non-empty list of roles")
            continue
        seen: list[str] = []
        for i, ref in enumerate(chain):
            role(ref, f"{where}[{i}]")
            if ref in seen:
                problems.append(f"{where}: escalation cycle: {' → '.join([*seen[seen.index(ref):], ref])}")
            seen.append(ref)
        escalation[name] = tuple(chain)

    default_shares = _shares(raw.get("warning_at", 0.8), "warning_at", problems) or (0.8,)
    clocks: list[Clock] = []
    for i, c in enumerate(_list(raw, "clocks", problems)):
        where = f"clocks[{i}] ({c.get('id', '?')})" if isinstance(c, dict) else f"clocks[{i}]"
        if not isinstance(c, dict) or not c.get("id"):
            problems.append(f"{where}: a clock needs at least id, limit, basis, starts_on and stops_on")
            continue
        limit = _duration(c.get("limit"), f"{where}.limit", problems)
        alternatives = {str(k): d for k, v in (c.get("alternatives") or {}).items()
                        if (d := _duration(v, f"{where}.alternatives.{k}", problems))}
        basis = c.get("basis", "24x7")
        if basis not in BASES:
            problems.append(f"{where}.basis: {basis!r} is not one of {', '.join(BASES)}")
        starts = c.get("starts_on")
        stops = c.get("stops_on") or []
        stops = stops if isinstance(stops, list) else [stops]
        for ev in [starts, *stops]:
            if ev not in EVENTS:
                problems.append(f"{where}: unknown event {ev!r} (events: {', '.join(EVENTS)})")
        action = c.get("on_breach", "escalate")
        if action not in BREACH_ACTIONS:
            problems.append(f"{where}.on_breach: {action!r} is not one of {', '.join(BREACH_ACTIONS)}")
        shares = _shares(c["warning_at"], f"{where}.warning_at", problems) if "warning_at" in c else default_shares
        shares = shares or default_shares
        if not c.get("source"):
            problems.append(f"{where}: cite the source clause (source: \"002-A §8-2\")")
        if limit:
            clocks.append(Clock(str(c["id"]), str(c.get("name", c["id"])), limit, basis, str(starts),
                                tuple(map(str, stops)), condition(c.get("when"), f"{where}.when"),
                                str(c.get("source", "")), shares[0], tuple(map(str, c.get("pauses_on") or ())),
                                str(action), alternatives, shares if len(shares) > 1 else ()))
    clock_ids = [c.id for c in clocks]
    for dup in {x for x in clock_ids if clock_ids.count(x) > 1}:
        problems.append(f"clocks: id {dup!r} is used twice")

    rules: list[Rule] = []
    for i, r in enumerate(_list(raw, "rules", problems)):
        where = f"rules[{i}] ({r.get('id', '?')})" if isinstance(r, dict) else f"rules[{i}]"
        if not isinstance(r, dict) or not r.get("id") or "responsible" not in r:
            problems.append(f"{where}: a rule needs at least id, when, responsible, priority and source")
            continue
        chain = r.get("escalation")
        if chain is not None and chain not in escalation:
            problems.append(f"{where}.escalation: unknown escalation chain {chain!r}")
        for ref in r.get("clocks") or ():
            if ref not in clock_ids:
                problems.append(f"{where}.clocks: unknown clock {ref!r}")
        priority = r.get("priority", 0)
        if not isinstance(priority, int):
            problems.append(f"{where}.priority: {priority!r} must be a whole number")
            priority = 0
        if not r.get("source"):
            problems.append(f"{where}: cite the source clause (source: \"002-A §5\")")
        rules.append(Rule(str(r["id"]), condition(r.get("when"), f"{where}.when"),
                          role(r["responsible"], f"{where}.responsible"),
                          tuple(role(a, f"{where}.assists") for a in r.get("assists") or ()),
                          chain, priority, str(r.get("source", "")), str(r.get("note", ""))))
    ids = [r.id for r in rules]
    for dup in {x for x in ids if ids.count(x) > 1}:
        problems.append(f"rules: id {dup!r} is used twice")
    for i, a in enumerate(rules):
        for b in rules[i + 1:]:
            if a.priority == b.priority and a.when.overlaps(b.when):
                problems.append(f"rules {a.id!r} and {b.id!r} can match the same case at the same priority "
                                f"{a.priority}: give one a higher priority or make their conditions exclusive")

    focus = []
    for i, f in enumerate(raw.get("focus_vehicles") or []):
        where = f"focus_vehicles[{i}]"
        if not isinstance(f, dict) or not f.get("id"):
            problems.append(f"{where}: needs id, when, owner and source")
            continue
        focus.append(FocusRule(str(f["id"]), condition(f.get("when"), f"{where}.when"),
                               role(f.get("owner"), f"{where}.owner"), str(f.get("source", "")),
                               str(f.get("note", ""))))
    crisis_raw = raw.get("crisis") or {}
    crisis = condition(crisis_raw.get("when"), "crisis.when")
    crisis_team = tuple(role(ref, "crisis.team") for ref in crisis_raw.get("team") or ())

    calendar = raw.get("calendar") or {}
    if not isinstance(calendar, dict):
        problems.append("calendar: must be a mapping (business_hours, extra_holidays, extra_workdays, notices_dir)")
        calendar = {}
    calendar = dict(calendar)
    for key in ("extra_holidays", "extra_workdays"):
        days = []
        for d in calendar.get(key) or []:
            if isinstance(d, date):
                days.append(d)
            else:
                try:
                    days.append(date.fromisoformat(str(d)))
                except ValueError:
                    problems.append(f"calendar.{key}: {d!r} is not a date (YYYY-MM-DD)")
        calendar[key] = days
    hours = calendar.get("business_hours")
    if hours is not None:
        try:
            opening, closing = (datetime.strptime(str(h), "%H:%M").time() for h in hours)
            if not opening < closing:
                problems.append(f"calendar.business_hours: {hours!r} must open before it closes")
        except (TypeError, ValueError):
            problems.append(f"calendar.business_hours: {hours!r} is not [opening, closing] as HH:MM "
                            "(e.g. [\"08:30\", \"17:30\"])")
    for d in sorted(set(calendar["extra_holidays"]) & set(calendar["extra_workdays"])):
        problems.append(f"calendar: {d.isoformat()} is listed both in extra_holidays and in extra_workdays")
    folder = calendar.get("notices_dir")
    if folder is None:
        calendar["notices_dir"] = default_notices_dir()
    elif isinstance(folder, str) and folder.strip():
        # Resolved now, so that what the service reads does not depend on where it runs later.
        calendar["notices_dir"] = ((base or Path.cwd()) / Path(folder).expanduser()).resolve()
    else:
        problems.append(f"calendar.notices_dir: {folder!r} is not a folder")

    suggestions = _suggestions(raw.get("suggestions"), problems)
    notifications = _notifications(raw.get("notifications"), roles, condition, problems)
    record = _record(raw.get("record"), problems, condition, roles)

    if problems:
        raise PolicyError(problems)
    return Policy(str(raw.get("name", "policy")), roles, tuple(rules), escalation, tuple(clocks), tuple(focus),
                  crisis, crisis_team, calendar, {str(k): str(v) for k, v in channels_raw.items()}, role_sources,
                  suggestions, notifications, record)


def _suggestions(raw: Any, problems: list[str]) -> SuggestionRules:
    """The `suggestions` section: prefill thresholds per head and class, and the watch on
    online accuracy. Without it every suggestion is filled in and no one is told of a drop."""
    if raw is None:
        return SuggestionRules()
    if not isinstance(raw, dict):
        problems.append("suggestions: must be a mapping (prefill_at, online_accuracy)")
        return SuggestionRules()
    for key in set(raw) - {"prefill_at", "online_accuracy"}:
        problems.append(f"suggestions: unknown key {key!r} (known: prefill_at, online_accuracy)")
    prefill: dict[str, dict[str, float]] = {}
    table = raw.get("prefill_at") or {}
    if not isinstance(table, dict):
        problems.append("suggestions.prefill_at: must be a mapping of head -> {class or default: confidence}")
        table = {}
    for head, by_class in table.items():
        where = f"suggestions.prefill_at.{head}"
        if head not in HEADS:
            problems.append(f"{where}: unknown head (heads: {', '.join(HEADS)})")
            continue
        if not isinstance(by_class, dict):
            problems.append(f"{where}: must be a mapping of class or default -> confidence")
            continue
        prefill[head] = {}
        for label, value in by_class.items():
            if label != "default" and label not in LABELS[head]:
                problems.append(f"{where}.{label}: unknown class (classes: default, {', '.join(LABELS[head])})")
            elif not _share(value):
                problems.append(f"{where}.{label}: {value!r} must be a confidence between 0 and 1")
            else:
                prefill[head][str(label)] = float(value)
    watch = raw.get("online_accuracy") or {}
    if not isinstance(watch, dict):
        problems.append("suggestions.online_accuracy: must be a mapping (margin, min_reviews)")
        watch = {}
    for key in set(watch) - {"margin", "min_reviews"}:
        # Who is told of a drop is notifications.recipients' (the event suggestion_accuracy_drop), in one place.
        hint = "; who is told: notifications.recipients, event suggestion_accuracy_drop" if key == "notify" else ""
        problems.append(f"suggestions.online_accuracy: unknown key {key!r} (known: margin, min_reviews{hint})")
    margin = watch.get("margin", 0.05)
    if not _share(margin):
        problems.append(f"suggestions.online_accuracy.margin: {margin!r} must be a share between 0 and 1")
        margin = 0.05
    least = watch.get("min_reviews", 30)
    if isinstance(least, bool) or not isinstance(least, int) or least < 1:
        problems.append(f"suggestions.online_accuracy.min_reviews: {least!r} must be a whole number from 1")
        least = 30
    return SuggestionRules(prefill, float(margin), least)


def _share(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1


def _shares(value: Any, where: str, problems: list[str]) -> tuple[float, ...]:
    """A clock's warning shares: one fraction, or a list of them, each strictly between 0 and 1;
    ascending, without repeats. Empty (and the problem noted) when they are not."""
    values = value if isinstance(value, list) else [value]
    bad = [v for v in values if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < 1]
    if bad or not values:
        problems.append(f"{where}: {value!r} must be a share of the clock's time strictly between 0 and 1 "
                        "(0.8), or a list of them ([0.5, 0.75])")
        return ()
    return tuple(sorted({float(v) for v in values}))


# What each kind of channel may be given; `*_env` names an environment variable read when sending.
_CHANNEL_KEYS: dict[str, set[str]] = {
    "smtp": {"host", "host_env", "port", "port_env", "sender", "sender_env", "username_env", "password_env",
             "security", "timeout"},
    "wecom": {"url_env", "msgtype", "timeout"},
    "dingtalk": {"url_env", "secret_env", "msgtype", "timeout"},
    "feishu": {"url_env", "secret_env", "msgtype", "timeout"},
}
_MSGTYPES = {"wecom": ("markdown", "text"), "dingtalk": ("markdown", "text"), "feishu": ("post", "text")}
_SECURITY = ("none", "starttls", "ssl")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _notifications(raw: Any, roles: dict[str, str], condition: Callable[[Any, str], Condition],
                   problems: list[str]) -> Notifications:
    """The `notifications:` section: channels, recipients per role and the events each role is
    told of, the intake condition, the console's address and the retries. None: nobody is told."""
    if raw is None:
        return Notifications()
    if not isinstance(raw, dict):
        problems.append("notifications: must be a mapping (channels, recipients, major_intake, console_url, retry)")
        return Notifications()
    channels: dict[str, NotifyChannel] = {}
    for cid, c in (raw.get("channels") or {}).items():
        where = f"notifications.channels.{cid}"
        if not isinstance(c, dict) or c.get("kind") not in CHANNEL_KINDS:
            kind = c.get("kind") if isinstance(c, dict) else c
            problems.append(f"{where}: unknown channel kind {kind!r} (kinds: {', '.join(CHANNEL_KINDS)})")
            continue
        kind = str(c["kind"])
        settings = {k: v for k, v in c.items() if k != "kind"}
        for key in sorted(set(settings) - _CHANNEL_KEYS[kind]):
            problems.append(f"{where}: {key!r} is not a setting of a {kind} channel "
                            f"(settings: {', '.join(sorted(_CHANNEL_KEYS[kind]))})")
        for key in (k for k in settings if k.endswith("_env")):
            if not isinstance(settings[key], str) or not _ENV_NAME.match(settings[key]):
                problems.append(f"{where}.{key}: {settings[key]!r} is not the name of an environment variable")
        if kind in ROBOT_KINDS and "url_env" not in settings:
            problems.append(f"{where}: a robot's webhook URL carries its key: name the environment variable that "
                            "holds it (url_env: TRIAGE_..._URL), never the URL itself")
        if kind == "smtp":
            if "host" not in settings and "host_env" not in settings:
                problems.append(f"{where}: needs host (or host_env)")
            if "sender" not in settings and "sender_env" not in settings:
                problems.append(f"{where}: needs sender (or sender_env), the From address")
            if settings.get("security", "none") not in _SECURITY:
                problems.append(f"{where}.security: {settings['security']!r} is not one of {', '.join(_SECURITY)}")
        elif settings.get("msgtype", _MSGTYPES[kind][0]) not in _MSGTYPES[kind]:
            problems.append(f"{where}.msgtype: {settings['msgtype']!r} is not one of {', '.join(_MSGTYPES[kind])}")
        channels[str(cid)] = NotifyChannel(str(cid), kind, settings)

    recipients: dict[str, RoleRecipients] = {}
    for role_id, r in (raw.get("recipients") or {}).items():
        where = f"notifications.recipients.{role_id}"
        if role_id not in roles:
            problems.append(f"{where}: unknown role {role_id!r} (roles: {', '.join(sorted(roles))})")
        if not isinstance(r, dict):
            problems.append(f"{where}: needs events (what the role is told of) and to (channels and addresses)")
            continue
        events = r.get("events") or []
        for ev in events:
            if ev not in NOTIFY_EVENTS:
                problems.append(f"{where}.events: unknown event {ev!r} (events: {', '.join(NOTIFY_EVENTS)})")
        to: list[Recipient] = []
        for j, t in enumerate(r.get("to") or []):
            spot = f"{where}.to[{j}]"
            channel = channels.get(str(t.get("channel"))) if isinstance(t, dict) else None
            if channel is None:
                ref = t.get("channel") if isinstance(t, dict) else t
                problems.append(f"{spot}: unknown channel {ref!r} (channels: {', '.join(channels) or 'none'})")
                continue
            address = str(t.get("address") or "").strip()
            if channel.kind == "smtp" and not _EMAIL.match(address):
                problems.append(f"{spot}: an e-mail recipient needs an address (address: name@dealer.example)")
            if channel.kind in ROBOT_KINDS and address:
                problems.append(f"{spot}: a group robot posts to its own group: give no address")
            to.append(Recipient(channel.id, address))
        if not to:
            problems.append(f"{where}: tell the role through at least one channel (to: [{{channel: ...}}])")
        recipients[str(role_id)] = RoleRecipients(str(role_id), tuple(map(str, events)), tuple(to))

    intake = raw.get("major_intake") or []
    intake = intake if isinstance(intake, list) else [intake]
    major = tuple(condition(c, f"notifications.major_intake[{i}]") for i, c in enumerate(intake))

    retry = raw.get("retry") or {}
    numbers: dict[str, float] = {}
    for key, default in (("max_attempts", 6), ("first_delay", 60), ("max_delay", 3600)):
        value = retry.get(key, default) if isinstance(retry, dict) else default
        least = 1 if key == "max_attempts" else 0
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < least:
            problems.append(f"notifications.retry.{key}: {value!r} must be a number"
                            + (" of at least 1" if key == "max_attempts" else " of seconds"))
            value = default
        numbers[key] = value
    env = raw.get("console_url_env") or ""
    if env and not _ENV_NAME.match(str(env)):
        problems.append(f"notifications.console_url_env: {env!r} is not the name of an environment variable")
    return Notifications(channels, recipients, major, str(raw.get("console_url") or Notifications.console_url),
                         str(env), int(numbers["max_attempts"]), float(numbers["first_delay"]),
                         float(numbers["max_delay"]))


_RECORD_LISTS = ("causes", "responsibility_classes", "departments", "satisfaction")


def _record(raw: Any, problems: list[str], condition: Any, roles: dict[str, str]) -> RecordPolicy:
    """The `record` section: the handling record's lists, labels and requirements. Without it a
    policy keeps no record requirements (a case resolves with whatever it is given)."""
    if raw is None:
        return RecordPolicy()
    if not isinstance(raw, dict):
        problems.append("record: must be a mapping (causes, responsibility_classes, departments, satisfaction, "
                        "labels, required, review)")
        return RecordPolicy()
    lists: dict[str, tuple[Choice, ...]] = {}
    for kind in _RECORD_LISTS:
        items = raw.get(kind)
        if not isinstance(items, dict) or not items:
            problems.append(f"record.{kind}: missing, or not a mapping of id -> {{name, source}}")
            lists[kind] = ()
            continue
        found = []
        for cid, v in items.items():
            where = f"record.{kind}.{cid}"
            v = v if isinstance(v, dict) else {"name": v}
            if kind != "departments" and not v.get("source"):
                problems.append(f"{where}: cite the source clause (source: \"002-B 五 3\")")
            satisfied = v.get("satisfied")
            if kind == "satisfaction" and not isinstance(satisfied, bool):
                problems.append(f"{where}.satisfied: say whether this level closes the loop (true or false)")
            found.append(Choice(str(cid), str(v.get("name", cid)), str(v.get("source", "")),
                                str(v.get("handling", "")), satisfied if isinstance(satisfied, bool) else None))
        lists[kind] = tuple(found)
    satisfaction = lists["satisfaction"]
    if satisfaction and not ({True, False} <= {c.satisfied for c in satisfaction}):
        problems.append("record.satisfaction: needs at least one satisfied level and one that is not")

    labels_raw = raw.get("labels") or {}
    if not isinstance(labels_raw, dict):
        problems.append("record.labels: must be a mapping of field -> label")
        labels_raw = {}
    for name in labels_raw:
        if name not in RECORD_FIELDS:
            problems.append(f"record.labels: unknown field {name!r} (fields: {', '.join(RECORD_FIELDS)})")
    missing_labels = [name for name in RECORD_FIELDS if name not in labels_raw]
    if missing_labels:
        problems.append(f"record.labels: give every field its label (missing: {', '.join(missing_labels)})")

    def when(data: Any, where: str) -> Condition:
        """A condition on the case's facts and on the record's own values."""
        data = data or {}
        if not isinstance(data, dict):
            problems.append(f"{where}: a condition must be a mapping of fact -> allowed values")
            return Condition()
        own: dict[str, tuple[Any, ...]] = {}
        for key in RECORD_CONDITION_KEYS:
            if key not in data:
                continue
            values = tuple(data[key]) if isinstance(data[key], list) else (data[key],)
            allowed = ({True, False} if key in ("valid", "approved")
                       else {c.id for c in lists["causes" if key == "cause" else "satisfaction"]})
            bad = [v for v in values if v not in allowed]
            if bad:
                problems.append(f"{where}: {key} has unknown value(s) {bad} (known: {sorted(map(str, allowed))})")
            own[key] = values
        case_part = condition({k: v for k, v in data.items() if k not in RECORD_CONDITION_KEYS}, where)
        return Condition({**case_part.tests, **own})

    required = []
    for i, r in enumerate(raw.get("required") or []):
        where = f"record.required[{i}]"
        if not isinstance(r, dict):
            problems.append(f"{where}: needs step, when, fields and source")
            continue
        step = r.get("step")
        if step not in RECORD_STEPS:
            problems.append(f"{where}.step: {step!r} is not one of {', '.join(RECORD_STEPS)}")
        fields = r.get("fields") or []
        if not isinstance(fields, list) or not fields:
            problems.append(f"{where}.fields: a non-empty list of fields")
            fields = []
        for name in fields:
            if name not in RECORD_FIELDS:
                problems.append(f"{where}.fields: unknown field {name!r} (fields: {', '.join(RECORD_FIELDS)})")
            elif step in RECORD_STEPS and RECORD_STEPS.index(RECORD_FIELDS[name][0]) > RECORD_STEPS.index(step):
                problems.append(f"{where}.fields: {name!r} is recorded at the {RECORD_FIELDS[name][0]} step, "
                                f"after {step}: it cannot be required there")
        if not r.get("source"):
            problems.append(f"{where}: cite the source clause (source: \"002-A §8-2\")")
        required.append(Requirement(str(step), when(r.get("when"), f"{where}.when"), tuple(map(str, fields)),
                                    str(r.get("source", ""))))

    review = raw.get("review")
    review_when = None
    reviewers: dict[str, str] = {}
    if review is not None:
        if not isinstance(review, dict):
            problems.append("record.review: must be a mapping (when, reviewers, source)")
        else:
            review_when = when(review.get("when"), "record.review.when")
            for line, ref in (review.get("reviewers") or {}).items():
                if line not in LABELS["business_line"]:
                    problems.append(f"record.review.reviewers: unknown business line {line!r}")
                if ref not in roles:
                    problems.append(f"record.review.reviewers.{line}: unknown role {ref!r}")
                reviewers[str(line)] = str(ref)
            if not review.get("source"):
                problems.append("record.review: cite the source clause (source: \"002-B 五 4\")")
    return RecordPolicy(lists["causes"], lists["responsibility_classes"], lists["departments"], satisfaction,
                        {str(k): str(v) for k, v in labels_raw.items()}, tuple(required), review_when, reviewers)


def _mapping(raw: dict, key: str, problems: list[str]) -> dict:
    value = raw.get(key)
    if not isinstance(value, dict) or not value:
        problems.append(f"{key}: missing, or not a mapping")
        return {}
    return value


def _list(raw: dict, key: str, problems: list[str]) -> list:
    value = raw.get(key)
    if not isinstance(value, list) or not value:
        problems.append(f"{key}: missing, or not a list")
        return []
    return value


def _duration(value: Any, where: str, problems: list[str]) -> Duration | None:
    try:
        return Duration.parse(value)
    except ValueError as exc:
        problems.append(f"{where}: {exc}")
        return None
