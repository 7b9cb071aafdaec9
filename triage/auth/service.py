"""Console accounts and their browser sessions: plain functions taking a database session
(keyword-only); the caller commits."""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from triage.auth.models import Account, WebSession
from triage.auth.passwords import check_password, hash_password
from triage.auth.permissions import ROLES, User
from triage.auth.tokens import digest

SESSION_HOURS = 12
"""A working day: a console left signed in overnight has to sign in again."""
MAX_FAILURES = 5
LOCK_MINUTES = 15
MIN_PASSWORD = 8
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,59}$")


class AuthError(ValueError):
    """A sign-in or account change that is refused; the message is safe to show."""


def create_account(*, db_session: Session, username: str, display_name: str, role: str, password: str,
                   now: datetime) -> Account:
    if not _USERNAME.match(username):
        raise AuthError("用户名须为 2-60 位字母、数字、点、下划线或连字符 (username: 2-60 of A-Z a-z 0-9 . _ -)")
    if role not in ROLES:
        raise AuthError(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
    if len(password) < MIN_PASSWORD:
        raise AuthError(f"密码至少 {MIN_PASSWORD} 位 (password: at least {MIN_PASSWORD} characters)")
    display_name = display_name.strip() or username
    if len(display_name) > 100:
        raise AuthError("display name: at most 100 characters")
    account = Account(username=username, display_name=display_name, role=role,
                      password_hash=hash_password(password), active=True, failed_logins=0, created_at=now)
    savepoint = db_session.begin_nested()
    try:
        db_session.add(account)
        db_session.flush()
        savepoint.commit()
    except IntegrityError:
        savepoint.rollback()
        raise AuthError(f"用户 {username} 已存在 (account exists)") from None
    return account


def authenticate(*, db_session: Session, username: str, password: str, now: datetime) -> Account:
    """The account, if the password is right; repeated failures lock it for a while. The
    message does not say whether the name exists."""
    account = db_session.scalar(select(Account).where(Account.username == username))
    refused = AuthError("用户名或密码错误 (wrong name or password)")
    if account is None or not account.active:
        check_password(password, _DUMMY_HASH)  # same cost, so timing does not reveal names
        raise refused
    if account.locked_until and account.locked_until > now:
        raise AuthError("连续登录失败次数过多，请稍后再试 (too many failures; try again later)")
    if not check_password(password, account.password_hash):
        account.failed_logins += 1
        if account.failed_logins >= MAX_FAILURES:
            account.locked_until, account.failed_logins = now + timedelta(minutes=LOCK_MINUTES), 0
        db_session.flush()
        raise refused
    account.failed_logins, account.locked_until = 0, None
    return account


def start_session(*, db_session: Session, account: Account, now: datetime) -> tuple[str, str]:
    """(cookie token, form token) of a new browser session."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    db_session.execute(delete(WebSession).where(WebSession.expires_at < now))
    db_session.add(WebSession(token_sha256=digest(token), username=account.username, csrf=csrf, created_at=now,
                           expires_at=now + timedelta(hours=SESSION_HOURS)))
    db_session.flush()
    return token, csrf


def session_user(*, db_session: Session, token: str, now: datetime) -> tuple[User, str, str] | None:
    """(user, display name, form token) of a live session, or None."""
    row = db_session.scalar(select(WebSession).where(WebSession.token_sha256 == digest(token)))
    if row is None or row.expires_at <= now:
        return None
    account = db_session.scalar(select(Account).where(Account.username == row.username))
    if account is None or not account.active:
        return None
    return User(account.username, account.role), account.display_name, row.csrf


def end_session(*, db_session: Session, token: str) -> None:
    db_session.execute(delete(WebSession).where(WebSession.token_sha256 == digest(token)))


def accounts_with_role(*, db_session: Session, role: str) -> list[Account]:
    return list(db_session.scalars(select(Account).where(Account.role == role, Account.active)
                                .order_by(Account.username)))


def display_names(*, db_session: Session) -> dict[str, str]:
    return {a.username: a.display_name for a in db_session.scalars(select(Account))}


_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
