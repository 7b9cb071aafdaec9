"""What a message says: its subject and body, written once when it is put in the outbox (so
that what was sent can be shown as it was). A message about a case carries the case number,
its labels, the responsible role, the deadline and a link to the console; a line of the
complaint, with every personal datum replaced by the name of its kind (text.mask), and no
customer field. Bodies are a small Markdown (bold title, `- ` lines, one link) that each
channel renders in its own format (channels.py)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from triage.classify.labels import FLAGS, LABELS
from triage.policy.calendar import TZ
from triage.policy.model import Notifications, Policy
from triage.text.mask import find_pii, name_pii

EXCERPT = 60
"""Characters of the complaint a message quotes."""
SUBJECT_MAX = 200

TITLES = {"major_intake": "重大投诉", "sla_warning": "时限预警", "sla_breach": "超时", "escalated": "升级",
          "reopened": "重新打开", "suggestion_accuracy_drop": "建议准确率下降", "test": "测试消息"}
"""How each event is named in a message's subject."""

# Characters that Markdown renderers act on: a complaint quoted in a robot's message must stay text.
_INERT = str.maketrans({"[": "［", "]": "］", "(": "（", ")": "）", "*": "＊", "#": "＃", "`": "｀", "<": "＜",
                        ">": "＞", "_": "＿", "~": "～", "|": "｜", "\\": "＼"})


@dataclass(frozen=True)
class CaseFacts:
    """What a message about a case needs to know of it (the case domain fills it in)."""

    id: int
    number: str
    labels: dict[str, Any]
    responsible_role: str | None
    text: str = ""

    @cached_property
    def excerpt(self) -> str:
        """The start of the complaint, masked (once per case, however many messages quote it)."""
        return masked_excerpt(self.text) if self.text else ""


@dataclass(frozen=True)
class Message:
    subject: str
    body: str
    link: str | None


def console_url(notifications: Notifications) -> str:
    """The console's address for links: the environment variable the policy names, else the policy's."""
    from_env = os.environ.get(notifications.console_url_env, "") if notifications.console_url_env else ""
    return (from_env or notifications.console_url).rstrip("/")


def case_link(notifications: Notifications, case_id: int) -> str:
    return f"{console_url(notifications)}/cases/{case_id}"


def local_time(at: datetime | str | None) -> str:
    if not at:
        return "—"
    value = datetime.fromisoformat(at) if isinstance(at, str) else at
    return value.astimezone(TZ).strftime("%Y-%m-%d %H:%M")


def inert(text: str) -> str:
    """`text` with the characters Markdown acts on replaced by their full-width forms, on one line."""
    return " ".join(text.split()).translate(_INERT)


def masked_excerpt(text: str, limit: int = EXCERPT) -> str:
    """The start of a complaint, every personal datum replaced by the name of its kind."""
    cut = text[:limit + 20]  # a datum cut in two by the limit is still found whole
    spans = find_pii(cut)
    shown = name_pii(cut, spans)
    return inert(shown[:limit] + ("…" if len(text) > limit or len(shown) > limit else ""))


def labels_text(labels: dict[str, Any]) -> str:
    heads = [LABELS[h].get(str(labels.get(h)), str(labels.get(h))) for h in ("business_line", "category", "severity")
             if labels.get(h)]
    return " · ".join(heads) or "—"


def flags_text(labels: dict[str, Any]) -> str:
    return "、".join(FLAGS.get(f, f) for f in labels.get("flags") or ()) or "无"


def role_name(policy: Policy, role: str | None) -> str:
    if not role:
        return "—"
    return str(policy.roles.get(role, role))


def clock_name(policy: Policy, clock_id: str | None) -> str:
    return next((c.name for c in policy.clocks if c.id == clock_id), str(clock_id or "—"))


def case_message(policy: Policy, event: str, case: CaseFacts, data: dict[str, Any],
                 deadline: datetime | str | None) -> Message:
    """The message about `event` on the case; `data` is the event's (the clock, the share, the roles)."""
    title = TITLES.get(event, event)
    what = ""
    lines: list[str] = []
    clock = clock_name(policy, data.get("clock")) if data.get("clock") else ""
    if event == "major_intake":
        what = "新案件，待确认"
        lines.append("依据：重大问题第一时间上报总经理（002-A §5-1、§5-2）")
    elif event == "sla_warning":
        share = float(data.get("share") or 0)
        what = f"{clock}已用 {share:.0%}" if share else f"{clock}即将到期"
    elif event == "sla_breach":
        what = f"{clock}已超时"
        lines.append(f"超时于：{local_time(data.get('breached_at'))}")
    elif event == "escalated":
        what = f"已升级至{role_name(policy, data.get('to'))}"
        lines.append(f"原负责：{role_name(policy, data.get('from_role'))}（{clock}超时）")
    elif event == "reopened":
        what = "客户回访不满意，已重新打开"
    subject = f"【{title}】案件 {case.number}" + (f"：{what}" if what else "")
    body = [f"**{inert(subject)}**",
            f"- 分类：{labels_text(case.labels)}",
            f"- 标记：{flags_text(case.labels)}",
            f"- 负责：{role_name(policy, case.responsible_role)}",
            f"- 截止：{local_time(deadline)}",
            *(f"- {line}" for line in lines)]
    if case.excerpt:
        body.append(f"- 摘要：{case.excerpt}")
    link = case_link(policy.notifications, case.id)
    body.append(f"[在控制台打开案件 {case.number}]({link})")
    return Message(subject[:SUBJECT_MAX], "\n".join(body), link)


def free_message(event: str, subject: str, body: str, link: str | None = None) -> Message:
    """A message about no case (an alert, a test): its text as given, personal data named only
    by kind, Markdown in it left inert."""
    title = TITLES.get(event, event)
    subject = name_pii(subject, find_pii(subject))
    full = f"【{title}】{subject}" if not subject.startswith("【") else subject
    lines = [f"**{inert(full)}**",
             *(inert(name_pii(line, find_pii(line))) for line in body.splitlines() if line.strip())]
    if link:
        lines.append(f"[在控制台打开]({link})")
    return Message(full[:SUBJECT_MAX], "\n".join(lines), link)
