"""The audit log as CSV for a compliance officer (``pathway audit export``).

One row per audit event between two clinic-local dates (both included), oldest first: when (UTC
and the clinic's time), who (the actor, the user's id and email), what (the action and the
record), whose record (the patient's id and MRN), from where (the client's address) and the
event's detail as JSON. The export itself is audited (``audit.export``), so reading the log
leaves a trace in it.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from pathway.models import AuditEvent, Patient, User
from pathway.services.base import Actor, Env, ValidationError, audit

COLUMNS = ("id", "at_utc", "at_clinic", "actor", "user_id", "user_email", "action", "entity_type", "entity_id",
           "patient_id", "patient_mrn", "remote_addr", "detail")
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection"):
# such a cell (a search typed as "=HYPERLINK(...)") is written with a leading apostrophe.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Export:
    rows: int
    start: datetime
    end: datetime


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _span(env: Env, first: date, last: date) -> tuple[datetime, datetime]:
    if last < first:
        raise ValidationError({"to": f"is before --from ({first.isoformat()}); give the last day to include"})
    tz = env.rules.clinic.tz
    return (datetime.combine(first, time(0), tzinfo=tz),
            datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz))


def _rows(session: Session, start: datetime, end: datetime) -> Iterator[tuple[AuditEvent, str | None, str | None]]:
    who = aliased(User)
    stmt = (
        select(AuditEvent, who.email, Patient.mrn)
        .outerjoin(who, who.id == AuditEvent.user_id)
        .outerjoin(Patient, Patient.id == AuditEvent.patient_id)
        .where(AuditEvent.at >= start, AuditEvent.at < end)
        .order_by(AuditEvent.at, AuditEvent.id)
        .execution_options(yield_per=1000)
    )
    for row in session.execute(stmt):
        event, email, mrn = row
        yield event, email, mrn


def export_csv(session: Session, env: Env, actor: Actor, first: date, last: date, out: IO[str]) -> Export:
    """Write the audit events of clinic-local days ``first`` to ``last`` (both included) to ``out``."""
    start, end = _span(env, first, last)
    tz = env.rules.clinic.tz
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    n = 0
    for event, email, mrn in _rows(session, start, end):
        at = event.at
        writer.writerow([_cell(v) for v in (
            event.id, at.isoformat(), at.astimezone(tz).isoformat(), event.actor, event.user_id, email,
            event.action, event.entity_type, event.entity_id, event.patient_id, mrn, event.remote_addr,
            json.dumps(event.detail, sort_keys=True, ensure_ascii=False) if event.detail is not None else None,
        )])
        n += 1
    audit(session, env, actor, "audit.export", "audit", None,
          detail={"from": first.isoformat(), "to": last.isoformat(), "rows": n})
    return Export(rows=n, start=start, end=end)

