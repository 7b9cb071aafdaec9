"""What the commands share: their common options, loading a model, and compact JSON."""

from __future__ import annotations

import argparse
import json
from typing import Any

import orjson

from triage.classify.prediction import Prediction

EXIT_OK = 0
EXIT_ROWS_FAILED = 1
"""Some rows of the file could not be read, classified or recorded: each is reported on
standard error (and in the output as an error line), every other row was processed."""
EXIT_UNUSABLE = 2
"""Nothing was done: the file cannot be read at all, the arguments are wrong (argparse
uses 2 too), or the input is refused (an empty text, an unknown channel)."""
EXIT_CODES = """exit codes of the file commands (predict, evaluate, intake):
  0  every row was processed
  1  some rows could not be read or processed: each is reported on standard error and the rest were processed
  2  nothing was processed: the file cannot be read (missing, no header, a header without id and text), or the
     arguments are wrong"""


def load_model(name: str | None):
    """The model `name` of the registry (default: the current one), imported only when a
    command needs it."""
    from triage.classify import registry

    return registry.load(name)


def dump(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def dump_line(obj: Any) -> bytes:
    """One JSON Lines record, UTF-8, byte for byte what `dump(obj.to_dict())` and a newline
    give (tests/test_cli.py), at a fraction of the cost: orjson writes a Prediction's
    `to_json`, or a RowError (a slots dataclass, whose fields are its to_dict's keys in order)
    directly. What orjson refuses (a lone surrogate) takes the slow road, as before."""
    try:
        return orjson.dumps(obj.to_json() if isinstance(obj, Prediction) else obj, option=orjson.OPT_APPEND_NEWLINE)
    except orjson.JSONEncodeError:
        return (dump(obj.to_dict()) + "\n").encode("utf-8")


def with_model(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--model", help="model name in the registry (default: the current one)")
    return p


def with_input(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=["csv", "jsonl"], help="input format (default: by file extension, else csv)")
    p.add_argument("--encoding", default="utf-8", help="input encoding (default utf-8; e.g. gbk)")


def with_db(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", help="database URL (default: $TRIAGE_DB_URL or sqlite:///triage.db)")

