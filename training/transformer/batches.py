"""Length-bucketed batches: one-line complaints (~20 characters) and transcripts (~200)
never share a batch, so little compute goes to padding."""

from __future__ import annotations

import random
import sys
from collections.abc import Sequence

from tqdm import tqdm


def length_batches(lengths: Sequence[int], batch_tokens: int, max_rows: int, rng: random.Random) -> list[list[int]]:
    """Indices grouped into batches of similar length, each at most `batch_tokens` tokens
    when padded to its longest row; batch order shuffled, rows shuffled within a length."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], rng.random()))
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        if (current and (len(current) + 1) * max(lengths[i], lengths[current[-1]]) > batch_tokens) \
                or len(current) >= max_rows:
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    rng.shuffle(batches)
    return batches


def warmup_linear(step: int, total: int, warmup: int) -> float:
    """Learning-rate factor: linear warm-up, then linear decay to zero."""
    if step < warmup:
        return (step + 1) / max(1, warmup)
    return max(0.0, (total - step) / max(1, total - warmup))


def progress_bar(total: int, desc: str, enabled: bool) -> tqdm:
    """A tqdm bar on stderr; redrawn every 30 s instead of continuously when stderr is a
    file or pipe (a log keeps a line per half minute, not thousands)."""
    tty = sys.stderr.isatty()
    return tqdm(total=total, desc=desc, unit="step", file=sys.stderr, disable=not enabled,
                mininterval=0.1 if tty else 30.0, dynamic_ncols=tty)
