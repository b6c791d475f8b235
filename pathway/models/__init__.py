"""Typed SQLAlchemy models, one module per aggregate. Importing this registers them all."""

from pathway.db import Base
from pathway.models.audit import AuditEvent
from pathway.models.calendar import CalendarLink
from pathway.models.catalogue import CatalogueReview
from pathway.models.episode import Appointment, Episode, MedicationHold, Milestone
from pathway.models.message import Message, MessageEvent, Reply
from pathway.models.observation import Observation
from pathway.models.ops import SendRate, Task, WorkerHeartbeat
from pathway.models.patient import Patient
from pathway.models.report import ReportEpisode
from pathway.models.user import ApiToken, LoginThrottle, User

__all__ = [
    "ApiToken", "Appointment", "AuditEvent", "Base", "CalendarLink", "CatalogueReview", "Episode", "LoginThrottle",
    "MedicationHold", "Message", "MessageEvent", "Milestone", "Observation", "Patient", "Reply", "ReportEpisode",
    "SendRate", "Task", "User", "WorkerHeartbeat",
]
