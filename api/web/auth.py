"""Signing in and out, and the home page that sends each role to its own page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import DbSession, Now
from api.web.deps import COOKIE, SignedIn, check_csrf, render, safe_next
from triage.auth.permissions import HOME
from triage.auth.service import SESSION_HOURS, AuthError, authenticate, end_session, start_session

router = APIRouter(include_in_schema=False)


@router.get("/login")
def login_page(request: Request, next: str = "/") -> HTMLResponse:
    return render(request, "login.html", None, next=safe_next(next), error=None)


@router.post("/login")
def login(request: Request, db_session: DbSession, now: Now, username: Annotated[str, Form(max_length=60)],
          password: Annotated[str, Form(max_length=200)], next: Annotated[str, Form()] = "/") -> Response:
    try:
        account = authenticate(db_session=db_session, username=username.strip(), password=password, now=now)
    except AuthError as exc:
        db_session.commit()  # keep the failure count
        return render(request, "login.html", None, status=401, next=safe_next(next), error=str(exc),
                      username=username)
    token, _ = start_session(db_session=db_session, account=account, now=now)
    target = safe_next(next)
    response = RedirectResponse(HOME[account.role] if target == "/" else target, status_code=303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https",
                        max_age=SESSION_HOURS * 3600, path="/")
    return response


@router.post("/logout")
def logout(request: Request, db_session: DbSession, viewer: SignedIn, csrf: Annotated[str, Form()]) -> Response:
    check_csrf(viewer, csrf)
    end_session(db_session=db_session, token=request.cookies.get(COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/")
def home(viewer: SignedIn) -> RedirectResponse:
    return RedirectResponse(HOME.get(viewer.user.role, "/queue"), status_code=303)
