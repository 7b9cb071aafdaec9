"""Label ids of the default taxonomy (shared/spec/labels-and-data-format.md), and the two
rules on labels that every layer shares: which flags make a complaint major, and which
cases are urgent.

Files may use either the ASCII id or the Chinese name; `parse_label` accepts both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

HEADS = ("business_line", "category", "severity")

REGISTER = "register"
"""A model's optional head that reads how a complaint is written: "summary" (a one-line
summary, as a hotline or a complaint site files it) or "narrative" (told by the customer).
It labels no case; the decoder reads it to pick the register's decision biases and flag
thresholds for a short text (triage.classify.base.Decoder.short)."""

LABELS: dict[str, dict[str, str]] = {
    "business_line": {"sales": "销售", "after_sales": "售后"},
    "category": {
        "service": "服务类",
        "product_quality": "产品质量类",
        "repair_quality": "维修质量类",
        "customer_issue": "用户问题",
        "other": "其它类",
    },
    "severity": {"grumble": "抱怨", "complaint": "投诉", "major": "重大投诉"},
}

FLAGS: dict[str, str] = {
    "media": "媒体",
    "legal": "公检法",
    "government": "政府",
    "safety": "人身安全",
    "extreme": "过激行为",
    "repeat": "重复",
}

# rules.md §2 (002-C 四): any of these flags makes a complaint major; `repeat` does not.
MAJOR_FLAGS = frozenset(f for f in FLAGS if f != "repeat")
URGENT_FLAGS = frozenset({"safety", "media"})


def flags_forcing_major(flags: Iterable[str]) -> list[str]:
    """The flags that make a complaint major (rules.md §2, 002-C 四), in the order given.
    The models' output, the routing and a reviewer's corrected labels all obey it."""
    return [f for f in flags if f in MAJOR_FLAGS]


def severity_given_flags(severity: str, flags: Iterable[str]) -> str:
    return "major" if flags_forcing_major(flags) else severity


def is_urgent(labels: Mapping[str, Any]) -> bool:
    """Major, safety and media cases stand out and go first: in the review queue, the
    handler's list and the console."""
    return labels.get("severity") == "major" or bool(URGENT_FLAGS & set(labels.get("flags", ())))

_ALIASES: dict[str, dict[str, str]] = {
    head: {**{k: k for k in names}, **{v: k for k, v in names.items()}}
    for head, names in {**LABELS, "flags": FLAGS}.items()
}
# Common variants seen in hand-written files.
_ALIASES["category"].update({"服务": "service", "产品质量": "product_quality", "维修质量": "repair_quality",
                             "其他类": "other", "其它": "other", "其他": "other", "用户问题类": "customer_issue"})
_ALIASES["business_line"].update({"售后服务": "after_sales", "after-sales": "after_sales"})
_ALIASES["severity"].update({"重大": "major"})


class LabelError(ValueError):
    """A label that is not an id or a Chinese name of its head."""


def parse_label(head: str, value: str) -> str:
    value = value.strip()
    try:
        return _ALIASES[head][value]
    except KeyError:
        known = ", ".join(sorted(LABELS.get(head, FLAGS)))
        raise LabelError(f"unknown {head} label {value!r} (expected one of: {known})") from None


def parse_gold(head: str, value: str | None) -> tuple[str, ...] | None:
    """A gold cell: empty means not labelled; `a|b` means any of them is right."""
    if value is None or not str(value).strip():
        return None
    return tuple(dict.fromkeys(parse_label(head, v) for v in str(value).split("|") if v.strip()))


def parse_gold_flags(value: str | None) -> frozenset[str] | None:
    """Gold flags: empty means not labelled, `none` means labelled with no flag."""
    if value is None or not str(value).strip():
        return None
    parts = [v.strip() for v in str(value).split("|") if v.strip()]
    if [p.lower() for p in parts] == ["none"] or parts == ["无"]:
        return frozenset()
    return frozenset(parse_label("flags", p) for p in parts)
