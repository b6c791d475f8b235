"""Every closed set of words the system stores or decides on, defined once, as ``StrEnum``s.

A member is its string (``Role.ADMIN == "admin"``), so the database keeps the same text and
code comparing with plain strings keeps working. The models' CHECK constraints are generated
from these classes (``pathway.db.check_in``).

Kinds that the pathway data also names (milestone kinds, the kinds of planned texts, the answers
to a patient's text) are fixed HERE, by the code that knows what they mean; the data file is
checked against them when it is loaded (``pathway.timeline.definition.load_definition``), so
the data can never introduce a kind the code does not know.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "ASKED_BY_TEXT",
    "AT_72H",
    "BASELINE",
    "CARE_TEAM",
    "NOTICE_KINDS",
    "OUTCOME_MEASURES",
    "TIME_POINTS",
    "AppointmentKind",
    "AppointmentStatus",
    "CalendarKind",
    "ClearanceStatus",
    "ConsentMethod",
    "EpisodeStatus",
    "Language",
    "MessageEventSource",
    "MessageKind",
    "MessageStatus",
    "MilestoneKind",
    "MilestoneStatus",
    "ObservationCode",
    "ObservationSource",
    "ReplyClassification",
    "ReplyText",
    "Role",
    "TaskKind",
]


class Role(StrEnum):
    """A staff user's role."""

    COORDINATOR = "coordinator"
    CLINICIAN = "clinician"
    ADMIN = "admin"


# The roles that look after patients (everything but user administration).
CARE_TEAM: tuple[Role, ...] = (Role.COORDINATOR, Role.CLINICIAN)


class EpisodeStatus(StrEnum):
    SCHEDULED = "scheduled"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class ClearanceStatus(StrEnum):
    """Where a medication hold's clearance from its prescriber stands."""

    NEEDED = "needed"
    REQUESTED = "requested"
    APPROVED = "approved"
    DECLINED = "declined"
    NOT_REQUIRED = "not_required"


class MilestoneKind(StrEnum):
    """The pathway's steps, in the order the definition file must list them."""

    HOLD_CLEARANCE = "hold_clearance"
    LAST_DOSE = "last_dose"
    PRE_PROCEDURE = "pre_procedure"
    PROCEDURE = "procedure"
    RESTART = "restart"
    CHECK_72H = "check_72h"
    FOLLOW_UP = "follow_up"
    PT_START = "pt_start"


class MilestoneStatus(StrEnum):
    PLANNED = "planned"
    DUE = "due"
    DONE = "done"
    MISSED = "missed"
    CANCELLED = "cancelled"


class MessageKind(StrEnum):
    """A stored text's kind. Every kind but ``REPLY`` and ``STAFF`` has a send rule in the definition file."""

    ENROLMENT = "enrolment"
    LAST_DOSE = "last_dose"
    PRE_PROCEDURE = "pre_procedure"
    RESTART = "restart"
    CHECK_72H = "check_72h"
    FOLLOW_UP = "follow_up"
    PT_START = "pt_start"
    # The morning after a last-dose day: has the patient stopped the medicine? (a yes/no question)
    STOP_CONFIRM = "stop_confirm"
    DATE_CHANGED = "date_changed"
    CANCELLED = "cancelled"
    # An outcome question at a time point (pain, walking minutes, global change), one per text,
    # the next once the previous is answered (services/outcomes.py); not planned ahead.
    OUTCOME = "outcome"
    # An answer sent straight back to a patient's text (its words are a ReplyText template).
    REPLY = "reply"
    # A one-off text a person typed on the episode page or sent through the API (no template:
    # its words are the person's; its longest length is [staff_text] in the definition file).
    STAFF = "staff"


# Texts sent when an episode's date changes or it is cancelled.
NOTICE_KINDS: tuple[MessageKind, ...] = (MessageKind.DATE_CHANGED, MessageKind.CANCELLED)


class ReplyText(StrEnum):
    """The answers sent straight back to a patient's text; each has a template, no send rule."""

    HELP = "help"
    RED_FLAG = "red_flag"
    # An answer to a question text that could not be read: asked again, once.
    REASK_PAIN = "reask_pain"
    REASK_YES_NO = "reask_yes_no"
    REASK_MINUTES = "reask_minutes"
    REASK_CHANGE = "reask_change"


class MessageStatus(StrEnum):
    SCHEDULED = "scheduled"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SUPPRESSED = "suppressed"
    UNKNOWN = "unknown"


class MessageEventSource(StrEnum):
    """Who wrote a message event."""

    PLAN = "plan"
    DISPATCH = "dispatch"
    CALLBACK = "callback"
    RECONCILE = "reconcile"
    USER = "user"


class AppointmentKind(StrEnum):
    FOLLOW_UP = "follow_up"
    PT_START = "pt_start"


class AppointmentStatus(StrEnum):
    BOOKED = "booked"
    DONE = "done"
    MISSED = "missed"
    CANCELLED = "cancelled"


class CalendarKind(StrEnum):
    """Whose calendar a feed link gives: one patient's, or staff's per proceduralist or facility."""

    PATIENT = "patient"
    PROCEDURALIST = "proceduralist"
    FACILITY = "facility"


class Language(StrEnum):
    """The languages the texts are written in."""

    EN = "en"
    ES = "es"


class ConsentMethod(StrEnum):
    """How a patient's consent to texts was recorded."""

    VERBAL = "verbal"
    WRITTEN = "written"
    ELECTRONIC = "electronic"
    TEXT = "text"


class ReplyClassification(StrEnum):
    """What a patient's text was read as."""

    STOP = "stop"
    START = "start"
    HELP = "help"
    RED_FLAG = "red_flag"
    # An answer to a question text that could not be read: asked again, once.
    REASK_PAIN = "reask_pain"
    REASK_YES_NO = "reask_yes_no"
    STOP_REQUEST = "stop_request"
    TEXT = "text"
    ANSWER = "answer"  # read as the answer to an open question (a red flag in it is RED_FLAG)
    # Only "ok", "thanks", "👍"... while a question is open: kept, the question stays open.
    ACKNOWLEDGEMENT = "acknowledgement"


class TaskKind(StrEnum):
    """Something a person must do."""

    RED_FLAG = "red_flag"
    REPLY = "reply"
    STOP_REQUEST = "stop_request"
    OPTED_OUT = "opted_out"
    SEND_FAILED = "send_failed"
    TEXT_UNDELIVERED = "text_undelivered"
    PHONE_INVALID = "phone_invalid"
    RECONCILE_UNKNOWN = "reconcile_unknown"
    SMS_CONFIG = "sms_config"
    HOLD_AT_RISK = "hold_at_risk"  # a move broke a signed hold: re-sign it
    RESTART_AFTER_CANCEL = "restart_after_cancel"  # cancelled after a stop: call about restarting
    RESTART_AFTER_REMOVAL = "restart_after_removal"  # a hold removed after its last dose: call about restarting
    RESTART_AFTER_POSTPONE = "restart_after_postpone"  # postponed after a stop: call about restarting
    UNMATCHED_REPLY = "unmatched_reply"  # a reply from an unknown or shared number: say whom it concerns
    HOLD_NOT_STOPPED = "hold_not_stopped"  # the patient says they have not stopped: a clinician decides
    STOP_UNCONFIRMED = "stop_unconfirmed"  # no answer to the stop question by the day before: call
    PAIN_HIGH = "pain_high"  # a pain score at or over the threshold, or well above the patient's baseline
    ANSWER_UNREAD = "answer_unread"  # an answer to a question that could not be read, even once re-asked
    NOTICE_TOO_LATE = "notice_too_late"  # a change's text could not reach the patient before the procedure ended


class ObservationCode(StrEnum):
    """What an observation measures (its unit and bounds are in data/answers.toml)."""

    NPRS = "nprs"  # pain, numeric rating scale 0-10
    STOPPED_MEDICINE = "stopped_medicine"  # 1 = the patient says they stopped a held medicine, 0 = not
    WALK_MINUTES = "walk_minutes"  # how long the patient can walk before having to stop
    STAND_MINUTES = "stand_minutes"  # how long the patient can stand before having to sit
    ODI = "odi"  # Oswestry Disability Index total 0-100, entered by staff from the clinic's licensed form
    ZCQ_SYMPTOM = "zcq_symptom"  # Zurich Claudication Questionnaire symptom severity 1-5, staff-entered
    GLOBAL_CHANGE = "global_change"  # patient's global impression of change 1-7


# When in the pathway an observation was taken (the outcome time points of MiDAS ENCORE and
# MOTION, around the pathway's own steps). Not a StrEnum: "72h" cannot be a member's name.
TIME_POINTS: tuple[str, ...] = ("baseline", "72h", "visit", "6w", "3m", "6m", "12m", "24m")
# The measures a patient can be asked by text at a time point (`[[time_point]] asks`), each with its
# question and its reading of the answer (services/questions.py).
ASKED_BY_TEXT: tuple[str, ...] = (ObservationCode.NPRS, ObservationCode.WALK_MINUTES, ObservationCode.GLOBAL_CHANGE)
BASELINE, AT_72H = TIME_POINTS[0], TIME_POINTS[1]
# The outcome measures (issue 12): what `POST /episodes/<id>/outcomes` records at a time point.
OUTCOME_MEASURES: tuple[ObservationCode, ...] = (
    ObservationCode.NPRS, ObservationCode.WALK_MINUTES, ObservationCode.STAND_MINUTES, ObservationCode.ODI,
    ObservationCode.ZCQ_SYMPTOM, ObservationCode.GLOBAL_CHANGE)


class ObservationSource(StrEnum):
    SMS = "sms"  # the patient's answer to a question text
    STAFF = "staff"  # recorded by a person
    VISIT = "visit"  # measured or asked at a clinic visit, entered by staff
    PHONE = "phone"  # asked on a telephone call, entered by staff
