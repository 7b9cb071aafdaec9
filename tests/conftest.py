"""Shared fixtures: a small model trained in-process on real rows plus a few written ones."""

from __future__ import annotations

import itertools
import os
from dataclasses import replace

import pytest

from training import dataset
from training.dataset import Example
from training.train import TrainConfig, fit
from triage.classify.labels import FLAGS

_FLAG_TEXTS = {
    "media": ["再不解决我就找记者曝光", "已经发微博曝光了这家店", "电视台记者已经联系我了"],
    "legal": ["我已经报警了", "准备起诉到法院", "律师函明天寄到"],
    "government": ["已经打了12315投诉", "向市场监管局反映", "去消协投诉了"],
    "extreme": ["明天来店门口拉横幅", "再不处理我就砸车", "带人来堵门"],
}


def small_examples() -> list[Example]:
    real = [e for e in dataset.real_examples() if e.split == "train"]
    picked = [e for e in real if e.gold["severity"]][:150] + [e for e in real if not e.gold["severity"]][:250]
    for e in picked:
        e.gold["severity"] = e.gold["severity"] or ("grumble",)
        e.flags = {f: bool(e.flags.get(f)) for f in FLAGS}
    counter = itertools.count()
    for flag, texts in _FLAG_TEXTS.items():
        for t in texts * 2:
            picked.append(Example(f"w{next(counter)}", t, "written", "train", gold={
                "business_line": ("after_sales",), "category": ("service",), "severity": ("major",)},
                flags={f: f == flag for f in FLAGS}))
    for t in ["修了三次还没修好", "第二次投诉了", "反复维修"] * 2:
        picked.append(Example(f"w{next(counter)}", t, "written", "train", gold={
            "business_line": ("after_sales",), "category": ("repair_quality",), "severity": ("complaint",)},
            flags={f: f == "repeat" for f in FLAGS}))
    return picked


@pytest.fixture(scope="session")
def small_model():
    model, _ = fit(small_examples(), TrainConfig(folds=3), "test-small")
    return model


@pytest.fixture(scope="session")
def small_examples_refit():
    """A second small model, on the same rows, regularised harder: two models to compare."""
    cfg = TrainConfig(folds=3)
    model, _ = fit(small_examples(), replace(cfg, C={head: c / 8 for head, c in cfg.C.items()}), "test-other")
    return model


@pytest.fixture(scope="session")
def small_registry(small_model, tmp_path_factory):
    """A model registry folder holding the small model as current, as `triage train` writes it."""
    import json

    root = tmp_path_factory.mktemp("registry")
    hashes = small_model.save(root / "test-small")
    (root / "test-small" / "card.json").write_text(json.dumps({"version": "test-small", "artifacts": hashes}))
    (root / "CURRENT").write_text("test-small\n")
    return root


# ---- databases: SQLite and PostgreSQL, always (scripts/test.sh starts one) ------------------
PG_URL = os.environ.get("TRIAGE_TEST_PG_URL")
BACKENDS = ["sqlite", "postgresql"]


def pg_url() -> str:
    """The PostgreSQL of the tests; without one, a database test fails, saying so."""
    assert PG_URL, ("TRIAGE_TEST_PG_URL is not set: run the tests with `bash scripts/test.sh`, which starts a "
                    "throwaway PostgreSQL (or export the URL of your own)")
    return PG_URL


@pytest.fixture(params=BACKENDS)
def engine(request, tmp_path):
    """A fresh, empty database of each backend."""
    from triage.db import init_db, make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'cases.db'}" if request.param == "sqlite" else pg_url())
    if request.param == "postgresql":
        drop_all(engine)
    init_db(engine)  # the migrations, as in production
    yield engine
    engine.dispose()


def drop_all(engine) -> None:
    from triage.db import all_tables

    all_tables().drop_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
