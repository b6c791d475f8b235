"""Use cases about an episode: schedule it with its holds, move it, record what happened.

Each function runs inside the caller's transaction and raises before writing anything when
the input is bad, so an error leaves nothing half-stored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from pathway.models import Appointment, Episode, MedicationHold, Milestone, Patient
from pathway.services.base import (
    Actor,
    Conflict,
    Env,
    ValidationError,
    audit,
    get_or_404,
    parse_bool,
    parse_date,
    parse_int,
    parse_text,
)
from pathway.services.parsing import parse_instant, parse_phone
from pathway.services.planning import compute_diff, replan
from pathway.timeline import AmbiguousDrug, PlanDiff
from pathway.timeline.vocabulary import CARE_TEAM

# Admins manage accounts; only care staff see or change patients (minimum necessary).
STAFF = CARE_TEAM
# Clearance answers a coordinator may not record, and the plan fields only a clinician changes.
CLINICIAN_CLEARANCES = ("approved", "declined", "not_required")
PLAN_FIELDS = ("stop_days", "stop_hours", "restart_hours")
# The longest hold interval anyone may enter (a sanity bound, not a clinical default).
MAX_STOP_DAYS = 60
MAX_INTERVAL_HOURS = 24 * 30


def _parse_intervals(errors: dict[str, str], prefix: str, data: Mapping[str, Any]) -> tuple[int | None, ...]:
    """``stop_days``, ``stop_hours`` and ``restart_hours`` as entered; at most one way to stop."""
    stop_days = parse_int(errors, f"{prefix}stop_days", data.get("stop_days"), maximum=MAX_STOP_DAYS)
    stop_hours = parse_int(errors, f"{prefix}stop_hours", data.get("stop_hours"), maximum=MAX_INTERVAL_HOURS)
    restart_hours = parse_int(errors, f"{prefix}restart_hours", data.get("restart_hours"), maximum=MAX_INTERVAL_HOURS)
    if stop_days is not None and stop_hours is not None:
        errors[f"{prefix}stop_hours"] = "give stop_days or stop_hours, not both"
    return stop_days, stop_hours, restart_hours


# --- scheduling ----------------------------------------------------------------------------


def _parse_holds(env: Env, actor: Actor, raw: Any, errors: dict[str, str]) -> list[MedicationHold]:
    if raw in (None, ""):
        return []
    if not isinstance(raw, Sequence) or isinstance(raw, (str, bytes)):
        errors["holds"] = "must be a list of {drug, prescriber_name, prescriber_phone}"
        return []
    holds: list[MedicationHold] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        field = f"holds[{i}]"
        if not isinstance(item, Mapping):
            errors[field] = "must be an object with drug, prescriber_name, prescriber_phone"
            continue
        drug_raw = parse_text(errors, f"{field}.drug", item.get("drug"), max_len=120)
        prescriber = parse_text(errors, f"{field}.prescriber_name", item.get("prescriber_name"),
                                required=False, max_len=200)
        phone = parse_phone(errors, f"{field}.prescriber_phone", item.get("prescriber_phone"), required=False)
        stop_days, stop_hours, restart_hours = _parse_intervals(errors, f"{field}.", item)
        if not drug_raw:
            continue
        key = drug_raw.strip().lower()
        try:
            drug = env.rules.catalogue.find(key)
        except AmbiguousDrug as exc:
            errors[f"{field}.drug"] = str(exc)
            continue
        if key in seen:
            errors[f"{field}.drug"] = f"{drug_raw} is listed twice"
            continue
        seen.add(key)
        custom = stop_days is not None or stop_hours is not None
        hold = MedicationHold(
            drug_key=drug.key if drug else None,
            drug_name=drug.name if drug else drug_raw,
            prescriber_name=prescriber,
            prescriber_phone=phone,
            clearance="needed",
            inr_required=bool(drug.inr_required) if drug else False,
        )
        if custom or drug is None:
            hold.stop_days, hold.stop_hours = stop_days, stop_hours
            hold.restart_hours = restart_hours if restart_hours is not None else (drug.restart_hours if drug else None)
            hold.interval_source = f"entered by {actor.label}" if custom else "no default: a clinician must enter the plan"
        else:
            hold.stop_days, hold.stop_hours = drug.stop_days, drug.stop_hours
            hold.restart_hours = restart_hours if restart_hours is not None else drug.restart_hours
            hold.interval_source = drug.source
        holds.append(hold)
    return holds


def schedule_episode(session: Session, env: Env, actor: Actor, patient_id: Any, data: Mapping[str, Any]) -> Episode:
    actor.require(*STAFF)
    patient: Patient = get_or_404(session, Patient, patient_id, "patient")
    tz = ZoneInfo(patient.timezone)
    errors: dict[str, str] = {}
    procedure_at = parse_instant(errors, "procedure_at", data.get("procedure_at"), tz)
    if procedure_at is not None and procedure_at <= env.now:
        errors["procedure_at"] = "is in the past; enter the scheduled date and time of the procedure"
    duration = parse_int(errors, "duration_minutes", data.get("duration_minutes"), minimum=10, maximum=480)
    facility = parse_text(errors, "facility", data.get("facility"), required=False)
    proceduralist = parse_text(errors, "proceduralist", data.get("proceduralist"), required=False)
    levels = parse_text(errors, "levels", data.get("levels"), required=False, max_len=100)
    mri = parse_date(errors, "mri_reviewed_on", data.get("mri_reviewed_on"), required=False)
    tried_pt = parse_bool(errors, "tried_pt", data.get("tried_pt"))
    tried_med = parse_bool(errors, "tried_medication", data.get("tried_medication"))
    tried_inj = parse_bool(errors, "tried_injections", data.get("tried_injections"))
    escort = parse_bool(errors, "escort_arranged", data.get("escort_arranged"))
    holds = _parse_holds(env, actor, data.get("holds"), errors)
    if errors:
        raise ValidationError(errors)
    assert procedure_at is not None
    episode = Episode(
        patient=patient,
        procedure_at=procedure_at,
        duration_minutes=duration or int(env.rules.definition.expected_duration.total_seconds() // 60),
        facility=facility,
        proceduralist=proceduralist,
        levels=levels,
        status="scheduled",
        mri_reviewed_on=mri,
        tried_pt=tried_pt,
        tried_medication=tried_med,
        tried_injections=tried_inj,
        escort_arranged=escort,
        created_at=env.now,
        plan_revision=0,
        holds=holds,
    )
    session.add(episode)
    session.flush()
    replan(session, env, actor, episode, reason="episode scheduled")
    audit(session, env, actor, "episode.schedule", "episode", episode.id, patient_id=patient.id,
          detail={"holds": [h.drug_key or "free-text" for h in holds]})
    return episode


def load_episode(session: Session, episode_id: Any, *, lock: bool = False) -> Episode:
    return get_or_404(session, Episode, episode_id, "episode", lock=lock)  # type: ignore[no-any-return]


def _require_open(episode: Episode) -> None:
    if episode.status == "cancelled":
        raise Conflict("this episode is cancelled; schedule a new episode instead")


# --- changes that re-plan ----------------------------------------------------------------


@dataclass(frozen=True)
class RescheduleResult:
    episode: Episode
    diff: PlanDiff
    applied: bool


def reschedule(
    session: Session, env: Env, actor: Actor, episode_id: Any, data: Mapping[str, Any], *, preview: bool = False
) -> RescheduleResult:
    """Move the procedure. With ``preview`` the diff is computed and nothing is changed."""
    actor.require(*STAFF)
    episode = load_episode(session, episode_id, lock=not preview)
    _require_open(episode)
    errors: dict[str, str] = {}
    new_at = parse_instant(errors, "procedure_at", data.get("procedure_at"), ZoneInfo(episode.patient.timezone))
    if new_at is not None and new_at <= env.now:
        errors["procedure_at"] = "is in the past; enter the new date and time of the procedure"
    if new_at is not None and episode.ended_at is not None:
        errors["procedure_at"] = "the procedure already took place; it cannot be moved"
    if errors:
        raise ValidationError(errors)
    assert new_at is not None
    old_at = episode.procedure_at
    if preview:
        with session.begin_nested() as sp:
            episode.procedure_at = new_at
            diff = compute_diff(session, env, episode, notice_kind="date_changed" if new_at != old_at else None)
            sp.rollback()
        session.expire(episode)
        # Showing what a move would change shows the patient's plan: audited like a view.
        audit(session, env, actor, "episode.reschedule_preview", "episode", episode.id,
              patient_id=episode.patient_id, detail={"to": new_at.isoformat()})
        return RescheduleResult(episode, diff, applied=False)
    episode.procedure_at = new_at
    diff = replan(session, env, actor, episode, reason="procedure moved",
                  notice_kind="date_changed" if new_at != old_at else None)
    audit(session, env, actor, "episode.reschedule", "episode", episode.id, patient_id=episode.patient_id,
          detail={"from": old_at.isoformat(), "to": new_at.isoformat()})
    return RescheduleResult(episode, diff, applied=True)


def record_procedure_end(session: Session, env: Env, actor: Actor, episode_id: Any, data: Mapping[str, Any]) -> Episode:
    actor.require("coordinator", "clinician")
    episode = load_episode(session, episode_id, lock=True)
    _require_open(episode)
    errors: dict[str, str] = {}
    ended = parse_instant(errors, "ended_at", data.get("ended_at"), ZoneInfo(episode.patient.timezone))
    if ended is not None and ended <= episode.procedure_at:
        errors["ended_at"] = "must be after the procedure's start"
    if ended is not None and ended > env.now:
        errors["ended_at"] = "is in the future; record the end once the procedure is over"
    if errors:
        raise ValidationError(errors)
    episode.ended_at = ended
    episode.status = "completed"
    for m in episode.milestones:
        if m.kind == "procedure" and m.status not in ("done", "cancelled"):
            m.status, m.completed_at, m.completed_by_id = "done", env.now, actor.user_id
    replan(session, env, actor, episode, reason="procedure end recorded")
    audit(session, env, actor, "episode.procedure_end", "episode", episode.id, patient_id=episode.patient_id,
          detail={"ended_at": ended.isoformat() if ended else None})
    return episode


def book_appointment(
    session: Session, env: Env, actor: Actor, episode_id: Any, kind: str, data: Mapping[str, Any]
) -> Appointment:
    """Book or move the follow-up visit or the PT start."""
    actor.require(*STAFF)
    if kind not in ("follow_up", "pt_start"):
        raise ValidationError({"kind": "must be follow_up or pt_start"})
    episode = load_episode(session, episode_id, lock=True)
    _require_open(episode)
    errors: dict[str, str] = {}
    at = parse_instant(errors, "appointment_at", data.get("appointment_at"), ZoneInfo(episode.patient.timezone))
    if at is not None and at <= episode.procedure_at:
        errors["appointment_at"] = "must be after the procedure"
    if errors:
        raise ValidationError(errors)
    assert at is not None
    appt = episode.appointment(kind)
    moved_from = appt.appointment_at if appt else None
    if appt is None:
        appt = Appointment(kind=kind, appointment_at=at, status="booked", booked_at=env.now, booked_by_id=actor.user_id)
        episode.appointments.append(appt)
    else:
        appt.appointment_at = at
        appt.booked_at, appt.booked_by_id = env.now, actor.user_id
    session.flush()
    replan(session, env, actor, episode, reason=f"{kind.replace('_', ' ')} {'moved' if moved_from else 'booked'}")
    audit(session, env, actor, f"appointment.{'move' if moved_from else 'book'}", "appointment", appt.id,
          patient_id=episode.patient_id, detail={"kind": kind, "at": at.isoformat()})
    return appt


def complete_milestone(
    session: Session, env: Env, actor: Actor, milestone_id: Any, data: Mapping[str, Any]
) -> Milestone:
    actor.require("coordinator", "clinician")
    m: Milestone = get_or_404(session, Milestone, milestone_id, "milestone")
    episode = load_episode(session, m.episode_id, lock=True)
    _require_open(episode)
    result = data.get("result")
    if result is not None and not isinstance(result, Mapping):
        raise ValidationError({"result": "must be an object, e.g. {\"pain\": 3, \"note\": \"walking 20 min\"}"})
    if m.status == "cancelled":
        raise Conflict("this milestone no longer applies")
    if m.kind == "procedure":
        raise ValidationError({"milestone": "record the procedure's end instead; it completes this milestone"})
    m.status, m.completed_at, m.completed_by_id = "done", env.now, actor.user_id
    m.result = dict(result) if result else None
    if m.kind in ("follow_up", "pt_start"):
        appt = episode.appointment(m.kind)
        if appt is not None:
            appt.status = "done"
    replan(session, env, actor, episode, reason=f"{m.kind} completed")
    audit(session, env, actor, "milestone.complete", "milestone", m.id, patient_id=episode.patient_id,
          detail={"kind": m.kind})
    return m


def cancel_episode(session: Session, env: Env, actor: Actor, episode_id: Any, data: Mapping[str, Any]) -> Episode:
    actor.require(*STAFF)
    episode = load_episode(session, episode_id, lock=True)
    _require_open(episode)
    errors: dict[str, str] = {}
    reason = parse_text(errors, "reason", data.get("reason"), required=False, max_len=500)
    if errors:
        raise ValidationError(errors)
    notify = episode.ended_at is None and episode.procedure_at > env.now
    episode.status = "cancelled"
    episode.cancelled_at = env.now
    episode.cancel_reason = reason or None
    replan(session, env, actor, episode, reason="episode cancelled", notice_kind="cancelled" if notify else None)
    audit(session, env, actor, "episode.cancel", "episode", episode.id, patient_id=episode.patient_id)
    return episode


# --- holds ---------------------------------------------------------------------------------


def load_hold(session: Session, hold_id: Any, *, lock: bool = True) -> MedicationHold:
    hold: MedicationHold = get_or_404(session, MedicationHold, hold_id, "hold")
    load_episode(session, hold.episode_id, lock=lock)
    return hold


def record_clearance(session: Session, env: Env, actor: Actor, hold_id: Any, data: Mapping[str, Any]) -> MedicationHold:
    """Record the prescriber's clearance.

    A coordinator records that clearance was ``requested``. ``approved``, ``declined`` and
    ``not_required`` come from a clinician, whose call records the prescriber's answer and
    signs the hold plan in one step. Only an approved, signed hold produces texts that tell a
    patient to stop a drug.
    """
    # Who may do what is decided from the request, before the hold is looked up, so a wrong
    # role gets the same 403 for a hold that exists and one that does not.
    actor.require(*STAFF)
    if data.get("status") in CLINICIAN_CLEARANCES or any(data.get(f) is not None for f in PLAN_FIELDS):
        actor.require("clinician")  # the prescriber's answer and the clinician's signature, together
    hold = load_hold(session, hold_id)
    episode = hold.episode
    _require_open(episode)
    errors: dict[str, str] = {}
    status = data.get("status")
    if status not in ("requested", "approved", "declined", "not_required"):
        errors["status"] = "must be one of requested, approved, declined, not_required"
    by = parse_text(errors, "by", data.get("by"), required=status in ("approved", "declined"), max_len=200)
    note = parse_text(errors, "note", data.get("note"), required=False, max_len=2000)
    stop_days, stop_hours, restart_hours = _parse_intervals(errors, "", data)
    if errors:
        raise ValidationError(errors)
    if status in ("approved", "declined", "not_required"):
        actor.require("clinician")  # the prescriber's answer and the clinician's signature, together
    if stop_days is not None or stop_hours is not None or restart_hours is not None:
        actor.require("clinician")
        if stop_days is not None or stop_hours is not None:
            hold.stop_days, hold.stop_hours = stop_days, stop_hours
        if restart_hours is not None:
            hold.restart_hours = restart_hours
        hold.interval_source = "clinician plan"
    if status == "approved" and not hold.has_plan:
        raise ValidationError({"stop_days": f"{hold.drug_name} has no default hold; enter stop_days or stop_hours "
                                            "(and restart_hours) with the approval"})
    if status == "approved" and hold.restart_hours is None:
        raise ValidationError({"restart_hours": "enter when the patient may restart, in hours after the procedure"})
    hold.clearance = status
    hold.clearance_note = note or hold.clearance_note
    if status == "requested":
        hold.clearance_recorded_by_id = actor.user_id
        hold.clearance_at = env.now
    else:
        hold.clearance_by = by or hold.clearance_by
        hold.clearance_at = env.now
        hold.clearance_recorded_by_id = actor.user_id
        hold.signed_by_id = actor.user_id
        hold.signed_at = env.now
    for m in episode.milestones:
        if m.kind == "hold_clearance" and m.ref == hold.ref and status != "requested":
            m.status, m.completed_at, m.completed_by_id = "done", env.now, actor.user_id
    replan(session, env, actor, episode, reason=f"hold {status}")
    audit(session, env, actor, f"hold.{status}", "hold", hold.id, patient_id=episode.patient_id,
          detail={"drug": hold.drug_key or "free-text", "signed": hold.signed_at is not None})
    return hold


def record_inr(session: Session, env: Env, actor: Actor, hold_id: Any, data: Mapping[str, Any]) -> MedicationHold:
    actor.require("coordinator", "clinician")
    hold = load_hold(session, hold_id)
    _require_open(hold.episode)
    errors: dict[str, str] = {}
    try:
        value = Decimal(str(data.get("value")))
        if not Decimal("0.5") <= value <= Decimal("10"):
            errors["value"] = "an INR is between 0.5 and 10"
    except (InvalidOperation, ValueError):
        errors["value"] = f"not a number: {data.get('value')!r}"
        value = Decimal(0)
    measured = parse_instant(errors, "measured_at", data.get("measured_at") or env.now,
                             ZoneInfo(hold.episode.patient.timezone))
    if measured is not None and measured > env.now:
        errors["measured_at"] = "is in the future"
    if errors:
        raise ValidationError(errors)
    hold.inr_value = value.quantize(Decimal("0.01"))
    hold.inr_at = measured
    hold.inr_recorded_by_id = actor.user_id
    audit(session, env, actor, "hold.inr", "hold", hold.id, patient_id=hold.episode.patient_id,
          detail={"value": str(hold.inr_value)})
    return hold


# --- go / no-go ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckItem:
    item: str
    ok: bool
    detail: str


def go_no_go(env: Env, episode: Episode) -> list[CheckItem]:
    """The procedure-day checklist: holds confirmed, INR where required, escort arranged."""
    items: list[CheckItem] = []
    inr_max = Decimal(str(env.rules.definition.inr_max))
    for h in episode.holds:
        settled = h.clearance in ("declined", "not_required") or h.approved_and_signed
        items.append(CheckItem(f"{h.drug_name} hold", settled,
                               "signed" if settled else f"clearance {h.clearance.replace('_', ' ')}"))
        if h.inr_required and h.clearance == "approved":
            fresh = h.inr_at is not None and h.inr_at <= episode.procedure_at
            ok = bool(fresh and h.inr_value is not None and h.inr_value <= inr_max)
            detail = "no INR recorded" if h.inr_value is None else f"INR {h.inr_value} (needs <= {inr_max})"
            items.append(CheckItem(f"INR for {h.drug_name}", ok, detail))
    items.append(CheckItem("Escort arranged", episode.escort_arranged,
                           "yes" if episode.escort_arranged else "not recorded"))
    return items


def set_escort(session: Session, env: Env, actor: Actor, episode_id: Any, arranged: bool) -> Episode:
    actor.require(*STAFF)
    episode = load_episode(session, episode_id, lock=True)
    episode.escort_arranged = arranged
    audit(session, env, actor, "episode.escort", "episode", episode.id, patient_id=episode.patient_id,
          detail={"arranged": arranged})
    return episode
