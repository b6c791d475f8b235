"""Turn an episode's stored facts into a plan, diff it against what is stored, and apply it.

The timeline package decides (pure); this module only reads rows into facts and writes the
decisions back, in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from pathway.models import Episode, MedicationHold, Message, Milestone, Patient, report
from pathway.services import outbox
from pathway.services.base import MAX_ID, Actor, Env, NotFound, audit
from pathway.timeline import (
    EpisodeFacts,
    HoldFacts,
    HoldPlanInput,
    Plan,
    PlanDiff,
    PlannedMessage,
    RewordedMessage,
    StoredMessage,
    StoredMilestone,
    compute_hold,
    diff_plan,
    plan_episode,
    procedure_end,
    text_context,
)
from pathway.timeline.localtime import to_local
from pathway.timeline.texts import (
    MedicineName,
    SegmentInfo,
    format_date,
    format_when,
    join_words,
    medicine_words,
    plural,
    segments,
)
from pathway.timeline.vocabulary import CARE_TEAM, ClearanceStatus, Language

# The milestones table, for apply_diff's one INSERT of many rows, and the ids and keys read back.
_MILESTONES = cast(Table, Milestone.__table__)
_MILESTONE_KEYS = (select(_MILESTONES.c.id, _MILESTONES.c.kind, _MILESTONES.c.ref)
                   .where(_MILESTONES.c.episode_id == bindparam("episode_id")))


def hold_facts(hold: MedicationHold, rules_text: str) -> HoldFacts:
    return HoldFacts(
        ref=hold.ref,
        drug_label=hold.drug_name,
        stop_days=hold.stop_days,
        stop_hours=hold.stop_hours,
        restart_hours=hold.restart_hours,
        clearance=hold.clearance,
        signed=hold.signed_at is not None,
        rule=rules_text,
        signed_at=hold.signed_at,
    )


def hold_rule(env: Env, hold: MedicationHold) -> str:
    if hold.drug_key:
        drug = env.rules.catalogue.find(hold.drug_key)
        if drug is not None and hold.interval_source != MedicationHold.CLINICIAN_PLAN:
            from pathway.timeline import rule_text

            return rule_text(drug)
    if hold.stop_days is not None:
        stop = f"{plural(hold.stop_days, 'day', 'days')} before"
    elif hold.stop_hours is not None:
        stop = f"{hold.stop_hours} h before"
    else:
        return f"{hold.drug_name}: no default; a clinician must enter the plan"
    restart = f", restart {hold.restart_hours} h after" if hold.restart_hours is not None else ""
    return f"{hold.drug_name}: {stop}{restart}; {hold.interval_source}"


def episode_facts(env: Env, episode: Episode) -> EpisodeFacts:
    follow_up = episode.appointment("follow_up")
    pt = episode.appointment("pt_start")
    return EpisodeFacts(
        tz=ZoneInfo(episode.patient.timezone),
        status=episode.status,
        procedure_at=episode.procedure_at,
        duration=timedelta(minutes=episode.duration_minutes),
        ended_at=episode.ended_at,
        created_at=episode.created_at,
        holds=tuple(hold_facts(h, hold_rule(env, h)) for h in episode.holds),
        follow_up_at=follow_up.appointment_at if follow_up else None,
        pt_start_at=pt.appointment_at if pt else None,
        arrival_at=episode.arrival_at,
        facility=episode.facility,
        facility_address=episode.facility_address,
    )


def refresh_hold_dates(env: Env, episode: Episode) -> None:
    """Store each hold's computed last-dose and restart moments (shown on pages and the API)."""
    tz = ZoneInfo(episode.patient.timezone)
    for hold in episode.holds:
        dates = compute_hold(
            HoldPlanInput(hold.stop_days, hold.stop_hours, hold.restart_hours),
            procedure_at=episode.procedure_at,
            duration=timedelta(minutes=episode.duration_minutes),
            ended_at=episode.ended_at,
            tz=tz,
        )
        # Only a changed date is set: setting an equal one would still mark the hold dirty, and
        # the next query would flush it for nothing (a new episode's holds already carry them).
        for key, value in (("last_dose_on", dates.last_dose_on), ("last_dose_at", dates.last_dose_at),
                           ("restart_at", dates.restart_at)):
            if getattr(hold, key) != value:
                setattr(hold, key, value)


def current_plan(env: Env, episode: Episode) -> Plan:
    plan = plan_episode(env.rules.definition, episode_facts(env, episode), env.rules.quiet, now=env.now)
    # A milestone someone marked done needs no more reminders.
    closed = {m.key for m in episode.milestones if m.status in ("done", "missed")}
    messages = tuple(m for m in plan.messages if m.milestone_key not in closed)
    return Plan(milestones=plan.milestones, messages=messages)


def episode_messages(session: Session, episode: Episode) -> list[Message]:
    return list(session.scalars(select(Message).where(Message.episode_id == episode.id).order_by(Message.id)))


def compute_diff(session: Session, env: Env, episode: Episode, *, notice_kind: str | None = None,
                 first: bool = False) -> PlanDiff:
    """What a re-plan would change, without changing anything. ``first``: the episode was just
    scheduled and has never been planned, so it has no texts to read."""
    refresh_hold_dates(env, episode)
    plan = current_plan(env, episode)
    stored_ms = [
        StoredMilestone(
            key=m.key, status=m.status, due_at=m.due_at, window_start=m.window_start, window_end=m.window_end
        )
        for m in episode.milestones
    ]
    if first:
        # Nothing to read; but the read's autoflush stored the holds' dates as a change of their
        # own (one bump of the episode's version), and the same rows are stored without it.
        session.flush()
        messages: list[Message] = []
    else:
        messages = episode_messages(session, episode)
    stored_msgs = [
        StoredMessage(plan_key=m.plan_key, kind=m.kind, status=m.status, send_at=m.send_at) for m in messages
    ]
    tz = ZoneInfo(episode.patient.timezone)
    diff = diff_plan(
        stored_ms,
        stored_msgs,
        plan,
        notice_kind=notice_kind,
        notice_context=notice_facts(episode),
        quiet=env.rules.quiet,
        tz=tz,
        now=env.now,
        notice_until=procedure_end(episode.procedure_at, episode.duration_minutes, episode.ended_at),
    )
    return replace(diff, reworded=_reworded(env, episode, plan, diff, messages))


def _reworded(env: Env, episode: Episode, plan: Plan, diff: PlanDiff,
              messages: Sequence[Message]) -> tuple[RewordedMessage, ...]:
    """The texts not yet sent that stay at their time but whose words change.

    A text's body is rendered when it is planned and is what the dispatcher sends; names
    depend on the other holds (two medicines never read the same), on the hold's label and on
    the patient's language and detailed-texts choice. Any of those can change without a time
    changing, so every re-plan renders the texts it keeps and compares.
    """
    planned = {m.plan_key: m for m in plan.messages}
    leaving = {sm.plan_key for sm in diff.messages_cancelled}
    patient = episode.patient
    found = []
    for msg in messages:  # the episode's texts, as compute_diff read them (nothing changed since)
        pm = planned.get(msg.plan_key)
        if msg.status != "scheduled" or pm is None or msg.plan_key in leaving:
            continue
        body = render(env, patient, pm, episode.holds)
        if body != msg.body or msg.language != patient.language:
            found.append(RewordedMessage(msg.plan_key, msg.kind, msg.send_at, msg.body, body))
    return tuple(found)


def notice_facts(episode: Episode) -> dict[str, str]:
    return {"procedure_at": episode.procedure_at.isoformat()}


def segment_info(body: str) -> SegmentInfo:
    """Encoding, length and SMS segment count of a text body (for pages showing texts)."""
    return segments(body)


def medicine_name(env: Env, hold: MedicationHold) -> MedicineName:
    """What a text may call a hold's medicine: drug name, the patient's label, the group's term,
    and the drug's plain generic name in each language (none for a free-text drug)."""
    catalogue = env.rules.catalogue
    term: dict[str, str] = {str(lang): catalogue.patient_term(hold.drug_key, lang) for lang in Language}
    return MedicineName(hold.drug_name, hold.patient_label or "", term, catalogue.text_names(hold.drug_key))


def hold_words(env: Env, hold: MedicationHold, patient: Patient) -> str:
    """How the patient's texts name `hold` ("your blood thinner", "Plavix", "warfarin").

    For every text about a hold (date change and cancellation included): it calls the one
    naming rule, `medicine_words`, with the episode's other holds so two never read the same.
    """
    others = [medicine_name(env, h) for h in hold.episode.holds if h.id != hold.id]
    return medicine_words(medicine_name(env, hold), patient.language, patient.detailed_texts, others=others)


@dataclass(frozen=True)
class TextName:
    """How texts name a hold's medicine, for staff: the words, and whether they carry the drug's
    name although the patient did not choose detailed texts (two medicines would otherwise read
    the same; a patient label for each keeps the name off)."""

    words: str
    names_drug: bool


def text_name(env: Env, hold: MedicationHold) -> TextName:
    patient = hold.episode.patient
    words = hold_words(env, hold, patient)
    drug = medicine_name(env, hold).name_in(patient.language)
    leaks = not patient.detailed_texts and drug.casefold() in words.casefold()
    return TextName(words, leaks)


# The day-before text's variant that says where to go: `templates/sms/pre_procedure.place.<lang>.txt`.
PLACE_VARIANT = "place"


def render(env: Env, patient: Patient, planned: PlannedMessage, holds: Sequence[MedicationHold] = ()) -> str:
    """The body of a planned text; a text about holds names each medicine in `planned.refs`."""
    context = text_context(
        planned.context,
        lang=patient.language,
        tz=ZoneInfo(patient.timezone),
        detailed=patient.detailed_texts,
        clinic_name=env.rules.clinic.name,
        clinic_phone=env.rules.clinic.phone,
        revealing=env.rules.definition.revealing_words,
        place_max=env.rules.definition.place_max_chars,
    )
    by_ref = {h.ref: h for h in holds}
    named = [by_ref[ref] for ref in planned.refs if ref in by_ref]
    if named:
        context["drug"] = join_words([hold_words(env, h, patient) for h in named], patient.language)
    # The day-before text names the place when the episode has one a text may carry.
    variant = PLACE_VARIANT if context.get("facility_place") else ""
    return env.rules.templates.render(planned.kind, patient.language, context, variant)


def add_message(
    session: Session,
    env: Env,
    patient: Patient,
    planned: PlannedMessage,
    *,
    episode: Episode | None,
    milestone: Milestone | None,
    reason: str,
) -> int:
    """Queue one planned text (through the outbox's writer); returns its id."""
    row = message_row(env, patient, planned, episode=episode, milestone_id=milestone.id if milestone else None)
    return outbox.create(session, [row], outbox.Scheduled(reason), now=env.now, source="plan")[0]


def message_row(env: Env, patient: Patient, planned: PlannedMessage, *, episode: Episode | None,
                milestone_id: int | None) -> dict[str, Any]:
    """A planned text's columns, its body rendered, for :func:`outbox.create`."""
    return {
        "patient_id": patient.id,
        "episode_id": episode.id if episode else None,
        "milestone_id": milestone_id,
        "kind": planned.kind,
        "language": patient.language,
        "body": render(env, patient, planned, episode.holds if episode else ()),
        "plan_key": planned.plan_key,
        "send_at": planned.send_at,
        "attempts": 0,
        "created_at": env.now,
    }


def reword(session: Session, env: Env, episode: Episode, reworded: Sequence[RewordedMessage]) -> int:
    """Give texts not yet sent their new words (see ``_reworded``); returns how many changed.

    Only the body and language change, and only while the text is still scheduled: a worker
    that claimed it meanwhile sends what it claimed, and history keeps what was sent. The
    state itself is the outbox's (pathway/services/outbox.py).
    """
    if not reworded:
        return 0
    language = episode.patient.language
    changed = 0
    for rm in reworded:
        result = session.execute(
            update(Message)
            .where(Message.episode_id == episode.id, Message.plan_key == rm.plan_key,
                   Message.status == "scheduled")
            .values(body=rm.body_after, language=language)
            .execution_options(synchronize_session="fetch")
        )
        changed += result.rowcount  # type: ignore[attr-defined]
    return changed


# --- the printable hold plan ----------------------------------------------------------------


@dataclass(frozen=True)
class HoldPlanRow:
    """One medicine on the patient's printed plan, every phrase in the patient's language."""

    words: str  # the patient's label, else the group's plain term ("blood thinner")
    drug_name: str  # the staff name ("aspirin (secondary prevention)")
    state: str  # "stop" (approved and signed), "waiting" (not signed yet), "keep" (declined / not needed)
    last_dose: str  # "" unless state == "stop"
    last_dose_all_day: bool  # a day-based hold: the last dose may be taken any time that day
    restart: str  # "" unless known
    restart_estimated: bool
    # the drug's plain generic name in the patient's language ("apixabán"), the typed name for a
    # free-text drug: what the sheet prints beside the patient's words
    text_name: str = ""


@dataclass(frozen=True)
class HoldPlanSheet:
    episode: Episode
    patient: Patient
    lang: str
    procedure: str
    rows: tuple[HoldPlanRow, ...]
    clinic_name: str
    clinic_phone: str
    printed: str


def _hold_plan_row(env: Env, hold: MedicationHold, lang: str, tz: ZoneInfo, ended: bool) -> HoldPlanRow:
    name = medicine_name(env, hold)
    words, drug = name.patient_label or name.term_in(lang), name.name_in(lang)
    if hold.clearance in (ClearanceStatus.DECLINED, ClearanceStatus.NOT_REQUIRED):
        return HoldPlanRow(words, hold.drug_name, "keep", "", False, "", False, drug)
    if not hold.approved_and_signed:
        return HoldPlanRow(words, hold.drug_name, "waiting", "", False, "", False, drug)
    if hold.last_dose_at is not None:
        last = format_when(to_local(hold.last_dose_at, tz), lang, deadline=True)
    elif hold.last_dose_on is not None:
        last = format_date(hold.last_dose_on, lang)
    else:
        last = ""
    restart = format_when(to_local(hold.restart_at, tz), lang) if hold.restart_at is not None else ""
    all_day = hold.last_dose_at is None and hold.last_dose_on is not None
    return HoldPlanRow(words, hold.drug_name, "stop", last, all_day, restart, restart != "" and not ended, drug)


def hold_plan_sheet(session: Session, env: Env, actor: Actor, episode_id: Any) -> HoldPlanSheet:
    """The one-page plan handed to the patient: each medicine, its last dose and restart, the
    clinic's phone, in the patient's language. Names each medicine by the patient's word AND its
    drug name: the paper sits beside the pill bottles, whose labels carry the drug name, and it
    is shown to a caregiver or pharmacist; a text on a lock screen is what must stay discreet.
    Only approved and signed holds give dates; others say to keep taking the medicine. Audited."""
    actor.require(*CARE_TEAM)
    episode = session.get(Episode, _episode_key(episode_id))
    if episode is None:
        raise NotFound("episode")
    patient = episode.patient
    lang, tz = patient.language, ZoneInfo(patient.timezone)
    # Earliest last dose first: the patient reads the page top to bottom, in the order of the days.
    far = date.max

    def first_day(hold: MedicationHold) -> tuple[bool, date, int]:
        day = to_local(hold.last_dose_at, tz).date() if hold.last_dose_at is not None else hold.last_dose_on
        return (not hold.approved_and_signed, day or far, hold.id)

    ordered = sorted(episode.holds, key=first_day)
    rows = tuple(_hold_plan_row(env, h, lang, tz, episode.ended_at is not None) for h in ordered)
    audit(session, env, actor, "episode.hold_plan.view", "episode", episode.id, patient_id=patient.id)
    return HoldPlanSheet(
        episode=episode, patient=patient, lang=lang,
        procedure=format_when(to_local(episode.procedure_at, tz), lang), rows=rows,
        clinic_name=env.rules.clinic.name, clinic_phone=env.rules.clinic.phone,
        printed=format_date(to_local(env.now, tz).date(), lang),
    )


def _episode_key(raw: Any) -> int:
    try:
        key = int(raw)
    except (TypeError, ValueError, OverflowError):
        raise NotFound("episode") from None
    if not 1 <= key <= MAX_ID:
        raise NotFound("episode")
    return key


def cancel_messages(session: Session, env: Env, msgs: list[Message], reason: str, actor: Actor) -> int:
    """Cancel texts that have not been claimed, in one statement. A text already being sent stays history."""
    if not msgs:
        return 0
    moved = outbox.record_where(session, outbox.Cancelled(reason), expect="scheduled",
                                where=Message.id.in_([m.id for m in msgs]), now=env.now, source="plan",
                                actor=actor.label)
    for msg in msgs:
        session.expire(msg)  # the UPDATE went around the ORM: read the status again when asked
    return len(moved)


def apply_diff(session: Session, env: Env, actor: Actor, episode: Episode, diff: PlanDiff, reason: str) -> None:
    episode.plan_revision += 1
    holds_by_ref = {h.ref: h for h in episode.holds}
    by_key = {m.key: m for m in episode.milestones}
    new_rows: list[dict[str, Any]] = []
    for pm in diff.milestones_added:
        existing = by_key.get(pm.key)
        if existing is None:
            new_rows.append({
                "episode_id": episode.id, "kind": pm.kind, "ref": pm.ref,
                "hold_id": holds_by_ref[pm.ref].id if pm.ref in holds_by_ref else None, "status": "planned",
                "due_at": pm.due_at, "window_start": pm.window_start, "window_end": pm.window_end, "rule": pm.rule,
            })
            continue
        existing.status = "planned" if existing.status == "cancelled" else existing.status
        existing.due_at, existing.window_start, existing.window_end = pm.due_at, pm.window_start, pm.window_end
        existing.rule = pm.rule
    for stored, pm in diff.milestones_moved:
        m = by_key[stored.key]
        m.due_at, m.window_start, m.window_end, m.rule = pm.due_at, pm.window_start, pm.window_end, pm.rule
        if m.status == "missed":
            m.status = "planned"
    for stored in diff.milestones_cancelled:
        by_key[stored.key].status = "cancelled"
    session.flush()  # the episode's plan_revision (and version), the milestones moved or cancelled
    milestone_ids = {key: m.id for key, m in by_key.items()}
    if new_rows:
        # New milestones as ONE executemany, in the plan's order (the ORM inserts them one by one
        # on SQLite, which cannot batch INSERT ... RETURNING without a sentinel column: about 8
        # statements an episode, the largest part of `pathway import schedule`). The episode's
        # version went up in the flush above, as it did when they were flushed with it. Then the
        # ids of the episode's milestones are read (Core, no ORM objects) for the texts below, and
        # the episode's milestones are loaded again when next asked for.
        conn = session.connection()
        conn.execute(insert(_MILESTONES), new_rows)  # Core: one statement, every row
        report.episodes_written(session, {episode.id})  # no flush sees these rows: noted for the commit
        session.expire(episode, ["milestones"])
        milestone_ids = {f"{kind}:{ref}": mid for mid, kind, ref in
                         conn.execute(_MILESTONE_KEYS, {"episode_id": episode.id})}
    if diff.messages_cancelled:  # (nothing to read otherwise: a new episode has no texts yet)
        stored_msgs = {m.plan_key: m for m in episode_messages(session, episode) if m.status == "scheduled"}
        cancel_messages(session, env,
                        [sm_ for sm in diff.messages_cancelled if (sm_ := stored_msgs.get(sm.plan_key))],
                        f"re-planned: {reason}", actor)
    session.flush()
    patient = episode.patient
    # The new texts in one write each (the plan's, then the notice: ids in that order), through the
    # outbox's writer, as Core rows: `pathway import schedule` plans 10,000 episodes at a time.
    planned_rows = []
    for planned in diff.messages_added:
        planned_rows.append(message_row(env, patient, planned, episode=episode,
                                        milestone_id=milestone_ids.get(planned.milestone_key or "")))
    outbox.create(session, planned_rows, outbox.Scheduled(f"planned: {reason}"), now=env.now, source="plan")
    if diff.notice is not None:
        add_message(session, env, patient, diff.notice, episode=episode, milestone=None, reason=f"notice: {reason}")
    reword(session, env, episode, diff.reworded)
    session.flush()


def replan(
    session: Session,
    env: Env,
    actor: Actor,
    episode: Episode,
    *,
    reason: str,
    notice_kind: str | None = None,
    first: bool = False,
) -> PlanDiff:
    diff = compute_diff(session, env, episode, notice_kind=notice_kind, first=first)
    apply_diff(session, env, actor, episode, diff, reason)
    return diff
