"""The web console: server-rendered pages (Jinja2, autoescaped) over the same domain
functions the JSON API calls, for customer care, handlers and managers. One module per
group of pages, each a router of thin routes: read the signed-in viewer, call a service,
render (api/web/deps.py has what they share).

Sign-in is a server-side session: the cookie holds a random token (HttpOnly, SameSite=Strict)
and every form that changes something carries the session's form token (CSRF). Complaint
text is untrusted: templates are autoescaped and a Content-Security-Policy allows only the
console's own script file, so nothing in a complaint can run in the page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from api.web import auth, bulk, cases, dashboard, queue
from api.web.deps import HERE, Refused, SignInRequired, refusal_page, safe_next

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
_NOT_CONSOLE = ("/v1/", "/docs", "/redoc", "/openapi")


def mount(app: FastAPI) -> None:
    """The console's static files, pages, refusal handlers and security headers, on `app`
    (whose context create_app has set)."""
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    bulk.start(app)
    app.exception_handler(SignInRequired)(_to_sign_in)
    app.exception_handler(Refused)(_refused)
    app.middleware("http")(_security_headers)
    for module in (auth, queue, cases, dashboard, bulk):
        app.include_router(module.router)


async def _to_sign_in(_: Request, exc: SignInRequired) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(safe_next(exc.next_path))}", status_code=303)


async def _refused(request: Request, exc: Refused) -> HTMLResponse:
    return refusal_page(request, exc)


async def _security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    response = await call_next(request)
    if not request.url.path.startswith(_NOT_CONSOLE):
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        if not request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"  # pages hold personal data
    return response
