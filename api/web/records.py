"""The handling record in the console (issue 14): the handler's resolve form, the manager's review
of the handling opinion, customer care's callback with satisfaction, and the printable monthly
case review (月度案例总结) for the training meeting. The forms post to the same services as the
JSON API; a step the record is not complete for is refused naming each missing field."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import DbSession, Now, PolicyDep, PrimaryKey
from api.web import present
from api.web.cases import visible_case
from api.web.dashboard import period_of
from api.web.deps import ManagerViewer, Refused, SignedIn, case_change, check_csrf, render, templates
from triage.auth.permissions import OPINION_REVIEWERS, User, may_act, sees_personal_data
from triage.case import record as records
from triage.case import reports, service
from triage.policy.model import RECORD_CONDITION_KEYS, RECORD_FIELDS, Policy

router = APIRouter(include_in_schema=False)

Text = Annotated[str, Form(max_length=records.MAX_TEXT)]
Short = Annotated[str, Form(max_length=100)]


# ---- what the case page shows of the record --------------------------------------------------------
def record_panel(view: dict[str, Any], user: User, policy: Policy) -> dict[str, Any]:
    """The record's part of a case page: the values, which step the viewer may take now, and for
    each form the fields it requires (always, or given a value of the record)."""
    values = {**records.values_of(None), **(view.get("record") or {})}
    labels = view.get("labels") or (view.get("suggestion") or {}).get("labels") or {}
    facts = records.facts_of(labels, view["channel"], view.get("in_warranty"), values)
    state = view["state"]
    awaiting = records.awaiting_review(policy, state, facts)
    steps = {"resolve": state in ("confirmed", "in_progress", "reopened") and may_act(user, "resolve"),
             "review": awaiting and user.role in OPINION_REVIEWERS,
             "callback": state == "resolved" and not awaiting and may_act(user, "callback")}
    # Free text is shown masked to those who may not see personal data: their forms start empty
    # (an empty field keeps what is recorded), so that a masked text is never saved back.
    return {"values": values, "steps": steps, "awaiting_review": awaiting, "prefill": sees_personal_data(user),
            "reviewer": policy.roles.get(policy.record.reviewers.get(labels.get("business_line") or "", ""), ""),
            "required": {step: {name: [_condition_text(c, policy) for c in conds]
                                for name, conds in records.conditions(step, policy, facts).items()}
                         for step in ("resolve", "review", "callback")}}


def _condition_text(condition: dict[str, tuple[Any, ...]], policy: Policy) -> str:
    """When a field is required, in words: "" for always, else 有效投诉时 / 原因为…时."""
    parts = []
    for key, values in condition.items():
        if key in ("valid", "approved"):
            words = {"valid": ("有效投诉", "无效投诉"), "approved": ("审核通过", "审核退回")}[key]
            parts.append("或".join(words[0 if v else 1] for v in values))
        else:
            kind = "causes" if key == "cause" else "satisfaction"
            parts.append(f"{policy.record.label(key)}为" + "或".join(choice_name(policy, kind, v) for v in values))
    return "、".join(parts) + ("时" if parts else "")


def choice_name(policy: Policy, kind: str, value: str | None) -> str:
    if value is None:
        return "—"
    choice = policy.record.choice(kind, value)
    return choice.name if choice else value


def value_text(policy: Policy, name: str, value: Any) -> str:
    """A record value as the console and the forms show it."""
    kind = RECORD_FIELDS[name][1]
    if value is None or value == "":
        return "—"
    if name == "valid":
        return "有效投诉" if value else "无效投诉"
    if name == "approved":
        return "同意" if value else "退回重新处理"
    if kind in ("text", "bool"):
        return str(value)
    return choice_name(policy, kind, value)


def record_summary(data: dict[str, Any], policy: Policy) -> str:
    """A step's log entry in words: the fields it recorded (a callback's satisfaction by name)."""
    written = [name for name, value in data.items() if name in RECORD_FIELDS and value is not None]
    text = "记录：" + "、".join(policy.record.label(name) for name in written) if written else ""
    if data.get("satisfaction"):
        text += f"（{choice_name(policy, 'satisfaction', data['satisfaction'])}）"
    if data.get("approved") is not None:
        text += f"（{value_text(policy, 'approved', data['approved'])}）"
    return text


# The case page (case.html, _record.html) reads these; registered here, beside what they show.
templates.env.globals.update(record_panel=record_panel, record_choice=choice_name, record_value=value_text,
                             record_summary=record_summary, RECORD_CONDITION_KEYS=RECORD_CONDITION_KEYS)


# ---- the steps ---------------------------------------------------------------------------------------
def _yes_no(value: str) -> bool | None:
    return {"yes": True, "no": False}.get(value)


def _given(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields the form filled in: an empty one keeps what the record holds (the forms of those
    who see the record masked start empty)."""
    return {name: value for name, value in fields.items() if value not in ("", None)}


def _step(case_id: int, done: str) -> RedirectResponse:
    return RedirectResponse(f"/cases/{case_id}?done={done}", status_code=303)


@contextmanager
def _record_change(policy: Policy) -> Iterator[None]:
    """A step of the record; a record the step refuses names its missing fields by their labels."""
    with case_change():
        try:
            yield
        except service.RecordError as exc:
            if exc.missing:
                names = "、".join(policy.record.label(name) for name in exc.missing)
                raise Refused(422, f"处理记录不完整，请填写：{names}") from None
            raise Refused(422, f"处理记录有误，请检查后重试。({exc})") from None


@router.post("/cases/{case_id}/resolve")
def resolve(case_id: PrimaryKey, db_session: DbSession, now: Now, policy: PolicyDep, viewer: SignedIn,
            csrf: Annotated[str, Form()], version: Annotated[int, Form()], investigation: Text = "",
            reply: Text = "", handling_opinion: Text = "", corrective_action: Text = "", cause: Short = "",
            evidence: Text = "", responsibility_class: Short = "", responsible_department: Short = "",
            responsible_person: Short = "", valid: Short = "", invalid_reason: Text = "") -> Response:
    check_csrf(viewer, csrf)
    visible_case(db_session, case_id, viewer)
    if not may_act(viewer.user, "resolve"):
        raise Refused(403, f"您的角色不能执行此操作 (role {viewer.user.role} may not resolve)")
    data: dict[str, Any] = {"investigation": investigation, "reply": reply, "handling_opinion": handling_opinion,
                            "corrective_action": corrective_action, "cause": cause, "evidence": evidence,
                            "responsibility_class": responsibility_class,
                            "responsible_department": responsible_department,
                            "responsible_person": responsible_person, "valid": _yes_no(valid),
                            "invalid_reason": invalid_reason}
    with _record_change(policy):
        service.resolve(db_session=db_session, case_id=case_id, actor=viewer.user.name, policy=policy, now=now,
                        expected_version=version, data=_given(data))
    return _step(case_id, "acted")


@router.post("/cases/{case_id}/opinion-review")
def review_opinion(case_id: PrimaryKey, db_session: DbSession, now: Now, policy: PolicyDep, viewer: ManagerViewer,
                   csrf: Annotated[str, Form()], version: Annotated[int, Form()], approved: Short = "",
                   review_opinion: Text = "", long_term_measure: Text = "") -> Response:
    check_csrf(viewer, csrf)
    data = {"approved": _yes_no(approved), "review_opinion": review_opinion, "long_term_measure": long_term_measure}
    with _record_change(policy):
        service.review_opinion(db_session=db_session, case_id=case_id, reviewer=viewer.user.name, policy=policy,
                               now=now, expected_version=version, data=_given(data))
    return _step(case_id, "acted")


@router.post("/cases/{case_id}/callback")
def callback(case_id: PrimaryKey, db_session: DbSession, now: Now, policy: PolicyDep, viewer: SignedIn,
             csrf: Annotated[str, Form()], version: Annotated[int, Form()], satisfaction: Short = "",
             customer_words: Text = "") -> Response:
    check_csrf(viewer, csrf)
    visible_case(db_session, case_id, viewer)
    if not may_act(viewer.user, "callback"):
        raise Refused(403, f"您的角色不能执行此操作 (role {viewer.user.role} may not call back)")
    data = {"satisfaction": satisfaction, "customer_words": customer_words}
    with _record_change(policy):
        service.callback(db_session=db_session, case_id=case_id, actor=viewer.user.name, policy=policy, now=now,
                         expected_version=version, data=_given(data))
    return _step(case_id, "acted")


# ---- the monthly case review -------------------------------------------------------------------------
@router.get("/dashboard/review")
def case_review(request: Request, db_session: DbSession, now: Now, policy: PolicyDep, viewer: ManagerViewer,
                period: str | None = None) -> HTMLResponse:
    start, end, label = period_of(period, now)
    review = reports.case_review(db_session=db_session, start=start, end=end, label=label)
    return render(request, "case_review.html", viewer, review=review, period=label,
                  role_names_zh=present.zh_names(policy.roles))
