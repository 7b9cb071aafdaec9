"""Presentation helpers for the console: Chinese names of labels, roles and events, local
times, and the complaint text cut into plain and highlighted pieces by the evidence spans.
Everything here returns plain data; the templates escape it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from triage.auth.permissions import ADMIN, CUSTOMER_CARE, HANDLER, MANAGER
from triage.case.worker import WORKER
from triage.classify.labels import FLAGS, HEADS, LABELS
from triage.notify.messages import TITLES
from triage.policy.calendar import TZ
from triage.policy.model import Policy

HEAD_NAMES = {"business_line": "业务线", "category": "类别", "severity": "严重度", "flags": "标记",
              "responsible_role": "处理角色"}

EVENT_NAMES = {
    "received": "受理", "suggested": "系统建议", "reviewed": "人工确认", "dispatched": "分派",
    "assigned": "指派处理人", "first_contact": "首次联系客户", "started": "开始处理", "resolved": "处理完毕",
    "verified": "回访满意", "reopened": "重新打开", "closed": "结案", "auto_closed": "自动结案",
    "sla_warning": "时限预警", "sla_breach": "超时", "escalated": "升级", "notification": "通知",
    "personal_data_read": "查看个人信息", "paused": "暂停计时", "resumed": "恢复计时",
    "relabeled": "修改分类", "clocks_changed": "时限随分类变更",
    "notification_error": "通知未能写入",
    "opinion_approved": "经理审核通过", "form_rejected": "经理退回处理意见",
}

NOTIFY_EVENT_NAMES = TITLES
NOTIFY_STATE_NAMES = {"pending": "待发送", "sending": "发送中", "sent": "已送达", "failed": "发送失败"}
CHANNEL_KIND_NAMES = {"smtp": "电子邮件", "wecom": "企业微信机器人", "dingtalk": "钉钉机器人", "feishu": "飞书机器人"}

# What a delivery failure was, in a word, by the start of the channel's error (channels.py words them).
_DELIVERY_REASONS = (("not configured", "渠道未配置"), ("cannot reach", "无法连接"), ("SMTP", "邮件服务器未接收"),
                     ("answered HTTP", "对方服务出错"))


def delivery_reason(error: str | None) -> str:
    """A delivery error as a case's page shows it: what kind of failure, in Chinese (the
    channel's own words are on the administrator's page)."""
    if not error:
        return ""
    found = next((zh_reason for start, zh_reason in _DELIVERY_REASONS if start in error), None)
    return found or ("对方拒收" if "refused" in error else "发送出错")


def channel_name(channel: str, policy: Policy) -> str:
    """A notification channel of the policy by its kind's Chinese name (电子邮件, 钉钉机器人 …)."""
    found = policy.notifications.channels.get(channel)
    return CHANNEL_KIND_NAMES.get(found.kind, channel) if found else channel


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


# ---- the policy's and the system's words, in Chinese --------------------------------------------
_CJK = re.compile(r"[\u3400-\u9fff]")
_ASIDE = re.compile(r"\s*[(（]([^()（）]*)[)）]")

ACTOR_NAMES = {"system": "系统", "import": "文件导入", WORKER: "时限监控"}
"""Who wrote an event when no person did: the suggestion, `triage intake` (its default actor), the SLA worker."""

_FACTS = {"in_warranty": ("保修期内", "保修期外"), "beyond_authority": ("超出经销商权限", "经销商权限内"),
          "rework": ("返工", "非返工"), "earlier_complaints": ("同一车辆此前有投诉", "此前无投诉")}


def zh(text: str | None) -> str:
    """A message or a clause with its English asides left out: the policy and the refusals
    write "Chinese (English)" for the command line and the API; the console shows the Chinese.
    "002-A (second copy) §8-1" reads 002-A §8-1."""
    text = text or ""
    while True:
        shorter = _ASIDE.sub(lambda m: m.group(0) if _CJK.search(m.group(1)) else "", text)
        if shorter == text:
            return text.strip()
        text = shorter


def zh_name(name: str) -> str:
    """A role's or a channel's name without what follows it in brackets (its clause, an English
    gloss): 主机厂工单 / DN网 (002-A §3) reads 主机厂工单 / DN网."""
    return re.split(r"\s*[(（]", name, maxsplit=1)[0].strip() or name


def zh_names(names: dict[str, str]) -> dict[str, str]:
    return {key: zh_name(str(name)) for key, name in names.items()}


def actor_name(actor: str, display: dict[str, str]) -> str:
    return display.get(actor) or ACTOR_NAMES.get(actor, actor)


def clock_name(clock_id: str | None, policy: Policy) -> str:
    return next((c.name for c in policy.clocks if c.id == clock_id), "时限")


def condition_text(tests: dict[str, Any], policy: Policy) -> str:
    """A rule's condition in words: 严重度：重大投诉，业务线：销售."""
    parts = []
    for key, values in tests.items():
        if key in _FACTS:
            parts.append("、".join(_FACTS[key][0 if v else 1] for v in values))
        elif key == "channel":
            parts.append("来源：" + "、".join(zh_name(policy.channels.get(v, v)) for v in values))
        else:
            parts.append(f"{HEAD_NAMES.get(key, key)}：" + "、".join(label_name(key, str(v)) for v in values))
    return "，".join(parts) or "所有案件"


def rule_text(fired: dict[str, Any], policy: Policy) -> str:
    """A rule that decided a case's route, in Chinese: what it says rather than its id (the
    routing log keeps the id and an English note for the API)."""
    rule_id, why = str(fired.get("id", "")), str(fired.get("why", ""))
    role = lambda r: zh_name(policy.roles.get(r, r))  # noqa: E731
    if rule_id == "context-earlier-complaints":
        n = re.search(r"\d+", why)
        return f"同一车辆此前有{f' {n.group()} 次' if n else ''}投诉：标记为{label_name('flags', 'repeat')}"
    if rule_id == "major-by-flag":
        flags = "、".join(label_name("flags", f) for f in FLAGS if f in why)
        return f"标记{flags}：严重度定为{label_name('severity', 'major')}"
    if rule_id == "crisis":
        return "涉及媒体：由最高管理层牵头的危机处理小组处理"
    if rule_id.startswith("focus:"):
        focus = next((f for f in policy.focus if f.id == rule_id.removeprefix("focus:")), None)
        if focus is not None:
            return f"重点关注车辆（{condition_text(focus.when.tests, policy)}）：由{role(focus.owner)}跟进"
        return "重点关注车辆"
    rule = next((r for r in policy.rules if r.id == rule_id), None)
    if rule is not None:
        return f"{condition_text(rule.when.tests, policy)} → 由{role(rule.responsible)}负责"
    return zh(why) if _CJK.search(why) else "分派规则（当前政策中已无此条）"


def correction_text(key: str, change: dict[str, Any], policy: Policy) -> str:
    """One correction of a review, from → to, in the names the console uses."""
    def name(value: Any) -> str:
        if key == "flags":
            return "、".join(label_name("flags", f) for f in value or []) or "无"
        if key == "responsible_role":
            return zh_name(policy.roles.get(value, value)) if value else "—"
        return label_name(key, value)

    return f"{HEAD_NAMES.get(key, key)} {name(change.get('from'))} → {name(change.get('to'))}"


def notification_text(data: dict[str, Any], policy: Policy) -> str:
    """What the SLA worker notified: the clock that ran out and to whom (its log message is English)."""
    clock = next((c for c in policy.clocks if c.id == data.get("clock")), None)
    name = clock.name if clock else "时限"
    if clock is not None and clock.on_breach == "auto_close":
        return f"{name}到期：自动结案"
    to = data.get("to")
    return f"{name}超时，已通知{zh_name(policy.roles.get(to, to))}" if to else f"{name}超时"


_JOB_FAILURES = [
    ("the file is empty", "文件是空的：第一行应为含 id、text 两列的表头"),
    ("the header has no", "表头缺少 id 或 text 列"),
    ("the header row has", "表头不是 UTF-8 文字（若为 GBK 编码，请另存为 UTF-8）"),
    ("the header row cannot be read", "表头无法读取（引号未闭合或格式有误）"),
    ("internal error", "内部错误，请联系管理员"),
]


def job_message(message: str | None) -> str:
    """Why a bulk-tagging job failed, in Chinese (the reader's errors are the command line's English)."""
    if not message:
        return ""
    if _CJK.search(message):
        return zh(message)
    return next((zh_text for start, zh_text in _JOB_FAILURES if message.startswith(start)), "文件无法读取")


def choice_heads(suggestion: dict[str, Any] | None) -> list[str]:
    """The heads the policy offered the reviewer as choices, nothing chosen (suggestion["display"])."""
    display = (suggestion or {}).get("display") or {}
    return [h for h in HEADS if display.get(h) == "choices"]


def clock_change_text(data: dict[str, Any], policy: Policy) -> str:
    """A change of a case's clocks with its labels: which stopped, which started (by name)."""
    parts = []
    if data.get("stopped"):
        parts.append("停止：" + "、".join(clock_name(c, policy) for c in data["stopped"]))
    if data.get("started"):
        parts.append("开始计时：" + "、".join(clock_name(c, policy) for c in data["started"]))
    waiting = [c for c in data.get("added", ()) if c not in data.get("started", ())]
    if waiting:
        parts.append("适用（待其起点事件）：" + "、".join(clock_name(c, policy) for c in waiting))
    return "；".join(parts)
