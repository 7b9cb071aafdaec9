"""Bulk tagging: upload a file of complaints, tag it in the background (one job at a time),
follow its progress and download the tagged file (JSON Lines or CSV)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

from fastapi import APIRouter, FastAPI, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from sqlalchemy.orm import Session

from api.deps import Context, DbSession, Now, PrimaryKey
from api.web.deps import CareViewer, Refused, Viewer, check_csrf, render
from triage.auth.permissions import ADMIN
from triage.bulk import service as jobs
from triage.bulk.models import BulkJob

router = APIRouter(include_in_schema=False)


def start(app: FastAPI) -> None:
    """At mount: the app's background tagger, and the jobs a stopped server left behind failed."""
    context = app.state.context
    app.state.bulk_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bulk-tagging")
    with Session(context.engine) as s:
        jobs.fail_interrupted(db_session=s, now=context.clock())
        s.commit()


def _owner(viewer: Viewer) -> str | None:
    """Whose jobs the viewer sees: their own; an administrator's, everybody's."""
    return None if viewer.user.role == ADMIN else viewer.user.name


def own_job(db_session: Session, job_id: int, viewer: Viewer) -> BulkJob:
    try:
        return jobs.get_job(db_session=db_session, job_id=job_id, owner=_owner(viewer))
    except jobs.BulkError as exc:
        raise Refused(404, str(exc)) from None


def _page(request: Request, viewer: Viewer, found: list[BulkJob], status: int = 200, error: str | None = None
          ) -> HTMLResponse:
    return render(request, "bulk.html", viewer, status=status, jobs=[(j, jobs.progress_of(j)) for j in found],
                  limit_mb=jobs.MAX_UPLOAD_BYTES // 2**20, error=error)


@router.get("/bulk")
def bulk_page(request: Request, db_session: DbSession, viewer: CareViewer) -> HTMLResponse:
    return _page(request, viewer, jobs.jobs_of(db_session=db_session, owner=_owner(viewer)))


@router.post("/bulk")
def bulk_upload(request: Request, db_session: DbSession, now: Now, context: Context, viewer: CareViewer,
                csrf: Annotated[str, Form()], file: Annotated[UploadFile, File()]) -> Response:
    check_csrf(viewer, csrf)

    def chunks() -> Iterator[bytes]:
        while block := file.file.read(1 << 20):
            yield block
    try:
        job = jobs.create_job(db_session=db_session, owner=viewer.user.name, filename=file.filename or "upload",
                              chunks=chunks(), now=now)
    except jobs.BulkError as exc:
        db_session.rollback()
        return _page(request, viewer, jobs.jobs_of(db_session=db_session, owner=viewer.user.name), status=400,
                     error=str(exc))
    db_session.commit()
    request.app.state.bulk_executor.submit(jobs.run_job, context.engine, job.id, context.model_loader(),
                                           context.clock)
    return RedirectResponse("/bulk?done=uploaded", status_code=303)


@router.get("/bulk/{job_id}/status")
def bulk_status(job_id: PrimaryKey, db_session: DbSession, viewer: CareViewer) -> JSONResponse:
    return JSONResponse(jobs.progress_of(own_job(db_session, job_id, viewer)))


@router.get("/bulk/{job_id}/download")
def bulk_download(job_id: PrimaryKey, db_session: DbSession, viewer: CareViewer, format: str = "jsonl"
                  ) -> StreamingResponse:
    job = own_job(db_session, job_id, viewer)
    csv = format == "csv"
    try:
        lines = jobs.tagged_csv(job) if csv else jobs.tagged_lines(job)
    except jobs.BulkError as exc:
        raise Refused(409, str(exc)) from None
    name = f"tagged-{job_id}.{'csv' if csv else 'jsonl'}"
    media = "text/csv; charset=utf-8" if csv else "application/x-ndjson; charset=utf-8"
    # The body streams after this request's session has closed: it reads only the file.
    return StreamingResponse((line.encode() for line in lines), media_type=media,
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})
