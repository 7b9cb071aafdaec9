"""The JSON API's bodies: what a client sends (…In) and what each route answers (…Out).

The responses are exactly the JSON the routes always returned, key for key: times are the
ISO strings `.isoformat()` makes ("2026-11-23T01:30:00+00:00"), hence `str`, not `datetime`
(which pydantic would print with "Z"); the free-form parts (a model's classification, a
policy's routing, labels, event data, report sections, the model card) are passed through
as they are. Keys that a route leaves out (routing without a channel, the fields of an error
item) are left unset, and the route answers with `response_model_exclude_unset`.

A request body with a field the API does not know is refused (422), not ignored: a typo
such as `recieved_at` would otherwise be a request that silently means something else.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from triage.policy.calendar import TZ

MAX_BATCH = 1000

RECEIVED_FROM = datetime(2000, 1, 1, tzinfo=TZ)
RECEIVED_UNTIL = datetime(2100, 1, 1, tzinfo=TZ)
"""The instants a complaint may be received at: the calendar places them (statutory holidays,
working days, the clocks' deadlines), and their UTC and local forms stay within what a
datetime and the database hold. Year 1 or 9999 is a client's mistake, answered as one."""


def _placeable(value: datetime) -> datetime:
    # A naive time passes: the services answer that it needs its zone (400), as they always did.
    if value.tzinfo is not None and not RECEIVED_FROM <= value < RECEIVED_UNTIL:
        raise ValueError(f"must be from {RECEIVED_FROM.isoformat()} up to (not including) "
                         f"{RECEIVED_UNTIL.isoformat()}")
    return value


ReceivedAt = Annotated[datetime, AfterValidator(_placeable)]
_RECEIVED_AT = (f"When the complaint was received: ISO 8601 with its UTC offset, from {RECEIVED_FROM.isoformat()} "
                f"up to (not including) {RECEIVED_UNTIL.isoformat()}; outside that range the request is a 422.")


class Problem(BaseModel):
    """An error (RFC 9457, application/problem+json)."""

    type: str = Field(description='"about:blank": the status and title say what kind of error it is')
    title: str
    status: int
    detail: str = Field(description="What was wrong, for a person to read")


# ---- requests ----------------------------------------------------------------------------------
class StrictIn(BaseModel):
    """A request body: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


class TriageIn(StrictIn):
    text: str = Field(max_length=100_000)
    channel: str | None = Field(default=None, description="Without a channel the text is classified, not routed")
    received_at: ReceivedAt | None = Field(default=None, description=_RECEIVED_AT + " Default: now.",
                                           examples=["2026-11-23T10:00:00+08:00"])


class BatchItem(TriageIn):
    id: str


class BatchIn(StrictIn):
    items: list[BatchItem] = Field(max_length=MAX_BATCH)


class IntakeIn(StrictIn):
    channel: str
    text: str = Field(max_length=100_000)
    received_at: ReceivedAt = Field(description=_RECEIVED_AT, examples=["2026-11-23T10:00:00+08:00"])
    external_id: str | None = Field(default=None, max_length=120)
    customer_name: str | None = Field(default=None, max_length=100)
    customer_phone: str | None = Field(default=None, max_length=40)
    plate: str | None = Field(default=None, max_length=20)
    vin: str | None = Field(default=None, max_length=17)
    in_warranty: bool | None = None


class IntakeBatchIn(StrictIn):
    items: list[IntakeIn] = Field(max_length=MAX_BATCH)


class AssignIn(StrictIn):
    assignee: str = Field(min_length=1, max_length=100)
    version: int | None = None


class ReviewIn(StrictIn):
    version: int
    corrections: dict[str, Any] | None = Field(default=None, description=(
        "Labels (business_line, category, severity, flags) or responsible_role the reviewer sets; "
        "none accepts the suggestion. A head the suggestion offered as choices (suggestion.display) "
        "must be given here: accepting it without a choice is a 422 naming the head."))


class RelabelIn(StrictIn):
    version: int | None = None
    corrections: dict[str, Any] = Field(description="The labels to change (business_line, category, severity, "
                                                    "flags)")


class ActionIn(StrictIn):
    version: int | None = None
    data: dict[str, Any] = Field(default_factory=dict)


# ---- requests: the handling record (issue 14) --------------------------------------------------------
# The lists (causes, responsibility classes, departments, satisfaction levels) and which fields a case
# must hold at each step are the policy's (record: in triage/policy/default.yaml): a value outside its
# list, or a field the case's type requires left out, is a 422 naming each field (`missing`).
_TEXT = 4000
_LISTS = "the policy's record lists"


class ResolveIn(StrictIn):
    """The handler returns the form (002-A §8-2), within the 3-day clock handler_form."""

    version: int | None = None
    investigation: str | None = Field(default=None, max_length=_TEXT, description="事情经过调查: what was found")
    reply: str | None = Field(default=None, max_length=_TEXT, description="回复客户: the reply given to the customer")
    handling_opinion: str | None = Field(default=None, max_length=_TEXT,
                                         description="处理意见: the handling decided (处理对策及方案)")
    corrective_action: str | None = Field(default=None, max_length=_TEXT,
                                          description="纠正及改进措施 (002-A §8-2); required of a valid complaint")
    cause: str | None = Field(default=None, max_length=40, description=(
        f"抱怨原因 (002-B 五 3), one of {_LISTS} `causes`; default: quality, attitude, misuse, delivery_defect, "
        "other"), examples=["attitude"])
    evidence: str | None = Field(default=None, max_length=_TEXT,
                                 description="证据: required when the cause is customer misuse (002-B 五 3)")
    responsibility_class: str | None = Field(default=None, max_length=40, description=(
        f"责任分类 (002-C 五), one of {_LISTS} `responsibility_classes`; default: attitude, process, management, "
        "skill, product"), examples=["process"])
    responsible_department: str | None = Field(default=None, max_length=60, description=(
        f"责任部门 (002-B 五 4), one of {_LISTS} `departments`; default: sales, after_sales, workshop, parts, "
        "customer_care, oem"), examples=["sales"])
    responsible_person: str | None = Field(default=None, max_length=100, description="责任人 (002-B 五 4)")
    valid: bool | None = Field(default=None, description="有效投诉 (true) or 无效投诉 (false) (001 第六条)")
    invalid_reason: str | None = Field(default=None, max_length=_TEXT,
                                       description="无效原因: required of an invalid complaint")
    note: str | None = Field(default=None, max_length=2000)


class OpinionReviewIn(StrictIn):
    """The manager reviews the handling opinion before the callback (002-B 五 4)."""

    version: int | None = None
    approved: bool | None = Field(default=None, description="true: approved, the case awaits its callback; false: "
                                  "sent back to the handler (form_rejected, corrected within 24 hours)")
    review_opinion: str | None = Field(default=None, max_length=_TEXT, description="经理审核意见")
    long_term_measure: str | None = Field(default=None, max_length=_TEXT, description=(
        "长效措施 (002-E 七 11, 002-F 2.1.1): required of a repeated complaint; listed with the period's "
        "repeated complaints of its kind"))
    note: str | None = Field(default=None, max_length=2000)


class CallbackIn(StrictIn):
    """Customer care calls the customer back (002-A §7, §8-2)."""

    version: int | None = None
    satisfaction: str | None = Field(default=None, max_length=40, description=(
        f"回访满意度, one of {_LISTS} `satisfaction`; default: satisfied (满意), fairly_satisfied (基本满意), "
        "unsatisfied (不满意: back to the responsible department within 24 hours)"), examples=["satisfied"])
    customer_words: str | None = Field(default=None, max_length=_TEXT, description=(
        "客户对处理结果的意见, in the customer's words (masked for the roles that do not see personal data)"))
    note: str | None = Field(default=None, max_length=2000)


# ---- responses: triage -------------------------------------------------------------------------
class Alternative(BaseModel):
    label: str
    p: float = Field(description="The model's probability of the class")


class Alternatives(BaseModel):
    """Per head, the model's most probable classes, up to three, best first: for a reviewer to
    pick from in one click. The suggested label need not be the first (the decision biases and
    the major rule may choose another)."""

    business_line: list[Alternative]
    category: list[Alternative]
    severity: list[Alternative]


class EvidenceOut(BaseModel):
    """Where in the text a label comes from (triage.classify.prediction.Evidence)."""

    model_config = ConfigDict(extra="allow")

    head: str = Field(description="business_line, category, severity, or flags.<flag>")
    label: str
    start: int = Field(description="offset into the original text, in characters")
    end: int = Field(description="end offset, exclusive")
    text: str = Field(description="the original characters at [start, end), personal data named by kind ([车牌])")
    feature: str = Field(description='a word ("w:销售"), characters ("c:漏油"), a flag cue ("cue:safety:brakes"), '
                                     'or "clause": on a long text, the clause that decided the head (shown first)')
    weight: float = Field(description="the feature's push toward the label; a clause's: its share of the push, 0 to 1")


class Classification(BaseModel):
    """What the model says about one text (triage.classify.prediction.Prediction)."""

    model_config = ConfigDict(extra="allow")

    id: str
    business_line: str
    category: str
    severity: str
    flags: list[str]
    confidence: dict[str, Any]
    alternatives: Alternatives
    evidence: list[EvidenceOut]
    low_confidence: list[str]
    rules: list[str]
    model: str


Display = Literal["prefilled", "choices"]


class SuggestionOut(BaseModel):
    """The suggestion a case was given: the model's labels, confidences and alternatives, how
    each head is shown to the reviewer (`display`, chosen by the policy: "prefilled" to
    confirm, "choices" to pick from the alternatives, none chosen), the evidence and the
    routing."""

    model_config = ConfigDict(extra="allow")

    model: str
    labels: dict[str, Any]
    confidence: dict[str, Any]
    alternatives: Alternatives
    display: dict[str, Display]
    low_confidence: list[str]
    evidence: list[EvidenceOut]
    rules: list[str]
    routing: dict[str, Any]


class TriageOut(BaseModel):
    """The model's classification, and the policy's routing when a channel was given."""

    classification: Classification
    routing: dict[str, Any] | None = None
    """Left out (not null) without a channel."""


class TriageBatchResult(BaseModel):
    """One item: its id and either its triage or the error that stopped it."""

    id: str
    classification: Classification | None = None
    routing: dict[str, Any] | None = None
    error: str | None = None


class TriageBatchOut(BaseModel):
    results: list[TriageBatchResult]


# ---- responses: cases --------------------------------------------------------------------------
class CaseEventOut(BaseModel):
    kind: str
    at: str
    actor: str
    data: dict[str, Any] | None


class RecordOut(BaseModel):
    """A case's handling record (triage.case.views.record_view): its latest values; free text masked
    for the roles that do not see personal data."""

    investigation: str | None
    reply: str | None
    handling_opinion: str | None
    corrective_action: str | None
    cause: str | None
    evidence: str | None
    responsibility_class: str | None
    responsible_department: str | None
    responsible_person: str | None
    valid: bool | None
    invalid_reason: str | None
    approved: bool | None
    review_opinion: str | None
    reviewed_by: str | None
    long_term_measure: str | None
    satisfaction: str | None
    customer_words: str | None
    called_back_at: str | None


class CaseOut(BaseModel):
    """A case as the caller may see it (triage.case.views.case_view): personal data masked
    for the roles that do not need it."""

    id: int
    number: str
    channel: str
    external_id: str | None
    received_at: str
    state: str
    version: int
    text: str
    customer_name: str | None
    customer_phone: str | None
    plate: str | None
    vin: str | None
    in_warranty: bool | None
    suggestion: SuggestionOut | None
    labels: dict[str, Any] | None
    responsible_role: str | None
    assignee: str | None
    events: list[CaseEventOut]
    record: RecordOut | None = None
    """The handling record (None before the handler resolves the case)."""


class IntakeResult(BaseModel):
    """One item of a batch intake: its case, or the error that stopped it."""

    item: int
    id: int | None = None
    number: str | None = None
    created: bool | None = None
    error: str | None = None


class IntakeBatchOut(BaseModel):
    results: list[IntakeResult]


class CaseSummary(BaseModel):
    id: int
    number: str
    state: str
    channel: str
    received_at: str
    labels: dict[str, Any]
    """The confirmed labels, else the suggestion's ({} before a suggestion)."""
    responsible_role: str | None
    assignee: str | None


class CaseListOut(BaseModel):
    cases: list[CaseSummary]
    next: str | None
    """The cursor of the next page (`?cursor=`), null on the last page."""


class QueueItem(BaseModel):
    id: int
    number: str
    received_at: str
    suggestion: SuggestionOut | None


class QueueOut(BaseModel):
    cases: list[QueueItem]
    next: str | None
    """The cursor of the next page (`?cursor=`), null on the last page."""


# ---- notifications -------------------------------------------------------------------------------
class DeliveryAttemptOut(BaseModel):
    at: str
    ok: bool
    error: str | None
    """What the channel answered when it did not take the message."""
    duration_ms: int


class NotificationOut(BaseModel):
    """One message to one recipient over one channel, and its delivery (triage.notify)."""

    id: int
    event: str
    case_id: int | None
    role: str | None
    channel: str
    address: str
    """An e-mail address; empty for a group robot."""
    subject: str
    body: str
    link: str | None
    state: str = Field(description="pending, sending, sent or failed")
    attempts: int
    next_attempt_at: str | None
    last_error: str | None
    created_at: str | None
    sent_at: str | None
    retried_by: str | None
    attempt_log: list[DeliveryAttemptOut] = Field(default_factory=list)


class NotificationListOut(BaseModel):
    notifications: list[NotificationOut]
    next: int | None
    """The `before` of the next page (the last id of this one), null on the last page."""


# ---- responses: reports and the model ----------------------------------------------------------
class RecordFiguresOut(BaseModel):
    """A period's handling records (002-A §7-3, §7-4: causes analysed, corrective and preventive measures)."""

    counts: dict[str, dict[str, int]]
    """By cause, responsibility_class and responsible_department (valid complaints only: invalid ones are
    counted apart), and by satisfaction at the latest callback; "unrecorded" where a field is empty."""
    validity: dict[str, int]
    """valid, invalid, and unrecorded (cases of the period with no record yet)."""
    measures: list[dict[str, Any]]
    """The period's corrective measures, each once: measure, cause, cases (how many it was decided for),
    first_case; the most frequent first. The long-term measures are listed with the repeated complaints."""


class ReportOut(BaseModel):
    """A month's or a quarter's figures (triage.case.reports.report)."""

    period: str
    from_: str = Field(alias="from")
    to: str
    cases: int
    counts: dict[str, dict[str, int]]
    sla_compliance: dict[str, dict[str, Any]]
    """Per clock: cases, breached, compliance (None without cases), target."""
    repeated_complaints: list[dict[str, Any]]
    repeat_flagged: int
    focus_vehicles: list[dict[str, Any]]
    record: RecordFiguresOut | None = None
    """The handling record's figures (triage.case.reports.record_figures)."""


class ModelOut(BaseModel):
    version: str
    card: dict[str, Any] | None
    """None for a model that is not in the registry (loaded by hand)."""


class ModelSummaryOut(BaseModel):
    """A model of the registry (triage.classify.registry.summaries)."""

    name: str
    current: bool
    backend: str | None = None
    created: str | None = None
    promotion: dict[str, Any] | None = Field(
        default=None, description="What `triage train` decided: made_current, decided_by (gate, --current, "
                                  "--no-current), held_back_by (the guarded figures worse beyond noise), against")
    held_out: dict[str, dict[str, float | None]] = Field(
        default_factory=dict, description="Per register (summary, narrative), the card's held-out figures: "
                                          "business_line/accuracy, category/accuracy, severity/accuracy, major/recall")
    error: str | None = Field(default=None, description="Set when the model's card cannot be read")


class ModelChangeOut(BaseModel):
    """One change of the served model, from the registry's history."""

    at: str
    model: str
    before: str | None
    by: str
    reason: str


class ModelsOut(BaseModel):
    serving: str = Field(description="The model this server answers with now")
    follows_current: bool = Field(description="False when the server was started with a model named "
                                              "(`triage serve --model`): a change of the current model does "
                                              "not reach it")
    current: str | None = Field(description="The registry's current model (null: none)")
    models: list[ModelSummaryOut]
    history: list[ModelChangeOut] = Field(description="The latest changes of the served model, newest first")


class ModelChoiceIn(StrictIn):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
                      description="The model to serve, as `GET /v1/models` names it")


# ---- responses: the suggestions' online accuracy -------------------------------------------------
class KeptShare(BaseModel):
    reviews: int
    kept: int
    share: float | None = Field(description="kept / reviews; null without reviews")


class HeadAccuracy(KeptShare):
    classes: dict[str, KeptShare] = Field(description="By the class the model suggested, most reviewed first")


class ModelHeadAccuracy(HeadAccuracy):
    held_out: float | None = Field(description="The head's accuracy on the held-out real complaints of the "
                                               "model card; null when the registry has no card for the version")


class ModelAccuracy(BaseModel):
    model: str
    reviews: int
    heads: dict[str, ModelHeadAccuracy]


class AccuracyDrop(BaseModel):
    month: str
    model: str
    head: str
    kept_share: float
    held_out: float
    margin: float
    reviews: int


class SuggestionsReportOut(BaseModel):
    """A month's reviews: the share of the model's suggestions the reviewers kept, per head,
    per suggested class and per model version; and the heads whose share fell below the model
    card by more than the policy's margin."""

    period: str
    from_: str = Field(alias="from")
    to: str
    reviews: int
    heads: dict[str, HeadAccuracy]
    models: list[ModelAccuracy]
    margin: float
    min_reviews: int
    drops: list[AccuracyDrop]
