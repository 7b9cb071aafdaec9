"""Presentation helpers for the console: Chinese names of labels, roles and events, local
times, and the complaint text cut into plain and highlighted pieces by the evidence spans.
Everything here returns plain data; the templates escape it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from triage.auth.permissions import ADMIN, CUSTOMER_CARE, HANDLER, MANAGER
from triage.classify.labels import FLAGS, LABELS
from triage.policy.calendar import TZ

HEAD_NAMES = {"business_line": "业务线", "category": "类别", "severity": "严重度", "flags": "标记",
              "responsible_role": "处理角色"}

EVENT_NAMES = {
    "received": "受理", "suggested": "系统建议", "reviewed": "人工确认", "dispatched": "分派",
    "assigned": "指派处理人", "first_contact": "首次联系客户", "started": "开始处理", "resolved": "处理完毕",
    "verified": "回访满意", "reopened": "重新打开", "closed": "结案", "auto_closed": "自动结案",
    "sla_warning": "时限预警", "sla_breach": "超时", "escalated": "升级", "notification": "通知",
    "personal_data_read": "查看个人信息", "paused": "暂停计时", "resumed": "恢复计时",
}

STATE_NAMES = {"received": "已受理", "suggested": "待确认", "confirmed": "已分派", "in_progress": "处理中",
               "resolved": "已处理", "verified": "回访满意", "reopened": "重新打开", "closed": "已结案"}

ROLE_NAMES = {CUSTOMER_CARE: "客户关爱", HANDLER: "处理人", MANAGER: "经理/总监", ADMIN: "管理员"}

ACTION_NAMES = {"contact": "已联系客户", "start": "开始处理", "resolve": "处理完毕", "callback": "回访",
                "reopen": "重新打开", "close": "结案"}

_UNITS = {"minutes": "分钟", "hours": "小时", "days": "天", "working_days": "个工作日", "working_hours": "个工作小时",
          "months": "个月"}


def limit_name(limit: str) -> str:
    """A clock's limit as the policy writes it ("2 hours", "same_day") in Chinese."""
    if limit == "same_day":
        return "当日"
    amount, _, unit = limit.partition(" ")
    return f"{amount} {_UNITS.get(unit, unit)}"


def label_name(head: str, value: str | None) -> str:
    if value is None:
        return "—"
    if head == "flags":
        return FLAGS.get(value, value)
    return LABELS.get(head, {}).get(value, value)


def local_time(value: str | datetime | None) -> str:
    if not value:
        return "—"
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    return at.astimezone(TZ).strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class Piece:
    text: str
    why: str | None = None
    """What the highlighted piece is evidence for, e.g. "人身安全 (flags.safety)"; None for plain text."""


def highlight(text: str, evidence: list[dict[str, Any]]) -> list[Piece]:
    """`text` cut into pieces, the evidence spans marked. Offsets come from the model (into the
    original text; masking keeps lengths); spans outside the text are ignored, overlapping
    spans merge."""
    spans: list[tuple[int, int, str]] = []
    for e in evidence:
        start, end = int(e.get("start", -1)), int(e.get("end", -1))
        if 0 <= start < end <= len(text):
            head = str(e.get("head", ""))
            name = label_name("flags", head.split(".", 1)[1]) if head.startswith("flags.") else \
                label_name(head, str(e.get("label", "")))
            spans.append((start, end, name))
    spans.sort()
    merged: list[tuple[int, int, list[str]]] = []
    for start, end, name in spans:
        if merged and start < merged[-1][1]:
            s, e, names = merged[-1]
            merged[-1] = (s, max(e, end), names if name in names else [*names, name])
        else:
            merged.append((start, end, [name]))
    pieces: list[Piece] = []
    pos = 0
    for start, end, names in merged:
        if start > pos:
            pieces.append(Piece(text[pos:start]))
        pieces.append(Piece(text[start:end], "、".join(names)))
        pos = end
    if pos < len(text):
        pieces.append(Piece(text[pos:]))
    return pieces
