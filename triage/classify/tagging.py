"""Tagging a file of complaints row by row, in batches, with constant memory: used by
`triage predict` / `triage evaluate` and by the console's bulk tagging."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from triage.classify.prediction import Prediction
from triage.io import InputRow, ReadProgress, RowError, read_rows

BATCH = 2048
BATCH_CHARS = 32_000
"""A batch ends at BATCH rows or BATCH_CHARS characters of text: each of its NumPy passes costs
a little whatever its size, and 512 one-liners (9,000 characters) paid that a tenth of their
time; a character bound keeps a batch of narratives, and its arrays, as small as before. The
row bound keeps a batch's predictions under the collector's threshold (`triage predict`)."""


def batches(rows: Iterator[Any], size: int, max_weight: int | None = None,
            weight: Callable[[Any], int] = lambda row: 1) -> Iterator[list[Any]]:
    """Lists of up to `size` rows, and of rows weighing up to `max_weight` together (a batch
    holds one row at least)."""
    batch: list[Any] = []
    total = 0
    for row in rows:
        batch.append(row)
        if max_weight is not None:
            total += weight(row)
        if len(batch) >= size or (max_weight is not None and total >= max_weight):
            yield batch
            batch = []
            total = 0
    if batch:
        yield batch


def _chars(row: InputRow | RowError) -> int:
    return len(row.text) if isinstance(row, InputRow) else 0


def predict_stream(model: Any, path: str, fmt: str | None, encoding: str = "utf-8",
                   progress: ReadProgress | None = None
                   ) -> Iterator[tuple[InputRow | RowError, Prediction | RowError]]:
    """(input row or error, prediction or error) for every row of the file, in order."""
    for row, (prediction,) in predict_stream_by([model], path, fmt, encoding, progress):
        yield row, prediction


def predict_stream_by(models: Sequence[Any], path: str, fmt: str | None, encoding: str = "utf-8",
                      progress: ReadProgress | None = None
                      ) -> Iterator[tuple[InputRow | RowError, list[Prediction | RowError]]]:
    """(input row or error, each model's prediction or error) for every row of the file, in order:
    the file read once for all of them."""
    for batch in batches(read_rows(path, fmt, encoding, progress), BATCH, BATCH_CHARS, _chars):
        good = [(r.id, r.text) for r in batch if not isinstance(r, RowError)]
        predicted = [iter(model.predict_rows(good)) for model in models]
        for r in batch:
            if isinstance(r, RowError):
                yield r, [r] * len(models)
                continue
            out = []
            for each in predicted:
                p = next(each)
                out.append(RowError(r.id, r.row, f"row {r.row}: {p.error}") if isinstance(p, RowError) else p)
            yield r, out
