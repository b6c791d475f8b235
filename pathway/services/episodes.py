"""Use cases about an episode: schedule it with its holds, move it, record what happened.

Each function runs inside the caller's transaction and raises before writing anything when
the input is bad, so an error leaves nothing half-stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from pathway.models import Appointment, Episode, MedicationHold, Message, Milestone, Observation, Patient, Task
from pathway.schemas.fields import Context
from pathway.schemas.inputs import (
    EPISODE_DETAILS,
    AppointmentIn,
    CancelIn,
    ClearanceIn,
    EpisodeIn,
    HoldAddIn,
    HoldIn,
    HoldLabelIn,
    InrIn,
    MilestoneCompleteIn,
    ProcedureEndIn,
    RescheduleIn,
)
from pathway.schemas.vocab import APPOINTMENT_KINDS
from pathway.services import tasks
from pathway.services.base import (
    Actor,
    Conflict,
    Env,
    Forbidden,
    ValidationError,
    audit,
    check_version,
    get_or_404,
    read_input,
)
from pathway.services.planning import compute_diff, episode_messages, hold_words, replan
from pathway.timeline import HoldPlanInput, PlanDiff
from pathway.timeline import gonogo as rules
from pathway.timeline.arrival import address_problem, arrival_problem
from pathway.timeline.gonogo import Blocker
from pathway.timeline.holds import HoldAtRisk, hold_at_risk
from pathway.timeline.localtime import local_date
from pathway.timeline.plan import plan_key_refs
from pathway.timeline.texts import join_words, text_context
from pathway.timeline.vocabulary import CARE_TEAM, Role

# Admins manage accounts; only care staff see or change patients (minimum necessary).
# Clearance answers a coordinator may not record, and the plan fields only a clinician changes.
CLINICIAN_CLEARANCES = ("approved", "declined", "not_required")
PLAN_FIELDS = ("stop_days", "stop_hours", "restart_hours")


# --- scheduling ----------------------------------------------------------------------------


def _hold(env: Env, actor: Actor, given: HoldIn) -> MedicationHold:
    """A hold as entered: the catalogue's interval unless a person entered one.

    A brand name or misspelling is its generic row (``Coumadin`` is warfarin, INR gate and
    all). A drug the catalogue does not know, and a "consider stopping" row, get no interval
    at all: a clinician enters the plan before the hold can be signed. A renal-dependent drug
    (dabigatran) follows the recorded creatinine clearance.
    """
    drug = env.rules.catalogue.find(given.drug)  # not ambiguous: HoldIn checked it
    hold = MedicationHold(
        drug_key=drug.key if drug else None,
        drug_name=drug.name if drug else given.drug,
        prescriber_name=given.prescriber_name,
        prescriber_phone=given.prescriber_phone,
        clearance="needed",
        inr_required=bool(drug.inr_required) if drug else False,
        crcl_ml_min=given.crcl_ml_min,
        patient_label=given.patient_label or None,
    )
    restart = given.restart_hours
    if given.entered or drug is None:
        hold.stop_days, hold.stop_hours = given.stop_days, given.stop_hours
        hold.restart_hours = restart if restart is not None else (drug.restart_hours if drug else None)
        hold.interval_source = (f"entered by {actor.label}" if given.entered
                                else "no default: a clinician must enter the plan")
    else:
        hold.stop_days, hold.stop_hours = drug.stop_days_for(given.crcl_ml_min), drug.stop_hours
        hold.restart_hours = restart if restart is not None else drug.restart_hours
        hold.interval_source = drug.source
        if drug.clinician_decides:
            suggestion = f" (guideline suggests: {drug.suggestion()})" if drug.suggestion() else ""
            hold.interval_source = f"consider stopping: a clinician decides and enters the plan{suggestion}"
    return hold


def schedule_episode(
    session: Session, env: Env, actor: Actor, patient_id: Any, data: Mapping[str, Any] | EpisodeIn
) -> Episode:
    actor.require(*CARE_TEAM)
    # No autoflush: whatever is pending (an enrolment's audit row and text, just before) goes in
    # with the episode's INSERT below, one flush instead of two; the patient row is in the database
    # already (a patient is flushed when enrolled), and a pending one is not a patient to schedule.
    with session.no_autoflush:
        patient: Patient = get_or_404(session, Patient, patient_id, "patient")
    given = read_input(EpisodeIn, data, Context(now=env.now, tz=ZoneInfo(patient.timezone),
                                                catalogue=env.rules.catalogue))
    _check_arrival_and_place(env, patient, given.procedure_at, given.arrival_at, given.facility_address,
                             given.facility)
    holds = [_hold(env, actor, h) for h in given.holds]
    episode = Episode(
        patient=patient,
        procedure_at=given.procedure_at,
        duration_minutes=given.duration_minutes or int(env.rules.definition.expected_duration.total_seconds() // 60),
        facility=given.facility,
        facility_address=given.facility_address,
        arrival_at=given.arrival_at,
        proceduralist=given.proceduralist,
        levels=given.levels,
        status="scheduled",
        mri_reviewed_on=given.mri_reviewed_on,
        tried_pt=given.tried_pt,
        tried_medication=given.tried_medication,
        tried_injections=given.tried_injections,
        escort_arranged=given.escort_arranged,
        created_at=env.now,
        plan_revision=0,
        holds=holds,
        # A new episode has none yet: saying so spares a SELECT of each when the plan reads them.
        milestones=[],
        appointments=[],
    )
    session.add(episode)
    session.flush()
    replan(session, env, actor, episode, reason="episode scheduled")
    audit(session, env, actor, "episode.schedule", "episode", episode.id, patient_id=patient.id,
          detail={"holds": [h.drug_key or "free-text" for h in holds]})
    return episode


def _check_arrival_and_place(env: Env, patient: Patient, procedure_at: datetime, arrival_at: datetime | None,
                             address: str | None, facility: str) -> None:
    """The day-before text's arrival and address line, checked before anything is stored: the
    arrival before the procedure and not absurdly early (422 naming `arrival_at`); an address line
    (`address`, None when not being set) that would tell a reader of the patient's phone what the
    visit is for (unless the patient chose detailed texts), or that cannot fit the text beside the
    facility's name (`[procedure_day] place_max_chars` for both), is refused (422 naming
    `facility_address`). A new facility name alone is never refused: one that does not fit beside
    the address line is kept for staff and left out of the text (`timeline.arrival.place_words`)."""
    definition = env.rules.definition
    errors: dict[str, str] = {}
    if arrival_at is not None:
        problem = arrival_problem(procedure_at, arrival_at, definition.arrival_max_before)
        if problem is not None:
            errors["arrival_at"] = problem
    if address:
        problem = address_problem(facility, address, definition.revealing_words, detailed=patient.detailed_texts,
                                  max_chars=definition.place_max_chars)
        if problem is not None:
            errors["facility_address"] = problem
    if errors:
        raise ValidationError(errors)


def load_episode(session: Session, episode_id: Any, *, lock: bool = False) -> Episode:
    return get_or_404(session, Episode, episode_id, "episode", lock=lock)  # type: ignore[no-any-return]


def _require_open(episode: Episode) -> None:
    if episode.status == "cancelled":
        raise Conflict("this episode is cancelled; schedule a new episode instead")


# --- changes that re-plan ----------------------------------------------------------------


@dataclass(frozen=True)
class RescheduleResult:
    """A move (or its preview): the diff, the procedure's time before and after, and the holds
    the move breaks (each with its hold id)."""

    episode: Episode
    diff: PlanDiff
    applied: bool
    procedure_at_before: datetime
    procedure_at_after: datetime
    holds_at_risk: tuple[tuple[int, HoldAtRisk], ...] = ()
    # The medicines the notice to the patient names (its words, then the drug: "your blood
    # thinner (apixaban)"): each medicine whose dates move, or that the patient may have stopped.
    notice_medicines: tuple[str, ...] = ()
    # A hold added or removed (the change's subject), and whether the patient may already have
    # stopped it (a removal after its last dose).
    hold: MedicationHold | None = None
    stopped: bool = False
    # A hold added whose last dose has already passed: the patient cannot stop it in time.
    late: HoldAtRisk | None = None


class HoldsAtRisk(Conflict):
    """A move that breaks signed holds (or postpones the procedure after the patient may have
    stopped a medicine), refused until the caller confirms it."""

    def __init__(self, risks: tuple[tuple[int, HoldAtRisk], ...], message: str | None = None) -> None:
        stopped = sum(1 for _, r in risks if r.problem == STOPPED_BEFORE_MOVE)
        broken = len(risks) - stopped
        what = []
        if broken:
            what.append(f"breaks {broken} hold plan(s): each must be answered and signed again before the procedure")
        if stopped:
            what.append(f"comes after the last dose of {stopped} held medicine(s): the patient may have stopped, "
                        "and a person must call about restarting")
        super().__init__(message or (f"this move {'; and it '.join(what)}; send confirm_holds_at_risk: true to "
                                     "move it anyway"))
        self.risks = risks


# What each problem means, for staff.
RISK_WORDS = {
    "hold_too_short": "the last dose is now earlier than the signed plan",
    "hold_started_late": "the new last dose is already past",
    "stopped_before_move": "the patient may already have stopped the medicine",
    "last_dose_day_changed": "the last-dose day is now a different day than the one signed",
}
# A postponement after a hold's last dose: the hold still stands (moving later never shortens
# it), but the patient may have stopped and must hear how to restart (a restart_after_postpone call).
STOPPED_BEFORE_MOVE = "stopped_before_move"
# The template variant of the date-change notice for such holds (restart only as the doctor says).
NOTICE_STOPPED_VARIANT = "stopped"
# Holds that tell the patient to stop nothing: a move cannot break them.
NO_STOP = ("declined", "not_required")


def _holds_at_risk(env: Env, episode: Episode, new_at: datetime) -> tuple[tuple[int, HoldAtRisk], ...]:
    """Every hold the move to ``new_at`` breaks, checked before anything changes."""
    tz = ZoneInfo(episode.patient.timezone)
    found = []
    for hold in episode.holds:
        if hold.clearance in NO_STOP:
            continue
        signed: date | datetime | None = None
        if hold.signed_at is not None:
            signed = hold.last_dose_at if hold.last_dose_at is not None else hold.last_dose_on
        risk = hold_at_risk(hold.ref, hold.drug_name,
                            HoldPlanInput(hold.stop_days, hold.stop_hours, hold.restart_hours),
                            signed_last_dose=signed, procedure_at=new_at, tz=tz,
                            duration=timedelta(minutes=episode.duration_minutes), now=env.now)
        if risk is not None:
            found.append((hold.id, risk))
    return tuple(found)


def _unsign(env: Env, episode: Episode, hold: MedicationHold, risk: HoldAtRisk,
            why: str = "the procedure moved") -> None:
    """A signature is for one plan: the hold goes back to ``requested``, unsigned, and its
    clearance step reopens, so no stop or restart text goes until it is answered and signed
    again (the dispatcher re-checks that at send time) and the episode is not a go."""
    hold.clearance = "requested"
    hold.clearance_by = None
    hold.clearance_note = f"signature cleared: {why} and {RISK_WORDS[risk.problem]}"
    hold.clearance_at = env.now
    hold.clearance_recorded_by_id = None
    hold.signed_at = None
    hold.signed_by_id = None
    hold.signed_for_procedure_at = None
    for m in episode.milestones:
        if m.kind == "hold_clearance" and m.ref == hold.ref and m.status == "done":
            m.status, m.completed_at, m.completed_by_id = "planned", None, None


def reschedule(
    session: Session, env: Env, actor: Actor, episode_id: Any, data: Mapping[str, Any] | RescheduleIn,
    *, preview: bool = False,
) -> RescheduleResult:
    """Move the procedure and/or change the episode's details and candidacy items (the PATCH):
    only the fields sent change, in one transaction, with one audit row naming the fields that
    changed. With ``preview`` the diff is computed and nothing is changed.

    Every hold is checked against a new time first. A move that breaks a hold (see
    ``timeline.holds.hold_at_risk``) is refused (409, ``HoldsAtRisk``) unless confirmed; when
    confirmed, each such hold loses its signature and goes on the worklist.
    """
    actor.require(*CARE_TEAM)
    episode = load_episode(session, episode_id, lock=not preview)
    check_version(episode, data, "episode")
    _require_open(episode)
    given = read_input(RescheduleIn, data, Context(now=env.now, tz=ZoneInfo(episode.patient.timezone)))
    moving = given.procedure_at is not None
    if moving and episode.ended_at is not None:
        raise ValidationError({"procedure_at": "the procedure already took place; it cannot be moved"})
    old_at = episode.procedure_at
    new_at = given.procedure_at if given.procedure_at is not None else old_at
    details = {f: getattr(given, f) for f in EPISODE_DETAILS
               if f in given.sent and getattr(episode, f) != getattr(given, f)}
    if moving and "arrival_at" not in given.sent and episode.arrival_at is not None and new_at != old_at:
        # The episode's own arrival keeps its lead before the procedure when the procedure moves.
        details["arrival_at"] = new_at.astimezone(UTC) - (old_at.astimezone(UTC) - episode.arrival_at.astimezone(UTC))
    _check_arrival_and_place(env, episode.patient, new_at, details.get("arrival_at", episode.arrival_at),
                             details.get("facility_address"), details.get("facility", episode.facility))
    fields = sorted({*details, *(("procedure_at",) if moving and new_at != old_at else ())})
    risks = _holds_at_risk(env, episode, new_at) if moving else ()
    # Postponed after a last dose: the patient may have stopped (judged before anything changes).
    stopped = (stopped_holds(env, episode, session) if moving and new_at > old_at and episode.ended_at is None else [])
    stopped_risks = tuple((h.id, _stopped_risk(episode, h)) for h in stopped)
    listed = risks + stopped_risks  # what the answer lists and what needs confirming
    keys = {h.id: h.drug_key or "free-text" for h in episode.holds}  # audit rows carry keys, not typed names
    risk_detail = [{"hold_id": hid, "drug": keys[hid], "last_dose_on": r.last_dose_on.isoformat(),
                    "problem": r.problem} for hid, r in listed]
    moved_detail: dict[str, Any] = {"to": new_at.isoformat(), "holds_at_risk": risk_detail} if moving else {}
    before = {h.id: h.last_dose_on or (h.last_dose_at and h.last_dose_at.isoformat()) for h in episode.holds}
    if preview:
        with session.begin_nested() as sp:
            by_id = {h.id: h for h in episode.holds}
            for hold_id, risk in risks:  # show what the confirmed move would do: no stop text until re-signed
                _unsign(env, episode, by_id[hold_id], risk)
            for name, value in details.items():
                setattr(episode, name, value)
            episode.procedure_at = new_at
            diff = compute_diff(session, env, episode, notice_kind="date_changed" if new_at != old_at else None)
            named = _notice_names(env, episode, stopped or _changed_holds(episode, before)) if diff.notice else ()
            sp.rollback()
        session.expire(episode)
        # Showing what a change would do shows the patient's plan: audited like a view.
        audit(session, env, actor, "episode.reschedule_preview" if moving else "episode.edit_preview", "episode",
              episode.id, patient_id=episode.patient_id, detail={**moved_detail, "fields": fields})
        return RescheduleResult(episode, diff, False, old_at, new_at, listed, notice_medicines=named)
    if listed and not given.confirm_holds_at_risk:
        audit(session, env, actor, "episode.reschedule_refused", "episode", episode.id,
              patient_id=episode.patient_id, detail={**moved_detail, "fields": fields})
        raise HoldsAtRisk(listed)
    by_id = {h.id: h for h in episode.holds}
    for hold_id, risk in risks:
        _unsign(env, episode, by_id[hold_id], risk)
        tasks.open_task(session, env, "hold_at_risk", f"hold:{hold_id}",
                        f"Procedure moved: {RISK_WORDS[risk.problem]} (new last dose "
                        f"{risk.last_dose_on.strftime('%a %b %d')}). Get the prescriber's answer and sign again.",
                        patient_id=episode.patient_id, episode_id=episode.id)
    for name, value in details.items():
        setattr(episode, name, value)
    episode.procedure_at = new_at
    if new_at != old_at:
        episode.moved_at = env.now
    diff = replan(session, env, actor, episode, reason="procedure moved" if moving else "episode details changed",
                  notice_kind="date_changed" if new_at != old_at else None)
    if diff.notice is not None and stopped:
        # Never "we will text when to stop": the patient may have stopped already.
        _add_to_notice(session, env, episode, "date_changed", stopped, variant=NOTICE_STOPPED_VARIANT)
    elif diff.notice is not None:
        _add_to_notice(session, env, episode, "date_changed", _changed_holds(episode, before))
    _call_if_too_late(session, env, episode, diff)
    for hold in stopped:
        tasks.open_task(session, env, "restart_after_postpone", f"hold:{hold.id}",
                        "Postponed after the last dose: call the patient about restarting (as the prescriber "
                        "advises) and about when to stop again for the new date, and record the call.",
                        patient_id=episode.patient_id, episode_id=episode.id)
    if moving:
        audit(session, env, actor, "episode.reschedule", "episode", episode.id, patient_id=episode.patient_id,
              detail={"from": old_at.isoformat(), **moved_detail, "confirmed": bool(listed), "fields": fields})
    else:
        audit(session, env, actor, "episode.edit", "episode", episode.id, patient_id=episode.patient_id,
              detail={"fields": fields})
    named = _notice_names(env, episode, stopped or _changed_holds(episode, before)) if diff.notice else ()
    return RescheduleResult(episode, diff, True, old_at, new_at, listed, notice_medicines=named)


def _changed_holds(episode: Episode, before: Mapping[int, Any]) -> list[MedicationHold]:
    """The holds with a stop plan whose last dose moved: the date-change text names each."""
    return [h for h in episode.holds if h.clearance not in NO_STOP and h.has_plan
            and before.get(h.id) != (h.last_dose_on or (h.last_dose_at and h.last_dose_at.isoformat()))]


def _notice_names(env: Env, episode: Episode, holds: list[MedicationHold]) -> tuple[str, ...]:
    """For staff: how the notice names each medicine, with the drug ("your blood thinner (apixaban)")."""
    out: list[str] = []
    for hold in holds:
        words = hold_words(env, hold, episode.patient)
        out.append(words if words.lower() == hold.drug_name.lower() else f"{words} ({hold.drug_name})")
    return tuple(out)


NOTICE_TOO_LATE_WORDS = {
    "date_changed": "The procedure was moved, but the text telling the patient could not reach them before the "
                    "procedure ends (quiet hours). Call the patient with the new date and time, and record the call.",
    "cancelled": "The procedure was cancelled, but the text telling the patient could not reach them before it "
                 "would have ended (quiet hours). Call the patient, and record the call.",
}


def _call_if_too_late(session: Session, env: Env, episode: Episode, diff: PlanDiff) -> None:
    """No notice goes after the procedure it concerns has ended: when none could be planned in
    time, a person calls instead (a ``notice_too_late`` task)."""
    if diff.notice_too_late is not None:
        tasks.open_task(session, env, "notice_too_late", f"episode:{episode.id}",
                        NOTICE_TOO_LATE_WORDS[diff.notice_too_late], patient_id=episode.patient_id,
                        episode_id=episode.id)


def _stopped_risk(episode: Episode, hold: MedicationHold) -> HoldAtRisk:
    """A hold the patient may have stopped, listed with the last-dose day they were given."""
    day = (hold.last_dose_at.astimezone(ZoneInfo(episode.patient.timezone)).date() if hold.last_dose_at
           else hold.last_dose_on)
    assert day is not None  # stopped_holds lists only holds with a last dose
    return HoldAtRisk(hold.ref, hold.drug_name, day, STOPPED_BEFORE_MOVE)


# --- what a notice says about the medicines ------------------------------------------------

# The variant of a notice's template that names medicines: `templates/sms/<kind>.medicines.<lang>.txt`
# (the message's kind stays `kind`; only its words differ from the plain template's).
NOTICE_MEDICINES_VARIANT = "medicines"


def _medicines(env: Env, holds: list[MedicationHold], lang: str) -> str:
    """The medicines a notice names, each as every other text names it (the patient's label,
    the drug name for detailed texts, or the plain term: planning.hold_words), joined as a list
    ("your blood thinner and Plavix")."""
    names: list[str] = []
    for hold in holds:
        name = hold_words(env, hold, hold.episode.patient)
        if name not in names:
            names.append(name)
    return join_words(names, lang)


def _add_to_notice(session: Session, env: Env, episode: Episode, kind: str, holds: list[MedicationHold],
                   *, variant: str = NOTICE_MEDICINES_VARIANT) -> None:
    """Word the notice just planned (still scheduled, not yet claimed) with its template's
    medicines variant (or another that names them), so it names the medicines."""
    if not holds:
        return
    patient = episode.patient
    notice = next((m for m in reversed(episode_messages(session, episode))
                   if m.kind == kind and m.status == "scheduled"), None)
    if notice is None:
        return
    lang = notice.language
    context = text_context({"procedure_at": episode.procedure_at.isoformat()}, lang=lang,
                           tz=ZoneInfo(patient.timezone), detailed=patient.detailed_texts,
                           clinic_name=env.rules.clinic.name, clinic_phone=env.rules.clinic.phone)
    context["drug"] = _medicines(env, holds, lang)
    notice.body = env.rules.templates.render(kind, lang, context, variant=variant)


def record_procedure_end(
    session: Session, env: Env, actor: Actor, episode_id: Any, data: Mapping[str, Any] | ProcedureEndIn
) -> Episode:
    actor.require(*CARE_TEAM)
    episode = load_episode(session, episode_id, lock=True)
    check_version(episode, data, "episode")
    _require_open(episode)
    ended = read_input(ProcedureEndIn, data, Context(now=env.now, tz=ZoneInfo(episode.patient.timezone))).ended_at
    if ended <= episode.procedure_at:
        raise ValidationError({"ended_at": "must be after the procedure's start"})
    episode.ended_at = ended
    episode.status = "completed"
    for m in episode.milestones:
        if m.kind == "procedure" and m.status not in ("done", "cancelled"):
            m.status, m.completed_at, m.completed_by_id = "done", env.now, actor.user_id
    replan(session, env, actor, episode, reason="procedure end recorded")
    audit(session, env, actor, "episode.procedure_end", "episode", episode.id, patient_id=episode.patient_id,
          detail={"ended_at": ended.isoformat()})
    return episode


def book_appointment(
    session: Session, env: Env, actor: Actor, episode_id: Any, kind: str, data: Mapping[str, Any] | AppointmentIn
) -> Appointment:
    """Book or move the follow-up visit or the PT start."""
    actor.require(*CARE_TEAM)
    if kind not in APPOINTMENT_KINDS:
        raise ValidationError({"kind": f"must be one of {', '.join(APPOINTMENT_KINDS)}"})
    episode = load_episode(session, episode_id, lock=True)
    check_version(episode, data, "episode")
    _require_open(episode)
    given = read_input(AppointmentIn, data, Context(now=env.now, tz=ZoneInfo(episode.patient.timezone)))
    at = given.appointment_at
    if at <= episode.procedure_at:
        raise ValidationError({"appointment_at": "must be after the procedure"})
    if kind == "follow_up" and outside_window(episode, at) and not given.confirm_outside_window:
        d = env.rules.definition
        raise OutsideWindow(f"The follow-up visit belongs {d.follow_up_window_start_day} to "
                            f"{d.follow_up_window_end_day} days after the procedure; to book it outside that "
                            "window, confirm it (confirm_outside_window: true).")
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


class OutsideWindow(Conflict):
    """A follow-up visit outside its window, not confirmed (409)."""


def outside_window(episode: Episode, at: datetime) -> bool:
    """Whether a follow-up visit at ``at`` falls outside the episode's follow-up window."""
    window = next((m for m in episode.milestones if m.kind == "follow_up" and not m.ref), None)
    if window is None or window.window_start is None or window.window_end is None:
        return False
    return not window.window_start <= at < window.window_end


def done_from(m: Milestone) -> datetime | None:
    """The moment from which a step may be marked done (None: any time).

    A step cannot have happened before it is due: its due moment (the last dose, the 72-hour
    check, the restart: estimated until the end is recorded), the booked appointment's time for
    the follow-up visit and the PT start, else, with nothing booked, the window's start. A visit
    marked done on its day after it took place is accepted; one booked for later is not (move
    the booking first).
    """
    return m.due_at if m.due_at is not None else m.window_start


def _not_before_due(m: Milestone, episode: Episode, now: datetime) -> None:
    start = done_from(m)
    if start is None or now >= start:
        return
    local = start.astimezone(ZoneInfo(episode.patient.timezone))
    what = {"follow_up": "the visit is booked for", "pt_start": "physical therapy is booked to start"}
    if m.due_at is None:
        lead = "this step's window opens"
    elif m.kind in what:
        lead = what[m.kind]
    elif m.due_estimated:
        lead = "this step is due (estimated from the expected end)"
    else:
        lead = "this step is due"
    fix = "; if it took place earlier, move the booking first" if m.kind in what and m.due_at is not None else ""
    raise ValidationError({"due_at": f"{lead} {local:%a} {local.day} {local:%b %Y %H:%M %Z} "
                                     f"(patient's time); it cannot be marked done before then{fix}"})


def complete_milestone(
    session: Session, env: Env, actor: Actor, milestone_id: Any, data: Mapping[str, Any] | MilestoneCompleteIn
) -> Milestone:
    actor.require(*CARE_TEAM)
    m: Milestone = get_or_404(session, Milestone, milestone_id, "milestone")
    if m.kind == "hold_clearance":
        # Only the clearance route completes it, with the prescriber's answer and a signature.
        raise Forbidden("a hold's clearance is completed only by recording the prescriber's answer and "
                        "signing the hold (the clearance route)")
    episode = load_episode(session, m.episode_id, lock=True)
    check_version(episode, data, "episode")
    _require_open(episode)
    result = read_input(MilestoneCompleteIn, data).result
    if m.status == "cancelled":
        raise Conflict("this milestone no longer applies")
    if m.kind == "procedure":
        raise ValidationError({"milestone": "record the procedure's end instead; it completes this milestone"})
    _not_before_due(m, episode, env.now)
    m.status, m.completed_at, m.completed_by_id = "done", env.now, actor.user_id
    m.result = result
    if m.kind in ("follow_up", "pt_start"):
        appt = episode.appointment(m.kind)
        if appt is not None:
            appt.status = "done"
    replan(session, env, actor, episode, reason=f"{m.kind} completed")
    audit(session, env, actor, "milestone.complete", "milestone", m.id, patient_id=episode.patient_id,
          detail={"kind": m.kind})
    return m


# A text in these states has left, or may have left, for the patient's phone.
MAY_HAVE_LEFT = ("sending", "sent", "delivered", "unknown")


def _told_to_stop(session: Session, episode: Episode) -> set[str]:
    """The refs of holds whose last-dose text has (or may have) reached the patient: it says
    "take the last dose on ... restart only when we say", so from then the patient will stop,
    whatever the calendar says."""
    keys = session.scalars(select(Message.plan_key).where(
        Message.episode_id == episode.id, Message.kind == "last_dose", Message.status.in_(MAY_HAVE_LEFT)))
    refs: set[str] = set()
    for key in keys:
        refs.update(plan_key_refs(key))  # one text may name several medicines: "h3+h4"
    return refs


def stopped_holds(env: Env, episode: Episode, session: Session) -> list[MedicationHold]:
    """Holds the patient may already have stopped, or will stop: a stop plan whose last dose is
    today or past in the patient's zone (from the day after it, the patient takes no more), or
    whose last-dose text has gone out: the patient was told to stop."""
    tz = ZoneInfo(episode.patient.timezone)
    today = local_date(env.now, tz)
    told = _told_to_stop(session, episode)
    out = []
    for hold in episode.holds:
        if hold.clearance in NO_STOP or not hold.has_plan:
            continue
        if hold.last_dose_at is not None:
            stopped = hold.last_dose_at <= env.now
        else:
            stopped = hold.last_dose_on is not None and hold.last_dose_on <= today
        if stopped or hold.ref in told:
            out.append(hold)
    return out


def cancel_episode(
    session: Session, env: Env, actor: Actor, episode_id: Any, data: Mapping[str, Any] | CancelIn
) -> Episode:
    """Cancel with a reason. Pending texts (the restart text too) are cancelled. When a hold's
    last dose has come, the patient may have stopped: the cancellation text says, per medicine,
    to restart as the prescriber advises, and a person must call (a ``restart_after_cancel``
    task, resolved with a note)."""
    actor.require(*CARE_TEAM)
    episode = load_episode(session, episode_id, lock=True)
    check_version(episode, data, "episode")
    _require_open(episode)
    reason = read_input(CancelIn, data).reason
    notify = episode.ended_at is None and episode.procedure_at > env.now
    stopped = stopped_holds(env, episode, session) if episode.ended_at is None else []
    episode.status = "cancelled"
    episode.cancelled_at = env.now
    episode.cancel_reason = reason
    diff = replan(session, env, actor, episode, reason="episode cancelled",
                  notice_kind="cancelled" if notify else None)
    _call_if_too_late(session, env, episode, diff)
    if notify:
        _add_to_notice(session, env, episode, "cancelled", stopped)
    tasks.close_open(session, env, actor, "hold_at_risk", [f"hold:{h.id}" for h in episode.holds],
                     "episode cancelled: no hold to sign again")
    for hold in stopped:
        tasks.open_task(session, env, "restart_after_cancel", f"hold:{hold.id}",
                        "Cancelled after the last dose: call the patient about restarting (as the prescriber "
                        "advises) and record the call.", patient_id=episode.patient_id, episode_id=episode.id)
    audit(session, env, actor, "episode.cancel", "episode", episode.id, patient_id=episode.patient_id,
          detail={"stopped_holds": [h.id for h in stopped]})
    return episode


# --- holds ---------------------------------------------------------------------------------


def load_hold(session: Session, hold_id: Any, *, lock: bool = True) -> MedicationHold:
    hold: MedicationHold = get_or_404(session, MedicationHold, hold_id, "hold")
    load_episode(session, hold.episode_id, lock=lock)
    if hold.removed_at is not None:
        raise Conflict("this hold was removed from the episode; add the medicine again if it must be held")
    return hold


def record_clearance(
    session: Session, env: Env, actor: Actor, hold_id: Any, data: Mapping[str, Any] | ClearanceIn
) -> MedicationHold:
    """Record the prescriber's clearance.

    A coordinator records that clearance was ``requested``. ``approved``, ``declined`` and
    ``not_required`` come from a clinician, whose call records the prescriber's answer and
    signs the hold plan in one step. Only an approved, signed hold produces texts that tell a
    patient to stop a drug.
    """
    # Who may do what is decided from the request, before the hold is looked up, so a wrong
    # role gets the same 403 for a hold that exists and one that does not.
    actor.require(*CARE_TEAM)
    raw = data.model_dump() if isinstance(data, ClearanceIn) else data
    if raw.get("status") in CLINICIAN_CLEARANCES or any(raw.get(f) is not None for f in PLAN_FIELDS):
        actor.require(Role.CLINICIAN)  # the prescriber's answer and the clinician's signature, together
    hold = load_hold(session, hold_id)
    episode = hold.episode
    check_version(episode, data, "episode")
    _require_open(episode)
    given = read_input(ClearanceIn, data)
    status = given.status
    stop_days, stop_hours, restart_hours = hold.stop_days, hold.stop_hours, hold.restart_hours
    if given.entered:
        stop_days, stop_hours = given.stop_days, given.stop_hours
    if given.restart_hours is not None:
        restart_hours = given.restart_hours
    if status == "approved":
        # No silent default: a drug without one is signed only with the clinician's own numbers,
        # and every missing number is named at once. Checked before anything is changed.
        missing: dict[str, str] = {}
        if stop_days is None and stop_hours is None:
            missing["stop_days"] = (f"{hold.drug_name} has no default hold; enter the stop days (or stop hours) "
                                    "with the approval")
        if restart_hours is None:
            missing["restart_hours"] = "enter when the patient may restart, in hours after the procedure"
        if missing:
            raise ValidationError(missing)
    if given.entered or given.restart_hours is not None:
        hold.stop_days, hold.stop_hours, hold.restart_hours = stop_days, stop_hours, restart_hours
        hold.interval_source = MedicationHold.CLINICIAN_PLAN
    hold.clearance = status
    hold.clearance_note = given.note or hold.clearance_note
    if status == "requested":
        hold.clearance_recorded_by_id = actor.user_id
        hold.clearance_at = env.now
    else:
        hold.clearance_by = given.by or hold.clearance_by
        hold.clearance_at = env.now
        hold.clearance_recorded_by_id = actor.user_id
        hold.signed_by_id = actor.user_id
        hold.signed_at = env.now
        hold.signed_for_procedure_at = episode.procedure_at
    for m in episode.milestones:
        if m.kind == "hold_clearance" and m.ref == hold.ref and status != "requested":
            m.status, m.completed_at, m.completed_by_id = "done", env.now, actor.user_id
    replan(session, env, actor, episode, reason=f"hold {status}")
    audit(session, env, actor, f"hold.{status}", "hold", hold.id, patient_id=episode.patient_id,
          detail={"drug": hold.drug_key or "free-text", "signed": hold.signed_at is not None})
    return hold


def record_inr(
    session: Session, env: Env, actor: Actor, hold_id: Any, data: Mapping[str, Any] | InrIn
) -> MedicationHold:
    actor.require(*CARE_TEAM)
    hold = load_hold(session, hold_id)
    check_version(hold.episode, data, "episode")
    _require_open(hold.episode)
    given = read_input(InrIn, data, Context(now=env.now, tz=ZoneInfo(hold.episode.patient.timezone)))
    hold.inr_value = given.value
    hold.inr_at = given.measured_at
    hold.inr_recorded_by_id = actor.user_id
    audit(session, env, actor, "hold.inr", "hold", hold.id, patient_id=hold.episode.patient_id,
          detail={"value": str(hold.inr_value)})
    return hold


# --- adding and removing a hold before the procedure ---------------------------------------


class HoldStopped(Conflict):
    """Removing a hold whose last dose has come (the patient may have stopped the medicine),
    refused until the caller confirms it (a person then calls the patient about restarting)."""


def _require_before_procedure(env: Env, episode: Episode, what: str) -> None:
    _require_open(episode)
    if episode.ended_at is not None or episode.status == "completed":
        raise Conflict(f"the procedure has ended; {what} only before it")
    if episode.procedure_at <= env.now:
        raise Conflict(f"the procedure time has passed; {what} only before it")


def _same_drug(env: Env, hold: MedicationHold, drug_key: str | None, drug_name: str) -> bool:
    """The same drug, or another regimen of it (both aspirin rows): one medicine to the patient,
    whose texts would name it alike, so an episode holds it once."""
    if drug_key is not None:
        if hold.drug_key == drug_key:
            return True
        names = env.rules.catalogue.text_names
        mine, theirs = names(drug_key).get("en"), names(hold.drug_key).get("en")
        return mine is not None and theirs is not None and mine.casefold() == theirs.casefold()
    return hold.drug_key is None and hold.drug_name.strip().lower() == drug_name.strip().lower()


def add_hold(
    session: Session, env: Env, actor: Actor, episode_id: Any, data: Mapping[str, Any] | HoldAddIn,
    *, preview: bool = False,
) -> RescheduleResult:
    """Add a medicine to hold, before the procedure. The hold needs clearance like any other (a
    ``hold_clearance`` step, the worklist, no stop text until approved and signed); the plan is
    re-planned, and other holds' texts are re-worded when the names must tell them apart. With
    ``preview`` the diff is computed and nothing is changed."""
    actor.require(*CARE_TEAM)
    episode = load_episode(session, episode_id, lock=not preview)
    check_version(episode, data, "episode")
    _require_before_procedure(env, episode, "a hold can be added")
    given = read_input(HoldAddIn, data, Context(now=env.now, tz=ZoneInfo(episode.patient.timezone),
                                             catalogue=env.rules.catalogue))
    hold = _hold(env, actor, given)
    held = next((h for h in episode.holds if _same_drug(env, h, hold.drug_key, hold.drug_name)), None)
    if held is not None and held.drug_key == hold.drug_key:
        raise ValidationError({"drug": f"{hold.drug_name} is already held in this episode; record its clearance "
                                       "there instead"})
    if held is not None:
        raise ValidationError({"drug": f"{held.drug_name} is already held in this episode, and it is the same "
                                       f"medicine to the patient; remove that hold first to hold {hold.drug_name} "
                                       "instead"})
    at = episode.procedure_at
    # Its last dose may already be past: the patient cannot stop in time (told before it is saved;
    # once signed the go / no go says hold_started_late).
    late = hold_at_risk("new", hold.drug_name, HoldPlanInput(hold.stop_days, hold.stop_hours, hold.restart_hours),
                        signed_last_dose=None, procedure_at=at, tz=ZoneInfo(episode.patient.timezone),
                        duration=timedelta(minutes=episode.duration_minutes), now=env.now)
    if preview:
        with session.begin_nested() as sp:
            episode.holds.append(hold)
            session.flush()
            diff = compute_diff(session, env, episode)
            sp.rollback()
        session.expire(episode)
        audit(session, env, actor, "hold.add_preview", "episode", episode.id, patient_id=episode.patient_id,
              detail={"drug": hold.drug_key or "free-text"})
        return RescheduleResult(episode, diff, False, at, at, late=late)
    episode.holds.append(hold)
    session.flush()
    diff = replan(session, env, actor, episode, reason="hold added")  # rewords other holds' texts as needed
    audit(session, env, actor, "hold.add", "hold", hold.id, patient_id=episode.patient_id,
          detail={"drug": hold.drug_key or "free-text", "episode_id": episode.id, "started_late": late is not None})
    risks = ((hold.id, late),) if late is not None else ()
    return RescheduleResult(episode, diff, True, at, at, risks, hold=hold, late=late)


def remove_hold(
    session: Session, env: Env, actor: Actor, hold_id: Any, *, confirm_stopped: bool = False,
    preview: bool = False, version: int | None = None,
) -> RescheduleResult:
    """Remove a hold before the procedure: its pending texts and open steps are cancelled and the
    plan re-planned (other holds' texts may be re-worded). The hold is kept for the record,
    marked removed, and left out everywhere.

    When its last dose has come, the patient may already have stopped the medicine, and
    removing the hold cancels the restart text: refused (409, ``HoldStopped``) unless confirmed;
    when confirmed, a ``restart_after_removal`` task asks a person to call the patient about
    restarting it as the prescriber advises.
    """
    actor.require(*CARE_TEAM)
    hold = load_hold(session, hold_id, lock=not preview)
    episode = hold.episode
    check_version(episode, version, "episode")
    _require_before_procedure(env, episode, "a hold can be removed")
    stopped = hold in stopped_holds(env, episode, session)
    at = episode.procedure_at
    detail: dict[str, Any] = {"drug": hold.drug_key or "free-text", "episode_id": episode.id, "stopped": stopped}
    if preview:
        with session.begin_nested() as sp:
            hold.removed_at = env.now
            session.flush()
            session.expire(episode, ["holds"])
            diff = compute_diff(session, env, episode)
            sp.rollback()
        session.expire(episode)
        session.expire(hold)
        audit(session, env, actor, "hold.remove_preview", "hold", hold.id, patient_id=episode.patient_id,
              detail=detail)
        return RescheduleResult(episode, diff, False, at, at, hold=hold, stopped=stopped)
    if stopped and not confirm_stopped:
        audit(session, env, actor, "hold.remove_refused", "hold", hold.id, patient_id=episode.patient_id,
              detail=detail)
        day = hold.last_dose_at.astimezone(ZoneInfo(episode.patient.timezone)).date() if hold.last_dose_at \
            else hold.last_dose_on
        raise HoldStopped(
            f"the last dose of {hold.drug_name} was {rules.day_words(day) if day else 'already'}: the patient may "
            "have stopped it, and removing the hold cancels the restart text. Send confirm_stopped=1 to remove it; "
            "a call to the patient about restarting then goes on the worklist")
    hold.removed_at, hold.removed_by_id = env.now, actor.user_id
    session.flush()
    session.expire(episode, ["holds"])
    tasks.close_open(session, env, actor, "hold_at_risk", [f"hold:{hold.id}"], "hold removed: nothing to sign again")
    diff = replan(session, env, actor, episode, reason="hold removed")  # rewords other holds' texts as needed
    if stopped:
        tasks.open_task(session, env, "restart_after_removal", f"hold:{hold.id}",
                        "Hold removed after its last dose: call the patient about restarting the medicine (as the "
                        "prescriber advises) and record the call.", patient_id=episode.patient_id,
                        episode_id=episode.id)
    audit(session, env, actor, "hold.remove", "hold", hold.id, patient_id=episode.patient_id, detail=detail)
    return RescheduleResult(episode, diff, True, at, at, hold=hold, stopped=stopped)


def label_hold(
    session: Session, env: Env, actor: Actor, hold_id: Any, data: Mapping[str, Any] | HoldLabelIn,
    *, preview: bool = False,
) -> RescheduleResult:
    """Record (or clear) what the patient calls a held medicine. Only words change: the plan, its
    dates and its signature stay, and every text not yet sent is re-worded (the preview shows
    each before and after). The way to keep a drug name off default texts when two medicines
    would otherwise read the same (timeline.texts.medicine_words)."""
    actor.require(*CARE_TEAM)
    hold = load_hold(session, hold_id, lock=not preview)
    episode = hold.episode
    check_version(episode, data, "episode")
    _require_open(episode)
    label = read_input(HoldLabelIn, data).patient_label or None
    at = episode.procedure_at
    detail = {"drug": hold.drug_key or "free-text", "episode_id": episode.id, "labelled": label is not None}
    if preview:
        with session.begin_nested() as sp:
            hold.patient_label = label
            session.flush()
            diff = compute_diff(session, env, episode)
            sp.rollback()
        session.expire(episode)
        session.expire(hold)
        audit(session, env, actor, "hold.label_preview", "hold", hold.id, patient_id=episode.patient_id, detail=detail)
        return RescheduleResult(episode, diff, False, at, at, hold=hold)
    hold.patient_label = label
    session.flush()
    diff = replan(session, env, actor, episode, reason="medicine's label changed")  # words only
    audit(session, env, actor, "hold.label", "hold", hold.id, patient_id=episode.patient_id, detail=detail)
    return RescheduleResult(episode, diff, True, at, at, hold=hold)


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
            # The same freshness rule as the go / no go (timeline.gonogo): an old value is not a pass.
            tz = ZoneInfo(episode.patient.timezone)
            fresh = h.inr_at is not None and rules.inr_fresh(h.inr_at, episode.procedure_at, tz, limits(env))
            ok = bool(fresh and h.inr_value is not None and h.inr_value <= inr_max)
            if h.inr_value is None or h.inr_at is None:
                detail = "no INR recorded"
            else:
                drawn = rules.day_words(h.inr_at.astimezone(tz).date())
                detail = (f"INR {h.inr_value} drawn {drawn} (needs <= {inr_max}"
                          + ("" if fresh else ", drawn on the procedure day or the day before") + ")")
            items.append(CheckItem(f"INR for {h.drug_name}", ok, detail))
    answers = stop_answers(episode)
    undecided = _not_stopped(episode)
    tz = ZoneInfo(episode.patient.timezone)
    for h in episode.holds:
        said = answers.get(h.id)
        if said is None and h.id not in undecided:
            continue
        when = rules.day_words(said.received_at.astimezone(tz).date()) if said is not None else ""
        who = "the patient replied" if said is not None and said.source == "sms" else "recorded"
        if h.id in undecided:
            items.append(CheckItem(f"{h.drug_name} stop confirmed", False,
                                   f"not stopped: {who} no ({when}); a clinician must decide"))
        elif said is not None and said.value == 1:
            items.append(CheckItem(f"{h.drug_name} stop confirmed", True, f"stop confirmed: {who} yes ({when})"))
        else:
            items.append(CheckItem(f"{h.drug_name} stop confirmed", True,
                                   f"not stopped ({who} no, {when}); a clinician's decision is recorded"))
    items.append(CheckItem("Escort arranged", episode.escort_arranged,
                           "yes" if episode.escort_arranged else "not recorded"))
    return items


@dataclass(frozen=True)
class Decision:
    """Go / no go for one episode, decided once: the API, the page and the lists all show this."""

    go: bool
    blockers: list[Blocker]
    checklist: list[CheckItem]


def _signed_for(hold: MedicationHold, episode: Episode) -> datetime | None:
    """The procedure time a signature was given for, when the procedure has moved since."""
    signed_for = hold.signed_for_procedure_at
    if hold.signed_at is None or signed_for is None or signed_for == episode.procedure_at:
        return None
    return signed_for


def _not_stopped(episode: Episode) -> set[int]:
    """The holds whose patient said they have not stopped, with no clinician's decision since
    (an open ``hold_not_stopped`` task)."""
    session = object_session(episode)
    if session is None or not episode.holds:
        return set()
    subjects = [f"hold:{h.id}" for h in episode.holds]
    return {int(s.split(":")[1]) for s in session.scalars(
        select(Task.subject).where(Task.kind == "hold_not_stopped", Task.subject.in_(subjects),
                                   Task.resolved_at.is_(None)))}


def stop_answers(episode: Episode) -> dict[int, Observation]:
    """Each hold's latest stopped_medicine observation (the patient's answer, or staff's record)."""
    session = object_session(episode)
    if session is None or not episode.holds:
        return {}
    found: dict[int, Observation] = {}
    for o in session.scalars(select(Observation).where(
            Observation.episode_id == episode.id, Observation.code == "stopped_medicine",
            Observation.hold_id.is_not(None)).order_by(Observation.received_at, Observation.id)):
        assert o.hold_id is not None
        found[o.hold_id] = o
    return found


def _facts(episode: Episode) -> rules.EpisodeFacts:
    not_stopped = _not_stopped(episode)
    return rules.EpisodeFacts(
        status=episode.status, procedure_at=episode.procedure_at, tz=ZoneInfo(episode.patient.timezone),
        planned_at=episode.created_at, moved_at=episode.moved_at,
        holds=[rules.HoldFacts(
            id=h.id, drug_name=h.drug_name, clearance=h.clearance, signed_at=h.signed_at, stop_days=h.stop_days,
            stop_hours=h.stop_hours, last_dose_on=h.last_dose_on, last_dose_at=h.last_dose_at,
            inr_required=h.inr_required, inr_value=h.inr_value, inr_at=h.inr_at,
            signed_for=_signed_for(h, episode), not_stopped=h.id in not_stopped,
        ) for h in episode.holds],
        mri_reviewed=episode.mri_reviewed_on is not None,
        conservative_care=episode.tried_pt or episode.tried_medication or episode.tried_injections,
        escort_arranged=episode.escort_arranged,
    )


def limits(env: Env) -> rules.GoLimits:
    d = env.rules.definition
    return rules.GoLimits(inr_max=Decimal(str(d.inr_max)), inr_window_days=d.inr_window_days)


def decide(env: Env, episode: Episode) -> Decision:
    """Whether the procedure may go ahead, and what stops it (timeline.gonogo.RULES)."""
    go, found = rules.decide(_facts(episode), limits(env))
    return Decision(go, found, go_no_go(env, episode))


def set_escort(session: Session, env: Env, actor: Actor, episode_id: Any, arranged: bool,
               *, version: Any = None) -> Episode:
    actor.require(*CARE_TEAM)
    episode = load_episode(session, episode_id, lock=True)
    check_version(episode, {"version": version}, "episode")
    episode.escort_arranged = arranged
    audit(session, env, actor, "episode.escort", "episode", episode.id, patient_id=episode.patient_id,
          detail={"arranged": arranged})
    return episode
