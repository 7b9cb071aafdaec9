"""Page times of the web console over a real HTTP server, with a database of N cases.

    .venv/bin/python bench/bench_console.py [--cases 2000] [--db sqlite|URL]

Seeds N real complaints as cases (two thirds reviewed and dispatched, spread over six
months, one SLA pass), then times each page (p50 / p99 over repeated GETs by a signed-in
browser-like client): the review queue, a case page, a handler's list, the dashboard and
its CSV. Prints the figures; nothing is asserted.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx
from sqlalchemy.orm import Session

from api.main import create_app
from tests.live import LiveServer, SettableClock
from triage.auth.service import create_account
from triage.case import service
from triage.case.worker import run_sla_pass
from triage.classify import registry
from triage.db import init_db, make_engine
from triage.policy.calendar import TZ
from triage.policy.loader import load_policy

REAL = ROOT / "training" / "data" / "real" / "complaints_12365auto_2020.csv"
CHANNELS = ["phone", "oem_ticket", "walk_in", "callback_after_sales", "callback_sales", "web"]


def seed(engine, n: int, now: datetime) -> None:
    policy, model = load_policy(), registry.load()
    with REAL.open(encoding="utf-8") as f:
        texts = [r["text"] for r in csv.DictReader(f)]
    with Session(engine) as s:
        for username, role in (("care", "customer_care"), ("handler1", "handler"), ("manager", "manager")):
            create_account(db_session=s, username=username, display_name=username, role=role,
                           password="bench-password", now=now)
        for i in range(n):
            at = now - timedelta(days=i % 180, hours=i % 9)
            request = service.IntakeRequest(
                channel=CHANNELS[i % len(CHANNELS)], text=texts[i % len(texts)], received_at=at, external_id=f"B{i}",
                vin=f"LSVAB2180E2{i % 500:06d}")
            case, _ = service.intake_and_suggest(db_session=s, request=request, model=model, policy=policy,
                                                 actor="bench", now=at)
            if i % 3:
                service.review(db_session=s, case_id=case.id, reviewer="care", policy=policy,
                               now=at + timedelta(minutes=30))
                service.assign(db_session=s, case_id=case.id, assignee="handler1", actor="care",
                               now=at + timedelta(minutes=31))
        s.commit()
        run_sla_pass(db_session=s, policy=policy, now=now, batch=n)
        s.commit()


def timed(client: httpx.Client, path: str, repeat: int) -> tuple[float, float, int]:
    times = []
    size = 0
    for _ in range(repeat):
        t = time.perf_counter()
        r = client.get(path)
        times.append((time.perf_counter() - t) * 1000)
        r.raise_for_status()
        size = len(r.content)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))], size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--db", default="sqlite")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp()
    engine = make_engine(f"sqlite:///{tmp}/bench.db" if args.db == "sqlite" else args.db)
    init_db(engine)
    now = datetime(2026, 11, 23, 10, 0, tzinfo=TZ)
    t = time.perf_counter()
    seed(engine, args.cases, now)
    print(f"seeded {args.cases} cases in {time.perf_counter() - t:.1f}s ({engine.url.get_backend_name()})")
    app = create_app(engine, registry.load, load_policy(), SettableClock(now))
    with LiveServer(app) as server:
        paths = {}
        with httpx.Client(base_url=server.url) as client:
            for user in ("care", "handler1", "manager"):
                client.post("/login", data={"username": user, "password": "bench-password"})
                paths[user] = httpx.Cookies(client.cookies)
                client.cookies.clear()
        pages = [("care", "/queue"), ("care", "/cases/2"), ("care", "/cases"), ("handler1", "/my"),
                 ("manager", "/dashboard?period=2026-11"), ("manager", "/dashboard?period=2026-Q4"),
                 ("manager", "/dashboard.csv?period=2026-Q4")]
        print(f"{'page':34} {'p50 ms':>8} {'p99 ms':>8} {'KB':>7}")
        for user, path in pages:
            with httpx.Client(base_url=server.url, cookies=paths[user]) as client:
                p50, p99, size = timed(client, path, args.repeat)
            print(f"{user + ' ' + path:34} {p50:8.1f} {p99:8.1f} {size / 1024:7.1f}")


if __name__ == "__main__":
    main()
