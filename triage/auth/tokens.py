"""API tokens: a random secret with a role, shown once; only its SHA-256 is stored. The same
digest keeps console session tokens out of the database."""

from __future__ import annotations

import hashlib
import secrets
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
