"""Cases and accounts for the console tests: intake through the domain service, as the
hotline or the OEM system would, with the suggestion made by the model under test."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from triage.auth.service import create_account
from triage.case import service
from triage.policy.model import Policy

PASSWORD = "correct-horse-9"
ACCOUNTS = [("care", "李关爱", "customer_care"), ("handler1", "张师傅", "handler"),
            ("manager", "王经理", "manager"), ("admin", "管理员", "admin")]

COMPLAINTS = {
    "routine": ("phone", "销售顾问态度很差，问了几次都爱答不理，交车时也没有讲解功能"),
    "safety": ("oem_ticket", "高速上刹车突然失灵，差点追尾，太危险了，要求彻底检查"),
    # The served model must be unsure of one head of "quality" (test_console_e2e's choices test):
    # sklearn-20261202T081629Z reads it as sales at 0.42 (a new car: sold so, or a defect?). It reads
    # "新车刚提两个月空调就不制冷了，来店检测说是压缩机问题", told by the customer, as after-sales at 0.69.
    "quality": ("walk_in", "刚提的新车空调不制冷，店里说要等配件"),
    "xss": ("web", "<script>window.__xss = 1</script><img src=x onerror=\"window.__xss = 2\">发动机异响，"
                   "电话13912345678"),
}


def seed(engine, policy: Policy, model, at: datetime) -> dict[str, int]:
    """Accounts, and one suggested case per complaint; returns case ids by key."""
    ids = {}
    with Session(engine) as s:
        for username, name, role in ACCOUNTS:
            create_account(db_session=s, username=username, display_name=name, role=role, password=PASSWORD,
                           now=at)
        for key, (channel, text) in COMPLAINTS.items():
            request = service.IntakeRequest(
                channel=channel, text=text, received_at=at, external_id=f"T-{key}", customer_name="王小明",
                customer_phone="13912345678", plate="粤B12345", vin="LSVAB2180E2123456")
            case, _ = service.intake_and_suggest(db_session=s, request=request, model=model, policy=policy,
                                                 actor="hotline", now=at)
            ids[key] = case.id
        s.commit()
    return ids


def as_suggested(db_session: Session, case_id: int) -> dict[str, str]:
    """The choices a reviewer makes who picks the model's own labels: needed for the heads the
    policy offers as choices (an acceptance without them is refused); the same as accepting."""
    suggestion = service.get(db_session=db_session, case_id=case_id).suggestion or {}
    return {h: suggestion["labels"][h] for h, shown in (suggestion.get("display") or {}).items() if shown == "choices"}
