"""Every answer of the JSON API, each field declared once.

Conventions, part of the API contract (extend, never rename):
- every instant is ISO 8601 in UTC with an explicit ``+00:00`` offset;
- instants on a patient's timeline also come as ``<name>_local``: the same instant written
  with the patient's own UTC offset (what the patient's clock shows);
- dates are ``YYYY-MM-DD``; absent values are ``null``, never missing keys.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import Field, WithJsonSchema

from pathway.schemas.base import AnswerModel
from pathway.schemas.fields import Instant, LocalTwin, choice_schema
from pathway.schemas.vocab import (
    APPOINTMENT_KINDS,
    APPOINTMENT_STATUSES,
    BOARD_COUNT_KEYS,
    CHECK_72H_STATES,
    CLEARANCE_STATUSES,
    EPISODE_STATUSES,
    FOLLOW_UP_STATES,
    LANGUAGES,
    MESSAGE_KINDS,
    MESSAGE_STATUSES,
    MILESTONE_KINDS,
    MILESTONE_STATUSES,
    OBSERVATION_SOURCES,
    OUTCOME_MEASURES,
    PATIENT_MATCHES,
    PT_STATES,
    TIME_POINTS,
)

Id = Annotated[int, WithJsonSchema({"type": "integer", "minimum": 1})]
Day = Annotated[date, WithJsonSchema({"type": "string", "format": "date"})]
EpisodeStatus = Annotated[str, choice_schema(EPISODE_STATUSES)]
MilestoneKind = Annotated[str, choice_schema(MILESTONE_KINDS)]
MilestoneStatus = Annotated[str, choice_schema(MILESTONE_STATUSES)]
MessageKind = Annotated[str, choice_schema(MESSAGE_KINDS)]


class Error(AnswerModel):
    """Any error but a 422."""

    message: str


class ValidationError(AnswerModel):
    """Bad input: ``errors`` maps every bad field (or ``body``) to what is wrong and how to fix it.
    Nested fields are named like ``holds[0].drug``."""

    errors: dict[str, str] = Field(json_schema_extra={"minProperties": 1})
    message: str


# --- patients ------------------------------------------------------------------------------


class EpisodeSummary(AnswerModel):
    """An episode in a patient's list."""

    id: Id
    status: EpisodeStatus
    proceduralist: str
    facility: str
    procedure_at: Instant
    procedure_at_local: LocalTwin


class _PatientWho(AnswerModel):
    """Who a patient is and how to reach them: the fields a patient's answer and a list row share."""

    id: Id
    mrn: str
    given_name: str
    family_name: str
    birth_date: Day
    phone: str = Field(description="E.164")
    timezone: str
    language: Annotated[str, choice_schema(LANGUAGES)]


class Patient(_PatientWho):
    """A patient."""

    detailed_texts: bool
    sms_consent: bool
    sms_consent_at: Instant | None
    sms_consent_method: str | None
    opted_out_at: Instant | None
    opted_out_via: str | None
    phone_flagged: bool
    can_text: bool
    created_at: Instant
    version: int = Field(description="the patient's version: it goes up with every change; send it back as "
                                     "`version` (or `If-Match` with the ETag) with a change, which then answers 409 "
                                     "if someone else changed the patient meanwhile")
    calendar_url: str | None = Field(description="the patient's private calendar (iCalendar, no sign-in): "
                                                 "null once staff revoked it")
    episodes: list[EpisodeSummary] = Field(
        description="the patient's episodes, latest procedure first (at most 50)")


class PatientFound(_PatientWho):
    """A patient in a list: who, how to reach them, and why they are in the list."""

    can_text: bool
    opted_out: bool
    phone_flagged: bool
    matched: Annotated[str, choice_schema(PATIENT_MATCHES)] = Field(
        description="why the patient is in the list: " + ", ".join(PATIENT_MATCHES))
    matched_label: str = Field(description="the same in words")
    procedure_at: Instant | None = Field(description="with no query: the earliest procedure in the active days")
    procedure_at_local: LocalTwin | None


class PatientList(AnswerModel):
    """A page of patients: those the query found, or with no query the active patients
    (a procedure, not cancelled, in the last 30 days or ahead), by family then given name."""

    items: list[PatientFound]
    query: str
    total: int = Field(description="patients the query finds, on every page")
    limit: int
    offset: int


# --- the episode aggregate -----------------------------------------------------------------


class Milestone(AnswerModel):
    """A step on the episode's timeline: a due moment, a window, or both."""

    id: Id
    episode_id: Id
    kind: MilestoneKind
    label: str
    hold_id: Id | None
    status: MilestoneStatus
    due_at: Instant | None
    due_at_local: LocalTwin | None
    due_at_estimated: bool = Field(
        description="true when due_at is an estimate: a restart step before the procedure's end is recorded "
                    "(start + expected duration + restart hours); its text waits for the recorded end")
    window_start: Instant | None
    window_start_local: LocalTwin | None
    window_end: Instant | None
    window_end_local: LocalTwin | None
    completed_at: Instant | None
    completed_at_local: LocalTwin | None
    rule: str = Field(description="the rule and its source that placed this step")
    result: dict[str, Any] | None
    episode_version: int = Field(description="the episode's `version` (a change to this step changes it)")


class Hold(AnswerModel):
    """A blood thinner held for the procedure."""

    id: Id
    episode_id: Id
    drug: str = Field(description="the catalogue key; for a drug outside the catalogue, the text entered")
    drug_name: str
    patient_label: str | None = Field(description="what the patient calls the medicine; texts name it by this")
    catalogued: bool
    episode_version: int = Field(description="the episode's `version` (a change to this hold changes it): send "
                                             "it back as `version` with the hold's next change")
    stop_days: int | None
    stop_hours: int | None
    restart_hours: int | None
    crcl_ml_min: int | None = Field(description="creatinine clearance recorded for the hold, mL/min")
    assumes_normal_renal_function: bool = Field(
        description="true when the drug's interval depends on renal function (dabigatran), no creatinine "
                    "clearance is recorded and the interval is the normal-function default")
    interval_source: str
    last_dose_on: Day | None = Field(description="day-based holds: the last day the patient takes it")
    last_dose_at: Instant | None
    last_dose_at_local: LocalTwin | None
    restart_at: Instant | None
    restart_at_local: LocalTwin | None
    restart_at_estimated: bool = Field(
        description="true while the procedure's end is not recorded: restart_at counts from the expected end, "
                    "and no restart text goes until the end is recorded")
    prescriber_name: str
    prescriber_phone: str
    clearance: Annotated[str, choice_schema(CLEARANCE_STATUSES)]
    clearance_by: str | None
    clearance_at: Instant | None
    clearance_note: str | None
    signed: bool
    signed_at: Instant | None
    signed_by_id: Id | None
    inr_required: bool
    inr_value: str | None = Field(description="decimal, e.g. \"1.10\"")
    inr_at: Instant | None


class Appointment(AnswerModel):
    """The follow-up visit or the physical-therapy start."""

    id: Id
    episode_id: Id
    kind: Annotated[str, choice_schema(APPOINTMENT_KINDS)]
    status: Annotated[str, choice_schema(APPOINTMENT_STATUSES)]
    appointment_at: Instant
    appointment_at_local: LocalTwin
    outside_window: bool = Field(description="a follow-up visit booked outside its day 7-10 window "
                                             "(always false for the PT start)")


class Message(AnswerModel):
    """A text to the patient: its schedule, state, and the exact words it carries."""

    id: Id
    kind: MessageKind
    label: str
    status: Annotated[str, choice_schema(MESSAGE_STATUSES)]
    status_reason: str | None
    milestone_id: Id | None
    send_at: Instant
    send_at_local: LocalTwin
    sent_at: Instant | None
    sent_at_local: LocalTwin | None
    body: str = Field(description="the exact text the patient got (sent) or will get (scheduled: what the "
                                  "dispatcher sends, re-rendered whenever the plan or a medicine's name changes)")
    segments: int = Field(description="SMS segments the body takes (160 GSM-7 / 70 UCS-2 characters for one)")


class CheckItem(AnswerModel):
    """One line of the procedure-day go/no-go checklist."""

    item: str
    ok: bool
    detail: str


class Blocker(AnswerModel):
    """One reason the procedure may not go ahead, in words a clinician reads."""

    code: str = Field(description="e.g. hold_unsigned, hold_too_short, hold_started_late, inr_missing, "
                                  "inr_stale, inr_high, candidacy_missing, escort_missing, episode_cancelled, "
                                  "episode_completed; more may be added")
    hold_id: Id | None
    message: str


class Episode(AnswerModel):
    """One MILD procedure with its timeline, holds, appointments and texts."""

    id: Id
    patient_id: Id
    status: EpisodeStatus
    timezone: str = Field(description="the patient's zone, used for the *_local fields")
    procedure_at: Instant
    procedure_at_local: LocalTwin
    ended_at: Instant | None
    ended_at_local: LocalTwin | None
    duration_minutes: int
    facility: str
    facility_address: str = Field(description="the facility's address line for the day-before text")
    arrival_at: Instant = Field(description="when the patient is asked to arrive: the episode's own time, or the "
                                            "pathway's default lead before the procedure")
    arrival_at_local: LocalTwin
    arrival_default: bool = Field(description="true when arrival_at is the pathway's default lead "
                                              "(`[procedure_day] arrival_minutes_before`), not set on the episode")
    place_in_text: str = Field(description="the place the day-before text names: the facility's name and address "
                                           "line, without a part that would tell what the visit is for (unless the "
                                           "patient chose detailed texts); empty when the text names none")
    proceduralist: str
    levels: str
    mri_reviewed_on: Day | None
    tried_pt: bool
    tried_medication: bool
    tried_injections: bool
    escort_arranged: bool
    cancelled_at: Instant | None
    cancel_reason: str | None
    created_at: Instant
    plan_revision: int
    version: int = Field(description="the episode's version: it goes up with every change (to its holds, "
                                     "appointments and steps too); send it back as "
                                     "`version` (or `If-Match` with the ETag) with a change, which then answers 409 "
                                     "if someone else changed the episode meanwhile")
    calendar_url: str | None = Field(description="the patient's private calendar (iCalendar, no sign-in) with "
                                                 "this episode's procedure and visits; null once revoked")
    milestones: list[Milestone]
    holds: list[Hold]
    appointments: list[Appointment]
    messages: list[Message]
    checklist: list[CheckItem]
    go: bool = Field(description="true only when the episode is scheduled (not cancelled, not completed) "
                                 "and nothing blocks it")
    blockers: list[Blocker] = Field(description="why it is not a go; empty when go is true")


class CalendarFeed(AnswerModel):
    """A staff calendar feed (per proceduralist or facility): patients by initials only."""

    id: Id
    kind: Annotated[str, choice_schema(("proceduralist", "facility"))]
    name: str
    url: str = Field(description="the feed's address (iCalendar, no sign-in): keep it private")
    created_at: Instant
    revoked_at: Instant | None


class CalendarFeeds(AnswerModel):
    """The staff calendar feeds, revoked ones too."""

    feeds: list[CalendarFeed]


# --- re-planning diffs ---------------------------------------------------------------------


class Span(AnswerModel):
    due_at: Instant | None
    due_at_local: LocalTwin | None
    window_start: Instant | None
    window_start_local: LocalTwin | None
    window_end: Instant | None
    window_end_local: LocalTwin | None


class DiffMessage(AnswerModel):
    """A text a change cancels or adds."""

    kind: MessageKind
    label: str
    send_at: Instant
    send_at_local: LocalTwin


class RewordedText(DiffMessage):
    """A text not yet sent that keeps its time but gets new words (a medicine's label, the
    patient's language, another hold added or removed)."""

    body_before: str
    body_after: str


class DiffMilestone(Span):
    """A step a change adds."""

    kind: MilestoneKind
    label: str
    hold_ref: str | None


class DroppedMilestone(DiffMilestone):
    """A step a change drops."""

    status: MilestoneStatus


class MovedMilestone(AnswerModel):
    """A step a change moves."""

    kind: MilestoneKind
    label: str
    hold_ref: str | None
    from_: Span = Field(alias="from")
    to: Span


HoldProblem = Annotated[str, choice_schema(("hold_too_short", "hold_started_late", "stopped_before_move",
                                            "last_dose_day_changed"))]


class HoldAtRisk(AnswerModel):
    """A hold a move (or a change of the patient's zone) breaks: it must be answered and signed again
    before the procedure; or one the patient may already have stopped before a postponement."""

    hold_id: Id
    drug: str
    last_dose_on: Day = Field(description="the new last-dose date, in the patient's zone (stopped_before_move: the "
                                          "last-dose date the patient was given)")
    problem: HoldProblem = Field(description="hold_too_short: the new last dose is earlier than the signed one, so "
                                             "the signed stop no longer leaves the full interval; hold_started_late: "
                                             "the new last dose is already past; stopped_before_move: the procedure "
                                             "is postponed after the last dose, so the patient may have stopped (a "
                                             "person calls about restarting; the signature stands); "
                                             "last_dose_day_changed: the patient's new zone makes the signed "
                                             "last-dose day another day")


class Stale(Error):
    """A 409 for a change made from an older version of the record than the stored one: someone else
    changed it meanwhile, and nothing was changed. Read the record again and decide again."""

    record: Annotated[str, choice_schema(("patient", "episode"))]
    record_id: Id
    sent_version: int = Field(description="the version the change was made from")
    version: int = Field(description="the record's version now")


class Conflict(Error):
    """A 409. A move that breaks signed holds also lists them (``holds_at_risk``)."""

    holds_at_risk: list[HoldAtRisk] | None = Field(
        None, description="on a move: the holds it breaks; send `confirm_holds_at_risk: true` to apply it")


class PlanDiff(AnswerModel):
    """What moving the procedure changes: texts cancelled and added, steps moved, added or dropped,
    the notice to the patient, and summary lines in the patient's local time."""

    applied: bool = Field(description="false for ?preview=1: nothing was changed")
    episode_id: Id
    procedure_at_before: Instant
    procedure_at_before_local: LocalTwin
    procedure_at_after: Instant
    procedure_at_after_local: LocalTwin
    messages_cancelled: list[DiffMessage]
    messages_added: list[DiffMessage]
    milestones_moved: list[MovedMilestone]
    milestones_added: list[DiffMilestone]
    milestones_cancelled: list[DroppedMilestone]
    notice: DiffMessage | None
    summary: list[str]
    holds_at_risk: list[HoldAtRisk] = Field(
        description="holds the move breaks; applying it needs `confirm_holds_at_risk: true` (else 409)")
    messages_reworded: list[RewordedText] = Field(
        default_factory=list, description="texts not yet sent whose words change (their time does not)")


class EpisodeChanged(Episode):
    """The rescheduled episode, with ``change``: what the move changed."""

    change: PlanDiff


# --- lists ---------------------------------------------------------------------------------


class WorklistCandidate(AnswerModel):
    """A patient a reply from a shared number may be from or about."""

    patient_id: Id
    patient_name: str
    mrn: str


class WorklistItem(AnswerModel):
    """Something a coordinator should do, most urgent first."""

    kind: str
    priority: int = Field(description="lower is more urgent")
    patient_id: Id | None = Field(description="null only for an `unmatched_reply` (a number that matches no "
                                              "patient, or that several share)")
    episode_id: Id | None
    subject_id: int | None
    title: str
    detail: str
    due_at: Instant | None
    action: str
    task_id: Id | None = Field(description="the open task behind this item, if any")
    patient_name: str
    mrn: str
    reply_id: Id | None = Field(None, description="the patient's reply behind this item, if any (link or dismiss "
                                                  "an `unmatched_reply` with it)")
    from_number: str | None = Field(None, description="the number an `unmatched_reply` came from (E.164)")
    reply_body: str | None = Field(None, description="the words of the reply behind this item, if any")
    candidates: list[WorklistCandidate] = Field(
        default_factory=list, description="for a reply from a shared number: each patient on that number")


class Worklist(AnswerModel):
    """The coordinator's worklist."""

    items: list[WorklistItem]
    count: int
    limit: int


class HoldToSign(AnswerModel):
    """A hold waiting for a clinician's signature."""

    hold_id: Id
    episode_id: Id
    patient_id: Id
    patient_name: str
    mrn: str
    drug_name: str
    clearance: Annotated[str, choice_schema(CLEARANCE_STATUSES)]
    last_dose_on: Day | None
    last_dose_at: Instant | None
    procedure_at: Instant
    procedure_at_local: LocalTwin


class HoldsToSign(AnswerModel):
    """Holds waiting for a clinician's signature, earliest last dose first."""

    items: list[HoldToSign]
    count: int


class BoardRow(AnswerModel):
    """One episode on the follow-up board."""

    episode_id: Id
    patient_id: Id
    patient_name: str
    mrn: str
    proceduralist: str
    procedure_at: Instant
    procedure_at_local: LocalTwin | None
    check_72h: Annotated[str, choice_schema(CHECK_72H_STATES)]
    follow_up: Annotated[str, choice_schema(FOLLOW_UP_STATES)]
    follow_up_at: Instant | None
    follow_up_at_local: LocalTwin | None
    pt: Annotated[str, choice_schema(PT_STATES)]
    pt_at: Instant | None
    pt_at_local: LocalTwin | None
    red_flag: bool
    timezone: str | None = Field(description="the patient's zone, used for the *_local fields")


class FollowupBoard(AnswerModel):
    """The follow-up board: a page of rows, counts per status, the total."""

    rows: list[BoardRow]
    counts: dict[str, int] = Field(description="rows per state: " + ", ".join(BOARD_COUNT_KEYS))
    total: int
    limit: int
    offset: int
    status: str | None
    proceduralist: str | None


# --- patient edits (issue 10, "Editing after saving": the patient half) ----------------------


class TextChange(AnswerModel):
    """A text not yet sent that an edit of the patient moves, re-words, stops or adds."""

    message_id: Id | None = Field(description="the text as stored before the edit; null for a text the edit adds "
                                              "(a moved text is stored again under a new id)")
    episode_id: Id | None = Field(description="null for a text about no episode (the enrolment text)")
    kind: MessageKind
    label: str
    send_at_before: Instant | None
    send_at_before_local: LocalTwin | None = Field(description="in the patient's zone before the edit")
    body_before: str | None
    send_at_after: Instant | None = Field(description="null: the edit stops this text")
    send_at_after_local: LocalTwin | None = Field(description="in the patient's zone after the edit")
    body_after: str | None


class PatientChange(AnswerModel):
    """What an edit of a patient changes (with ?preview=1: would change, nothing stored)."""

    applied: bool = Field(description="false for ?preview=1: nothing was changed")
    patient_id: Id
    fields: list[str] = Field(description="the fields whose value changes (a field sent unchanged is not listed)")
    texts: list[TextChange] = Field(description="every text not yet sent whose send time or words change, "
                                                "or that the edit stops or adds")
    episodes: list[PlanDiff] = Field(description="each open episode whose plan the edit changes: its re-plan")
    messages_suppressed: int = Field(description="texts not yet sent that withdrawn consent stops")
    enrolment_text: bool = Field(description="an enrolment text (clinic name, STOP/HELP) is queued: on consent, "
                                             "or to a new number that never had it")
    holds_at_risk: list[HoldAtRisk] = Field(
        default_factory=list, description="signed holds whose last-dose day the new time zone changes; applying "
                                          "needs `confirm_holds_at_risk: true` (else 409), and each is then unsigned")


class PatientChanged(Patient):
    """The edited patient, with ``change``: what the edit changed."""

    change: PatientChange


# Every answer model, for the OpenAPI document and the schema-coverage test.
class Reply(AnswerModel):
    """A text a patient (or someone at their number) sent us."""

    id: Id
    patient_id: Id | None
    episode_id: Id | None
    from_number: str
    body: str
    received_at: Instant
    classification: str = Field(description="stop | start | help | red_flag | stop_request | text | answer (read as "
                                            "the answer to an open question) | acknowledgement (only \"ok\", "
                                            "\"thanks\"... while a question is open: it stays open)")
    handled_at: Instant | None = Field(description="when a person dismissed it, if they did")


class Task(AnswerModel):
    """Something a person had to do, and what they wrote when they did it."""

    id: Id
    kind: str
    patient_id: Id | None
    episode_id: Id | None
    reply_id: Id | None
    summary: str
    created_at: Instant
    resolved_at: Instant | None
    resolution: str | None


class Observation(AnswerModel):
    """An observation of the episode: a pain score, a stopped medicine, walking minutes."""

    id: Id
    code: str = Field(description="nprs | stopped_medicine | walk_minutes")
    value: float = Field(description="nprs 0-10; stopped_medicine 1 (yes) or 0 (no); walk_minutes")
    unit: str
    time_point: str | None = Field(description="baseline | 72h | visit | 6w | 3m | 6m | 12m | 24m, or null")
    received_at: Instant
    source: str = Field(description="sms (the patient's answer to a question text) | staff")
    message_id: Id | None = Field(description="for an answer by text: the question text it answers")
    reply_id: Id | None = Field(None, description="for an answer by text: the patient's reply")
    hold_id: Id | None = Field(None, description="for stopped_medicine: the hold it is about")
    superseded_at: Instant | None = Field(None, description="when a later value for the same time point and code "
                                                            "replaced this one (null: it is the current value)")
    superseded_by_id: Id | None = Field(None, description="the observation that replaced this one")


# --- outcomes (issue 12) -------------------------------------------------------------------------

OutcomeMeasure = Annotated[str, choice_schema(OUTCOME_MEASURES)]
OutcomeSource = Annotated[str, choice_schema(OBSERVATION_SOURCES)]


class ReplacedOutcome(AnswerModel):
    """A value that a later one for the same time point and measure replaced, kept for the history."""

    id: Id
    value: float
    source: OutcomeSource
    recorded_at: Instant = Field(description="when it was measured or said")
    recorded_by_id: Id | None = Field(description="the user who entered it (null: the patient's text)")
    replaced_at: Instant = Field(description="when the later value replaced it")
    replaced_by_id: Id = Field(description="the value that replaced it")


class Outcome(AnswerModel):
    """The current value of one measure at one time point, its change from the baseline, and the
    values it replaced (newest first)."""

    id: Id
    episode_id: Id
    time_point: Annotated[str, choice_schema(TIME_POINTS)]
    measure: OutcomeMeasure
    label: str = Field(description="the measure's name for people, e.g. \"Oswestry Disability Index (0-100)\"")
    value: float
    unit: str
    source: OutcomeSource = Field(description="sms (the patient's text), visit, phone, or staff (recorded through "
                                              "the observations API)")
    recorded_at: Instant = Field(description="when it was measured or said")
    recorded_by_id: Id | None = Field(description="the user who entered it (null: the patient's text)")
    message_id: Id | None = Field(description="for an answer by text: the question text it answers")
    change_from_baseline: float | None = Field(description="value minus the current baseline value of the same "
                                                           "measure; null at the baseline or without one")
    history: list[ReplacedOutcome] = Field(description="the values this one replaced, newest first")
# --- the conversation with the patient (issue 11, "Acting on replies") ------------------------


class StaffText(Message):
    """A one-off text a person typed, as stored in the outbox."""

    episode_id: Id
    urgent: bool = Field(description="sent at once, even in the patient's quiet hours")
    created_by_id: Id | None = Field(description="the user who typed it")
    waits_for_quiet_hours: bool = Field(description="true when it was typed in the patient's quiet hours and not "
                                                    "marked urgent: `send_at` is when they end")


class DeliveryEvent(AnswerModel):
    """One step in a text's delivery history."""

    at: Instant
    source: str = Field(description="plan | dispatch | callback | reconcile | user")
    from_status: str | None
    to_status: str | None
    reason: str
    error_code: int | None


ThreadItemType = Annotated[str, choice_schema(("text", "reply", "note"))]


class ThreadItem(AnswerModel):
    """One entry of the conversation: a text out, a reply in, or a person's note on a reply."""

    type: ThreadItemType = Field(description="text: a text to the patient; reply: the patient's text; note: what a "
                                             "person did about a reply (a red flag's resolution...)")
    at: Instant = Field(description="text: when it was sent (or will be); reply: received; note: written")
    at_local: LocalTwin
    body: str = Field(description="the words of the text or reply, or the note")
    message_id: Id | None
    message_kind: MessageKind | None
    label: str | None = Field(description="what staff call the text (e.g. \"72-hour check\"), or the task's kind")
    status: Annotated[str, choice_schema(MESSAGE_STATUSES)] | None = Field(description="a text's delivery state")
    urgent: bool = Field(description="a one-off text marked urgent")
    history: list[DeliveryEvent] = Field(description="a text's delivery history, oldest first (empty otherwise)")
    reply_id: Id | None = Field(description="the reply (for a note: the reply it is about)")
    classification: str | None = Field(description="a reply: stop | start | help | red_flag | stop_request | text")
    red_flag_groups: list[str] = Field(description="a red-flag reply: what was read (fever, bleeding, ...)")
    open_task_id: Id | None = Field(description="a reply whose task is still open (resolve it with its note)")
    task_id: Id | None = Field(description="a note: the task it closed")
    by: str | None = Field(description="who typed a one-off text or wrote a note (the user's name)")


class Thread(AnswerModel):
    """The conversation with the patient about an episode, oldest first: texts sent (and one-off
    texts waiting), replies, and the notes people wrote when they dealt with a reply."""

    episode_id: Id
    patient_id: Id
    timezone: str = Field(description="the patient's zone, used for the *_local fields")
    items: list[ThreadItem]


# --- the outcomes report (issue 12, "Outcomes") ------------------------------------------------

Ci95 = Annotated[list[float] | None, Field(description="the 95% Wilson interval of `pct`, in percent: [low, high]; "
                                                       "null when `n` is 0", min_length=2, max_length=2)]


class Responders(AnswerModel):
    """The episodes of `n` that are responders (see the report's definitions)."""

    n: int = Field(description="responders")
    pct: float | None = Field(description="100 x responders / n, one decimal; null when n is 0")
    ci95: Ci95


MedianCi95 = Annotated[list[float] | None, Field(
    description="the distribution-free 95% interval of the median, [low, high]: the values at the order-statistic "
                "ranks j and n + 1 - j of the binomial (Conover 1999); null below 6 values", min_length=2,
    max_length=2)]


class MeasureOutcome(AnswerModel):
    """Pain (NPRS 0-10) or walking minutes at a time point, against each episode's own baseline."""

    n: int = Field(description="episodes with both a baseline and a value at this time point")
    median: float | None = Field(description="median of the values at this time point over those n episodes "
                                             "(even n: the mean of the two middle values); null when n is 0")
    median_ci95: MedianCi95
    median_change_pct: float | None = Field(
        description="median of 100 x (value - baseline) / baseline over those episodes, leaving out a baseline of "
                    "0; one decimal; null when none is left")
    median_change_pct_ci95: MedianCi95
    responders: Responders


class OdiOutcome(AnswerModel):
    """The Oswestry Disability Index (0-100, lower is better) at a time point."""

    n: int = Field(description="episodes with both a baseline and a value at this time point")
    mean_change: float | None = Field(description="mean of (value - baseline) over those n episodes, two decimals "
                                                  "(negative: less disability); null when n is 0")
    responders: Responders


class OutcomeTimePoint(AnswerModel):
    """One time point of the outcomes report."""

    time_point: str = Field(description="72h | visit | 6w | 3m | 6m | 12m | 24m")
    label: str
    episodes: int = Field(description="procedures in range whose time point has passed (its window has closed)")
    answered: int = Field(description="of those, episodes with a current value of NPRS, walking minutes or ODI at "
                                      "this time point")
    nprs: MeasureOutcome
    walk_minutes: MeasureOutcome
    odi: OdiOutcome


class PublishedFigure(AnswerModel):
    """A figure clinics quote, with where it comes from (pathway/data/outcomes.toml)."""

    source: str
    measure: str
    figure: str
    citation: str


class ProcessFigure(AnswerModel):
    """A process figure for the same procedures: how many of `denominator` met it."""

    key: str
    label: str
    numerator: int
    denominator: int
    pct: float | None = Field(description="100 x numerator / denominator, one decimal; null when denominator is 0")
    definition: str


class OutcomesReport(AnswerModel):
    """The outcomes report for procedures in range (not cancelled)."""

    as_of: Instant = Field(description="the instant the report was computed at (time points passed by then)")
    time_points: list[OutcomeTimePoint]
    published: list[PublishedFigure]
    process: list[ProcessFigure]


ANSWERS: tuple[type[AnswerModel], ...] = (
    Error, Conflict, Stale, ValidationError, EpisodeSummary, Patient, Milestone, Hold, Appointment, Message, CheckItem,
    Episode, Span, DiffMessage, DiffMilestone, DroppedMilestone, MovedMilestone, HoldAtRisk, PlanDiff, EpisodeChanged,
    WorklistItem, Worklist, BoardRow, FollowupBoard, Blocker, HoldToSign, HoldsToSign,
    TextChange, PatientChange, PatientChanged, WorklistCandidate, Reply, Task, StaffText, DeliveryEvent, ThreadItem,
    Thread, Observation, CalendarFeed, CalendarFeeds, ReplacedOutcome, Outcome,
    Responders, MeasureOutcome, OdiOutcome, OutcomeTimePoint, PublishedFigure, ProcessFigure, OutcomesReport,
    PatientFound, PatientList,
)

