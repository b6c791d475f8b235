"""Models (and service results) as the JSON API's plain dicts.

Pure functions: no session, no clock, no Flask. Whatever they need (the patient's zone, the
episode's messages, the pathway definition for labels) is passed in, so pages can reuse them.

Conventions, part of the API contract (extend, never rename):
- every instant is ISO 8601 in UTC with an explicit ``+00:00`` offset;
- instants on a patient's timeline also come as ``<name>_local``: the same instant written
  with the patient's own UTC offset (what the patient's clock shows);
- dates are ``YYYY-MM-DD``; absent values are ``null``, never missing keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pathway.models import Appointment, Episode, MedicationHold, Message, Milestone, Patient
from pathway.services.board import Board, BoardRow
from pathway.services.worklist import WorklistItem
from pathway.timeline import PathwayDefinition, PlanDiff, PlannedMessage, PlannedMilestone, StoredMilestone

Json = dict[str, Any]


# --- scalars -------------------------------------------------------------------------------


def instant(value: datetime | None) -> str | None:
    """Aware UTC, ISO 8601 with the ``+00:00`` offset."""
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}; the API writes only aware instants")
    return value.astimezone(UTC).isoformat()


def local_instant(value: datetime | None, tz: ZoneInfo) -> str | None:
    """The same instant with the patient's offset, e.g. ``2027-03-10T08:00:00-05:00``."""
    if value is None:
        return None
    return value.astimezone(tz).isoformat()


def day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _decimal(value: Decimal | None) -> str | None:
    return str(value) if value is not None else None


def _times(out: Json, tz: ZoneInfo, **values: datetime | None) -> Json:
    """Add ``name`` (UTC) and ``name_local`` (patient offset) for each instant."""
    for name, value in values.items():
        out[name] = instant(value)
        out[f"{name}_local"] = local_instant(value, tz)
    return out


def _label(definition: PathwayDefinition | None, kind: str, *, message: bool = False) -> str:
    fallback = kind.replace("_", " ")
    if definition is None:
        return fallback
    try:
        return definition.message_label(kind) if message else definition.milestone_label(kind)
    except (KeyError, ValueError, LookupError):
        return fallback


# --- patients ------------------------------------------------------------------------------


def episode_summary(episode: Episode, tz: ZoneInfo) -> Json:
    return _times(
        {"id": episode.id, "status": episode.status, "proceduralist": episode.proceduralist,
         "facility": episode.facility},
        tz, procedure_at=episode.procedure_at,
    )


def patient(p: Patient, episodes: Iterable[Episode] = ()) -> Json:
    tz = ZoneInfo(p.timezone)
    return {
        "id": p.id,
        "mrn": p.mrn,
        "given_name": p.given_name,
        "family_name": p.family_name,
        "birth_date": day(p.birth_date),
        "phone": p.phone,
        "timezone": p.timezone,
        "language": p.language,
        "detailed_texts": p.detailed_texts,
        "sms_consent": p.sms_consent_at is not None,
        "sms_consent_at": instant(p.sms_consent_at),
        "sms_consent_method": p.sms_consent_method,
        "opted_out_at": instant(p.opted_out_at),
        "opted_out_via": p.opted_out_via,
        "phone_flagged": p.phone_flagged_at is not None,
        "can_text": p.can_text,
        "created_at": instant(p.created_at),
        "episodes": [episode_summary(e, tz) for e in episodes],
    }


# --- the episode aggregate -----------------------------------------------------------------


def milestone(m: Milestone, tz: ZoneInfo, definition: PathwayDefinition | None = None) -> Json:
    out: Json = {
        "id": m.id,
        "episode_id": m.episode_id,
        "kind": m.kind,
        "label": _label(definition, m.kind),
        "hold_id": m.hold_id,
        "status": m.status,
    }
    _times(out, tz, due_at=m.due_at, window_start=m.window_start, window_end=m.window_end,
           completed_at=m.completed_at)
    out["rule"] = m.rule
    out["result"] = dict(m.result) if m.result else None
    return out


def hold(h: MedicationHold, tz: ZoneInfo) -> Json:
    out: Json = {
        "id": h.id,
        "episode_id": h.episode_id,
        # The catalogue key (lowercase generic name); a drug outside the catalogue keeps the
        # text it was entered with, and says so with ``catalogued: false``.
        "drug": h.drug_key or h.drug_name,
        "drug_name": h.drug_name,
        "catalogued": h.drug_key is not None,
        "stop_days": h.stop_days,
        "stop_hours": h.stop_hours,
        "restart_hours": h.restart_hours,
        "interval_source": h.interval_source,
        "last_dose_on": day(h.last_dose_on),
    }
    _times(out, tz, last_dose_at=h.last_dose_at, restart_at=h.restart_at)
    out.update({
        "prescriber_name": h.prescriber_name,
        "prescriber_phone": h.prescriber_phone,
        "clearance": h.clearance,
        "clearance_by": h.clearance_by,
        "clearance_at": instant(h.clearance_at),
        "clearance_note": h.clearance_note,
        "signed": h.signed_at is not None,
        "signed_at": instant(h.signed_at),
        "signed_by_id": h.signed_by_id,
        "inr_required": h.inr_required,
        "inr_value": _decimal(h.inr_value),
        "inr_at": instant(h.inr_at),
    })
    return out


def appointment(a: Appointment, tz: ZoneInfo) -> Json:
    return _times(
        {"id": a.id, "episode_id": a.episode_id, "kind": a.kind, "status": a.status},
        tz, appointment_at=a.appointment_at,
    )


def message(m: Message, tz: ZoneInfo, definition: PathwayDefinition | None = None) -> Json:
    """A text's schedule and state; never its body (minimum necessary)."""
    out: Json = {"id": m.id, "kind": m.kind, "label": _label(definition, m.kind, message=True),
                 "status": m.status, "status_reason": m.status_reason, "milestone_id": m.milestone_id}
    return _times(out, tz, send_at=m.send_at, sent_at=m.sent_at)


def check_item(item: Any) -> Json:
    return {"item": item.item, "ok": bool(item.ok), "detail": item.detail}


def episode(
    e: Episode,
    *,
    messages: Sequence[Message] = (),
    checklist: Sequence[Any] = (),
    definition: PathwayDefinition | None = None,
) -> Json:
    tz = ZoneInfo(e.patient.timezone)
    out: Json = {
        "id": e.id,
        "patient_id": e.patient_id,
        "status": e.status,
        "timezone": e.patient.timezone,
    }
    _times(out, tz, procedure_at=e.procedure_at, ended_at=e.ended_at)
    out.update({
        "duration_minutes": e.duration_minutes,
        "facility": e.facility,
        "proceduralist": e.proceduralist,
        "levels": e.levels,
        "mri_reviewed_on": day(e.mri_reviewed_on),
        "tried_pt": e.tried_pt,
        "tried_medication": e.tried_medication,
        "tried_injections": e.tried_injections,
        "escort_arranged": e.escort_arranged,
        "cancelled_at": instant(e.cancelled_at),
        "cancel_reason": e.cancel_reason,
        "created_at": instant(e.created_at),
        "plan_revision": e.plan_revision,
        "milestones": [milestone(m, tz, definition) for m in _by_time(e.milestones)],
        "holds": [hold(h, tz) for h in e.holds],
        "appointments": [appointment(a, tz) for a in e.appointments],
        "messages": [message(m, tz, definition) for m in sorted(messages, key=lambda m: (m.send_at, m.id))],
        "checklist": [check_item(c) for c in checklist],
    })
    return out


def _by_time(milestones: Iterable[Milestone]) -> list[Milestone]:
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(milestones, key=lambda m: (m.due_at or m.window_start or m.window_end or far, m.id))


# --- re-planning diffs ---------------------------------------------------------------------


def _span(tz: ZoneInfo, due: datetime | None, start: datetime | None, end: datetime | None) -> Json:
    return _times({}, tz, due_at=due, window_start=start, window_end=end)


def _planned_milestone(pm: PlannedMilestone, tz: ZoneInfo, definition: PathwayDefinition | None) -> Json:
    return {"kind": pm.kind, "label": _label(definition, pm.kind), "hold_ref": pm.ref or None,
            **_span(tz, pm.due_at, pm.window_start, pm.window_end)}


def _stored_milestone(sm: StoredMilestone, tz: ZoneInfo, definition: PathwayDefinition | None) -> Json:
    kind, _, ref = sm.key.partition(":")
    return {"kind": kind, "label": _label(definition, kind), "hold_ref": ref or None, "status": sm.status,
            **_span(tz, sm.due_at, sm.window_start, sm.window_end)}


def _planned_message(pm: PlannedMessage, tz: ZoneInfo, definition: PathwayDefinition | None) -> Json:
    return _times({"kind": pm.kind, "label": _label(definition, pm.kind, message=True)}, tz, send_at=pm.send_at)


def plan_diff(
    diff: PlanDiff,
    *,
    tz: ZoneInfo,
    definition: PathwayDefinition | None = None,
    applied: bool,
    episode_id: int,
    procedure_at_before: datetime,
    procedure_at_after: datetime,
) -> Json:
    """A reschedule's changes: the texts cancelled and added, the steps moved, the notice."""
    out: Json = {"applied": applied, "episode_id": episode_id}
    _times(out, tz, procedure_at_before=procedure_at_before, procedure_at_after=procedure_at_after)
    out.update({
        "messages_cancelled": [
            {**_times({"kind": sm.kind, "label": _label(definition, sm.kind, message=True)}, tz, send_at=sm.send_at)}
            for sm in diff.messages_cancelled
        ],
        "messages_added": [_planned_message(pm, tz, definition) for pm in diff.messages_added],
        "milestones_moved": [
            {"kind": new.kind, "label": _label(definition, new.kind), "hold_ref": new.ref or None,
             "from": _span(tz, old.due_at, old.window_start, old.window_end),
             "to": _span(tz, new.due_at, new.window_start, new.window_end)}
            for old, new in diff.milestones_moved
        ],
        "milestones_added": [_planned_milestone(pm, tz, definition) for pm in diff.milestones_added],
        "milestones_cancelled": [_stored_milestone(sm, tz, definition) for sm in diff.milestones_cancelled],
        "notice": _planned_message(diff.notice, tz, definition) if diff.notice is not None else None,
        "summary": diff.summary(tz, definition),
    })
    return out


# --- lists ---------------------------------------------------------------------------------


def worklist_item(item: WorklistItem) -> Json:
    return {
        "kind": item.kind,
        "priority": item.priority,
        "patient_id": item.patient_id,
        "episode_id": item.episode_id,
        "subject_id": item.subject_id,
        "title": item.title,
        "detail": item.detail,
        "due_at": instant(item.due_at),
        "action": item.action,
        "task_id": item.task_id,
        "patient_name": item.patient_name,
        "mrn": item.mrn,
    }


def board_row(row: BoardRow) -> Json:
    out: Json = {
        "episode_id": row.episode_id,
        "patient_id": row.patient_id,
        "patient_name": row.patient_name,
        "mrn": row.mrn,
        "proceduralist": row.proceduralist,
        "procedure_at": instant(row.procedure_at),
        "check_72h": row.check_72h,
        "follow_up": row.follow_up,
        "follow_up_at": instant(row.follow_up_at),
        "pt": row.pt,
        "pt_at": instant(row.pt_at),
        "red_flag": bool(row.red_flag),
        "timezone": row.patient_timezone or None,
    }
    tz = ZoneInfo(row.patient_timezone) if row.patient_timezone else None
    for name in ("procedure_at", "follow_up_at", "pt_at"):
        value = getattr(row, name)
        out[f"{name}_local"] = local_instant(value, tz) if tz is not None else None
    return out


def board(b: Board, *, limit: int, offset: int, status: str | None, proceduralist: str | None) -> Json:
    return {
        "rows": [board_row(r) for r in b.rows],
        "counts": {str(k): int(v) for k, v in dict(b.counts).items()},
        "total": int(b.total),
        "limit": limit,
        "offset": offset,
        "status": status,
        "proceduralist": proceduralist,
    }
