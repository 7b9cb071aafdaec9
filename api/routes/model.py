"""The serving model and its card."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import CurrentUser, Model
from api.errors import problems
from api.schemas import ModelOut
from triage.classify import registry

router = APIRouter()


@router.get("/v1/model", summary="The serving model and its card", response_model=ModelOut,
            responses=problems(401))
def model_card(_: CurrentUser, model: Model) -> dict[str, Any]:
    try:
        card = registry.card(model.version)
    except registry.RegistryError:
        card = None  # a model that is not in the registry (loaded by hand)
    return {"version": model.version, "card": card}
