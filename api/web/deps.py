"""What the console's routes depend on: the templates and how a page is rendered, the signed-in
viewer (a server-side session: the cookie holds a random token, HttpOnly, SameSite=Strict),
the role checks, the form token (CSRF) check, and the refusals a page shows in Chinese.

A route that finds no session raises SignInRequired (sent to /login, then back); one that
refuses raises Refused (the error page with its status). Both are turned into responses by
the handlers api.web.mount installs."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

from api.deps import DbSession, Now, get_context
from api.web import present
from triage.auth.permissions import CARE, MANAGERS, User
from triage.auth.service import session_user
from triage.case.service import CaseError, ChoiceRequired, Conflict, InvalidTransition, NotAHandler, NotFound
from triage.classify.labels import FLAGS, HEADS, LABELS, is_urgent

HERE = Path(__file__).parent
COOKIE = "triage_session"
DONE_MESSAGES = {"accepted": "已确认并分派", "corrected": "已修改并分派", "assigned": "已指派处理人",
                 "acted": "已记录", "relabeled": "已修改分类，时限已随之调整", "uploaded": "文件已上传，正在标注",
                 "test_sent": "测试消息已送达", "test_failed": "测试消息未能送达，原因见下方记录",
                 "retried": "已重新发送", "model_used": "已改用所选模型，各服务进程数秒内生效",
                 "retry_failed": "重新发送未成功，稍后自动重试或见下方记录"}

_env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True))
_env.globals.update(
    label_name=present.label_name, limit_name=present.limit_name, local_time=present.local_time,
    event_names=present.EVENT_NAMES, state_names=present.STATE_NAMES, role_names=present.ROLE_NAMES,
    action_names=present.ACTION_NAMES, head_names=present.HEAD_NAMES, LABELS=LABELS, FLAGS=FLAGS, HEADS=HEADS,
    is_urgent=is_urgent, zh=present.zh, actor_name=present.actor_name, clock_name=present.clock_name,
    rule_text=present.rule_text, correction_text=present.correction_text,
    notification_text=present.notification_text, job_message=present.job_message,
    choice_heads=present.choice_heads, clock_change_text=present.clock_change_text,
    notify_event_names=present.NOTIFY_EVENT_NAMES, notify_state_names=present.NOTIFY_STATE_NAMES,
    channel_kind_names=present.CHANNEL_KIND_NAMES, channel_name=present.channel_name,
    delivery_reason=present.delivery_reason)
templates = Jinja2Templates(env=_env)
"""The policy and its role and channel names (`policy`, `policy_roles`, `channels`, the names
without their English asides) come with each page: the policy is the app's (create_app), not
the module's."""


@dataclass(frozen=True)
class Viewer:
    """The signed-in person: who, their display name and their session's form token."""

    user: User
    display: str
    csrf: str


class SignInRequired(Exception):
    """No live session: sign in, then come back to `next_path`."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class Refused(Exception):
    """The page refuses (a role, a stale form, a wrong state): the error page, in Chinese."""

    def __init__(self, status: int, message: str) -> None:
        self.status, self.message = status, message


def safe_next(path: str | None) -> str:
    """Only a path of this site: an open redirect would let a link send people elsewhere."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path


# ---- the viewer and their role -------------------------------------------------------------------
def get_viewer(request: Request, db_session: DbSession, now: Now) -> Viewer:
    token = request.cookies.get(COOKIE)
    found = session_user(db_session=db_session, token=token, now=now) if token else None
    if found is None:
        raise SignInRequired(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    return Viewer(*found)


SignedIn = Annotated[Viewer, Depends(get_viewer)]


class RoleRequired:
    """A page's roles: `Depends(RoleRequired(CARE))` admits the viewer only if their role is
    one of them, and gives the route the viewer."""

    def __init__(self, roles: tuple[str, ...]) -> None:
        self.roles = roles

    def __call__(self, viewer: SignedIn) -> Viewer:
        if viewer.user.role not in self.roles:
            raise Refused(403, "您的角色不能使用此页面 (your role may not use this page)")
        return viewer


CareViewer = Annotated[Viewer, Depends(RoleRequired(CARE))]
ManagerViewer = Annotated[Viewer, Depends(RoleRequired(MANAGERS))]


def check_csrf(viewer: Viewer, token: str) -> None:
    """Every form that changes something carries the session's form token."""
    if not hmac.compare_digest(viewer.csrf.encode(), token.encode()):
        raise Refused(403, "表单已过期，请刷新页面后重试 (the form expired; reload the page)")


# ---- pages ---------------------------------------------------------------------------------------
def page_context(request: Request, viewer: Viewer | None) -> dict[str, Any]:
    """What every page (base.html) reads besides its own data."""
    context = get_context(request)
    done = request.query_params.get("done")
    return {"viewer": viewer, "done": DONE_MESSAGES.get(done or ""), "server_now": context.clock().isoformat(),
            "policy": context.policy, "policy_roles": present.zh_names(context.policy.roles),
            "channels": present.zh_names(context.policy.channels)}


def render(request: Request, name: str, viewer: Viewer | None, status: int = 200, **data: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {**page_context(request, viewer), **data}, status_code=status)


def refusal_page(request: Request, exc: Refused) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "error.html", {**page_context(request, None), "done": None, "message": exc.message,
                                "status": exc.status}, status_code=exc.status)


# ---- the domain's refusals -----------------------------------------------------------------------
@contextmanager
def case_change() -> Iterator[None]:
    """A change of a case; its refusal (conflict, wrong state, bad label) becomes the page's message."""
    try:
        yield
    except CaseError as exc:
        raise Refused(exc.status, zh_error(exc)) from None


def zh_error(exc: CaseError) -> str:
    if isinstance(exc, Conflict):
        return f"案件已被他人修改，请刷新后重试。({exc})"
    if isinstance(exc, InvalidTransition):
        return f"案件当前状态不允许此操作。({exc})"
    if isinstance(exc, NotFound):
        return f"找不到案件。({exc})"
    if isinstance(exc, ChoiceRequired):
        return f"建议置信度较低的项目需要人工选择，请选择后再确认。({exc})"
    if isinstance(exc, NotAHandler):
        return "请选择一位处理人 (choose a handler)"
    return f"请求有误。({exc})"
