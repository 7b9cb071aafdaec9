"""A complete handling record (issue 14), for the tests that take a case through its lifecycle:
what the default policy requires at each step of any case."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from triage.case import service
from triage.policy.model import Policy

RESOLVE = {"investigation": "到店检查属实", "reply": "已向客户致歉并说明处理方案", "handling_opinion": "免费检修",
           "corrective_action": "加强交车前检查", "cause": "quality", "responsibility_class": "product",
           "responsible_department": "after_sales", "responsible_person": "张师傅", "valid": True}
REVIEW = {"approved": True, "review_opinion": "同意处理意见", "long_term_measure": "每月复盘同类抱怨"}
SATISFIED = {"satisfaction": "satisfied", "customer_words": "处理及时，满意"}
UNSATISFIED = {"satisfaction": "unsatisfied", "customer_words": "问题还在"}


def approve(s: Session, case_id: int, policy: Policy, now: datetime, reviewer: str = "manager") -> None:
    """The manager approves the handling opinion of a resolved case (002-B 五 4)."""
    service.review_opinion(db_session=s, case_id=case_id, reviewer=reviewer, policy=policy, now=now, data=REVIEW)
