"""What the commands share: their common options, loading a model, and compact JSON."""

from __future__ import annotations

import argparse
import json
from typing import Any


def load_model(name: str | None):
    """The model `name` of the registry (default: the current one), imported only when a
    command needs it."""
    from triage.classify import registry

    return registry.load(name)


def dump(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def with_model(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--model", help="model name in the registry (default: the current one)")
    return p


def with_input(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=["csv", "jsonl"], help="input format (default: by file extension, else csv)")
    p.add_argument("--encoding", default="utf-8", help="input encoding (default utf-8; e.g. gbk)")


def with_db(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", help="database URL (default: $TRIAGE_DB_URL or sqlite:///triage.db)")

