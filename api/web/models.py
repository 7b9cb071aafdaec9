"""The administrator's page of models: every trained model with its held-out figures per
register, the one served, what the gate of `triage train` held back, the history of changes,
and a button to serve another model (or roll back)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import Context, Model
from api.errors import ProblemError
from api.routes.model import models_overview, serve_model
from api.web.deps import Refused, RoleRequired, Viewer, check_csrf, render
from triage.auth.permissions import ADMIN
from triage.classify import registry

router = APIRouter(include_in_schema=False)
AdminViewer = Annotated[Viewer, Depends(RoleRequired((ADMIN,)))]


@router.get("/admin/models")
def models_page(request: Request, context: Context, model: Model, viewer: AdminViewer) -> HTMLResponse:
    return render(request, "admin_models.html", viewer, figures=registry.MODEL_FIGURES,
                  **models_overview(context, model))


@router.post("/admin/models/use")
def use_model(context: Context, viewer: AdminViewer, csrf: Annotated[str, Form()],
              name: Annotated[str, Form(max_length=100)]) -> Response:
    check_csrf(viewer, csrf)
    try:
        serve_model(context, name, by=f"{viewer.user.name} (console)")
    except ProblemError as exc:
        said = "没有这个模型" if exc.status == 404 else "该模型不能在此使用"
        raise Refused(exc.status, f"{said} ({exc.detail})") from None
    return RedirectResponse("/admin/models?done=model_used", status_code=303)
