"""The HTTP service (FastAPI): the JSON API under /v1 (api/routes/) and the web console
(api/web/), thin routes over the domain services.

    triage serve [--workers N]   # the API, the console and the SLA worker
    uvicorn api.main:app         # the API and the console alone

Request bodies of the JSON API are limited to `max_body_bytes` (default $TRIAGE_MAX_BODY_BYTES,
else 1 MiB): a larger one is a 413 before it is read. The console's file upload has its own
limit (200 MB, api/web/bulk.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import Engine

from api import errors, web
from api.deps import AppContext
from api.routes import cases, model, notifications, records, reports, triage
from triage.auth.tokens import UserCache
from triage.policy.loader import load_policy
from triage.policy.model import Policy

MAX_BODY_BYTES = 2**20
"""The JSON API's default body limit: a complaint's text (100,000 characters at most) fits
many times over; a batch larger than this is sent in parts, or the limit is raised."""
TOKEN_TTL = 5.0
"""Seconds a server trusts what it read about an API token (tokens.UserCache)."""


def create_app(engine: Engine, model_loader: Callable[[], Any], policy: Policy | None = None,
               clock: Callable[[], datetime] = lambda: datetime.now(UTC), max_body_bytes: int | None = None,
               token_ttl: float = TOKEN_TTL) -> FastAPI:
    """The app, with its database, model, policy and clock injected (tests set the clock)."""
    app = FastAPI(title="Dealership complaint triage", version="0.1.0")
    app.state.context = AppContext(engine, model_loader, policy or load_policy(), clock, UserCache(token_ttl))
    errors.install(app)
    for name, module in (("triage", triage), ("cases", cases), ("records", records), ("reports", reports),
                         ("model", model), ("notifications", notifications)):
        app.include_router(module.router, tags=[name], generate_unique_id_function=_operation_id)
    web.mount(app)
    app.add_middleware(errors.BodyLimit, limit=body_limit(max_body_bytes))
    return app


def _operation_id(route: APIRoute) -> str:
    """The route function's name (`intake`, `get_case`): what a generated client calls it."""
    return route.name


def body_limit(given: int | None = None) -> int:
    """The body limit: the one given, else $TRIAGE_MAX_BODY_BYTES, else MAX_BODY_BYTES."""
    if given is not None:
        return given
    value = os.environ.get("TRIAGE_MAX_BODY_BYTES", "")
    try:
        return int(value) if value else MAX_BODY_BYTES
    except ValueError:
        raise ValueError(f"TRIAGE_MAX_BODY_BYTES={value!r} is not a number of bytes") from None


SERVE_MODEL = "TRIAGE_SERVE_MODEL"
"""The model name `triage serve --model` hands to its worker processes (empty: the current one)."""


def serving_app(engine: Engine | None = None) -> FastAPI:
    """The app of a server process (uvicorn's factory for each of `triage serve --workers N`):
    the database of $TRIAGE_DB_URL, migrated by `triage serve` before, and the registry's
    model named by $TRIAGE_SERVE_MODEL (else the current one), checked for changes every few
    seconds."""
    from triage.classify import registry
    from triage.db import make_engine

    model = registry.ModelLoader(os.environ.get(SERVE_MODEL) or None)
    # Loaded and used once before the first request: the tokenizer reads its dictionary on first
    # use, a second or two that would otherwise fall on the first caller of each server process.
    model().predict(["发动机异响"])
    return create_app(engine or make_engine(), model)


def _default_app() -> FastAPI:
    from triage.db import init_db, make_engine

    engine = make_engine()
    init_db(engine)
    return serving_app(engine)


def __getattr__(name: str) -> Any:  # `uvicorn api.main:app` builds the default app on first use
    if name == "app":
        return _default_app()
    raise AttributeError(name)
