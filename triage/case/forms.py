"""The paper forms of the source documents, filled from a case: 《公司用户抱怨处理表》 for
sales complaints (002-A §4-1, 002-B 五 2) and 《顾客抱怨(投诉)处理单》 for after-sales
(002-A §4-2), with the fields those clauses ask for: who complained and how to reach them,
when and what, the cause, the responsible department, the handling, the manager's opinion,
the result and the customer's view of it at callback (002-A §8-1: complete, nothing left out)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from triage.policy.model import RecordPolicy

SALES_FORM = ("公司用户抱怨处理表", "BG-M Ⅲ-20", "002-A §4-1, §11-7; 002-B 五")
AFTER_SALES_FORM = ("顾客抱怨(投诉)处理单", "HSO12.7-21", "002-A §4-2, §11-8")


@dataclass
class FilledForm:
    title: str
    code: str
    source: str
    number: str
    header: list[tuple[str, str]] = field(default_factory=list)
    complaint: str = ""
    sections: list[tuple[str, str]] = field(default_factory=list)
    """(heading, filled text); an empty text leaves room to write by hand."""
    signatures: list[str] = field(default_factory=list)


def fill(view: dict[str, Any], names: dict[str, Any], role_names: dict[str, str],
         record: RecordPolicy | None = None) -> FilledForm:
    """`view` is the case as the reader may see it (personal data already masked by role);
    `names` maps labels and events to Chinese; `record` (the policy's) names the handling
    record's lists, whose values fill the form's boxes (002-A §8-1: complete, nothing left out)."""
    labels = view.get("labels") or (view.get("suggestion") or {}).get("labels") or {}
    sales = labels.get("business_line") == "sales"
    title, code, source = SALES_FORM if sales else AFTER_SALES_FORM
    events = view["events"]

    def first(kind: str) -> dict[str, Any] | None:
        return next((e for e in events if e["kind"] == kind), None)

    def last(kind: str) -> dict[str, Any] | None:
        return next((e for e in reversed(events) if e["kind"] == kind), None)

    def note(e: dict[str, Any] | None) -> str:
        if e is None:
            return ""
        return f"{names['time'](e['at'])} {e['actor']}：{e['data'].get('note', '') or names['event'](e['kind'])}"

    dispatched = last("dispatched")
    callback = last("verified") or last("reopened")
    flags = "、".join(names["flag"](f) for f in labels.get("flags", [])) or "无"
    header = [
        ("编号", view["number"]), ("抱怨时间", names["time"](view["received_at"])),
        ("来源", names["channel"](view["channel"])), ("用户名称", view.get("customer_name") or ""),
        ("联系方式", view.get("customer_phone") or ""), ("车牌号", view.get("plate") or ""),
        ("车架号", view.get("vin") or ""),
        ("抱怨类型", f"{names['label']('category', labels.get('category'))} / "
                     f"{names['label']('severity', labels.get('severity'))}（标记：{flags}）"),
        ("责任部门/处理人", f"{role_names.get(view.get('responsible_role') or '', view.get('responsible_role') or '')}"
                           f" {view.get('assignee') or ''}".strip()),
        ("分派时间", names["time"](dispatched["at"]) if dispatched else ""),
    ]
    rec = view.get("record") or {}
    policy = record or RecordPolicy()

    def choice(kind: str, value: str | None) -> str:
        found = policy.choice(kind, value)
        return found.name if found else (value or "")

    def lines(*parts: tuple[str, Any]) -> str:
        return "\n".join(f"{label}：{value}" for label, value in parts if value)

    cause = policy.choice("causes", rec.get("cause"))
    review = last("opinion_approved") or last("form_rejected")
    validity = ("有效投诉" if rec.get("valid") else f"无效投诉（{rec.get('invalid_reason') or ''}）"
                if rec.get("valid") is False else "")
    header += [("投诉有效性", validity),
               ("责任分类", choice("responsibility_classes", rec.get("responsibility_class"))),
               ("责任归属部门", choice("departments", rec.get("responsible_department"))),
               ("责任人", rec.get("responsible_person") or "")]
    sections = [
        ("事情经过调查", rec.get("investigation") or note(first("started"))),
        ("原因分析", lines(("原因", cause.name if cause else rec.get("cause")),
                           ("规定处理", cause.handling if cause else ""), ("证据", rec.get("evidence")))),
        ("处理对策 / 处理方案", rec.get("handling_opinion") or note(first("first_contact"))),
        ("回复客户", rec.get("reply") or ""),
        ("纠正及改进措施", lines(("纠正措施", rec.get("corrective_action")),
                                 ("长效措施", rec.get("long_term_measure")))),
        ("经理审核意见", (f"{names['time'](review['at'])} {review['actor']}："
                          f"{'同意' if review['kind'] == 'opinion_approved' else '退回重新处理'}"
                          f"{'，' + rec['review_opinion'] if rec.get('review_opinion') else ''}") if review else ""),
        ("处理结果", note(last("resolved"))),
        ("回访结果（用户对处理结果的意见）",
         (f"{names['time'](callback['at'])} {callback['actor']}：{choice('satisfaction', rec.get('satisfaction'))}"
          f"{'，' + rec['customer_words'] if rec.get('customer_words') else ''}"
          + ("" if callback["kind"] == "verified" else "（重新处理）")) if callback and rec.get("satisfaction")
         else note(callback) + ("（满意）" if callback and callback["kind"] == "verified" else
                                "（不满意，重新处理）" if callback else "")),
    ]
    signatures = (["受理人", "零售经理/服务经理", "销售总监", "客户关爱经理"] if sales
                  else ["受理人", "服务经理", "服务总监", "电话回访员"])
    return FilledForm(title, code, source, view["number"], header, view["text"], sections, signatures)
