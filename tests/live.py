"""A real HTTP server (uvicorn, in a thread) around the app, with a clock the test sets."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class SettableClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


class LiveServer:
    def __init__(self, app) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class ServeProcess:
    """`triage serve` in a process of its own on a free port, with a SQLite file of its own and a
    token of `role` in it; entered once `/v1/model` answers (or the test fails, saying the server
    did not start), terminated on exit, its standard error then in `stderr`."""

    def __init__(self, tmp: Path, models_dir: Path, *args: str, role: str = "customer_care") -> None:
        from sqlalchemy.orm import Session

        from triage.auth.tokens import create as create_token
        from triage.db import init_db, make_engine

        db = f"sqlite:///{tmp / 'served.db'}"
        engine = make_engine(db)
        init_db(engine)
        with Session(engine) as s:
            token = create_token(db_session=s, name=f"{role}-1", role=role, now=datetime.now(UTC))
            s.commit()
        engine.dispose()
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.url, self.headers = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {token}"}
        self.command = [sys.executable, "-m", "triage.cli", "serve", "--port", str(port), *args]
        self.env = {**os.environ, "TRIAGE_MODELS_DIR": str(models_dir), "TRIAGE_DB_URL": db}
        self.stderr = ""

    def __enter__(self) -> ServeProcess:
        self.proc = subprocess.Popen(self.command, env=self.env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if httpx.get(f"{self.url}/v1/model", headers=self.headers).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        self.__exit__()
        raise AssertionError(f"`triage serve` did not start: {self.stderr[-2000:]}")

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        _, self.stderr = self.proc.communicate(timeout=20)
