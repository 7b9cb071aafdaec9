"""Nothing half-written, under concurrent use, on SQLite as on PostgreSQL: an intake is one
unit (the case, its suggestion and its events commit together or not at all), concurrent
writers queue instead of failing, a process killed mid-intake leaves no stuck case, and
case numbers are never duplicated."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.main import create_app
from tests.live import LiveServer
from triage.auth.tokens import create as create_token
from triage.case.models import Case, CaseEvent, CaseSerial
from triage.case.service import IntakeRequest, intake_and_suggest
from triage.db import init_db, make_engine
from triage.policy.calendar import TZ
from triage.policy.loader import load_policy

POLICY = load_policy()
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=TZ)
ROOT = Path(__file__).resolve().parents[1]


class BrokenModel:
    """A model whose suggestion step fails after the case was written."""

    version = "broken"

    def predict(self, texts: list[str]) -> list:
        raise RuntimeError("the model fell over")


def counts(engine) -> tuple[int, int]:
    with Session(engine) as s:
        return (s.scalar(select(func.count()).select_from(Case)) or 0,
                s.scalar(select(func.count()).select_from(CaseEvent)) or 0)


# ---- one unit --------------------------------------------------------------------------------
def test_a_unit_of_work_rolled_back_after_intake_leaves_nothing(engine, small_model):
    """The intake's savepoint lives inside the caller's transaction: rolling that back (a
    request failing after the intake) undoes the intake too. On SQLite, pysqlite's own
    transaction handling made the released savepoint a commit of its own."""
    with Session(engine) as s:
        s.scalar(select(func.count()).select_from(Case))  # a request reads first (its caller's token)
        case, created = intake_and_suggest(db_session=s, request=IntakeRequest("phone", "刹车失灵", T0, "U-1"),
                                           model=small_model, policy=POLICY, actor="care", now=T0)
        assert created and case.state == "suggested"
        s.rollback()
    assert counts(engine) == (0, 0)
    with Session(engine) as s:
        assert s.scalar(select(CaseSerial)) is None


def test_an_intake_whose_suggestion_fails_leaves_nothing_and_a_resend_is_a_proper_case(engine, small_model):
    with Session(engine) as s:
        with pytest.raises(RuntimeError):
            intake_and_suggest(db_session=s, request=IntakeRequest("phone", "刹车失灵", T0, "U-2"),
                               model=BrokenModel(), policy=POLICY, actor="care", now=T0)
        s.commit()  # what the caller had done before stays; the failed intake does not
    assert counts(engine) == (0, 0)
    with Session(engine) as s:
        case, created = intake_and_suggest(db_session=s, request=IntakeRequest("phone", "刹车失灵", T0, "U-2"),
                                           model=small_model, policy=POLICY, actor="care", now=T0)
        s.commit()
        assert created and case.state == "suggested" and case.suggestion
        assert [e.kind for e in case.events] == ["received", "suggested"]


@pytest.fixture()
def api(engine, small_model):
    with Session(engine) as s:
        token = create_token(db_session=s, name="care-1", role="customer_care", now=T0)
        s.commit()
    model = [small_model]
    app = create_app(engine, lambda: model[0], clock=lambda: T0)
    with TestClient(app, raise_server_exceptions=False) as c:
        c.headers["Authorization"] = f"Bearer {token}"
        yield c, model


def test_post_cases_is_one_unit(api, engine, small_model, monkeypatch):
    """POST /v1/cases: a request that fails after the intake, or whose suggestion fails,
    leaves no case; the resend creates a proper one."""
    client, model = api
    body = {"channel": "phone", "text": "行驶中刹车失灵", "received_at": T0.isoformat(), "external_id": "H-1"}

    def fail(*_args, **_kw):
        raise RuntimeError("the answer could not be built")

    with monkeypatch.context() as m:
        m.setattr("api.routes.cases.case_view", fail)
        assert client.post("/v1/cases", json=body).status_code == 500
    assert counts(engine) == (0, 0)
    model[0] = BrokenModel()
    assert client.post("/v1/cases", json=body).status_code == 500
    assert counts(engine) == (0, 0)
    model[0] = small_model
    r = client.post("/v1/cases", json=body)
    assert r.status_code == 201 and r.json()["state"] == "suggested" and r.json()["suggestion"]
    assert r.json()["number"] == "2026-11-000001"


# ---- concurrent writers on SQLite ---------------------------------------------------------------
@pytest.fixture()
def sqlite_server(tmp_path, small_model):
    """A real HTTP server on a SQLite file, as `triage serve` runs it."""
    engine = make_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    init_db(engine)
    with Session(engine) as s:
        token = create_token(db_session=s, name="care-1", role="customer_care", now=T0)
        s.commit()
    with LiveServer(create_app(engine, lambda: small_model, clock=lambda: T0)) as server:
        yield server.url, token, engine
    engine.dispose()


def test_eight_concurrent_clients_on_sqlite_all_succeed(sqlite_server):
    base, token, engine = sqlite_server
    clients, each = 8, 12

    def staff(n: int) -> list[tuple[str, int]]:
        out = []
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
            for i in range(each):
                r = c.post("/v1/cases", json={"channel": "phone", "text": f"第{i}次反映发动机异响，客户{n}",
                                              "received_at": T0.isoformat(), "external_id": f"C{n}-{i}"})
                out.append((f"C{n}-{i}", r.status_code))
                if i % 3 == 0:  # a reader among the writers
                    out.append(("list", c.get("/v1/cases?limit=5").status_code))
        return out

    with ThreadPoolExecutor(clients) as pool:
        answers = [a for part in pool.map(staff, range(clients)) for a in part]
    assert [a for a in answers if a[1] not in (200, 201)] == []
    with Session(engine) as s:
        rows = s.execute(select(Case.external_id, Case.number, Case.state)).all()
    assert sorted(r.external_id for r in rows) == sorted(f"C{n}-{i}" for n in range(clients) for i in range(each))
    assert sorted(r.number for r in rows) == [f"2026-11-{k:06d}" for k in range(1, clients * each + 1)]
    assert {r.state for r in rows} == {"suggested"}


_WRITER = textwrap.dedent("""
    import sys
    from datetime import datetime
    from sqlalchemy.orm import Session
    from triage.case.service import IntakeRequest, intake
    from triage.db import make_engine
    from triage.policy.calendar import TZ
    from triage.policy.loader import load_policy

    url, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    engine, policy = make_engine(url), load_policy()
    at = datetime(2026, 11, 23, 10, 0, tzinfo=TZ)
    for i in range(n):
        with Session(engine) as s:
            intake(db_session=s, request=IntakeRequest("phone", f"{name} 第{i}条投诉", at, f"{name}-{i}"),
                   policy=policy, actor=name)
            s.commit()
""")


def test_six_writer_processes_on_one_sqlite_file(tmp_path):
    """Separate processes (a worker, a CLI import, the server) share the file through
    SQLite's locks alone."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    engine = make_engine(url)
    init_db(engine)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, url, f"P{k}", "25"], env=env, cwd=ROOT,
                              stderr=subprocess.PIPE, text=True) for k in range(6)]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, errors
    with Session(engine) as s:
        numbers = list(s.scalars(select(Case.number)))
    assert sorted(numbers) == [f"2026-11-{k:06d}" for k in range(1, 151)]
    engine.dispose()


# ---- kill -9 mid-intake ---------------------------------------------------------------------------
_KILLED = textwrap.dedent("""
    import sys, time
    from datetime import datetime
    from sqlalchemy.orm import Session
    from triage.case import service
    from triage.case.service import IntakeRequest, intake, intake_and_suggest
    from triage.db import make_engine
    from triage.policy.calendar import TZ
    from triage.policy.loader import load_policy

    url, where = sys.argv[1], sys.argv[2]
    engine, policy = make_engine(url), load_policy()
    at = datetime(2026, 11, 23, 10, 0, tzinfo=TZ)
    for i in range(3):  # committed before the kill
        with Session(engine) as s:
            intake(db_session=s, request=IntakeRequest("phone", f"第{i}条", at, f"K-{i}"), policy=policy, actor="k")
            s.commit()

    def hang(*args, **kwargs):
        print("inside", flush=True)
        time.sleep(600)

    with Session(engine) as s:
        if where == "suggestion":  # killed while the suggestion is computed: case and events written
            service.classify_and_route = hang
            intake_and_suggest(db_session=s, request=IntakeRequest("phone", "刹车失灵", at, "K-X"), model=None,
                               policy=policy, actor="k", now=at)
        else:  # killed after the intake returned, before the request's unit of work commits
            service.classify_and_route = lambda *a, **k: (_ for _ in ()).throw(RuntimeError("not reached"))
            service.suggest = lambda **kw: None
            intake_and_suggest(db_session=s, request=IntakeRequest("phone", "刹车失灵", at, "K-X"), model=None,
                               policy=policy, actor="k", now=at)
            hang()
""")


@pytest.mark.parametrize("where", ["suggestion", "before_commit"])
def test_kill_9_mid_intake_leaves_no_stuck_case(tmp_path, small_model, where):
    path = tmp_path / "killed.db"
    engine = make_engine(f"sqlite:///{path}")
    init_db(engine)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", _KILLED, f"sqlite:///{path}", where], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "inside"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with Session(engine) as s:
        assert sorted(s.scalars(select(Case.external_id))) == ["K-0", "K-1", "K-2"]
        # The resend of the ticket that was in flight is a new, proper case.
        case, created = intake_and_suggest(db_session=s, request=IntakeRequest("phone", "刹车失灵", T0, "K-X"),
                                           model=small_model, policy=POLICY, actor="care", now=T0)
        s.commit()
        assert created and case.state == "suggested" and case.number == "2026-11-000004"
    engine.dispose()


# ---- case numbers on PostgreSQL -----------------------------------------------------------------
def test_concurrent_first_intakes_of_a_month_get_distinct_numbers(engine):
    """Eight intakes race for the first number of a new month: none fails, none repeats (on
    PostgreSQL they raced on the serial row's insert; on SQLite they wait for the write lock)."""
    from triage.case.service import intake

    writers = 8
    for month in (12, 1):  # two fresh months, two races
        at = datetime(2026 if month == 12 else 2027, month, 1, 9, 0, tzinfo=TZ)
        start = threading.Barrier(writers)

        def write(n: int, at: datetime = at, start: threading.Barrier = start) -> str:
            with Session(engine) as s:
                start.wait()
                case, _ = intake(db_session=s, request=IntakeRequest("phone", f"投诉{n}", at, f"M{at.month}-{n}"),
                                 policy=POLICY, actor="care")
                s.commit()
                return case.number

        with ThreadPoolExecutor(writers) as pool:
            numbers = list(pool.map(write, range(writers)))
        assert sorted(numbers) == [f"{at:%Y-%m}-{k:06d}" for k in range(1, writers + 1)]
