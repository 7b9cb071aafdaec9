"""Local stand-ins for the places notifications go: an HTTP server on loopback that takes the
group robots' webhooks of 企业微信, 钉钉 and 飞书, checking each request's format and
signature the way the vendor documents it and answering as the vendor does; and a real SMTP
server (aiosmtpd). Each can be told to fail: an HTTP 500, the vendor's error code (HTTP 200
with errcode ≠ 0), an SMTP refusal."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller

WECOM_KEY = "wecom-key-3f2a"
DINGTALK_TOKEN = "dingtalk-token-9c1d"
FEISHU_HOOK = "feishu-hook-77ab"
SECRETS = {"dingtalk": "SECdingtalk-secret-0123456789", "feishu": "feishu-secret-abcdef"}
HOUR_MS = 3600 * 1000

# What each vendor answers when it refuses a message (HTTP 200 and an error code), and when all is well.
VENDOR_REFUSAL = {"wecom": {"errcode": 45009, "errmsg": "api freq out of limit"},
                  "dingtalk": {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"},
                  "feishu": {"code": 11232, "msg": "frequency limited psm[lark.oapi.app_platform_runtime]"}}
VENDOR_OK = {"wecom": {"errcode": 0, "errmsg": "ok"}, "dingtalk": {"errcode": 0, "errmsg": "ok"},
             "feishu": {"code": 0, "msg": "success", "data": {}}}


@dataclass
class Received:
    vendor: str
    query: dict[str, list[str]]
    body: dict[str, Any]


@dataclass
class RobotReceiver:
    """The three robots on one loopback port; `mode[vendor]` is "ok", "http500" or "refuse"."""

    received: list[Received] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    """(vendor, why) of requests the vendor would have refused as malformed or badly signed."""
    mode: dict[str, str] = field(default_factory=lambda: {"wecom": "ok", "dingtalk": "ok", "feishu": "ok"})

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                status, answer = receiver.handle(self.path, self.headers.get("Content-Type", ""),
                                                 self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                data = json.dumps(answer, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> RobotReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self, vendor: str) -> str:
        base = f"http://127.0.0.1:{self.port}"
        return {"wecom": f"{base}/cgi-bin/webhook/send?key={WECOM_KEY}",
                "dingtalk": f"{base}/robot/send?access_token={DINGTALK_TOKEN}",
                "feishu": f"{base}/open-apis/bot/v2/hook/{FEISHU_HOOK}"}[vendor]

    def env(self) -> dict[str, str]:
        """The environment variables the tests' policies name."""
        return {"T_WECOM_URL": self.url("wecom"), "T_DINGTALK_URL": self.url("dingtalk"),
                "T_DINGTALK_SECRET": SECRETS["dingtalk"], "T_FEISHU_URL": self.url("feishu"),
                "T_FEISHU_SECRET": SECRETS["feishu"]}

    def of(self, vendor: str) -> list[Received]:
        return [r for r in self.received if r.vendor == vendor]

    # ---- the vendors' checks ------------------------------------------------------------------------
    def handle(self, path: str, content_type: str, raw: bytes) -> tuple[int, dict[str, Any]]:
        parts = urlsplit(path)
        query = parse_qs(parts.query)
        vendor = ("wecom" if parts.path == "/cgi-bin/webhook/send" else "dingtalk" if parts.path == "/robot/send"
                  else "feishu" if parts.path.startswith("/open-apis/bot/v2/hook/") else "")
        if not vendor:
            return 404, {"error": "no such robot"}
        if self.mode[vendor] == "http500":
            return 500, {"error": "internal error"}
        try:
            body = json.loads(raw.decode("utf-8"))
        except ValueError:
            return self._refuse(vendor, "body is not JSON in UTF-8")
        if not content_type.startswith("application/json"):
            return self._refuse(vendor, f"content type {content_type}")
        why = {"wecom": self._wecom, "dingtalk": self._dingtalk, "feishu": self._feishu}[vendor](parts.path, query,
                                                                                               body)
        if why:
            return self._refuse(vendor, why)
        if self.mode[vendor] == "refuse":
            return 200, VENDOR_REFUSAL[vendor]
        self.received.append(Received(vendor, query, body))
        return 200, VENDOR_OK[vendor]

    def _refuse(self, vendor: str, why: str) -> tuple[int, dict[str, Any]]:
        self.rejected.append((vendor, why))
        if vendor == "feishu":
            return 200, {"code": 19021 if "sign" in why else 9499, "msg": why}
        return 200, {"errcode": 310000 if "sign" in why else 40008, "errmsg": why}

    @staticmethod
    def _wecom(path: str, query: dict[str, list[str]], body: dict[str, Any]) -> str:
        if query.get("key") != [WECOM_KEY]:
            return "invalid webhook url"
        kind = body.get("msgtype")
        if kind == "markdown":
            content = (body.get("markdown") or {}).get("content")
            limit = 4096
        elif kind == "text":
            content = (body.get("text") or {}).get("content")
            limit = 2048
        else:
            return f"invalid message type {kind!r}"
        if not isinstance(content, str) or not content or len(content.encode()) > limit:
            return "content missing or over the limit"
        return ""

    @staticmethod
    def _dingtalk(path: str, query: dict[str, list[str]], body: dict[str, Any]) -> str:
        if query.get("access_token") != [DINGTALK_TOKEN]:
            return "token is not exist"
        timestamp, sign = (query.get("timestamp") or [""])[0], (query.get("sign") or [""])[0]
        if not timestamp.isdigit() or abs(int(timestamp) - time.time() * 1000) > HOUR_MS:
            return "sign: timestamp missing or more than an hour off"
        secret = SECRETS["dingtalk"]
        # As 钉钉 checks it: HMAC-SHA256 keyed with the secret over timestamp + "\n" + secret, base64
        # (parse_qs has already undone the URL encoding).
        expected = base64.b64encode(hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(),
                                             hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(sign, expected):
            return "sign not match"
        kind = body.get("msgtype")
        if kind == "markdown":
            md = body.get("markdown") or {}
            if not md.get("title") or not md.get("text"):
                return "markdown needs title and text"
        elif kind == "text":
            if not (body.get("text") or {}).get("content"):
                return "text needs content"
        else:
            return f"invalid msgtype {kind!r}"
        return ""

    @staticmethod
    def _feishu(path: str, query: dict[str, list[str]], body: dict[str, Any]) -> str:
        if not path.endswith("/" + FEISHU_HOOK):
            return "webhook not found"
        timestamp, sign = str(body.get("timestamp", "")), str(body.get("sign", ""))
        if not timestamp.isdigit() or abs(int(timestamp) - time.time()) > 3600:
            return "sign match fail or timestamp is not within one hour from current time"
        # As 飞书 checks it: HMAC-SHA256 keyed with timestamp + "\n" + secret over an empty message, base64.
        key = f"{timestamp}\n{SECRETS['feishu']}".encode()
        expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(sign, expected):
            return "sign match fail or timestamp is not within one hour from current time"
        kind = body.get("msg_type")
        if kind == "post":
            post = ((body.get("content") or {}).get("post") or {}).get("zh_cn") or {}
            content = post.get("content")
            if not post.get("title") or not isinstance(content, list) or not all(
                    isinstance(p, list) and all(t.get("tag") in ("text", "a", "at", "img") for t in p)
                    for p in content):
                return "post needs title and content: a list of paragraphs of tags"
        elif kind == "text":
            if not (body.get("content") or {}).get("text"):
                return "text needs content.text"
        else:
            return f"unknown msg_type {kind!r}"
        return ""


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.refuse = False

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return "451 4.3.0 Mailbox temporarily unavailable"
        self.messages.append(envelope)
        return "250 OK"


class SmtpServer:
    """A real SMTP server (aiosmtpd) on loopback; `messages` are the envelopes it accepted,
    `refuse = True` answers 451 to every message."""

    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.mailbox = _Mailbox()
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)

    @property
    def messages(self) -> list[Any]:
        return self.mailbox.messages

    @property
    def refuse(self) -> bool:
        return self.mailbox.refuse

    @refuse.setter
    def refuse(self, value: bool) -> None:
        self.mailbox.refuse = value

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def closed_port() -> int:
    """A loopback port nothing listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
