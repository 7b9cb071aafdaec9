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

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.web import admin, auth, bulk, cases, dashboard, models, queue, records
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
    app.add_middleware(_SecurityHeaders)
    for module in (auth, queue, cases, dashboard, bulk, admin, models, records):
        app.include_router(module.router)


async def _to_sign_in(_: Request, exc: SignInRequired) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(safe_next(exc.next_path))}", status_code=303)


async def _refused(request: Request, exc: Refused) -> HTMLResponse:
    return refusal_page(request, exc)


class _SecurityHeaders:
    """The console's security headers on every page and static file (not on the JSON API or
    its documentation). A plain ASGI middleware: Starlette's `@app.middleware("http")` runs
    each request through a task and memory streams, which cost every API request more than
    a quarter of a millisecond for headers it does not even get."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(_NOT_CONSOLE):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = CSP
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "same-origin"
                headers["X-Frame-Options"] = "DENY"
                if not path.startswith("/static/"):
                    headers["Cache-Control"] = "no-store"  # pages hold personal data
            await send(message)

        await self.app(scope, receive, send_with_headers)
