"""The console's notifications in headless Chromium: the administrator's page (recipients and
channels from the policy, delivery counts, a test message that reaches the local robot, a
failed message retried), and the delivery log on a case's page. The default policy, its
robots pointed by the environment at a local receiver that checks format and signature."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from triage.notify.worker import run_delivery_pass

from .receivers import SECRETS, RobotReceiver
from .test_console_e2e import START, browser, console, sign_in  # noqa: F401 - fixtures

ROBOT_ENV = ("TRIAGE_WECOM_URL", "TRIAGE_DINGTALK_URL", "TRIAGE_DINGTALK_SECRET", "TRIAGE_FEISHU_URL",
             "TRIAGE_FEISHU_SECRET", "TRIAGE_SMTP_HOST", "TRIAGE_SMTP_SENDER", "TRIAGE_SMTP_PORT")


@pytest.fixture
def robots(monkeypatch):
    for name in ROBOT_ENV:
        monkeypatch.delenv(name, raising=False)
    with RobotReceiver() as receiver:
        monkeypatch.setenv("TRIAGE_DINGTALK_URL", receiver.url("dingtalk"))
        monkeypatch.setenv("TRIAGE_DINGTALK_SECRET", SECRETS["dingtalk"])
        yield receiver


def test_the_administrator_sends_a_test_message_and_retries_a_failed_one(console, robots, monkeypatch):  # noqa: F811
    url, _, _, _, new_page, _ = console
    page = new_page("admin")
    page.goto(f"{url}/admin/notifications")
    # Recipients per role and channel, from the policy; the channels not configured here named.
    recipients = page.locator("#recipients")
    assert "总经理" in recipients.inner_text() and "general.manager@dealer.example" in recipients.inner_text()
    assert "已配置" in page.locator("#channels tr[data-channel=dingtalk]").inner_text()
    assert "TRIAGE_WECOM_URL" in page.locator("#channels tr[data-channel=wecom]").inner_text()
    # The seeded safety complaint is major: its general manager's messages wait in the outbox.
    assert page.locator("#counts .kpi[data-state=pending] b").inner_text() == "2"

    page.select_option("#test-form select[name=channel]", "dingtalk")
    page.click("#test-form button[type=submit]")
    page.wait_for_url(f"{url}/admin/notifications?done=test_sent")
    assert page.locator(".flash").inner_text() == "测试消息已送达"
    [test] = robots.of("dingtalk")
    assert test.body["markdown"]["title"].startswith("【测试消息】") and robots.rejected == []

    # The 企业微信 robot is not configured: its test message fails at once and is listed.
    page.select_option("#test-form select[name=channel]", "wecom")
    page.click("#test-form button[type=submit]")
    page.wait_for_url(f"{url}/admin/notifications?done=test_failed")
    failed = page.locator("#failed tr.notification")
    assert failed.count() == 1 and "TRIAGE_WECOM_URL" in failed.inner_text()
    assert page.locator("#counts .kpi[data-state=failed] b").inner_text() == "1"
    # Configured now: the retry button sends it.
    monkeypatch.setenv("TRIAGE_WECOM_URL", robots.url("wecom"))
    failed.locator("button.retry").click()
    page.wait_for_url(f"{url}/admin/notifications?done=retried")
    assert page.locator(".flash").inner_text() == "已重新发送"
    assert page.locator("#failed tr.notification").count() == 0
    assert len(robots.of("wecom")) == 1 and robots.rejected == []
    assert page.locator("#counts .kpi[data-state=sent] b").inner_text() == "2"
    # Only administrators see the page.
    manager = new_page("manager")
    assert manager.goto(f"{url}/admin/notifications").status == 403
    assert manager.locator("a[href='/admin/notifications']").count() == 0


def test_a_cases_page_shows_its_delivery_log(console, robots):  # noqa: F811
    url, _, ids, engine, new_page, policy = console
    page = new_page("manager")
    page.goto(f"{url}/cases/{ids['safety']}")
    rows = page.locator("#notifications tr.notification")
    assert rows.count() == 2  # the general manager's e-mail and 钉钉 robot, at intake
    assert all("重大投诉" in t and "总经理" in t and "待发送" in t for t in rows.all_inner_texts())
    with Session(engine) as s:
        run_delivery_pass(db_session=s, policy=policy, now=START + timedelta(minutes=1))
    page.reload()
    ding = page.locator("#notifications tr.notification", has_text="钉钉机器人")
    mail = page.locator("#notifications tr.notification", has_text="电子邮件")
    assert "已送达" in ding.inner_text()
    assert "发送失败" in mail.inner_text() and "渠道未配置" in mail.inner_text()  # TRIAGE_SMTP_HOST is not set
    assert "重大投诉" in robots.of("dingtalk")[0].body["markdown"]["title"]
    # A routine case told nobody.
    page.goto(f"{url}/cases/{ids['routine']}")
    assert page.locator("#notifications").count() == 0
    assert "没有关于此案件的通知" in page.locator("#delivery").inner_text()
