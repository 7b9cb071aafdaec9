"""What routes depend on, injected by FastAPI: the app's context (database, model, policy,
clock), one database session per request, the current time, the API caller and the
permission checks. The console's sign-in dependencies are in api/web/deps.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Header, Path, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from api.errors import ProblemError
from triage.auth import tokens
from triage.auth.permissions import User
from triage.db import unit_of_work
from triage.policy.model import Policy


@dataclass(frozen=True)
class AppContext:
    """What the app was built with (create_app): tests give their own database and clock."""

    engine: Engine
    model_loader: Callable[[], Any]
    policy: Policy
    clock: Callable[[], datetime]


def get_context(request: Request) -> AppContext:
    return request.app.state.context


Context = Annotated[AppContext, Depends(get_context)]


def get_db(request: Request) -> Iterator[Session]:
    yield from unit_of_work(get_context(request).engine)


# scope="function": commit before the response is sent, so a client that got 200 can read
# its own write at once, and a failed commit is an error response, never a silent loss.
DbSession = Annotated[Session, Depends(get_db, scope="function")]


def get_now(context: Context) -> datetime:
    """One instant per request, from the app's clock (a clock the tests set)."""
    return context.clock()


Now = Annotated[datetime, Depends(get_now)]


def get_policy(context: Context) -> Policy:
    return context.policy


PolicyDep = Annotated[Policy, Depends(get_policy)]


def get_model(context: Context) -> Any:
    """The serving model, loaded (and cached by the registry) on first use."""
    return context.model_loader()


Model = Annotated[Any, Depends(get_model)]

PrimaryKey = Annotated[int, Path(gt=0, le=2**31 - 1, description="a case id")]
"""An id that fits the database's integer column: a larger one is a 422, never a 500."""


def get_current_user(db_session: DbSession, authorization: Annotated[str | None, Header()] = None) -> User:
    token = (authorization or "").removeprefix("Bearer ").strip()
    user = tokens.get_user(db_session=db_session, token=token) if token else None
    if user is None:
        raise ProblemError(401, "Unauthorized", "send an API token: Authorization: Bearer <token>")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


class PermissionsDependency:
    """A route's roles: `Depends(PermissionsDependency(CARE))` admits the caller only if their
    role is one of them, and gives the route the caller."""

    def __init__(self, roles: tuple[str, ...]) -> None:
        self.roles = roles

    def __call__(self, user: CurrentUser) -> User:
        if user.role not in self.roles:
            raise ProblemError(403, "Forbidden",
                               f"role {user.role} may not do this (allowed: {', '.join(self.roles)})")
        return user
