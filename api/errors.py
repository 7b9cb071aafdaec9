"""Every API error is an RFC 9457 problem document (application/problem+json): the domain's
refusals (bad input 400, unknown case 404, conflict 409), validation (422), a body over the
size limit (413) and HTTP errors. `problems(...)` documents them in the OpenAPI of each route."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.schemas import Problem
from triage.case.service import CaseError, RecordError
from triage.notify.service import NotifyError
from triage.policy.calendar import CalendarError

PROBLEM = "application/problem+json"
_TITLES = {400: "Bad request", 404: "Not found", 409: "Conflict"}
_WHEN = {
    400: "The request cannot be carried out as given (an unreadable text, an unknown channel, a bad period…)",
    401: "No API token, or not one the service knows (send `Authorization: Bearer <token>`)",
    403: "The token's role may not do this",
    404: "No such case (or not one the caller may see), no such action, or no such model",
    409: "The case changed meanwhile (another version) or its state does not allow this; or a model that cannot "
         "be served here",
    413: "The request body is over the size limit",
    422: "The request does not match its schema (a missing or unknown field, a value out of range)",
}


class ProblemError(Exception):
    def __init__(self, status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> None:
        self.status, self.title, self.detail, self.headers = status, title, detail, headers


def problem(status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"type": "about:blank", "title": title, "status": status, "detail": detail},
                        status_code=status, media_type=PROBLEM, headers=headers)


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` of a route that may answer these problem statuses."""
    return {status: {"description": _WHEN[status],
                     "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
            for status in statuses}


def install(app: FastAPI) -> None:
    """Register the handlers that turn errors into problem documents, and the Problem schema
    the routes' documented errors refer to."""

    @app.exception_handler(ProblemError)
    async def _problem_error(_: Request, exc: ProblemError) -> JSONResponse:
        return problem(exc.status, exc.title, exc.detail, exc.headers)

    @app.exception_handler(CaseError)
    async def _case_error(_: Request, exc: CaseError) -> JSONResponse:
        return problem(exc.status, _TITLES.get(exc.status, "Error"), str(exc))

    @app.exception_handler(NotifyError)
    async def _notify_error(_: Request, exc: NotifyError) -> JSONResponse:
        return problem(exc.status, _TITLES.get(exc.status, "Error"), str(exc))

    @app.exception_handler(RecordError)
    async def _record_error(_: Request, exc: RecordError) -> JSONResponse:
        # A problem's extension member (RFC 9457 §3.2): the fields the step lacks, for a client to mark.
        response = problem(422, "Incomplete record" if exc.missing else "Invalid record", str(exc))
        if exc.missing:
            body = json.loads(response.body)
            response = JSONResponse({**body, "missing": exc.missing}, status_code=422, media_type=PROBLEM)
        return response

    @app.exception_handler(CalendarError)
    async def _calendar_error(_: Request, exc: CalendarError) -> JSONResponse:
        # A time within the accepted range that the working-day calendar still cannot place.
        return problem(422, "Cannot place the time", str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return problem(422, "Invalid request", detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, "Error", str(exc.detail))

    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        doc = generate()  # kept by FastAPI (app.openapi_schema): changed here once
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = Problem.model_json_schema()
        # FastAPI documents a 422 of its own shape wherever it validates a parameter; ours is a problem.
        for operation in (op for ops in doc.get("paths", {}).values() for op in ops.values()):
            if "HTTPValidationError" in str(operation.get("responses", {}).get("422", "")):
                operation["responses"]["422"] = problems(422)[422]
        for name in ("HTTPValidationError", "ValidationError"):  # in this order: the first refers to the second
            rest = json.dumps([doc["paths"], [schema for other, schema in schemas.items() if other != name]])
            if f"#/components/schemas/{name}" not in rest:
                schemas.pop(name, None)
        return doc

    app.openapi = openapi  # type: ignore[method-assign]


class BodyLimit:
    """Refuse a request body over `limit` bytes with 413 before reading the rest of it: at once
    when Content-Length says so, else as soon as a streamed (chunked) body passes the limit.
    Only paths under `prefix` (the JSON API): the console's file upload has its own limit.

    The body under the limit is read here and handed on whole; the JSON API would read it
    whole anyway, before validating it."""

    def __init__(self, app: ASGIApp, limit: int, prefix: str = "/v1/") -> None:
        self.app, self.limit, self.prefix = app, limit, prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await self._too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        whole: Message | None = {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        async def replay() -> Message:
            nonlocal whole
            if whole is not None:
                message, whole = whole, None
                return message
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Connection: close, for the rest of the body is not read.
        response = problem(413, "Content too large", f"the request body is over {self.limit} bytes",
                           {"Connection": "close"})
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None

