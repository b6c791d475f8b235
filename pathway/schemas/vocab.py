"""The vocabularies the API's fields take, each named once for every schema.

Until ``pathway.timeline.vocabulary`` holds them as StrEnums, the tuples below are the single
place the schemas read them from: switching a field to its StrEnum is a one-line change here.
"""

from __future__ import annotations

from pathway.timeline.definition import MESSAGE_KINDS as _PLANNED_MESSAGE_KINDS
from pathway.timeline.definition import MILESTONE_KINDS
from pathway.timeline.diff import MESSAGE_STATUSES as _MESSAGE_STATUSES
from pathway.timeline.diff import MILESTONE_STATUSES as _MILESTONE_STATUSES
from pathway.timeline.plan import CLEARANCE_STATUSES as _CLEARANCE_STATUSES

LANGUAGES = ("en", "es")  # the same as pathway.models.patient.LANGUAGES (its CHECK constraint)
CONSENT_METHODS = ("verbal", "written", "electronic", "text")
EPISODE_STATUSES = ("scheduled", "completed", "cancelled")
APPOINTMENT_KINDS = ("follow_up", "pt_start")
APPOINTMENT_STATUSES = ("booked", "done", "missed", "cancelled")
CLEARANCE_STATUSES = tuple(sorted(_CLEARANCE_STATUSES))
# What a person may record; ``needed`` is where every hold starts.
CLEARANCE_ANSWERS = ("requested", "approved", "declined", "not_required")
MILESTONE_STATUSES = tuple(sorted(_MILESTONE_STATUSES))
MESSAGE_KINDS = (*_PLANNED_MESSAGE_KINDS, "reply")
MESSAGE_STATUSES = tuple(sorted(_MESSAGE_STATUSES))
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
