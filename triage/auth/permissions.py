"""Who may see and do what (rules.md §1: 004 第四章 3, 000 §6.1): the roles, the groups of
roles each part of the service admits, what each role may do to a case, and who sees
personal data unmasked. The API, the console and the command line all ask here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the roles are read by the command line, which must start without the database
    from triage.case.models import Case

CUSTOMER_CARE, HANDLER, MANAGER, ADMIN = "customer_care", "handler", "manager", "admin"
ROLES = (CUSTOMER_CARE, HANDLER, MANAGER, ADMIN)

CARE = (CUSTOMER_CARE, MANAGER, ADMIN)
"""Take complaints in, confirm suggestions, assign cases, tag files in bulk."""
REPORT_READERS = (MANAGER, ADMIN, CUSTOMER_CARE)
"""Read the monthly and quarterly reports over the API."""
MANAGERS = (MANAGER, ADMIN)
"""The console's dashboard and its export."""

SEES_PERSONAL_DATA = frozenset({CUSTOMER_CARE, HANDLER})
"""Customer care calls the customer back and handlers contact them; managers and admins
work on aggregates and see personal data masked."""

HOME = {CUSTOMER_CARE: "/queue", HANDLER: "/my", MANAGER: "/dashboard", ADMIN: "/queue"}
"""The console page each role lands on after signing in."""


@dataclass(frozen=True)
class User:
    name: str
    role: str


_ACTIONS_BY_ROLE: dict[str, frozenset[str]] = {
    HANDLER: frozenset({"contact", "start", "resolve"}),
    CUSTOMER_CARE: frozenset({"callback", "verify", "reopen", "close"}),
}
_ALL_ACTIONS = frozenset().union(*_ACTIONS_BY_ROLE.values())


def may_act(user: User, action: str) -> bool:
    """Handlers work the case; customer care calls back, reopens and closes (002-A §7, §10);
    managers and admins may do either."""
    return action in _ACTIONS_BY_ROLE.get(user.role, _ALL_ACTIONS)


def may_see(user: User, case: Case) -> bool:
    """Handlers see the cases assigned to them; the other roles see every case."""
    return user.role != HANDLER or case.assignee == user.name


def sees_personal_data(user: User) -> bool:
    return user.role in SEES_PERSONAL_DATA


def roles_that_may(action: str) -> tuple[str, ...]:
    """The roles `may_act` lets do `action` (for a route's PermissionsDependency)."""
    return tuple(role for role in ROLES if may_act(User("", role), action))


OPINION_REVIEWERS = MANAGERS
"""Review the handler's handling opinion before the callback (销售经理 / 服务经理 审核及出示处理意见,
002-B 五 4): the managers (and admins)."""
CASE_REVIEW_READERS = MANAGERS
"""The printable monthly case review (月度案例总结, 002-B 一 2) for the training meeting."""
