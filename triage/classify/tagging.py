"""Tagging a file of complaints row by row, in batches, with constant memory: used by
`triage predict` / `triage evaluate` and by the console's bulk tagging."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from triage.classify.prediction import Prediction
from triage.io import InputRow, ReadProgress, RowError, read_rows

BATCH = 512


def batches(rows: Iterator[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def predict_stream(model: Any, path: str, fmt: str | None, encoding: str = "utf-8",
                   progress: ReadProgress | None = None
                   ) -> Iterator[tuple[InputRow | RowError, Prediction | RowError]]:
    """(input row or error, prediction or error) for every row of the file, in order."""
    for batch in batches(read_rows(path, fmt, encoding, progress), BATCH):
        good = [r for r in batch if not isinstance(r, RowError)]
        preds = iter(model.predict_rows([(r.id, r.text) for r in good]))
        for r in batch:
            if isinstance(r, RowError):
                yield r, r
                continue
            p = next(preds)
            if isinstance(p, RowError):
                p = RowError(r.id, r.row, f"row {r.row}: {p.error}")
            yield r, p
