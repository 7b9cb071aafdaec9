"""Throughput of `POST /v1/triage` over a real HTTP server, at N concurrent clients.

    .venv/bin/python bench/bench_http.py [--workers 2] [--clients 50] [--seconds 20] [--db URL]

Starts `triage serve --workers N` (the shipped model, a fresh SQLite file unless --db is
given, an API token made for the run), then a load generator in a separate process: an
asyncio HTTP/1.1 client of its own, keep-alive, one connection per client, each sending
the next request as soon as the previous answer is read (a closed loop, like wrk). The
client is written against the socket, not httpx, so that it costs the shared 2-core machine
as little CPU as possible: what is measured is the server. The texts are real complaints
with a channel and a receipt time, so every request is classified and routed.

Prints requests per second and the p50 / p90 / p99 / max latency after a warm-up, and the
server's CPU time per request (all its processes; the figure that does not depend on what
else the machine is doing); every answer must be 200, or the run fails. Nothing is asserted
about the figures.

`--wrk` uses wrk (Debian: apt-get install wrk) as the load generator instead, for a second
opinion on the same server.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EXAMPLES = ROOT / "training" / "data" / "real" / "complaints_12365auto_2020.csv"
CHANNELS = ["phone", "oem_ticket", "walk_in", "web"]


def _texts(n: int = 64) -> list[str]:
    with EXAMPLES.open(encoding="utf-8") as f:
        return [r["text"] for _, r in zip(range(n), csv.DictReader(f))]


def _requests(token: str, host: str, port: int) -> list[bytes]:
    """Complete HTTP/1.1 requests, built once: the client only writes bytes."""
    out = []
    for i, text in enumerate(_texts()):
        body = json.dumps({"text": text, "channel": CHANNELS[i % len(CHANNELS)],
                           "received_at": "2026-11-23T10:00:00+08:00"}, ensure_ascii=False).encode()
        head = (f"POST /v1/triage HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
        out.append(head.encode() + body)
    return out


# ---- the load generator (its own process) ----------------------------------------------------------
async def _client(host: str, port: int, requests: list[bytes], offset: int, start: float, warm_until: float,
                  stop_at: float, latencies: list[float], errors: list[str]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    i = offset
    try:
        while True:
            sent = time.perf_counter()
            if sent >= stop_at:
                return
            writer.write(requests[i % len(requests)])
            i += 1
            status = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            body = await reader.readexactly(length)
            done = time.perf_counter()
            if not status.startswith(b"HTTP/1.1 200"):
                errors.append(f"{status.decode().strip()} {body[:200].decode(errors='replace')}")
            elif sent >= warm_until:
                latencies.append(done - sent)
    finally:
        writer.close()


async def _load(host: str, port: int, requests: list[bytes], clients: int, warmup: float,
                seconds: float) -> dict[str, Any]:
    start = time.perf_counter()
    warm_until, stop_at = start + warmup, start + warmup + seconds
    latencies: list[float] = []
    errors: list[str] = []
    await asyncio.gather(*(_client(host, port, requests, n, start, warm_until, stop_at, latencies, errors)
                           for n in range(clients)))
    return {"latencies": latencies, "errors": errors, "seconds": seconds}


def _loadgen(args: tuple[str, int, list[bytes], int, float, float], out: Any) -> None:
    import resource

    result = asyncio.run(_load(*args))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out.put({**result, "cpu_seconds": usage.ru_utime + usage.ru_stime})


def _summary(latencies: list[float], seconds: float, errors: list[str]) -> dict[str, Any]:
    ms = sorted(x * 1000 for x in latencies)
    q = statistics.quantiles(ms, n=100, method="inclusive") if len(ms) > 1 else [float("nan")] * 99
    return {"requests": len(ms), "requests_per_second": round(len(ms) / seconds, 1),
            "p50_ms": round(q[49], 1), "p90_ms": round(q[89], 1), "p99_ms": round(q[98], 1),
            "max_ms": round(ms[-1], 1) if ms else None, "errors": len(errors)}


# ---- wrk, for a second opinion -------------------------------------------------------------------
WRK_SCRIPT = """
local body = [==[%s]==]
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
"""


def _wrk(url: str, token: str, clients: int, seconds: float) -> str:
    body = json.dumps({"text": _texts(1)[0], "channel": "phone", "received_at": "2026-11-23T10:00:00+08:00"},
                      ensure_ascii=False)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False, encoding="utf-8") as f:
        f.write(WRK_SCRIPT % (body, token))
    return subprocess.run(["wrk", "-t", "2", "-c", str(clients), "-d", f"{int(seconds)}s", "--latency", "-s", f.name,
                           f"{url}/v1/triage"], capture_output=True, text=True, check=True).stdout


# ---- the server ----------------------------------------------------------------------------------
def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and all its descendants so far (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, IndexError, ValueError):
            continue  # a process that ended meanwhile
    return total


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _token(db_url: str) -> str:
    from sqlalchemy.orm import Session

    from triage.auth.tokens import create
    from triage.db import init_db, make_engine

    engine = make_engine(db_url)
    init_db(engine)
    with Session(engine) as s:
        token = create(db_session=s, name="bench", role="customer_care", now=datetime.now(UTC))
        s.commit()
    engine.dispose()
    return token


def _wait_until_up(url: str, token: str, proc: subprocess.Popen[bytes]) -> None:
    """Until the server answers a request (its processes load and warm their model first)."""
    import urllib.request

    request = urllib.request.Request(f"{url}/v1/model", headers={"Authorization": f"Bearer {token}"})
    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the server did not start")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=2, help="server processes (default 2, one per core)")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=20.0, help="measured seconds, after --warmup")
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--db", default=None, help="database URL (default: a fresh SQLite file)")
    ap.add_argument("--wrk", action="store_true", help="load with wrk instead of the built-in client")
    ap.add_argument("--no-access-log", action="store_true", help="serve without uvicorn's line per request")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="bench-http-")
    db_url = args.db or f"sqlite:///{tmp}/bench.db"
    token = _token(db_url)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "TRIAGE_DB_URL": db_url,
           "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    cmd = [sys.executable, "-m", "triage.cli", "serve", "--port", str(port)]
    cmd += ["--workers", str(args.workers)] if args.workers != 1 else []
    cmd += ["--no-access-log"] if args.no_access_log else []
    log = Path(tmp) / "server.log"  # a file, not a pipe nobody reads (a full pipe would stall the server)
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log.open("wb"))
    try:
        _wait_until_up(url, token, proc)
        if args.wrk:
            print(_wrk(url, token, args.clients, args.seconds))
            return 0
        ctx = multiprocessing.get_context("spawn")
        out = ctx.Queue()
        gen = ctx.Process(target=_loadgen, args=((("127.0.0.1", port, _requests(token, "127.0.0.1", port),
                                                    args.clients, args.warmup, args.seconds)), out))
        gen.start()
        time.sleep(args.warmup + 0.3)  # the load generator's start-up, roughly
        cpu_before = _cpu_seconds(proc.pid)
        time.sleep(args.seconds)
        cpu = _cpu_seconds(proc.pid) - cpu_before
        result = out.get()
        gen.join()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    summary = _summary(result["latencies"], result["seconds"], result["errors"])
    # CPU per request does not depend on what else the shared machine is doing, unlike the rate.
    summary["server_cpu_ms_per_request"] = round(1000 * cpu / max(summary["requests"], 1), 2)
    # The load generator's, over its whole run (warm-up included), per measured request: an upper bound.
    summary["client_cpu_ms_per_request"] = round(1000 * result["cpu_seconds"] / max(summary["requests"], 1), 2)
    print(json.dumps({"server": " ".join(cmd[2:]), "clients": args.clients, **summary,
                      "load_average": os.getloadavg()[0]}, ensure_ascii=False))
    if result["errors"]:
        print("first errors:", *result["errors"][:3], f"server log: {log}", sep="\n  ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
