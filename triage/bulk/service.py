"""Bulk-tagging jobs: record an upload, tag it in the background with progress written to
the job row, and give back the tagged file (JSON Lines as `triage predict` writes it, or
a flat CSV for a spreadsheet). The input file is deleted once tagged; the output holds no
complaint text, only labels, confidences and masked evidence snippets."""

from __future__ import annotations

import csv
import io
import json
import os
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from triage.bulk.models import BulkJob
from triage.classify.labels import FLAGS, HEADS
from triage.classify.tagging import predict_stream
from triage.io import InputError, ReadProgress, RowError

MAX_UPLOAD_BYTES = 200 * 1024 * 1024
_PROGRESS_EVERY = 0.3  # seconds between progress writes


class BulkError(ValueError):
    """An upload or download that is refused; the message is safe to show."""


def data_dir() -> Path:
    return Path(os.environ.get("TRIAGE_DATA_DIR", "var"))


def input_path(job_id: int) -> Path:
    return data_dir() / "bulk" / f"{job_id}.input"


def output_path(job_id: int) -> Path:
    return data_dir() / "bulk" / f"{job_id}.jsonl"


def format_of(filename: str) -> str:
    suffix = Path(filename).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    raise BulkError(f"只支持 .csv 或 .jsonl 文件 (only .csv or .jsonl files): {filename[:100]!r}")


def create_job(*, db_session: Session, owner: str, filename: str, chunks: Iterator[bytes], now: datetime) -> BulkJob:
    """Store an upload and queue it; a file that is too big or empty is refused and nothing stays."""
    fmt = format_of(filename)
    job = BulkJob(owner=owner, filename=filename[:200], format=fmt, status="queued", total_bytes=0, read_bytes=0,
                  rows=0, errors=0, created_at=now)
    db_session.add(job)
    db_session.flush()
    path = input_path(job.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    try:
        with path.open("wb") as f:
            for chunk in chunks:
                size += len(chunk)
                if size > MAX_UPLOAD_BYTES:
                    raise BulkError(f"文件超过 {MAX_UPLOAD_BYTES // 2**20} MB (file too large)")
                f.write(chunk)
        if size == 0:
            raise BulkError("文件是空的 (the file is empty)")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    job.total_bytes = size
    db_session.flush()
    return job


def run_job(engine: Engine, job_id: int, model: Any, clock: Callable[[], datetime]) -> None:
    """Tag the job's file; progress and the outcome go to the job row. Never raises: a
    failure is the job's status, with its message."""
    with Session(engine) as s:
        job = s.get(BulkJob, job_id)
        if job is None or job.status != "queued":
            return
        job.status, job.model = "running", getattr(model, "version", None)
        fmt = job.format
        s.commit()
    source, target = input_path(job_id), output_path(job_id)
    partial = target.with_suffix(".part")
    progress = ReadProgress()
    rows = errors = 0
    last = 0.0
    try:
        with partial.open("w", encoding="utf-8") as out:
            for _, result in predict_stream(model, str(source), fmt, "utf-8", progress):
                rows += 1
                errors += isinstance(result, RowError)
                out.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
                if time.monotonic() - last > _PROGRESS_EVERY:
                    last = time.monotonic()
                    _set(engine, job_id, read_bytes=progress.read_bytes, rows=rows, errors=errors)
        partial.replace(target)
        _set(engine, job_id, status="done", read_bytes=progress.total_bytes, rows=rows, errors=errors,
             finished_at=clock(), message=None)
    except (InputError, OSError, ValueError) as exc:
        partial.unlink(missing_ok=True)
        _set(engine, job_id, status="failed", rows=rows, errors=errors, finished_at=clock(), message=str(exc)[:500])
    except Exception as exc:
        partial.unlink(missing_ok=True)
        _set(engine, job_id, status="failed", finished_at=clock(), message=f"internal error: {type(exc).__name__}")
    finally:
        source.unlink(missing_ok=True)


def _set(engine: Engine, job_id: int, **values: Any) -> None:
    with Session(engine) as s:
        s.execute(update(BulkJob).where(BulkJob.id == job_id).values(**values))
        s.commit()


def fail_interrupted(*, db_session: Session, now: datetime) -> int:
    """Jobs left queued or running by a stopped server fail, so nobody waits on them forever."""
    jobs = db_session.scalars(select(BulkJob).where(BulkJob.status.in_(("queued", "running")))).all()
    for job in jobs:
        job.status, job.finished_at = "failed", now
        job.message = "服务重启，任务中断，请重新上传 (interrupted by a restart; upload the file again)"
        input_path(job.id).unlink(missing_ok=True)
    db_session.flush()
    return len(jobs)


def jobs_of(*, db_session: Session, owner: str | None, limit: int = 50) -> list[BulkJob]:
    query = select(BulkJob).order_by(BulkJob.id.desc()).limit(limit)
    if owner is not None:
        query = query.where(BulkJob.owner == owner)
    return list(db_session.scalars(query))


def get_job(*, db_session: Session, job_id: int, owner: str | None) -> BulkJob:
    """The job, if `owner` uploaded it (None: any owner, for an administrator)."""
    job = db_session.get(BulkJob, job_id)
    if job is None or (owner is not None and job.owner != owner):
        raise BulkError(f"没有任务 {job_id} (no such job)")
    return job


def progress_of(job: BulkJob) -> dict[str, Any]:
    share = 1.0 if job.status == "done" else (job.read_bytes / job.total_bytes if job.total_bytes else 0.0)
    return {"id": job.id, "status": job.status, "filename": job.filename, "rows": job.rows, "errors": job.errors,
            "share": round(min(share, 1.0), 4), "message": job.message, "model": job.model}


def tagged_lines(job: BulkJob) -> Iterator[str]:
    """The tagged file's lines. The job is checked now, the file read lazily: a download streams
    after the request's session has closed, so the generator must not touch the job again."""
    path = output_path(job.id)
    if job.status != "done" or not path.exists():
        raise BulkError("任务尚未完成 (the job has not finished)")
    return _read_lines(path)


def _read_lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as f:
        yield from f


CSV_COLUMNS = ["id", *HEADS, "flags", *(f"confidence_{h}" for h in HEADS),
               *(f"p_{f}" for f in FLAGS), "low_confidence", "rules", "error"]


def tagged_csv(job: BulkJob) -> Iterator[str]:
    """The tagged file as CSV (UTF-8 with BOM, so Excel reads the Chinese right)."""
    return _as_csv(tagged_lines(job))


def _as_csv(lines: Iterator[str]) -> Iterator[str]:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    yield "\ufeff" + buf.getvalue()
    for line in lines:
        r = json.loads(line)
        buf.seek(0)
        buf.truncate()
        if "error" in r:
            error = spreadsheet_safe(f"row {r['row']}: {r['error']}")
            writer.writerow([spreadsheet_safe(r.get("id", "")), *[""] * (len(CSV_COLUMNS) - 2), error])
        else:
            conf = r["confidence"]
            writer.writerow([spreadsheet_safe(r["id"]), *(r[h] for h in HEADS), "|".join(r["flags"]) or "none",
                             *(conf[h] for h in HEADS), *(conf["flags"].get(f, "") for f in FLAGS),
                             "|".join(r["low_confidence"]), " / ".join(r["rules"]), ""])
        yield buf.getvalue()


def spreadsheet_safe(value: str) -> str:
    """A cell a spreadsheet shows as text: one starting with = + - @ would run as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
