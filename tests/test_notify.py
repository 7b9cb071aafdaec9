"""Notifications end to end on a real database: the outbox written with the events that cause
them (intake, the SLA worker, a reopen), the delivery worker sending over a real SMTP server
(aiosmtpd) and a local receiver of the robots' webhooks that checks their format and
signature as 企业微信, 钉钉 and 飞书 do; retries with growing delays, giving up, an
administrator's retry; one message per cause however often a pass runs."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timedelta
from email import message_from_bytes
from email.policy import default as email_policy

import httpx
import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from triage.case import service as service_
from triage.case.models import Case, CaseEvent
from triage.case.service import IntakeRequest, act, intake_and_suggest, review
from triage.case.worker import run_sla_pass
from triage.notify import service
from triage.notify.models import DeliveryAttempt, Notification
from triage.notify.worker import backoff, run_delivery_pass
from triage.policy.calendar import TZ, WorkCalendar
from triage.policy.clocks import ClockEvent, evaluate
from triage.policy.loader import DEFAULT_POLICY, parse_policy
from triage.policy.model import PolicyError

from .receivers import RobotReceiver, SmtpServer, closed_port
from .record_data import RESOLVE, UNSATISFIED, approve

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=TZ)  # a Monday
SAFETY = "高速上刹车突然失灵，差点追尾，太危险了，要求彻底检查。车主王先生，电话13912345678"
ROUTINE = "发动机异响，希望尽快处理"


def raw_policy() -> dict:
    return yaml.safe_load(DEFAULT_POLICY.read_text(encoding="utf-8"))


def notifications(smtp_port: int) -> dict:
    return {
        "console_url": "http://console.test", "console_url_env": "T_CONSOLE_URL",
        "retry": {"max_attempts": 3, "first_delay": 60, "max_delay": 600},
        "major_intake": [{"severity": ["major"]}, {"flags": ["media", "safety", "legal", "government"]}],
        "channels": {
            "email": {"kind": "smtp", "host": "127.0.0.1", "port": smtp_port, "sender": "triage@dealer.example",
                      "security": "none", "timeout": 5},
            "wecom": {"kind": "wecom", "url_env": "T_WECOM_URL", "timeout": 5},
            "dingtalk": {"kind": "dingtalk", "url_env": "T_DINGTALK_URL", "secret_env": "T_DINGTALK_SECRET",
                         "timeout": 5},
            "feishu": {"kind": "feishu", "url_env": "T_FEISHU_URL", "secret_env": "T_FEISHU_SECRET", "timeout": 5}},
        "recipients": {
            "general_manager": {"events": ["major_intake", "escalated", "suggestion_accuracy_drop"],
                                "to": [{"channel": "email", "address": "gm@dealer.example"}, {"channel": "dingtalk"}]},
            "service_manager": {"events": ["sla_warning", "sla_breach", "reopened"],
                                "to": [{"channel": "email", "address": "sm@dealer.example"}, {"channel": "feishu"}]},
            "service_director": {"events": ["sla_warning", "sla_breach", "escalated", "suggestion_accuracy_drop"],
                                 "to": [{"channel": "wecom"}]}}}


@pytest.fixture(scope="module")
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture(scope="module")
def robots():
    with RobotReceiver() as receiver:
        yield receiver


@pytest.fixture
def places(smtp, robots, monkeypatch):
    """The SMTP server and the robots, emptied and answering, with the environment pointing at them."""
    smtp.messages.clear()
    smtp.refuse = False
    robots.received.clear()
    robots.rejected.clear()
    robots.mode.update(wecom="ok", dingtalk="ok", feishu="ok")
    for name, value in robots.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("T_CONSOLE_URL", raising=False)
    return smtp, robots


@pytest.fixture
def policy(smtp):
    raw = raw_policy()
    raw["notifications"] = notifications(smtp.port)
    return parse_policy(raw)


def outbox(engine, **where) -> list[Notification]:
    with Session(engine, expire_on_commit=False) as s:
        query = select(Notification).order_by(Notification.id)
        for key, value in where.items():
            query = query.where(getattr(Notification, key) == value)
        return list(s.scalars(query))


def deliver(engine, policy, now):
    with Session(engine) as s:
        return run_delivery_pass(db_session=s, policy=policy, now=now)


def new_case(engine, model, policy, text, external_id="A-1"):
    with Session(engine) as s:
        case, _ = intake_and_suggest(db_session=s, request=IntakeRequest("phone", text, T0, external_id=external_id),
                                     model=model, policy=policy, actor="care", now=T0)
        s.commit()
        return case.id


def dispatched(engine, model, policy, external_id="D-1"):
    """A case confirmed as an ordinary after-sales product complaint: 服务经理 responsible, the
    after-sales chain above (服务总监, 总经理); dispatched at T0 + 10 min."""
    case_id = new_case(engine, model, policy, ROUTINE, external_id)
    with Session(engine) as s:
        review(db_session=s, case_id=case_id, reviewer="care", policy=policy, now=T0 + timedelta(minutes=10),
               corrections={"business_line": "after_sales", "category": "product_quality", "severity": "grumble",
                            "flags": []})
        s.commit()
    return case_id


# ---- the policy ------------------------------------------------------------------------------------
def test_the_default_policy_tells_the_general_manager_of_major_cases_and_warns_at_its_shares():
    policy = parse_policy(raw_policy())
    n = policy.notifications
    assert n.roles_for("major_intake") == ["general_manager"]
    assert "general_manager" in n.roles_for("suggestion_accuracy_drop")
    assert service.major_at_intake(policy, {"severity": "major", "flags": []})
    assert service.major_at_intake(policy, {"severity": "complaint", "flags": ["media"]})
    assert not service.major_at_intake(policy, {"severity": "complaint", "flags": ["repeat"]})
    shares = {c.id: c.shares for c in policy.clocks}
    assert shares["close_major"] == (0.5, 0.75) and shares["first_contact"] == (0.8,)
    assert len(n.channels) == 4
    assert all("url" not in c.settings for c in n.channels.values())  # robot URLs and secrets: environment only


@pytest.mark.parametrize(("change", "message"), [
    (lambda n: n["recipients"].update(chief_happiness_officer={"events": ["sla_breach"],
                                                                "to": [{"channel": "wecom"}]}),
     "unknown role 'chief_happiness_officer'"),
    (lambda n: n["recipients"]["service_director"]["to"].append({"channel": "pager"}), "unknown channel 'pager'"),
    (lambda n: n["recipients"]["service_director"]["events"].append("lunch_ready"), "unknown event 'lunch_ready'"),
    (lambda n: n["channels"]["wecom"].update(kind="carrier_pigeon"), "unknown channel kind 'carrier_pigeon'"),
    (lambda n: n["channels"]["wecom"].update(url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=x"),
     "'url' is not a setting of a wecom channel"),
    (lambda n: n["recipients"]["general_manager"]["to"].__setitem__(0, {"channel": "email"}),
     "an e-mail recipient needs an address"),
    (lambda n: n["retry"].update(max_attempts=0), "retry.max_attempts"),
])
def test_mistakes_in_the_notifications_are_reported(change, message):
    raw = raw_policy()
    raw["notifications"] = notifications(2525)
    change(raw["notifications"])
    with pytest.raises(PolicyError, match=message):
        parse_policy(raw)


@pytest.mark.parametrize("shares", [1.2, 0, [0.5, 1], [0.5, "most"], True])
def test_warning_shares_outside_0_and_1_are_refused(shares):
    raw = raw_policy()
    raw["clocks"][0]["warning_at"] = shares
    with pytest.raises(PolicyError, match=r"clocks\[0\] \(handover\)\.warning_at"):
        parse_policy(raw)
    raw = raw_policy()
    raw["warning_at"] = shares
    with pytest.raises(PolicyError, match="warning_at"):
        parse_policy(raw)


def test_a_single_share_still_reads_as_before():
    raw = raw_policy()
    for clock in raw["clocks"]:
        clock.pop("warning_at", None)
    raw.pop("warning_at")
    assert {c.shares for c in parse_policy(raw).clocks} == {(0.8,)}


def test_policy_check_reports_notification_mistakes(tmp_path):
    import subprocess
    import sys

    raw = raw_policy()
    raw["notifications"]["recipients"]["nobody_here"] = {"events": ["lunch_ready"], "to": [{"channel": "pager"}]}
    raw["clocks"][2]["warning_at"] = [0.5, 1.5]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "triage.cli", "policy", "check", str(bad)], capture_output=True,
                         text=True)
    assert run.returncode == 1
    for expected in ("unknown role 'nobody_here'", "unknown event 'lunch_ready'", "unknown channel 'pager'",
                     "warning_at: [0.5, 1.5]"):
        assert expected in run.stderr
    good = subprocess.run([sys.executable, "-m", "triage.cli", "policy", "check", str(DEFAULT_POLICY)],
                          capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "TRIAGE_WECOM_URL": "x"})
    assert good.returncode == 0, good.stderr
    assert "major_intake               general_manager" in good.stdout
    assert "channel dingtalk: TRIAGE_DINGTALK_URL, TRIAGE_DINGTALK_SECRET not set here" in good.stdout
    assert "channel wecom:" not in good.stdout  # its variable is set


def test_each_warning_share_has_its_instant():
    policy = parse_policy(raw_policy())
    clock = next(c for c in policy.clocks if c.id == "handler_form")  # 3 days, warned at 50 % and 75 %
    state = evaluate(clock, [ClockEvent("start", T0)], T0 + timedelta(hours=40), WorkCalendar())
    assert [(w.share, w.at, w.reached) for w in state.warnings] == [
        (0.5, T0 + timedelta(hours=36), True), (0.75, T0 + timedelta(hours=54), False)]
    assert state.warned and state.warning_at == T0 + timedelta(hours=36)


# ---- the outbox, written with its cause -------------------------------------------------------------
def test_a_major_case_is_told_to_the_general_manager_at_intake_in_the_same_transaction(engine, small_model,
                                                                                       policy, places):
    with Session(engine) as s:
        case, _ = intake_and_suggest(db_session=s, request=IntakeRequest("phone", SAFETY, T0, external_id="S-1"),
                                     model=small_model, policy=policy, actor="care", now=T0)
        assert case.suggestion["labels"]["severity"] == "major"
        assert s.scalar(select(func.count()).select_from(Notification)) == 2  # written with the case ...
        s.rollback()  # ... and undone with it
    assert outbox(engine) == []
    case_id = new_case(engine, small_model, policy, SAFETY, "S-2")
    rows = outbox(engine)
    assert {(n.event, n.role, n.channel, n.address, n.state) for n in rows} == {
        ("major_intake", "general_manager", "email", "gm@dealer.example", "pending"),
        ("major_intake", "general_manager", "dingtalk", "", "pending")}
    with Session(engine) as s:
        suggested = s.scalar(select(CaseEvent.id).where(CaseEvent.case_id == case_id, CaseEvent.kind == "suggested"))
    assert {n.case_event_id for n in rows} == {suggested}
    body, number = rows[0].body, rows[0].subject.split("案件 ")[1].split("：")[0]
    # The message: the case number, the labels, the deadline, a link to the console; no personal data.
    assert number.startswith("2026-11-") and "重大投诉" in rows[0].subject
    assert "售后" in body or "销售" in body
    assert "人身安全" in body and "截止：2026-11-" in body
    assert f"(http://console.test/cases/{case_id})" in body
    assert "13912345678" not in body and "王先生" not in body and "车主［姓名］，电话［电话］" in body
    new_case(engine, small_model, policy, ROUTINE, "R-1")
    assert len(outbox(engine)) == 2  # an ordinary complaint is told to nobody at intake


def test_the_console_address_comes_from_the_environment_when_set(engine, small_model, policy, places, monkeypatch):
    monkeypatch.setenv("T_CONSOLE_URL", "https://triage.dealer.example/")
    case_id = new_case(engine, small_model, policy, SAFETY)
    assert {n.link for n in outbox(engine)} == {f"https://triage.dealer.example/cases/{case_id}"}


def test_a_message_that_cannot_be_written_never_refuses_the_intake(engine, small_model, policy, places,
                                                                   monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("template missing")

    monkeypatch.setattr("triage.notify.service.case_message", broken)
    case_id = new_case(engine, small_model, policy, SAFETY)
    with Session(engine) as s:
        case = s.get(Case, case_id)
        assert case.state == "suggested"
        errors = [e.data for e in case.events if e.kind == "notification_error"]
    assert errors == [{"event": "major_intake", "message": "RuntimeError: template missing"}]
    assert outbox(engine) == []


# ---- delivery over every channel ---------------------------------------------------------------------
def test_every_channel_delivers_in_its_vendors_format(engine, small_model, policy, places):
    smtp, robots = places
    case_id = dispatched(engine, small_model, policy)
    with Session(engine) as s:  # every role told of an alert: e-mail, 钉钉, 企业微信
        assert service.enqueue_for_role(db_session=s, policy=policy, event="suggestion_accuracy_drop",
                                        subject="类别准确率 71%，低于模型卡 80%", body="2026-11 类别\n请复核",
                                        key="2026-11", now=T0) == 3
        act(db_session=s, case_id=case_id, action="contact", actor="handler", policy=policy,
            now=T0 + timedelta(hours=1))
        service_.resolve(db_session=s, case_id=case_id, actor="handler", policy=policy,
                         now=T0 + timedelta(hours=2), data=RESOLVE)
        approve(s, case_id, policy, T0 + timedelta(hours=2, minutes=30))
        # The callback unsatisfied reopens the case (through the handling record's own step): the
        # responsible 服务经理 is told by e-mail and 飞书.
        service_.callback(db_session=s, case_id=case_id, actor="care", policy=policy, now=T0 + timedelta(hours=3),
                          data=UNSATISFIED)
        assert s.get(Case, case_id).state == "reopened"
        s.commit()
    done = deliver(engine, policy, T0 + timedelta(hours=3))
    assert [d["did"] for d in done] == ["sent"] * 5, done
    assert robots.rejected == []  # format and signature as each vendor checks them
    assert {m.rcpt_tos[0] for m in smtp.messages} == {"gm@dealer.example", "sm@dealer.example"}
    mail = next(message_from_bytes(m.original_content, policy=email_policy) for m in smtp.messages
                if m.rcpt_tos == ["sm@dealer.example"])
    assert mail["From"] == "triage@dealer.example" and mail["Subject"].startswith("【重新打开】案件 2026-11-")
    assert f"http://console.test/cases/{case_id}" in mail.get_content() and "**" not in mail.get_content()
    [ding] = robots.of("dingtalk")
    assert ding.body["msgtype"] == "markdown" and ding.body["markdown"]["title"].startswith("【建议准确率下降】")
    [wecom] = robots.of("wecom")
    assert wecom.body["msgtype"] == "markdown" and "类别准确率 71%" in wecom.body["markdown"]["content"]
    [feishu] = robots.of("feishu")
    post = feishu.body["content"]["post"]["zh_cn"]
    assert feishu.body["msg_type"] == "post" and post["title"].startswith("【重新打开】")
    assert [{"tag": "a", "text": post["content"][-1][0]["text"], "href": f"http://console.test/cases/{case_id}"}] \
        == post["content"][-1]
    assert {n.state for n in outbox(engine)} == {"sent"}
    assert deliver(engine, policy, T0 + timedelta(hours=4)) == []  # sent once


@pytest.mark.parametrize("vendor", ["wecom", "dingtalk", "feishu"])
@pytest.mark.parametrize("mode", ["http500", "refuse"])
def test_a_refusal_is_retried_with_growing_delays_then_given_up(engine, small_model, policy, places, vendor, mode):
    _, robots = places
    channel = {"wecom": "wecom", "dingtalk": "dingtalk", "feishu": "feishu"}[vendor]
    robots.mode[vendor] = mode
    with Session(engine) as s:
        n_id = service.send_test(db_session=s, policy=policy, channel=channel, address="", actor="admin", now=T0).id
        s.commit()
    now = T0
    for attempt, wait in ((1, 60), (2, 120)):
        [done] = deliver(engine, policy, now)
        assert done["did"] == "retry"
        [n] = outbox(engine)
        assert (n.state, n.attempts, n.next_attempt_at) == ("pending", attempt, now + timedelta(seconds=wait))
        assert deliver(engine, policy, now + timedelta(seconds=wait - 1)) == []  # not before its time
        now += timedelta(seconds=wait)
    [done] = deliver(engine, policy, now)
    assert done["did"] == "failed"
    [n] = outbox(engine)
    assert (n.state, n.attempts, n.next_attempt_at) == ("failed", 3, None)
    expected = "HTTP 500" if mode == "http500" else {"wecom": "errcode 45009", "dingtalk": "errcode 130101",
                                                     "feishu": "code 11232"}[vendor]
    assert expected in n.last_error
    assert "key=" not in n.last_error and "access_token" not in n.last_error  # the robot's key stays secret
    with Session(engine) as s:
        assert [a.ok for a in s.scalars(select(DeliveryAttempt).order_by(DeliveryAttempt.id))] == [False] * 3
        failed = service.list_notifications(db_session=s, state="failed")
        assert [f.id for f in failed] == [n_id]
        # An administrator retries it once the robot answers again: sent at once.
        robots.mode[vendor] = "ok"
        service.retry(db_session=s, notification_id=n_id, actor="admin", now=now)
        s.commit()
    assert [d["did"] for d in deliver(engine, policy, now)] == ["sent"]
    [n] = outbox(engine)
    assert (n.state, n.attempts, n.retried_by) == ("sent", 1, "admin") and len(robots.of(vendor)) == 1


def test_the_delays_double_up_to_the_limit(policy):
    assert [backoff(policy.notifications, n).total_seconds() for n in range(1, 7)] == [60, 120, 240, 480, 600, 600]


def test_a_refused_connection_and_an_smtp_refusal_are_retried(engine, policy, places, monkeypatch):
    smtp, _ = places
    monkeypatch.setenv("T_WECOM_URL", f"http://127.0.0.1:{closed_port()}/cgi-bin/webhook/send?key=k")
    smtp.refuse = True
    with Session(engine) as s:
        for channel, address in (("wecom", ""), ("email", "gm@dealer.example")):
            service.send_test(db_session=s, policy=policy, channel=channel, address=address, actor="admin", now=T0)
        s.commit()
    done = deliver(engine, policy, T0)
    assert [d["did"] for d in done] == ["retry", "retry"]
    errors = {n.channel: n.last_error for n in outbox(engine)}
    assert "cannot reach http://127.0.0.1:" in errors["wecom"] and "refused" in errors["wecom"].lower()
    assert "451" in errors["email"]
    smtp.refuse = False
    assert [d["did"] for d in deliver(engine, policy, T0 + timedelta(minutes=1))] == ["retry", "sent"]
    assert len(smtp.messages) == 1


def test_a_channel_not_configured_fails_at_once_naming_what_is_missing(engine, policy, places, monkeypatch):
    monkeypatch.delenv("T_DINGTALK_SECRET")
    with Session(engine) as s:
        service.send_test(db_session=s, policy=policy, channel="dingtalk", address="", actor="admin", now=T0)
        s.commit()
    assert [d["did"] for d in deliver(engine, policy, T0)] == ["failed"]
    [n] = outbox(engine)
    assert n.last_error == "not configured: set T_DINGTALK_SECRET" and n.attempts == 1


# ---- the SLA worker's messages -------------------------------------------------------------------------
def test_a_breach_tells_the_responsible_role_and_the_escalation_the_next_one_once(engine, small_model, policy,
                                                                                 places):
    smtp, robots = places
    case_id = dispatched(engine, small_model, policy)
    # The worker was down past the warning: the breach alone is told. A pass retried (or a second
    # worker) records nothing twice, and so tells nothing twice.
    for _ in range(2):
        with Session(engine) as s:
            run_sla_pass(db_session=s, policy=policy, now=T0 + timedelta(hours=2, minutes=30))
            s.commit()
    rows = outbox(engine, case_id=case_id)
    assert sorted((n.event, n.role, n.channel) for n in rows) == [
        ("escalated", "service_director", "wecom"),
        ("sla_breach", "service_manager", "email"), ("sla_breach", "service_manager", "feishu")]
    escalated = next(n for n in rows if n.event == "escalated")
    assert "已升级至服务总监" in escalated.subject and "原负责：服务经理" in escalated.body
    # The nearest deadline still running is named: the ordinary complaint's 24 hours from receipt
    # (the escalation report's 24 hours from now come later).
    assert "截止：2026-11-24 10:00" in escalated.body
    for _ in range(2):
        deliver(engine, policy, T0 + timedelta(hours=3))
    assert len(robots.of("feishu")) == 1 and len(robots.of("wecom")) == 1 and len(smtp.messages) == 1


def test_each_warning_share_is_recorded_once_and_the_latest_told(engine, small_model, policy, places):
    stricter = replace(policy, clocks=tuple(replace(c, warning_at=0.5, warnings=(0.5, 0.75))
                                            if c.id == "first_contact" else c for c in policy.clocks))
    case_id = dispatched(engine, small_model, stricter)
    with Session(engine) as s:  # 100 of its 120 minutes: both shares passed while the worker was down
        did = run_sla_pass(db_session=s, policy=stricter, now=T0 + timedelta(minutes=110))
        s.commit()
        assert [d["did"] for d in did] == ["warning", "warning"]
        warnings = [e.data for e in s.get(Case, case_id).events if e.kind == "sla_warning"]
        assert [(w["clock"], w["share"]) for w in warnings] == [("first_contact", 0.5), ("first_contact", 0.75)]
        assert s.get(Case, case_id).next_due_at == T0 + timedelta(minutes=130)  # its breach
        assert run_sla_pass(db_session=s, policy=stricter, now=T0 + timedelta(minutes=115)) == []
    rows = outbox(engine, case_id=case_id)
    assert {n.subject.split("：")[1] for n in rows} == {"处理人首次联系客户已用 75%"} and len(rows) == 2


def test_a_warning_recorded_before_shares_stands_for_all_of_its_clock(engine, small_model, policy, places):
    from triage.case.clocks import recorded_marks

    marks = recorded_marks([CaseEvent(kind="sla_warning", data={"clock": "close_major"})])
    assert marks.warned("close_major", 0.5) and marks.warned("close_major", 0.75)
    assert not marks.warned("handler_form", 0.5) and not marks.breached("close_major")


# ---- workers side by side ----------------------------------------------------------------------------
def test_two_delivery_workers_never_send_a_message_twice(engine, policy, places, monkeypatch):
    """Worker A has read the due messages and not yet marked them taken when worker B passes:
    on PostgreSQL B skips the rows A locked and takes the others; on SQLite B waits for A's
    write lock. Either way each message is sent once."""
    import triage.notify.worker as delivery

    _, robots = places
    with Session(engine) as s:
        for _ in range(4):
            service.send_test(db_session=s, policy=policy, channel="wecom", address="", actor="admin", now=T0)
        s.commit()
    a_has_read, b_is_done = threading.Event(), threading.Event()
    real_update = delivery.update

    def update_after_b(*args):
        if threading.current_thread().name == "A" and not a_has_read.is_set():
            a_has_read.set()
            b_is_done.wait(timeout=3)  # SQLite: B waits for A's lock, so A goes on after a while
        return real_update(*args)

    monkeypatch.setattr(delivery, "update", update_after_b)
    results: dict[str, list] = {}

    def worker(name):
        with Session(engine) as s:
            results[name] = run_delivery_pass(db_session=s, policy=policy, now=T0, batch=2)
        if name == "B":
            b_is_done.set()

    a = threading.Thread(target=worker, args=("A",), name="A")
    a.start()
    assert a_has_read.wait(timeout=30)
    b = threading.Thread(target=worker, args=("B",), name="B")
    b.start()
    for t in (a, b):
        t.join(timeout=60)
    assert sorted(d["id"] for r in results.values() for d in r) == [n.id for n in outbox(engine)]
    assert len(robots.of("wecom")) == 4 and {n.state for n in outbox(engine)} == {"sent"}


# ---- the API ---------------------------------------------------------------------------------------------
def test_the_api_lists_a_cases_log_and_lets_an_administrator_retry(engine, small_model, policy, places,
                                                                   monkeypatch):
    from api.main import create_app
    from triage.auth.tokens import create as create_token

    from .live import LiveServer

    _, robots = places
    monkeypatch.delenv("T_DINGTALK_URL")  # the general manager's robot fails at once
    case_id = new_case(engine, small_model, policy, SAFETY)
    assert [d["did"] for d in deliver(engine, policy, T0)] == ["sent", "failed"]
    with Session(engine) as s:
        tokens = {role: create_token(db_session=s, name=f"{role}-1", role=role, now=T0)
                  for role in ("admin", "customer_care", "handler")}
        s.commit()
    with LiveServer(create_app(engine, lambda: small_model, policy, lambda: T0)) as server:
        def call(role, method, path):
            return httpx.request(method, f"{server.url}{path}", headers={"Authorization": f"Bearer {tokens[role]}"},
                                 timeout=30)

        log = call("customer_care", "GET", f"/v1/cases/{case_id}/notifications").json()["notifications"]
        assert [(n["channel"], n["state"]) for n in log] == [("email", "sent"), ("dingtalk", "failed")]
        assert log[1]["attempt_log"][0]["error"] == "not configured: set T_DINGTALK_URL"
        assert call("handler", "GET", f"/v1/cases/{case_id}/notifications").status_code == 404  # not theirs
        assert call("customer_care", "GET", "/v1/notifications?state=failed").status_code == 403
        assert call("admin", "GET", "/v1/notifications?state=lost").status_code == 400
        failed = call("admin", "GET", "/v1/notifications?state=failed").json()["notifications"]
        assert [n["id"] for n in failed] == [log[1]["id"]]
        monkeypatch.setenv("T_DINGTALK_URL", robots.url("dingtalk"))
        retried = call("admin", "POST", f"/v1/notifications/{log[1]['id']}/retry")
        assert retried.status_code == 200 and retried.json()["state"] == "sent"
        assert [a["ok"] for a in retried.json()["attempt_log"]] == [False, True]
        again = call("admin", "POST", f"/v1/notifications/{log[1]['id']}/retry")
        assert again.status_code == 409 and again.headers["content-type"].startswith("application/problem+json")
        assert call("admin", "GET", "/v1/notifications/2147483647").status_code == 404
    assert len(robots.of("dingtalk")) == 1


def test_an_alert_about_no_case_is_sent_once_per_key(engine, policy, places):
    with Session(engine) as s:
        args = {"db_session": s, "policy": policy, "event": "suggestion_accuracy_drop", "subject": "准确率下降",
                "body": "类别 71%", "key": "2026-11:category", "now": T0}
        assert service.enqueue_for_role(**args, role="service_director") == 1
        assert service.enqueue_for_role(**args) == 2  # the general manager's two; the director's was written
        assert service.enqueue_for_role(**args) == 0
        assert service.enqueue_for_role(**{**args, "key": "2026-12:category"}, role="service_manager") == 0
        s.commit()
    assert {(n.role, n.channel) for n in outbox(engine)} == {("service_director", "wecom"),
                                                             ("general_manager", "email"),
                                                             ("general_manager", "dingtalk")}
