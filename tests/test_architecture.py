"""The layering of docs/architecture.md, read from the code: what each package imports
(module-level and inside functions alike). A new import across a line fails here, with the
file and line."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = ("triage", "api", "training")

# package -> the packages of ours it may import (a prefix admits what is below it)
MAY_IMPORT: dict[str, tuple[str, ...]] = {
    "triage.text": ("triage.text",),
    "triage.io": ("triage.io",),
    "triage.classify": ("triage.classify", "triage.text", "triage.io"),
    "triage.policy": ("triage.policy", "triage.classify.labels"),
    "triage.suggestion": ("triage.suggestion", "triage.classify", "triage.policy"),
    "triage.db": ("triage.db", "triage.auth.models", "triage.bulk.models", "triage.case.models",
                  "triage.notify.models"),
    "triage.migrations": ("triage.migrations", "triage.db"),
    "triage.auth": ("triage.auth", "triage.db", "triage.case.models"),
    "triage.case": ("triage.case", "triage.db", "triage.auth", "triage.classify", "triage.policy",
                    "triage.suggestion", "triage.io", "triage.text", "triage.notify"),
    # Below the case domain: it knows cases only as the facts a message needs (notify.messages.CaseFacts).
    "triage.notify": ("triage.notify", "triage.db", "triage.policy", "triage.text", "triage.classify.labels"),
    "triage.bulk": ("triage.bulk", "triage.db", "triage.classify", "triage.io"),
    "triage.cli": ("triage", "api", "training"),
    "api": ("api", "triage.auth", "triage.bulk", "triage.case", "triage.classify", "triage.db", "triage.notify",
            "triage.policy", "triage.suggestion", "triage.text"),
    "training": ("training", "triage.classify", "triage.text", "triage.io"),
}
WEB_FRAMEWORK = ("fastapi", "starlette", "uvicorn", "jinja2")
TORCH = ("torch", "transformers", "safetensors")
TORCH_MAY = ("triage.classify.transformer", "training.transformer")
# Routes and pages name a session or an engine; the queries themselves are the services'.
API_SQLALCHEMY_NAMES = {"Engine", "Session"}


def _module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _imports(path: Path) -> list[tuple[int, str, set[str]]]:
    """(line, imported module, names imported from it) for every import of the file."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name, set()) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                out.append((node.lineno, sub if _is_module(sub) else node.module, {a.name}))
    return out


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _package_rule(module: str) -> tuple[str, ...]:
    owner = max((p for p in MAY_IMPORT if _under(module, (p,))), key=len)
    return MAY_IMPORT[owner]


FILES = sorted(p for top in OURS for p in (ROOT / top).rglob("*.py"))


def test_every_package_has_a_rule():
    assert FILES
    for path in FILES:
        module = _module_of(path)
        assert module in ("triage", "api", "training") or any(_under(module, (p,)) for p in MAY_IMPORT), module


# The top-level packages (their __init__) sit above every rule: the rules are of what is under them.
LAYERED = [p for p in FILES if _module_of(p) not in OURS]


def test_only_the_top_level_packages_are_outside_the_layers():
    assert sorted(str(p.relative_to(ROOT)) for p in FILES if p not in LAYERED) == sorted(
        f"{top}/__init__.py" for top in OURS)


@pytest.mark.parametrize("path", LAYERED, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_follow_the_layers(path):
    module = _module_of(path)
    allowed = _package_rule(module)
    wrong = []
    for line, imported, names in _imports(path):
        top = imported.split(".")[0]
        if top in OURS and not _under(imported, allowed):
            wrong.append(f"{line}: {imported} (may import: {', '.join(allowed)})")
        if top in WEB_FRAMEWORK and not _under(module, ("api", "triage.cli")):
            wrong.append(f"{line}: {imported}: the domain does not know the web framework")
        if top in TORCH and not _under(module, TORCH_MAY):
            wrong.append(f"{line}: {imported}: torch only in the transformer packages")
        if top == "sqlalchemy" and _under(module, ("api",)) and names - API_SQLALCHEMY_NAMES:
            wrong.append(f"{line}: {imported} {sorted(names)}: no queries in routes; call a service")
    assert not wrong, f"{path.relative_to(ROOT)}:\n" + "\n".join(wrong)


def test_the_rules_catch_a_wrong_import(tmp_path, monkeypatch):
    """The check itself: a policy module importing the case service is reported."""
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    bad = tmp_path / "triage" / "policy" / "bad.py"
    bad.parent.mkdir(parents=True)
    bad.write_text("def f():\n    from triage.case.service import intake\n    from sqlalchemy import select\n")
    with pytest.raises(AssertionError, match=r"2: triage\.case\.service"):
        test_imports_follow_the_layers(bad)
