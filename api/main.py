"""The HTTP service (FastAPI): the JSON API under /v1 (api/routes/) and the web console
(api/web/), thin routes over the domain services.

    triage serve              # the API, the console and the SLA worker
    uvicorn api.main:app      # the API and the console alone
"""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine

from api import errors, web
from api.deps import AppContext
from api.routes import cases, model, reports, triage
from triage.policy.loader import load_policy
from triage.policy.model import Policy


def create_app(engine: Engine, model_loader: Callable[[], Any], policy: Policy | None = None,
               clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> FastAPI:
    """The app, with its database, model, policy and clock injected (tests set the clock)."""
    app = FastAPI(title="Dealership complaint triage", version="0.1.0")
    app.state.context = AppContext(engine, model_loader, policy or load_policy(), clock)
    errors.install(app)
    for module in (triage, cases, reports, model):
        app.include_router(module.router)
    web.mount(app)
    return app


def _default_app() -> FastAPI:
    from triage.classify import registry
    from triage.db import init_db, make_engine

    engine = make_engine()
    init_db(engine)
    return create_app(engine, registry.load)


def __getattr__(name: str) -> Any:  # `uvicorn api.main:app` builds the default app on first use
    if name == "app":
        return _default_app()
    raise AttributeError(name)
