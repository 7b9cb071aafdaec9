"""API tokens: a random secret with a role, shown once; only its SHA-256 is stored. The same
digest keeps console session tokens out of the database.

A server asks who a token belongs to on every request; `UserCache` keeps the answer for a
few seconds, so that a triage request is not a database query plus the model."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from triage.auth.models import ApiToken
from triage.auth.permissions import ROLES, User


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(*, db_session: Session, name: str, role: str, now: datetime) -> str:
    """A new token for `name` with `role`; the token itself is returned only here."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
    token = "tt_" + secrets.token_urlsafe(32)
    db_session.add(ApiToken(name=name, role=role, token_sha256=digest(token), created_at=now))
    db_session.flush()
    return token


def get_user(*, db_session: Session, token: str) -> User | None:
    """Who a presented token belongs to, or None."""
    row = db_session.scalar(select(ApiToken).where(ApiToken.token_sha256 == digest(token)))
    return User(row.name, row.role) if row else None


class UserCache:
    """Who each token belongs to, remembered for `ttl` seconds after it was read from the
    database.

    Only tokens that were found are kept: a token just created, by `triage token create` in
    another process, works at once. A token deleted from the database (or its role changed)
    goes on working for at most `ttl` seconds in each server process that had seen it, plus
    the time of one lookup; that is the price of not asking the database on every request,
    and why the default is short.

    When an entry expires, one caller reads the database again (`claim`); callers meanwhile
    keep the last answer (`last`) instead of each starting a lookup of their own: every
    request in flight at that moment did, a stall of the whole server every `ttl` seconds.
    """

    def __init__(self, ttl: float = 5.0, max_size: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.max_size, self.clock = ttl, max_size, clock
        self._users: dict[str, tuple[float, User]] = {}
        self._refreshing: set[str] = set()
        self._lock = threading.Lock()

    def get(self, token: str) -> User | None:
        """The user of `token` if it was read less than `ttl` seconds ago, else None."""
        entry = self._users.get(digest(token))
        if entry is None or self.clock() - entry[0] >= self.ttl:
            return None
        return entry[1]

    def last(self, token: str) -> User | None:
        """The user of `token` as last read, however long ago, while another caller reads it
        again (see `claim`); else None."""
        key = digest(token)
        entry = self._users.get(key)
        return entry[1] if entry is not None and key in self._refreshing else None

    def claim(self, token: str) -> None:
        """This caller reads the database for `token`; until `put` or `forget`, others use `last`."""
        with self._lock:
            self._refreshing.add(digest(token))

    def put(self, token: str, user: User) -> None:
        with self._lock:
            if len(self._users) >= self.max_size:  # many distinct tokens: start afresh rather than grow
                self._users.clear()
            key = digest(token)
            self._users[key] = (self.clock(), user)
            self._refreshing.discard(key)

    def forget(self, token: str | None = None) -> None:
        """Drop one token (or all): the next request reads the database again."""
        with self._lock:
            if token is None:
                self._users.clear()
                self._refreshing.clear()
            else:
                self._users.pop(digest(token), None)
                self._refreshing.discard(digest(token))
