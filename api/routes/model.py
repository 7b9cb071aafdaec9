"""The serving model and its card; the registry's models, and which one is served."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from api.deps import Context, CurrentUser, Model, PermissionsDependency
from api.errors import ProblemError, problems
from api.schemas import ModelChoiceIn, ModelOut, ModelsOut
from triage.auth.permissions import ADMIN, MANAGERS, User
from triage.classify import registry

router = APIRouter()
Managers = Annotated[User, Depends(PermissionsDependency(MANAGERS))]
Admin = Annotated[User, Depends(PermissionsDependency((ADMIN,)))]


@router.get("/v1/model", summary="The serving model and its card", response_model=ModelOut,
            responses=problems(401))
def model_card(_: CurrentUser, model: Model) -> dict[str, Any]:
    try:
        card = registry.card(model.version)
    except registry.RegistryError:
        card = None  # a model that is not in the registry (loaded by hand)
    return {"version": model.version, "card": card}


def models_overview(context: Any, model: Any) -> dict[str, Any]:
    """What GET /v1/models answers, and the console's model page shows."""
    return {"serving": model.version, "follows_current": getattr(context.model_loader, "follows_current", False),
            **registry.overview()}


@router.get("/v1/models", summary="The registry's models, their held-out figures, and the changes of the served one",
            response_model=ModelsOut, responses=problems(401, 403))
def list_models(_: Managers, context: Context, model: Model) -> dict[str, Any]:
    return models_overview(context, model)


@router.put("/v1/models/current", summary="Serve this model (checked first; other server processes take it up "
                                          "within seconds)", response_model=ModelsOut,
            responses=problems(401, 403, 404, 409, 413, 422))
def use_model(body: ModelChoiceIn, user: Admin, context: Context) -> dict[str, Any]:
    return models_overview(context, serve_model(context, body.name, by=f"{user.name} (API)"))


def serve_model(context: Any, name: str, by: str) -> Any:
    """Serve `name` from this server's registry (ModelLoader.use); the model now served. A ProblemError
    404 for an unknown model, 409 for one that cannot be served here or a server that serves a
    model loaded by hand or named at its start. The API's route and the console's page both call it."""
    if not hasattr(context.model_loader, "use"):
        raise ProblemError(409, "Conflict", "this server serves a model loaded by hand, not the registry's")
    try:
        return context.model_loader.use(name, by=by)
    except registry.RegistryError as exc:
        raise ProblemError(404, "Not found", str(exc)) from None
    except registry.ModelError as exc:
        raise ProblemError(409, "Conflict", str(exc)) from None
