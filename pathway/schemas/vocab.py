"""The vocabularies the API's fields take, as the tuples the schemas' choices are built from.

Every value comes from the StrEnums of ``pathway.timeline.vocabulary`` (the database's CHECK
constraints come from the same enums), so the API, the pages and the database cannot disagree.
The follow-up board's states are computed answers, not stored values: they are named here once.
"""

from __future__ import annotations

from pathway.timeline.vocabulary import OUTCOME_MEASURES as _MEASURES
from pathway.timeline.vocabulary import TIME_POINTS as _TIME_POINTS
from pathway.timeline.vocabulary import (
    AppointmentKind,
    AppointmentStatus,
    ClearanceStatus,
    ConsentMethod,
    EpisodeStatus,
    Language,
    MessageKind,
    MessageStatus,
    MilestoneKind,
    MilestoneStatus,
    ObservationSource,
    Role,
)

LANGUAGES = tuple(Language)
TIME_POINTS: tuple[str, ...] = _TIME_POINTS
OUTCOME_MEASURES: tuple[str, ...] = tuple(_MEASURES)
OBSERVATION_SOURCES: tuple[str, ...] = tuple(ObservationSource)
ROLES = tuple(Role)
CONSENT_METHODS = tuple(ConsentMethod)
EPISODE_STATUSES = tuple(EpisodeStatus)
APPOINTMENT_KINDS = tuple(AppointmentKind)
APPOINTMENT_STATUSES = tuple(AppointmentStatus)
CLEARANCE_STATUSES = tuple(sorted(ClearanceStatus))
# What a person may record; ``needed`` is where every hold starts.
CLEARANCE_ANSWERS = tuple(s for s in ClearanceStatus if s is not ClearanceStatus.NEEDED)
MILESTONE_KINDS = tuple(MilestoneKind)
MILESTONE_STATUSES = tuple(sorted(MilestoneStatus))
MESSAGE_KINDS = tuple(MessageKind)
MESSAGE_STATUSES = tuple(sorted(MessageStatus))
# Why a patient is in a list of patients (computed in pathway.services.patients.find).
PATIENT_MATCHES = ("active", "mrn", "phone", "family_given", "family", "given")
# The follow-up board's states (computed in pathway.services.board).
CHECK_72H_STATES = ("pending", "due", "done", "overdue", "n/a")
FOLLOW_UP_STATES = ("unbooked", "booked_in_window", "booked_out_of_window", "done", "overdue", "missed")
PT_STATES = ("not_due", "unbooked", "booked", "done", "overdue")
BOARD_FILTERS = ("overdue", "in_window", "red_flag", *[s for s in FOLLOW_UP_STATES if s != "overdue"])
BOARD_COUNT_KEYS = ("all", "overdue", "red_flag", "unbooked", "in_window", "booked_out_of_window", "done", "missed")

__all__ = [
    "APPOINTMENT_KINDS", "APPOINTMENT_STATUSES", "BOARD_COUNT_KEYS", "BOARD_FILTERS", "CHECK_72H_STATES",
    "CLEARANCE_ANSWERS", "CLEARANCE_STATUSES", "CONSENT_METHODS", "EPISODE_STATUSES", "FOLLOW_UP_STATES",
    "LANGUAGES", "MESSAGE_KINDS", "MESSAGE_STATUSES", "MILESTONE_KINDS", "MILESTONE_STATUSES", "PT_STATES",
]
