"""What routes depend on, injected by FastAPI: the app's context (database, model, policy,
clock), one database session per request, the current time, the API caller and the
permission checks. The console's sign-in dependencies are in api/web/deps.py.

The dependencies that do no I/O are `async def`: FastAPI runs a plain `def` dependency in
its thread pool, and a hop to a thread and back for each of them cost more than the model
on a triage request. The database session stays a plain generator (it blocks)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Header, Path, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

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
    users: tokens.UserCache


def get_context(request: Request) -> AppContext:
    return request.app.state.context


async def _context(request: Request) -> AppContext:
    return get_context(request)


Context = Annotated[AppContext, Depends(_context)]


def get_db(request: Request) -> Iterator[Session]:
    yield from unit_of_work(get_context(request).engine)


# scope="function": commit before the response is sent, so a client that got 200 can read
# its own write at once, and a failed commit is an error response, never a silent loss.
DbSession = Annotated[Session, Depends(get_db, scope="function")]


async def get_now(context: Context) -> datetime:
    """One instant per request, from the app's clock (a clock the tests set)."""
    return context.clock()


Now = Annotated[datetime, Depends(get_now)]


async def get_policy(context: Context) -> Policy:
    return context.policy


PolicyDep = Annotated[Policy, Depends(get_policy)]


async def get_model(context: Context) -> Any:
    """The serving model, loaded (and cached by the registry) on first use; after that the
    loader costs no more than a look at a clock (registry.ModelLoader)."""
    return context.model_loader()


Model = Annotated[Any, Depends(get_model)]

PrimaryKey = Annotated[int, Path(gt=0, le=2**31 - 1, description="a case id")]
"""An id that fits the database's integer column: a larger one is a 422, never a 500."""


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (the scheme in any case, RFC 9110
    §11.1), or None for any other header: a bare token is not accepted."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _lookup(engine: Engine, token: str) -> User | None:
    with Session(engine) as db_session:
        return tokens.get_user(db_session=db_session, token=token)


async def get_current_user(context: Context, authorization: Annotated[str | None, Header()] = None) -> User:
    token = bearer_token(authorization)
    user = (context.users.get(token) or context.users.last(token)) if token else None
    if token and user is None:
        context.users.claim(token)
        try:
            user = await run_in_threadpool(_lookup, context.engine, token)
        finally:
            if user is None:
                context.users.forget(token)
            else:
                context.users.put(token, user)
    if user is None:
        raise ProblemError(401, "Unauthorized", "send an API token: Authorization: Bearer <token>",
                           headers={"WWW-Authenticate": "Bearer"})
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


class PermissionsDependency:
    """A route's roles: `Depends(PermissionsDependency(CARE))` admits the caller only if their
    role is one of them, and gives the route the caller."""

    def __init__(self, roles: tuple[str, ...]) -> None:
        self.roles = roles

    async def __call__(self, user: CurrentUser) -> User:
        if user.role not in self.roles:
            raise ProblemError(403, "Forbidden",
                               f"role {user.role} may not do this (allowed: {', '.join(self.roles)})")
        return user
