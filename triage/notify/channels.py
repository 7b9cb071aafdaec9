"""The channels a message goes out on, each in its vendor's documented format:

- e-mail over SMTP (smtplib; plain text, UTF-8; STARTTLS or SSL, and a login, as the policy says);
- 企业微信 group robot: POST {"msgtype": "markdown", "markdown": {"content": …}} (or "text") to
  the webhook URL; it answers HTTP 200 with {"errcode": 0, "errmsg": "ok"}, and a refusal with
  HTTP 200 too and another errcode;
- 钉钉 custom robot: POST {"msgtype": "markdown", "markdown": {"title": …, "text": …}} (or
  "text"); signed ("加签"): timestamp in milliseconds, HMAC-SHA256 keyed with the secret over
  `timestamp + "\\n" + secret`, base64, URL-encoded, sent as `&timestamp=…&sign=…`; the answer
  is an errcode as 企业微信's;
- 飞书 custom bot: POST {"msg_type": "post", "content": {"post": {"zh_cn": {"title", "content"}}}}
  (or "text"), signed ("签名校验"): timestamp in seconds, HMAC-SHA256 keyed with
  `timestamp + "\\n" + secret` over an empty message, base64, in the body as `timestamp` and
  `sign`; it answers {"code": 0, …}, a refusal with another code.

Endpoints and secrets come from the environment variables the policy names, read at each
send. Every failure is a DeliveryError, whose text is what the delivery log keeps: it never
holds a secret (robot URLs carry their key, so only their host is named)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import smtplib
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from triage.policy.model import NotifyChannel

TIMEOUT = 10.0
"""Seconds a channel may take to answer, unless the policy gives the channel its own `timeout`."""
WECOM_MARKDOWN_BYTES, WECOM_TEXT_BYTES = 4096, 2048
"""企业微信's limits on a message's content, in UTF-8 bytes."""
ANSWER_BYTES = 65536
_LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]+)\)")


class DeliveryError(Exception):
    """The channel did not take the message; retried later, unless `permanent`."""

    permanent = False


class NotConfigured(DeliveryError):
    """The channel lacks a setting (an environment variable is not set): trying again cannot
    help until someone sets it, so the message fails at once."""

    permanent = True


def send(channel: NotifyChannel, address: str, subject: str, body: str) -> None:
    """Deliver one message over `channel` to `address` (an e-mail address; empty for a robot)."""
    senders = {"smtp": send_email, "wecom": send_wecom, "dingtalk": send_dingtalk, "feishu": send_feishu}
    senders[channel.kind](channel.settings, address, subject, body)


def setting(settings: dict[str, Any], key: str, required: bool = True) -> str:
    """A channel's setting: the environment variable `<key>_env` names, where set, else the
    policy's own `<key>`; NotConfigured when a required one is missing."""
    name = settings.get(f"{key}_env")
    value = os.environ.get(name, "") if name else ""
    value = value or str(settings.get(key) or "")
    if required and not value:
        raise NotConfigured(f"not configured: set {name}" if name else f"not configured: no {key}")
    return value


def missing_settings(channel: NotifyChannel) -> list[str]:
    """The environment variables a channel needs that are not set here (for the policy check
    and the administrator's page)."""
    required = {"smtp": ("host", "sender"), "wecom": ("url",), "dingtalk": ("url",), "feishu": ("url",)}
    needed = [*required[channel.kind], *(("secret",) if "secret_env" in channel.settings else ())]
    out = []
    for key in needed:
        try:
            setting(channel.settings, key)
        except NotConfigured:
            out.append(str(channel.settings.get(f"{key}_env") or key))
    return out


# ---- rendering -------------------------------------------------------------------------------------
def plain_text(body: str) -> str:
    """The body without Markdown: bold marks dropped, a link as its text and address."""
    return _LINK.sub(lambda m: f"{m.group(1)}：{m.group(2)}", body.replace("**", ""))


def _cut(text: str, limit: int) -> str:
    """`text` within `limit` UTF-8 bytes, cut at a character."""
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    return raw[:limit - 3].decode("utf-8", errors="ignore") + "…"


def _timeout(settings: dict[str, Any]) -> float:
    return float(settings.get("timeout") or TIMEOUT)


# ---- e-mail ----------------------------------------------------------------------------------------
def send_email(settings: dict[str, Any], address: str, subject: str, body: str) -> None:
    security = str(settings.get("security") or "none")
    host = setting(settings, "host")
    sender = setting(settings, "sender")
    port_text = setting(settings, "port", required=False)
    default_port = {"ssl": 465, "starttls": 587}.get(security, 25)
    try:
        port = int(port_text) if port_text else default_port
    except ValueError:
        raise NotConfigured(f"not configured: the SMTP port {port_text!r} is not a number") from None
    user = setting(settings, "username", required=False)
    password = setting(settings, "password", required=False) if user else ""
    if not address:
        raise NotConfigured("an e-mail needs an address")
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = address
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(plain_text(body), charset="utf-8")
    try:
        smtp_class = smtplib.SMTP_SSL if security == "ssl" else smtplib.SMTP
        kwargs: dict[str, Any] = {"context": ssl.create_default_context()} if security == "ssl" else {}
        with smtp_class(host, port, timeout=_timeout(settings), **kwargs) as smtp:
            if security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if user:
                smtp.login(user, password)
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        answers = "; ".join(f"{code} {text.decode(errors='replace')}" for code, text in exc.recipients.values())
        raise DeliveryError(f"SMTP {host}:{port} refused the recipient: {answers}") from None
    except smtplib.SMTPResponseException as exc:
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        raise DeliveryError(f"SMTP {host}:{port} answered {exc.smtp_code} {text}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP {host}:{port}: {type(exc).__name__}: {exc}") from None


# ---- the group robots ------------------------------------------------------------------------------
def _where(url: str) -> str:
    """A robot's URL as the log names it: its host alone (the rest carries the robot's key)."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def post_json(url: str, payload: dict[str, Any], timeout: float) -> dict[str, Any]:
    """POST `payload` as JSON; the JSON answer, or DeliveryError for any other outcome."""
    data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=data, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read(ANSWER_BYTES)
    except urllib.error.HTTPError as exc:
        detail = exc.read(300).decode("utf-8", errors="replace").strip()
        raise DeliveryError(f"{_where(url)} answered HTTP {exc.code} {exc.reason}"
                            + (f": {detail}" if detail else "")) from None
    except urllib.error.URLError as exc:
        raise DeliveryError(f"cannot reach {_where(url)}: {exc.reason}") from None
    except (OSError, ValueError) as exc:  # a timeout, a connection cut, a URL that is none
        raise DeliveryError(f"cannot reach {_where(url)}: {type(exc).__name__}: {exc}") from None
    try:
        answer = json.loads(raw)
    except ValueError:
        raise DeliveryError(f"{_where(url)} answered with no JSON: {raw[:200]!r}") from None
    if not isinstance(answer, dict):
        raise DeliveryError(f"{_where(url)} answered {answer!r}")
    return answer


def _errcode(answer: dict[str, Any], vendor: str, url: str) -> None:
    """企业微信 and 钉钉 refuse with HTTP 200 and an errcode other than 0."""
    if answer.get("errcode") != 0:
        raise DeliveryError(f"{vendor} {_where(url)} refused: errcode {answer.get('errcode')} "
                            f"{answer.get('errmsg', '')}".rstrip())


def send_wecom(settings: dict[str, Any], address: str, subject: str, body: str) -> None:
    url = setting(settings, "url")
    if settings.get("msgtype", "markdown") == "text":
        payload: dict[str, Any] = {"msgtype": "text", "text": {"content": _cut(plain_text(body), WECOM_TEXT_BYTES)}}
    else:
        payload = {"msgtype": "markdown", "markdown": {"content": _cut(body, WECOM_MARKDOWN_BYTES)}}
    _errcode(post_json(url, payload, _timeout(settings)), "企业微信", url)


def dingtalk_sign(secret: str, timestamp: str) -> str:
    """钉钉's 加签: base64 of HMAC-SHA256 (key: the secret) of `timestamp + "\\n" + secret`, URL-encoded."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest))


def send_dingtalk(settings: dict[str, Any], address: str, subject: str, body: str) -> None:
    url = setting(settings, "url")
    if "secret_env" in settings:
        secret = setting(settings, "secret")
        timestamp = str(round(time.time() * 1000))  # the robot refuses a timestamp an hour off its clock
        url = f"{url}{'&' if '?' in url else '?'}timestamp={timestamp}&sign={dingtalk_sign(secret, timestamp)}"
    if settings.get("msgtype", "markdown") == "text":
        payload: dict[str, Any] = {"msgtype": "text", "text": {"content": plain_text(body)}}
    else:
        # 钉钉's Markdown breaks lines only at blank lines.
        payload = {"msgtype": "markdown", "markdown": {"title": subject, "text": body.replace("\n", "\n\n")}}
    _errcode(post_json(url, payload, _timeout(settings)), "钉钉", url)


def feishu_sign(secret: str, timestamp: str) -> str:
    """飞书's 签名校验: base64 of HMAC-SHA256 keyed with `timestamp + "\\n" + secret` over an empty message."""
    return base64.b64encode(hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()).decode()


def feishu_post(subject: str, body: str) -> dict[str, Any]:
    """The body as a 飞书 rich-text post: the title, a paragraph per line, the link as a link."""
    lines = body.splitlines()
    if lines and lines[0].startswith("**"):
        lines = lines[1:]  # the bold title line is the post's title
    content: list[list[dict[str, str]]] = []
    for line in lines:
        link = _LINK.fullmatch(line.strip())
        if link:
            content.append([{"tag": "a", "text": link.group(1), "href": link.group(2)}])
        else:
            content.append([{"tag": "text", "text": plain_text(line)}])
    return {"post": {"zh_cn": {"title": subject, "content": content}}}


def send_feishu(settings: dict[str, Any], address: str, subject: str, body: str) -> None:
    url = setting(settings, "url")
    payload: dict[str, Any] = {}
    if "secret_env" in settings:
        secret = setting(settings, "secret")
        timestamp = str(int(time.time()))  # seconds; refused an hour off the bot's clock
        payload.update(timestamp=timestamp, sign=feishu_sign(secret, timestamp))
    if settings.get("msgtype", "post") == "text":
        payload.update(msg_type="text", content={"text": plain_text(body)})
    else:
        payload.update(msg_type="post", content=feishu_post(subject, body))
    answer = post_json(url, payload, _timeout(settings))
    # Its answer is {"code": 0, "msg": "success", …}; older bots answered {"StatusCode": 0, …}.
    code = answer.get("code", answer.get("StatusCode"))
    if code != 0:
        why = answer.get("msg", answer.get("StatusMessage", ""))
        raise DeliveryError(f"飞书 {_where(url)} refused: code {code} {why}".rstrip())
