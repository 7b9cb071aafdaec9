"""The HTTP service (FastAPI): thin routes over triage.case.service and the models.

    uvicorn api.main:app      # or: triage serve (to come with the SLA worker)
"""


from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from triage.case import reports, service
from triage.case.access import SEES_PERSONAL_DATA, User, case_view, may_act, may_see, user_for_token
from triage.case.models import Case
from triage.db import unit_of_work
from triage.labels import HEADS
from triage.policy.loader import load_policy
from triage.policy.model import Policy
from triage.policy.routing import Classification, Context, RoutingError, route
from triage.text.normalize import TextError

PROBLEM = "application/problem+json"
MAX_BATCH = 1000


class ProblemError(Exception):
    def __init__(self, status: int, title: str, detail: str) -> None:
        self.status, self.title, self.detail = status, title, detail


def _problem(status: int, title: str, detail: str) -> JSONResponse:
    return JSONResponse({"type": "about:blank", "title": title, "status": status, "detail": detail},
                        status_code=status, media_type=PROBLEM)


# ---- request and response bodies ---------------------------------------------------------------
class TriageIn(BaseModel):
    text: str = Field(max_length=100_000)
    channel: str | None = None
    received_at: datetime | None = None


class BatchItem(TriageIn):
    id: str


class BatchIn(BaseModel):
    items: list[BatchItem] = Field(max_length=MAX_BATCH)


class IntakeIn(BaseModel):
    channel: str
    text: str = Field(max_length=100_000)
    received_at: datetime
    external_id: str | None = Field(default=None, max_length=120)
    customer_name: str | None = Field(default=None, max_length=100)
    customer_phone: str | None = Field(default=None, max_length=40)
    plate: str | None = Field(default=None, max_length=20)
    vin: str | None = Field(default=None, max_length=17)
    in_warranty: bool | None = None


class IntakeBatchIn(BaseModel):
    items: list[IntakeIn] = Field(max_length=MAX_BATCH)


class AssignIn(BaseModel):
    assignee: str = Field(min_length=1, max_length=100)
    version: int | None = None


class ReviewIn(BaseModel):
    version: int
    corrections: dict[str, Any] | None = None


class ActionIn(BaseModel):
    version: int | None = None
    data: dict[str, Any] = Field(default_factory=dict)


def create_app(engine: Engine, model_loader: Callable[[], Any], policy: Policy | None = None,
               clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> FastAPI:
    """The app, with its database, model, policy and clock injected (tests set the clock)."""
    policy = policy or load_policy()
    app = FastAPI(title="Dealership complaint triage", version="0.1.0")

    def session() -> Iterator[Session]:
        yield from unit_of_work(engine)

    # scope="function": commit before the response is sent, so a client that got 200 can read
    # its own write at once, and a failed commit is an error response, never a silent loss.
    Db = Annotated[Session, Depends(session, scope="function")]

    def current_user(s: Db,
                     authorization: Annotated[str | None, Header()] = None) -> User:
        token = (authorization or "").removeprefix("Bearer ").strip()
        user = user_for_token(s, token) if token else None
        if user is None:
            raise ProblemError(401, "Unauthorized", "send an API token: Authorization: Bearer <token>")
        return user

    def allow(*roles: str) -> Callable[..., User]:
        def check(user: Annotated[User, Depends(current_user)]) -> User:
            if user.role not in roles:
                raise ProblemError(403, "Forbidden", f"role {user.role} may not do this (allowed: {', '.join(roles)})")
            return user
        return check

    AnyUser = Annotated[User, Depends(current_user)]

    @app.exception_handler(ProblemError)
    async def _problem_error(_: Request, exc: ProblemError) -> JSONResponse:
        return _problem(exc.status, exc.title, exc.detail)

    @app.exception_handler(service.CaseError)
    async def _case_error(_: Request, exc: service.CaseError) -> JSONResponse:
        titles = {400: "Bad request", 404: "Not found", 409: "Conflict"}
        return _problem(exc.status, titles.get(exc.status, "Error"), str(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return _problem(422, "Invalid request", detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _problem(exc.status_code, "Error", str(exc.detail))

    def classify_one(item: TriageIn) -> dict[str, Any]:
        try:
            pred = model_loader().predict([item.text])[0]
        except TextError as exc:
            raise ProblemError(400, "Unreadable text", str(exc)) from None
        out: dict[str, Any] = {"classification": pred.to_dict()}
        if item.channel:
            at = item.received_at or clock()
            if at.tzinfo is None:
                raise ProblemError(400, "Bad request", "received_at must carry a timezone")
            try:
                out["routing"] = route(policy, Classification(*(getattr(pred, h) for h in HEADS), tuple(pred.flags)),
                                       Context(item.channel, at)).to_dict()
            except RoutingError as exc:
                raise ProblemError(400, "Cannot route", str(exc)) from None
        return out

    @app.post("/v1/triage", summary="Classify and route a text; no case is created")
    def triage_text(body: TriageIn, _: AnyUser) -> dict[str, Any]:
        return classify_one(body)

    @app.post("/v1/triage/batch", summary="Classify and route many texts; a bad item is an error item")
    def triage_batch(body: BatchIn, _: AnyUser) -> dict[str, Any]:
        results = []
        for item in body.items:
            try:
                results.append({"id": item.id, **classify_one(item)})
            except ProblemError as exc:
                results.append({"id": item.id, "error": exc.detail})
        return {"results": results}

    @app.post("/v1/cases", status_code=201, summary="Intake: idempotent on the channel's external ticket id")
    def intake(body: IntakeIn, s: Db, user: Annotated[User, Depends(allow("customer_care", "manager", "admin"))]
               ) -> JSONResponse:
        case, created = service.intake(s, service.IntakeRequest(**body.model_dump()), policy, user.name)
        if created:
            service.suggest(s, case, model_loader(), policy, clock())
        return JSONResponse(case_view(s, case, user, clock()), status_code=201 if created else 200)

    @app.post("/v1/cases/batch", summary="Intake of many tickets; each is idempotent, a bad one is an error item")
    def intake_batch(body: IntakeBatchIn, s: Db,
                     user: Annotated[User, Depends(allow("customer_care", "manager", "admin"))]) -> dict[str, Any]:
        results = []
        for n, item in enumerate(body.items):
            savepoint = s.begin_nested()
            try:
                case, created = service.intake(s, service.IntakeRequest(**item.model_dump()), policy, user.name)
                if created:
                    service.suggest(s, case, model_loader(), policy, clock())
                savepoint.commit()
                results.append({"item": n, "id": case.id, "number": case.number, "created": created})
            except service.CaseError as exc:
                savepoint.rollback()
                results.append({"item": n, "error": str(exc)})
        return {"results": results}

    @app.get("/v1/cases", summary="List cases, newest first; handlers see their own")
    def list_cases(s: Db, user: AnyUser, state: str | None = None, channel: str | None = None,
                   severity: str | None = None, flag: str | None = None, role: str | None = None,
                   received_from: datetime | None = None, received_to: datetime | None = None,
                   breached: bool | None = None, limit: int = 100) -> dict[str, Any]:
        query = select(Case).order_by(Case.received_at.desc())
        if state:
            query = query.where(Case.state == state)
        if channel:
            query = query.where(Case.channel == channel)
        if role:
            query = query.where(Case.responsible_role == role)
        if received_from:
            query = query.where(Case.received_at >= received_from)
        if received_to:
            query = query.where(Case.received_at < received_to)
        if user.role == "handler":
            query = query.where(Case.assignee == user.name)
        cases = s.scalars(query).all()
        if breached is not None:
            cases = [c for c in cases if any(e.kind == "sla_breach" for e in c.events) == breached]

        cases = [c for c in cases if (not severity or c.current_labels.get("severity") == severity)
                 and (not flag or flag in c.current_labels.get("flags", []))][:max(1, min(limit, 1000))]
        return {"cases": [{"id": c.id, "number": c.number, "state": c.state, "channel": c.channel,
                           "received_at": c.received_at.isoformat(), "labels": c.current_labels,
                           "responsible_role": c.responsible_role, "assignee": c.assignee} for c in cases]}

    def visible_case(s: Session, case_id: int, user: User) -> Case:
        case = service.get_case(s, case_id)
        if not may_see(user, case):
            raise service.NotFound(f"no case {case_id}")  # not "forbidden": do not confirm it exists
        return case

    @app.get("/v1/cases/{case_id}")
    def get_case(case_id: int, s: Db, user: AnyUser) -> dict[str, Any]:
        return case_view(s, visible_case(s, case_id, user), user, clock())

    @app.post("/v1/cases/{case_id}/assign", summary="Give a dispatched case to a person")
    def assign(case_id: int, body: AssignIn, s: Db,
               user: Annotated[User, Depends(allow("customer_care", "manager", "admin"))]) -> dict[str, Any]:
        case = service.assign(s, case_id, body.assignee, user.name, clock(), body.version)
        return case_view(s, case, user, clock())

    @app.post("/v1/cases/{case_id}/review", summary="Accept or correct the suggestion; dispatches the case")
    def review(case_id: int, body: ReviewIn, s: Db,
               user: Annotated[User, Depends(allow("customer_care", "manager", "admin"))]) -> dict[str, Any]:
        case = service.review(s, case_id, user.name, policy, clock(), body.version, body.corrections)
        return case_view(s, case, user, clock())

    @app.post("/v1/cases/{case_id}/actions/{action}",
              summary="contact, start, resolve, callback (data.satisfied), reopen, close")
    def act(case_id: int, action: str, body: ActionIn, s: Db, user: AnyUser) -> dict[str, Any]:
        if not may_act(user, action):
            raise ProblemError(403, "Forbidden", f"role {user.role} may not {action} a case")
        visible_case(s, case_id, user)
        case = service.act(s, case_id, action, user.name, clock(), body.version, **body.data)
        return case_view(s, case, user, clock())

    @app.get("/v1/queue", summary="Cases awaiting review: major, safety and media first, then the nearest deadline")
    def queue(s: Db, _: Annotated[User, Depends(allow("customer_care", "manager", "admin"))]) -> dict[str, Any]:
        return {"cases": [{"id": c.id, "number": c.number, "received_at": c.received_at.isoformat(),
                           "suggestion": c.suggestion} for c in service.review_queue(s)]}

    @app.get("/v1/reports/monthly", summary="Counts, SLA compliance, repeats and focus vehicles of a month")
    def monthly(month: str, s: Db, user: Annotated[User, Depends(allow("manager", "admin", "customer_care"))]
                ) -> dict[str, Any]:
        return _report(s, user, month=month)

    @app.get("/v1/reports/quarterly", summary="The same figures for a quarter (YYYY-Qn)")
    def quarterly(quarter: str, s: Db, user: Annotated[User, Depends(allow("manager", "admin", "customer_care"))]
                  ) -> dict[str, Any]:
        return _report(s, user, quarter=quarter)

    def _report(s: Session, user: User, **period: str) -> dict[str, Any]:
        try:
            start, end, label = reports.period_bounds(**period)
        except reports.PeriodError as exc:
            raise ProblemError(400, "Bad period", str(exc)) from None
        return reports.report(s, start, end, label, mask=user.role not in SEES_PERSONAL_DATA)

    @app.get("/v1/model", summary="The serving model and its card")
    def model_card(_: AnyUser) -> dict[str, Any]:
        import models

        version = model_loader().version
        try:
            card = models.card(version)
        except models.RegistryError:
            card = None  # a model that is not in the registry (loaded by hand)
        return {"version": version, "card": card}

    from api.web.views import mount

    mount(app, engine, model_loader, policy, clock)
    return app


def _default_app() -> FastAPI:
    import models
    from triage.db import init_db, make_engine

    engine = make_engine()
    init_db(engine)
    return create_app(engine, models.load)


def __getattr__(name: str) -> Any:  # `uvicorn api.main:app` builds the default app on first use
    if name == "app":
        return _default_app()
    raise AttributeError(name)
