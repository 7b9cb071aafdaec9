"""The handling record's steps (issue 14): the handler resolves with the record, the manager reviews
the handling opinion, customer care calls the customer back. Each is refused with a 422 naming
the fields the policy requires of the case and the body lacks (`missing`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from api.deps import DbSession, Now, PermissionsDependency, PolicyDep, PrimaryKey
from api.errors import problems
from api.schemas import CallbackIn, CaseOut, OpinionReviewIn, ResolveIn
from triage.auth.permissions import OPINION_REVIEWERS, User, roles_that_may
from triage.case import service
from triage.case.views import case_view

router = APIRouter()

Resolver = Annotated[User, Depends(PermissionsDependency(roles_that_may("resolve")))]
Reviewer = Annotated[User, Depends(PermissionsDependency(OPINION_REVIEWERS))]
Caller = Annotated[User, Depends(PermissionsDependency(roles_that_may("callback")))]
_ERRORS = problems(400, 401, 403, 404, 409, 413, 422)


def _fields(body: ResolveIn | OpinionReviewIn | CallbackIn) -> dict[str, Any]:
    """The fields the client sent: one left out keeps what the record holds (a case resolved again)."""
    return body.model_dump(exclude={"version"}, exclude_unset=True)


@router.post("/v1/cases/{case_id}/resolve", summary="The handler returns the form with the handling record "
             "(002-A §8-2); 422 names each field the case's type requires and the body lacks",
             response_model=CaseOut, responses=_ERRORS)
def resolve(case_id: PrimaryKey, body: ResolveIn, db_session: DbSession, user: Resolver, policy: PolicyDep,
            now: Now) -> dict[str, Any]:
    service.get_visible(db_session=db_session, case_id=case_id, user=user)
    case = service.resolve(db_session=db_session, case_id=case_id, actor=user.name, policy=policy, now=now,
                           expected_version=body.version, data=_fields(body))
    return case_view(case, user, now)


@router.post("/v1/cases/{case_id}/opinion-review", summary="The manager approves the handling opinion, or sends "
             "it back to the handler (002-B 五 4)", response_model=CaseOut, responses=_ERRORS)
def review_opinion(case_id: PrimaryKey, body: OpinionReviewIn, db_session: DbSession, user: Reviewer,
                   policy: PolicyDep, now: Now) -> dict[str, Any]:
    case = service.review_opinion(db_session=db_session, case_id=case_id, reviewer=user.name, policy=policy, now=now,
                                  expected_version=body.version,
                                  data=_fields(body))
    return case_view(case, user, now)


@router.post("/v1/cases/{case_id}/callback", summary="Customer care records the callback: satisfaction and the "
             "customer's words; not satisfied goes back to the responsible department (002-A §7, §8-2)",
             response_model=CaseOut, responses=_ERRORS)
def callback(case_id: PrimaryKey, body: CallbackIn, db_session: DbSession, user: Caller, policy: PolicyDep,
             now: Now) -> dict[str, Any]:
    service.get_visible(db_session=db_session, case_id=case_id, user=user)
    case = service.callback(db_session=db_session, case_id=case_id, actor=user.name, policy=policy, now=now,
                            expected_version=body.version, data=_fields(body))
    return case_view(case, user, now)
