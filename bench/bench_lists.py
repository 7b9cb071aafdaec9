"""Lists, the review queue, reports and the console's pages at a year's volume, over a real
HTTP server (issue 11 §4: each under 100 ms at 100,000 cases, memory flat).

    TRIAGE_BENCH_PG_URL=postgresql+psycopg://... .venv/bin/python bench/bench_lists.py [--cases 100000]
    .venv/bin/python bench/bench_lists.py --db URL --no-seed       # time again on the cases seeded before

Seeding (in a child process, so that the server is timed in a process that never held the
data set) empties the database, then bulk-loads (PostgreSQL COPY) a year of cases, the
2025-12-01 to 2026-11-30 window: real complaints (training/data/real) classified and routed
by the shipped model under the default policy, the suggestion's clocks moved to each case's
receipt; older cases mostly closed, the last days' mostly awaiting review; one in ten
reviews corrects the labels; every resolved case its handling record (issue 14: nine in ten
valid, with a cause, a responsibility, a department and a measure; satisfaction at callback);
thirty handlers; about one case in twelve breached (with its
escalation); VINs and plates that repeat. Each case gets the event log the service would
have written (received, suggested with the whole suggestion, reviewed, dispatched with the
routing, assigned, first contact, resolved, verified, closed, breaches), and the label
columns, case_flags, case_clocks, case_reviews and the clock columns from the same functions
the case service uses.

Then a uvicorn server in a thread (tests/live.py) serves the app, and each request is
timed `--repeat` times after two warm-ups (p50, p99); the server process's resident memory
is read before, after, and at its peak (VmHWM, reset before the first request).
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REAL = ROOT / "training" / "data" / "real" / "complaints_12365auto_2020.csv"
NOW_ISO = "2026-11-30T16:00:00+08:00"
FIRST_DAY = "2025-12-01T00:00:00+08:00"
HANDLERS = [f"handler{n}" for n in range(1, 31)]
CHANNELS = {"phone": 30, "oem_ticket": 20, "walk_in": 15, "web": 12, "callback_after_sales": 8, "callback_sales": 5,
            "email": 4, "onsite": 3, "written": 2, "rework": 1}
PASSWORD = "bench-password-1"
CHUNK = 5000
MEASURES = ["加强销售顾问服务礼仪培训", "交车前增加新车检验项目", "维修后路试并由质检员签字", "配件到货前主动告知客户",
            "更新报价公示，杜绝隐形收费", "每周复盘返修车辆", "技师专项技能培训", "完善预约到店提醒流程"]
SATISFIED_RECORDS = {"verified": ("satisfied", "fairly_satisfied"), "closed": ("satisfied", "fairly_satisfied"),
                     "reopened": ("unsatisfied",)}


# ---- seeding ---------------------------------------------------------------------------------------
def _pool(size: int, rng: random.Random) -> list[dict[str, Any]]:
    """Real complaints classified and routed once, at a base instant: each case of the year
    takes one and moves its clocks to its own receipt."""
    from triage.classify import registry
    from triage.policy.loader import load_policy
    from triage.policy.routing import Context
    from triage.suggestion import classify_and_route, labels_of

    model, policy = registry.load(), load_policy()
    with REAL.open(encoding="utf-8") as f:
        texts = [r["text"] for r in csv.DictReader(f) if r["text"].strip()]
    base = datetime.fromisoformat("2026-11-02T10:00:00+08:00")
    out = []
    for text in rng.sample(texts, size):
        channel = rng.choices(list(CHANNELS), weights=list(CHANNELS.values()))[0]
        in_warranty = rng.random() < 0.6
        found = classify_and_route(model, policy, text, Context(channel, base, in_warranty=in_warranty,
                                                                 earlier_complaints=int(rng.random() < 0.08)))
        pred = found.prediction
        suggestion = {"model": pred.model, "labels": labels_of(pred), "confidence": pred.confidence,
                      "low_confidence": pred.low_confidence, "evidence": pred.to_dict()["evidence"],
                      "rules": pred.rules, "routing": found.decision.to_dict()}
        out.append({"text": text, "channel": channel, "in_warranty": in_warranty, "suggestion": suggestion,
                    "base": base})
    return out


def _moved(suggestion: dict[str, Any], delta: timedelta) -> dict[str, Any]:
    def move(value: str | None) -> str | None:
        return (datetime.fromisoformat(value) + delta).isoformat() if value else value

    routing = dict(suggestion["routing"])
    routing["clocks"] = [{**c, "deadline": move(c["deadline"]), "warning_at": move(c["warning_at"])}
                         for c in routing["clocks"]]
    return {**suggestion, "routing": routing}


def _times(n: int, rng: random.Random) -> list[datetime]:
    """Receipts over the year, mostly in opening hours, to the minute (so some share one)."""
    first, now = datetime.fromisoformat(FIRST_DAY), datetime.fromisoformat(NOW_ISO)
    days = (now - first).days
    out = []
    while len(out) < n:
        day = first + timedelta(days=rng.randrange(days + 1))
        minute = int(rng.gauss(14 * 60, 3 * 60)) % (24 * 60) if rng.random() < 0.9 else rng.randrange(24 * 60)
        at = day + timedelta(minutes=minute)
        if at < now:
            out.append(at)
    return sorted(out)


def _state(age: timedelta, rng: random.Random) -> str:
    if age < timedelta(days=2):
        choices = {"suggested": 55, "confirmed": 20, "in_progress": 20, "received": 1, "resolved": 4}
    elif age < timedelta(days=30):
        choices = {"suggested": 2, "confirmed": 5, "in_progress": 25, "resolved": 18, "verified": 15, "closed": 33,
                   "reopened": 2}
    else:
        choices = {"in_progress": 1, "resolved": 1, "verified": 3, "closed": 95}
    return rng.choices(list(choices), weights=list(choices.values()))[0]


_STEPS = {"confirmed": ["reviewed", "dispatched"], "in_progress": ["reviewed", "dispatched", "first_contact"],
          "resolved": ["reviewed", "dispatched", "first_contact", "resolved"],
          "reopened": ["reviewed", "dispatched", "first_contact", "resolved", "reopened"],
          "verified": ["reviewed", "dispatched", "first_contact", "resolved", "verified"],
          "closed": ["reviewed", "dispatched", "first_contact", "resolved", "verified", "closed"]}


def seed(url: str, n: int) -> None:
    from sqlalchemy import text as sql
    from sqlalchemy.orm import Session

    from tests.conftest import drop_all
    from triage.auth.service import create_account
    from triage.case.models import clock_list, label_columns
    from triage.classify.labels import FLAGS, HEADS, LABELS, severity_given_flags
    from triage.db import init_db, make_engine

    rng = random.Random(11)
    t = time.perf_counter()
    pool = _pool(600, rng)
    print(f"  classified and routed {len(pool)} real complaints in {time.perf_counter() - t:.1f}s", flush=True)
    engine = make_engine(url)
    drop_all(engine)
    init_db(engine)
    now = datetime.fromisoformat(NOW_ISO)
    vins = [f"LSV{rng.randrange(10**13, 10**14)}" for _ in range(45_000)]
    plates = [f"粤B{rng.randrange(10**4, 10**5)}" for _ in range(25_000)]
    serials: dict[str, int] = {}
    cases_cols = ("id", "number", "channel", "external_id", "received_at", "text", "customer_name", "customer_phone",
                  "plate", "vin", "in_warranty", "state", "suggestion", "labels", "responsible_role", "assignee",
                  "version", "business_line", "category", "severity", "urgent", "queue_deadline", "focus_owner",
                  "breached", "planned_clocks", "breached_clocks")
    t = time.perf_counter()
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        times = _times(n, rng)
        events_total = 0
        for start in range(0, n, CHUNK):
            case_rows, event_rows, flag_rows, clock_rows, record_rows, review_rows = [], [], [], [], [], []
            for case_id in range(start + 1, min(start + CHUNK, n) + 1):
                at = times[case_id - 1]
                month = at.strftime("%Y-%m")
                serials[month] = serials.get(month, 0) + 1
                item = rng.choice(pool)
                state = _state(now - at, rng)
                suggestion = None if state == "received" else _moved(item["suggestion"], at - item["base"])
                routing = (suggestion or {}).get("routing") or {}
                labels = None
                steps = _STEPS.get(state, [])
                minute = timedelta(minutes=1)
                events = [("received", at, "hotline", {"channel": item["channel"], "external_id": f"B-{case_id}"})]
                if suggestion is not None:
                    events.append(("suggested", at + minute, "system", suggestion))
                responsible = assignee = None
                if steps:
                    labels = dict(suggestion["labels"])
                    corrections = {}
                    if rng.random() < 0.1:  # a reviewer corrects one in ten
                        new = rng.choice(list(LABELS["category"]))
                        corrections["category"] = {"from": labels["category"], "to": new}
                        labels["category"] = new
                        if rng.random() < 0.3:
                            flags = sorted(set(labels["flags"]) ^ {rng.choice(list(FLAGS))})
                            corrections["flags"] = {"from": labels["flags"], "to": flags}
                            labels["flags"] = flags
                        labels["severity"] = severity_given_flags(labels["severity"], labels["flags"])
                    responsible = routing["responsible"]
                    assignee = rng.choice(HANDLERS)
                    later = at + timedelta(minutes=20)
                    for kind in steps:
                        later += timedelta(minutes=rng.randrange(10, 600))
                        data: dict[str, Any] = {}
                        if kind == "reviewed":  # as case.service.review writes it (its online accuracy)
                            suggested = {h: suggestion["labels"][h] for h in HEADS}
                            data = {"accepted": not corrections, "corrections": corrections,
                                    "model": suggestion["model"], "suggested": suggested,
                                    "kept": {h: labels[h] == suggested[h] for h in HEADS}}
                            review_rows.append((case_id, min(later, now), suggestion["model"],
                                                *(suggested[h] for h in HEADS), *(data["kept"][h] for h in HEADS)))
                        elif kind == "dispatched":
                            data = {"to": responsible, "routing": routing}
                        events.append((kind, min(later, now), "care" if kind != "first_contact" else assignee, data))
                        if kind == "dispatched":
                            events.append(("assigned", min(later, now), "care", {"frm": None, "to": assignee}))
                columns = label_columns(labels, suggestion)
                breached_clocks: list[str] = []
                if suggestion is not None and columns["clocks"] and rng.random() < 0.08:
                    clock = rng.choice(columns["clocks"])
                    breached_clocks.append(clock)
                    when = min(at + timedelta(hours=rng.randrange(2, 72)), now)
                    chain = routing.get("escalation") or []
                    events.append(("sla_breach", when, "sla-worker", {"clock": clock, "breached_at": when.isoformat(),
                                                                       "action": "escalate"}))
                    if chain and responsible:
                        events.append(("escalated", when, "sla-worker", {"clock": clock, "from_role": responsible,
                                                                          "to": chain[0]}))
                        responsible = chain[0]
                    events.append(("notification", when, "sla-worker", {"clock": clock, "to": responsible,
                                                                         "message": "超时"}))
                vehicle = rng.random()
                case_rows.append((
                    case_id, f"{month}-{serials[month]:06d}", item["channel"], f"B-{case_id}", at, item["text"],
                    f"客户{case_id % 9973}", f"139{case_id % 10**8:08d}",
                    rng.choice(plates) if 0.55 <= vehicle < 0.8 else None,
                    rng.choice(vins) if vehicle < 0.55 else None, item["in_warranty"], state,
                    json.dumps(suggestion, ensure_ascii=False) if suggestion is not None else None,
                    json.dumps(labels, ensure_ascii=False) if labels is not None else None,
                    responsible, assignee, len(events), columns["business_line"], columns["category"],
                    columns["severity"], columns["urgent"], columns["queue_deadline"], columns["focus_owner"],
                    bool(breached_clocks), clock_list(columns["clocks"]), clock_list(breached_clocks)))
                event_rows += [(case_id, kind, when, actor, json.dumps(data, ensure_ascii=False))
                               for kind, when, actor, data in events]
                flag_rows += [(case_id, f, at) for f in columns["flags"]]
                if "resolved" in steps:  # the handling record of a resolved case (issue 14)
                    valid = rng.random() < 0.9
                    record_rows.append((
                        case_id, at, "到店核实", "已答复客户", "按规定处理",
                        rng.choice(MEASURES) if valid else None,
                        rng.choice(("quality", "attitude", "misuse", "delivery_defect", "other")) if valid else None,
                        rng.choice(("attitude", "process", "management", "skill", "product")) if valid else None,
                        rng.choice(("sales", "after_sales", "workshop", "parts", "customer_care")) if valid else None,
                        valid, None if valid else "不属实", True if state != "reopened" else None,
                        "每月复盘同类抱怨" if "repeat" in columns["flags"] and rng.random() < 0.5 else None,
                        rng.choice(SATISFIED_RECORDS[state]) if state in SATISFIED_RECORDS else None))
                clock_rows += [(case_id, c, c in breached_clocks, at) for c in columns["clocks"]]
            _copy(cur, "cases", cases_cols, case_rows)
            _copy(cur, "case_events", ("case_id", "kind", "at", "actor", "data"), event_rows)
            _copy(cur, "case_flags", ("case_id", "flag", "received_at"), flag_rows)
            _copy(cur, "case_clocks", ("case_id", "clock", "breached", "received_at"), clock_rows)
            _copy(cur, "case_records", ("case_id", "received_at", "investigation", "reply", "handling_opinion",
                                        "corrective_action", "cause", "responsibility_class", "responsible_department",
                                        "valid", "invalid_reason", "approved", "long_term_measure", "satisfaction"),
                  record_rows)
            _copy(cur, "case_reviews", ("case_id", "at", "model", *(f"suggested_{h}" for h in HEADS),
                                        *(f"kept_{h}" for h in HEADS)), review_rows)
            events_total += len(event_rows)
            print(f"  {case_id} cases, {events_total} events ({time.perf_counter() - t:.0f}s)", flush=True)
        _copy(cur, "case_serials", ("month", "last"), list(serials.items()))
        cur.execute("SELECT setval('cases_id_seq', %s)", (n,))
        cur.execute("SELECT setval('case_events_id_seq', (SELECT max(id) FROM case_events))")
        raw.commit()
    finally:
        raw.close()
    with Session(engine) as s:
        for username, role in (("care", "customer_care"), ("manager", "manager"), ("handler1", "handler")):
            create_account(db_session=s, username=username, display_name=username, role=role, password=PASSWORD,
                           now=now)
        s.commit()
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(sql("VACUUM ANALYZE"))
    print(f"  seeded {n} cases in {time.perf_counter() - t:.0f}s", flush=True)


def _copy(cur: Any, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


# ---- timing ----------------------------------------------------------------------------------------
def _memory() -> dict[str, int]:
    """This process's resident memory now and at its peak, in MB (Linux)."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) // 1024
    return fields


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS


def timed(client: Any, path: str, repeat: int) -> tuple[float, float, int, int]:
    times = []
    for n in range(repeat + 2):
        t = time.perf_counter()
        r = client.get(path)
        elapsed = (time.perf_counter() - t) * 1000
        if r.status_code != 200:
            raise SystemExit(f"{path}: {r.status_code} {r.text[:300]}")
        if n >= 2:
            times.append(elapsed)
    times.sort()
    listed = r.json().get("cases") if r.headers["content-type"].startswith("application/json") else None
    return statistics.median(times), times[min(len(times) - 1, round(len(times) * 0.99) - 1)], len(r.content), \
        len(listed) if isinstance(listed, list) else -1


def run(url: str, repeat: int) -> None:
    import httpx
    from sqlalchemy import text as sql
    from sqlalchemy.orm import Session

    from api.main import create_app
    from tests.live import LiveServer, SettableClock
    from triage.auth.tokens import create as create_token
    from triage.classify import registry
    from triage.db import make_engine
    from triage.policy.loader import load_policy

    engine = make_engine(url)
    now = datetime.fromisoformat(NOW_ISO)
    with Session(engine) as s:  # a handler's token is named as the handler it lists the cases of
        tokens = {role: create_token(db_session=s, name=name, role=role, now=now)
                  for role, name in (("customer_care", "bench-care"), ("manager", "bench-manager"),
                                     ("handler", "handler7"))}
        s.commit()
    with engine.connect() as conn:
        n = conn.execute(sql("SELECT count(*) FROM cases")).scalar_one()
        role = conn.execute(sql("SELECT responsible_role FROM cases WHERE responsible_role IS NOT NULL "
                                "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")).scalar_one()
        queue = conn.execute(sql("SELECT count(*) FROM cases WHERE state = 'suggested'")).scalar_one()
        breached = conn.execute(sql("SELECT count(*) FROM cases WHERE breached")).scalar_one()
        events = conn.execute(sql("SELECT count(*) FROM case_events")).scalar_one()
        size = conn.execute(sql("SELECT pg_size_pretty(pg_database_size(current_database()))")).scalar_one()
    print(f"{n} cases ({queue} awaiting review, {breached} breached), {events} events, database {size}")
    app = create_app(engine, registry.load, load_policy(), SettableClock(now))
    registry.load()
    gc.collect()
    before = _memory()
    _reset_peak()
    with LiveServer(app) as server:
        api = {role_: httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {tok}"}, timeout=120)
               for role_, tok in tokens.items()}
        care = api["customer_care"]
        page1 = care.get("/v1/cases", params={"limit": 10}).json()
        middle = care.get("/v1/cases", params={"limit": 1, "received_to": "2026-06-01T00:00:00+08:00"}).json()
        queue1 = care.get("/v1/queue", params={"limit": 10}).json()
        api_paths = [
            ("customer_care", "/v1/cases?limit=10"),
            ("customer_care", "/v1/cases?limit=10&state=in_progress"),
            ("customer_care", f"/v1/cases?limit=10&role={role}"),
            ("customer_care", "/v1/cases?limit=10&severity=major"),
            ("customer_care", "/v1/cases?limit=10&flag=media"),
            ("customer_care", "/v1/cases?limit=10&flag=legal"),
            ("customer_care", "/v1/cases?limit=10&channel=fax"),
            ("customer_care", "/v1/cases?limit=10&channel=phone"),
            ("customer_care", "/v1/cases?limit=10&received_from=2026-03-01T00:00:00%2B08:00"
                              "&received_to=2026-03-08T00:00:00%2B08:00"),
            ("customer_care", "/v1/cases?limit=10&breached=true"),
            ("customer_care", "/v1/cases?limit=10&breached=false"),
            ("customer_care", "/v1/cases?limit=10&assignee=handler7"),
            ("customer_care", "/v1/cases?limit=10&severity=major&flag=legal&breached=true&state=closed"),
            ("customer_care", f"/v1/cases?limit=10&cursor={page1['next']}"),
            ("customer_care", f"/v1/cases?limit=10&cursor={middle['next']}"),
            ("customer_care", "/v1/cases?limit=1000"),
            ("handler", "/v1/cases?limit=10"),
            ("customer_care", "/v1/queue"),
            ("customer_care", "/v1/queue?limit=10"),
            ("customer_care", f"/v1/queue?limit=10&cursor={queue1['next']}"),
            ("manager", "/v1/reports/monthly?month=2026-11"),
            ("manager", "/v1/reports/monthly?month=2026-10"),
            ("manager", "/v1/reports/quarterly?quarter=2026-Q4"),
            ("manager", "/v1/reports/quarterly?quarter=2026-Q3"),
        ]
        print(f"{'request':92} {'p50 ms':>7} {'p99 ms':>7} {'KB':>6} {'rows':>5}")
        for who, path in api_paths:
            p50, p99, size_, rows = timed(api[who], path, repeat)
            shown = path if len(path) < 80 else path[:60] + "…" + path[-19:]
            count = rows if rows >= 0 else ""
            print(f"{who[:8] + ' ' + shown:92} {p50:7.1f} {p99:7.1f} {size_ / 1024:6.1f} {count:>5}", flush=True)
        cookies = {}
        with httpx.Client(base_url=server.url, timeout=120) as client:
            for user in ("care", "manager", "handler1"):
                client.post("/login", data={"username": user, "password": PASSWORD})
                cookies[user] = httpx.Cookies(client.cookies)
                client.cookies.clear()
        pages = [("care", "/queue"), ("care", "/cases"), ("care", "/cases?state=closed"),
                 ("manager", "/dashboard"), ("manager", "/dashboard?period=2026-Q3"), ("handler1", "/my"),
                 ("manager", "/dashboard/review?period=2026-11"), ("manager", "/dashboard.csv?period=2026-Q4")]
        for who, path in pages:
            with httpx.Client(base_url=server.url, cookies=cookies[who], timeout=120) as client:
                p50, p99, size_, _ = timed(client, path, repeat)
            print(f"{'console ' + who + ' ' + path:92} {p50:7.1f} {p99:7.1f} {size_ / 1024:6.1f}", flush=True)
        for c in api.values():
            c.close()
        after = _memory()
    print(f"server process memory: {before['VmRSS']} MB before the first request, {after['VmRSS']} MB after, "
          f"peak {after['VmHWM']} MB while serving")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default=os.environ.get("TRIAGE_BENCH_PG_URL") or os.environ.get("TRIAGE_TEST_PG_URL"),
                        help="a PostgreSQL URL (emptied); default $TRIAGE_BENCH_PG_URL or $TRIAGE_TEST_PG_URL")
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--no-seed", action="store_true", help="time the cases seeded by an earlier run")
    parser.add_argument("--seed-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.db or not args.db.startswith("postgresql"):
        raise SystemExit("give a PostgreSQL database: --db postgresql+psycopg://... (it is emptied)")
    if args.seed_only:
        seed(args.db, args.cases)
        return
    if not args.no_seed:
        print(f"seeding {args.cases} cases", flush=True)
        subprocess.run([sys.executable, __file__, "--seed-only", "--db", args.db, "--cases", str(args.cases)],
                       check=True)
    run(args.db, args.repeat)


if __name__ == "__main__":
    main()
