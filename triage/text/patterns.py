"""Long regular expressions compiled once per machine instead of once per process.

Python compiles a pattern in Python itself: the flag cues' (triage/classify/cues.py), twenty
patterns of 26,000 characters, took 85 ms of every start of `triage`, a fifth of what
`triage predict` spends before its first row. `compile_all` keeps the engine's code of each
pattern in the cache folder (`cache_dir`, beside the word table), in a file named after the
patterns, the Python version and the version of its regular-expression engine; making the
patterns from it takes 5 ms. Anything amiss (no file, a damaged one, an engine that does not
take the code) is compiled as `re.compile` does and written for the next process.

What is kept is `re.compile`'s own code (its private `re._parser` and `re._compiler`), handed
to `_sre.compile`, which checks it as it does for `re`: the patterns match exactly as compiled
by `re.compile`, and tests/test_predict_batch.py compares the two.
"""

from __future__ import annotations

import _sre
import hashlib
import json
import os
import re
import sys
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

FORMAT = 1
"""Bumped whenever what the file holds changes."""


def compile_all(patterns: Sequence[str]) -> list[re.Pattern[str]]:
    """[re.compile(p) for p in patterns], from the cache folder when it holds them."""
    from triage.text.tokenize import cache_dir  # numpy's importer: not for every user of this module

    path = cache_dir() / f"patterns-{_key(patterns)}.json"
    with suppress(Exception):  # none, damaged, or not this engine's: compiled anew below
        return _load(path, patterns)
    compiled = [re.compile(p) for p in patterns]
    with suppress(Exception):  # a read-only home, or another Python's internals: compile in every process
        _save(path, patterns)
    return compiled


def _key(patterns: Sequence[str]) -> str:
    h = hashlib.sha256(f"{FORMAT}\n{sys.version}\n{_sre.MAGIC}\n{_sre.CODESIZE}\n".encode())
    for p in patterns:
        h.update(p.encode("utf-8", "surrogatepass") + b"\0")
    return h.hexdigest()[:24]


def _load(path: Path, patterns: Sequence[str]) -> list[re.Pattern[str]]:
    entries = json.loads(path.read_text(encoding="utf-8"))
    if len(entries) != len(patterns):
        raise ValueError(f"{path}: {len(entries)} patterns, not {len(patterns)}")
    return [_sre.compile(p, flags, code, groups, groupindex, tuple(indexgroup))
            for p, (flags, code, groups, groupindex, indexgroup) in zip(patterns, entries)]


def _save(path: Path, patterns: Sequence[str]) -> None:
    entries = [_code_of(p) for p in patterns]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(entries), encoding="utf-8")
    tmp.replace(path)  # atomic: another process reads the old file or the new one


def _code_of(pattern: str) -> list[Any]:
    """What re._compiler.compile hands to _sre.compile for `pattern` (flags 0)."""
    import re._compiler as sre_compile
    import re._parser as sre_parse

    parsed = sre_parse.parse(pattern, 0)
    code = sre_compile._code(parsed, 0)
    groupindex = parsed.state.groupdict
    indexgroup: list[str | None] = [None] * parsed.state.groups
    for name, i in groupindex.items():
        indexgroup[i] = name
    return [parsed.state.flags, code, parsed.state.groups - 1, groupindex, indexgroup]
