"""Records and use-case results as the API's answer models (pathway.schemas.answers).

The models say what each answer holds and how it is written; these functions only say where
each field comes from. No clock, no Flask: what they need (the session for an episode's texts,
the rules for labels) is passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, overload
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, object_session

from pathway import models
from pathway.schemas import answers as out
from pathway.schemas.inputs import BoardQuery
from pathway.services import board as board_service
from pathway.services import outcomes_report
from pathway.services.base import Env
from pathway.services.calendar import calendar_url
from pathway.services.catalogue import assumes_normal_renal_function
from pathway.services.conversation import StaffText, Thread, ThreadEntry
from pathway.services.episodes import Decision, RescheduleResult, decide, outside_window
from pathway.services.holds import UnsignedHold
from pathway.services.outcomes import OutcomeRow
from pathway.services.patients import PatientList, PatientUpdate
from pathway.services.planning import episode_messages
from pathway.services.worklist import WorklistItem
from pathway.timeline import PathwayDefinition, PlanDiff, PlannedMessage, PlannedMilestone, StoredMilestone
from pathway.timeline.arrival import effective_arrival, place_words
from pathway.timeline.holds import HoldAtRisk
from pathway.timeline.texts import segments


def _times(tz: ZoneInfo | None, **values: datetime | None) -> dict[str, Any]:
    """``name`` in UTC and ``name_local`` with the patient's offset, for each instant."""
    fields: dict[str, Any] = {}
    for name, value in values.items():
        fields[name] = value.astimezone(UTC) if value is not None else None
        fields[f"{name}_local"] = value.astimezone(tz) if value is not None and tz is not None else None
    return fields


@overload
def _utc(value: datetime) -> datetime: ...
@overload
def _utc(value: datetime | None) -> datetime | None: ...
def _utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value is not None else None


def _label(definition: PathwayDefinition | None, kind: str, *, message: bool = False) -> str:
    fallback = kind.replace("_", " ")
    if definition is None:
        return fallback
    try:
        return definition.message_label(kind) if message else definition.milestone_label(kind)
    except (KeyError, ValueError, LookupError):
        return fallback


def version(record: models.Patient | models.Episode) -> int:
    """A record's version as stored: pending changes are flushed first, since the UPDATE is what
    raises it (and checks that nobody else did meanwhile)."""
    session = object_session(record)
    if session is not None and (session.new or session.dirty or session.deleted):
        session.flush()
    return record.version


# --- patients ------------------------------------------------------------------------------


def patient(p: models.Patient, episodes: Iterable[models.Episode] = (), *, public_url: str = "") -> out.Patient:
    tz = ZoneInfo(p.timezone)
    return out.Patient(
        id=p.id, mrn=p.mrn, given_name=p.given_name, family_name=p.family_name, birth_date=p.birth_date,
        phone=p.phone, timezone=p.timezone, language=p.language, detailed_texts=p.detailed_texts,
        sms_consent=p.sms_consent_at is not None, sms_consent_at=_utc(p.sms_consent_at),
        sms_consent_method=p.sms_consent_method, opted_out_at=_utc(p.opted_out_at), opted_out_via=p.opted_out_via,
        phone_flagged=p.phone_flagged_at is not None, can_text=p.can_text, created_at=_utc(p.created_at),
        version=version(p),
        calendar_url=calendar_url(public_url, p.calendar_token),
        episodes=[out.EpisodeSummary(id=e.id, status=e.status, proceduralist=e.proceduralist, facility=e.facility,
                                     **_times(tz, procedure_at=e.procedure_at)) for e in episodes],
    )


def patient_list(found: PatientList) -> out.PatientList:
    """A page of patients (``patients.find``): each with why they are in it."""
    return out.PatientList(
        items=[out.PatientFound(id=f.patient.id, mrn=f.patient.mrn, given_name=f.patient.given_name,
                                family_name=f.patient.family_name, birth_date=f.patient.birth_date,
                                phone=f.patient.phone, timezone=f.patient.timezone, language=f.patient.language,
                                can_text=f.patient.can_text, opted_out=f.patient.opted_out_at is not None,
                                phone_flagged=f.patient.phone_flagged_at is not None, matched=f.matched,
                                matched_label=f.matched_words,
                                **_times(ZoneInfo(f.patient.timezone), procedure_at=f.procedure_at))
               for f in found.rows],
        query=found.query, total=found.total, limit=found.limit, offset=found.offset,
    )


# --- the episode aggregate -----------------------------------------------------------------


def milestone(m: models.Milestone, definition: PathwayDefinition | None) -> out.Milestone:
    return _milestone(m, ZoneInfo(m.episode.patient.timezone), definition)


def _milestone(m: models.Milestone, tz: ZoneInfo, definition: PathwayDefinition | None) -> out.Milestone:
    return out.Milestone(
        id=m.id, episode_id=m.episode_id, kind=m.kind, label=_label(definition, m.kind), hold_id=m.hold_id,
        status=m.status, rule=m.rule, result=dict(m.result) if m.result else None,
        **_times(tz, due_at=m.due_at, window_start=m.window_start, window_end=m.window_end,
                 completed_at=m.completed_at),
        due_at_estimated=m.due_estimated, episode_version=version(m.episode),
    )


def hold(h: models.MedicationHold) -> out.Hold:
    return _hold(h, ZoneInfo(h.episode.patient.timezone))


def _hold(h: models.MedicationHold, tz: ZoneInfo) -> out.Hold:
    return out.Hold(
        id=h.id, episode_id=h.episode_id, episode_version=version(h.episode),
        # The catalogue key; a drug outside the catalogue keeps the text it was entered with.
        drug=h.drug_key or h.drug_name, drug_name=h.drug_name, patient_label=h.patient_label,
        catalogued=h.drug_key is not None,
        stop_days=h.stop_days, stop_hours=h.stop_hours, restart_hours=h.restart_hours,
        crcl_ml_min=h.crcl_ml_min, assumes_normal_renal_function=assumes_normal_renal_function(h),
        interval_source=h.interval_source, last_dose_on=h.last_dose_on,
        **_times(tz, last_dose_at=h.last_dose_at, restart_at=h.restart_at),
        restart_at_estimated=h.restart_estimated,
        prescriber_name=h.prescriber_name, prescriber_phone=h.prescriber_phone, clearance=h.clearance,
        clearance_by=h.clearance_by, clearance_at=_utc(h.clearance_at), clearance_note=h.clearance_note,
        signed=h.signed_at is not None, signed_at=_utc(h.signed_at), signed_by_id=h.signed_by_id,
        inr_required=h.inr_required, inr_value=str(h.inr_value) if h.inr_value is not None else None,
        inr_at=_utc(h.inr_at),
    )


def _message(m: models.Message, tz: ZoneInfo, definition: PathwayDefinition | None) -> out.Message:
    """A text's schedule, state and body: the care team must be able to read what the patient reads."""
    return out.Message(id=m.id, kind=m.kind, label=_label(definition, m.kind, message=True), status=m.status,
                       status_reason=m.status_reason, milestone_id=m.milestone_id,
                       **_times(tz, send_at=m.send_at, sent_at=m.sent_at),
                       body=m.body, segments=segments(m.body).segments)


def _by_time(milestones: Iterable[models.Milestone]) -> list[models.Milestone]:
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(milestones, key=lambda m: (m.due_at or m.window_start or m.window_end or far, m.id))


def _arrival(e: models.Episode, tz: ZoneInfo, definition: PathwayDefinition | None) -> dict[str, Any]:
    """The day-before text's arrival and place, as the text says them."""
    lead = definition.arrival_before if definition is not None else PathwayDefinition.arrival_before
    words = definition.revealing_words if definition is not None else ()
    room = definition.place_max_chars if definition is not None else PathwayDefinition.place_max_chars
    return dict(
        **_times(tz, arrival_at=effective_arrival(e.procedure_at, e.arrival_at, lead)),
        arrival_default=e.arrival_at is None, facility_address=e.facility_address,
        place_in_text=place_words(e.facility, e.facility_address, words, detailed=e.patient.detailed_texts,
                                  max_chars=room),
    )


def _episode_fields(
    e: models.Episode, messages: Sequence[models.Message], decision: Decision,
    definition: PathwayDefinition | None, public_url: str,
) -> dict[str, Any]:
    tz = ZoneInfo(e.patient.timezone)
    return dict(
        id=e.id, patient_id=e.patient_id, status=e.status, timezone=e.patient.timezone,
        **_times(tz, procedure_at=e.procedure_at, ended_at=e.ended_at),
        duration_minutes=e.duration_minutes, facility=e.facility, proceduralist=e.proceduralist, levels=e.levels,
        **_arrival(e, tz, definition),
        mri_reviewed_on=e.mri_reviewed_on, tried_pt=e.tried_pt, tried_medication=e.tried_medication,
        tried_injections=e.tried_injections, escort_arranged=e.escort_arranged, cancelled_at=_utc(e.cancelled_at),
        cancel_reason=e.cancel_reason, created_at=_utc(e.created_at), plan_revision=e.plan_revision,
        version=version(e),
        calendar_url=calendar_url(public_url, e.patient.calendar_token),
        milestones=[_milestone(m, tz, definition) for m in _by_time(e.milestones)],
        holds=[_hold(h, tz) for h in e.holds],
        appointments=[out.Appointment(id=a.id, episode_id=a.episode_id, kind=a.kind, status=a.status,
                                      **_times(tz, appointment_at=a.appointment_at),
                                      outside_window=a.kind == "follow_up" and outside_window(e, a.appointment_at))
                      for a in e.appointments],
        messages=[_message(m, tz, definition) for m in sorted(messages, key=lambda m: (m.send_at, m.id))],
        checklist=[out.CheckItem(item=c.item, ok=bool(c.ok), detail=c.detail) for c in decision.checklist],
        go=decision.go,
        blockers=[out.Blocker(code=b.code, hold_id=b.hold_id, message=b.message) for b in decision.blockers],
    )


def episode(
    e: models.Episode, *, messages: Sequence[models.Message], decision: Decision,
    definition: PathwayDefinition | None, public_url: str = "",
) -> out.Episode:
    return out.Episode(**_episode_fields(e, messages, decision, definition, public_url))


def episode_now(session: Session, env: Env, e: models.Episode) -> out.Episode:
    """An episode as it stands after a change: its own texts and today's go / no go."""
    return episode(e, messages=episode_messages(session, e), decision=decide(env, e),
                   definition=env.rules.definition, public_url=env.rules.clinic.public_url)


# --- re-planning diffs ---------------------------------------------------------------------


def _span(tz: ZoneInfo, due: datetime | None, start: datetime | None, end: datetime | None) -> dict[str, Any]:
    return _times(tz, due_at=due, window_start=start, window_end=end)


def _planned_message(pm: PlannedMessage, tz: ZoneInfo, definition: PathwayDefinition | None) -> out.DiffMessage:
    return out.DiffMessage(kind=pm.kind, label=_label(definition, pm.kind, message=True),
                           **_times(tz, send_at=pm.send_at))


def _added(pm: PlannedMilestone, tz: ZoneInfo, definition: PathwayDefinition | None) -> out.DiffMilestone:
    return out.DiffMilestone(kind=pm.kind, label=_label(definition, pm.kind), hold_ref=pm.ref or None,
                             **_span(tz, pm.due_at, pm.window_start, pm.window_end))


def _dropped(sm: StoredMilestone, tz: ZoneInfo, definition: PathwayDefinition | None) -> out.DroppedMilestone:
    kind, _, ref = sm.key.partition(":")
    return out.DroppedMilestone(kind=kind, label=_label(definition, kind), hold_ref=ref or None, status=sm.status,
                                **_span(tz, sm.due_at, sm.window_start, sm.window_end))


def plan_diff(diff: PlanDiff, result: RescheduleResult, definition: PathwayDefinition | None,
              *, tz: ZoneInfo | None = None) -> out.PlanDiff:
    """A reschedule's changes: the texts cancelled and added, the steps moved, the notice.
    ``tz``: the zone of the ``_local`` twins (default: the patient's stored zone)."""
    tz = tz or ZoneInfo(result.episode.patient.timezone)
    return out.PlanDiff(
        applied=result.applied, episode_id=result.episode.id,
        **_times(tz, procedure_at_before=result.procedure_at_before, procedure_at_after=result.procedure_at_after),
        messages_cancelled=[out.DiffMessage(kind=sm.kind, label=_label(definition, sm.kind, message=True),
                                            **_times(tz, send_at=sm.send_at)) for sm in diff.messages_cancelled],
        messages_added=[_planned_message(pm, tz, definition) for pm in diff.messages_added],
        milestones_moved=[
            out.MovedMilestone(kind=new.kind, label=_label(definition, new.kind), hold_ref=new.ref or None,
                               **{"from": out.Span(**_span(tz, old.due_at, old.window_start, old.window_end))},
                               to=out.Span(**_span(tz, new.due_at, new.window_start, new.window_end)))
            for old, new in diff.milestones_moved
        ],
        milestones_added=[_added(pm, tz, definition) for pm in diff.milestones_added],
        milestones_cancelled=[_dropped(sm, tz, definition) for sm in diff.milestones_cancelled],
        notice=_planned_message(diff.notice, tz, definition) if diff.notice is not None else None,
        summary=diff.summary(tz, definition),
        holds_at_risk=holds_at_risk(result.holds_at_risk),
        messages_reworded=[out.RewordedText(kind=rm.kind, label=_label(definition, rm.kind, message=True),
                                            body_before=rm.body_before, body_after=rm.body_after,
                                            **_times(tz, send_at=rm.send_at)) for rm in diff.reworded],
    )


def holds_at_risk(risks: Sequence[tuple[int, HoldAtRisk]]) -> list[out.HoldAtRisk]:
    """The holds a move breaks, for a preview, an applied move and the 409 that refuses one."""
    return [out.HoldAtRisk(hold_id=hold_id, drug=r.drug, last_dose_on=r.last_dose_on, problem=r.problem)
            for hold_id, r in risks]


def rescheduled(session: Session, env: Env, result: RescheduleResult) -> out.PlanDiff | out.EpisodeChanged:
    """A preview answers the diff alone; a move answers the episode with ``change``."""
    change = plan_diff(result.diff, result, env.rules.definition)
    if not result.applied:
        return change
    return out.EpisodeChanged(**dict(episode_now(session, env, result.episode)), change=change)


# --- lists ---------------------------------------------------------------------------------


def worklist(items: Sequence[WorklistItem], limit: int) -> out.Worklist:
    return out.Worklist(
        items=[out.WorklistItem(kind=i.kind, priority=i.priority, patient_id=i.patient_id, episode_id=i.episode_id,
                                subject_id=i.subject_id, title=i.title, detail=i.detail, due_at=_utc(i.due_at),
                                action=i.action, task_id=i.task_id, patient_name=i.patient_name, mrn=i.mrn,
                                reply_id=i.reply_id, from_number=i.from_number, reply_body=i.reply_body,
                                candidates=[out.WorklistCandidate(patient_id=c.patient_id, patient_name=c.patient_name,
                                                                  mrn=c.mrn) for c in i.candidates])
               for i in items],
        count=len(items), limit=limit,
    )


def holds_to_sign(rows: Sequence[UnsignedHold]) -> out.HoldsToSign:
    return out.HoldsToSign(
        items=[out.HoldToSign(hold_id=r.hold.id, episode_id=r.episode.id, patient_id=r.patient.id,
                              patient_name=r.patient.display_name, mrn=r.patient.mrn, drug_name=r.hold.drug_name,
                              clearance=r.hold.clearance, last_dose_on=r.hold.last_dose_on,
                              last_dose_at=_utc(r.hold.last_dose_at),
                              **_times(ZoneInfo(r.patient.timezone), procedure_at=r.episode.procedure_at))
               for r in rows],
        count=len(rows),
    )


def _board_row(row: board_service.BoardRow) -> out.BoardRow:
    tz = ZoneInfo(row.patient_timezone) if row.patient_timezone else None
    return out.BoardRow(
        episode_id=row.episode_id, patient_id=row.patient_id, patient_name=row.patient_name, mrn=row.mrn,
        proceduralist=row.proceduralist, check_72h=row.check_72h, follow_up=row.follow_up, pt=row.pt,
        red_flag=bool(row.red_flag), timezone=row.patient_timezone or None,
        **_times(tz, procedure_at=row.procedure_at, follow_up_at=row.follow_up_at, pt_at=row.pt_at),
    )


def board(b: board_service.Board, q: BoardQuery) -> out.FollowupBoard:
    """A page of the board, with the filters it was asked for."""
    return out.FollowupBoard(
        rows=[_board_row(r) for r in b.rows], counts={str(k): int(v) for k, v in dict(b.counts).items()},
        total=int(b.total), limit=q.rows, offset=q.skip, status=q.status, proceduralist=q.proceduralist or None,
    )


# --- patient edits (issue 10, "Editing after saving": the patient half) ----------------------


def patient_change(env: Env, result: PatientUpdate) -> out.PatientChange:
    """What an edit changed: the texts before and after (each in its zone), each episode's re-plan."""
    definition = env.rules.definition
    before, after = ZoneInfo(result.timezone_before), ZoneInfo(result.timezone_after)
    return out.PatientChange(
        applied=result.applied, patient_id=result.patient.id, fields=list(result.fields),
        texts=[out.TextChange(message_id=t.message_id, episode_id=t.episode_id, kind=t.kind,
                              label=_label(definition, t.kind, message=True), body_before=t.before_body,
                              body_after=t.after_body, **_times(before, send_at_before=t.before_at),
                              **_times(after, send_at_after=t.after_at))
               for t in result.texts],
        episodes=[plan_diff(diff, RescheduleResult(e, diff, result.applied, e.procedure_at, e.procedure_at),
                            definition, tz=after)
                  for e, diff in result.diffs],
        messages_suppressed=result.suppressed, enrolment_text=result.enrolment_text,
        holds_at_risk=holds_at_risk(result.holds_at_risk),
    )


def patient_updated(env: Env, result: PatientUpdate) -> out.PatientChange | out.PatientChanged:
    """A preview answers the change alone; an applied edit answers the patient with ``change``."""
    change = patient_change(env, result)
    if not result.applied:
        return change
    p = result.patient
    return out.PatientChanged(**dict(patient(p, sorted(p.episodes, key=lambda e: e.procedure_at, reverse=True)[:50],
                                                     public_url=env.rules.clinic.public_url)),
                              change=change)


def reply(r: models.Reply) -> out.Reply:
    return out.Reply(id=r.id, patient_id=r.patient_id, episode_id=r.episode_id, from_number=r.from_number,
                     body=r.body, received_at=_utc(r.received_at), classification=r.classification,
                     handled_at=_utc(r.handled_at))


def task(t: models.Task) -> out.Task:
    return out.Task(id=t.id, kind=t.kind, patient_id=t.patient_id, episode_id=t.episode_id, reply_id=t.reply_id,
                    summary=t.summary, created_at=_utc(t.created_at), resolved_at=_utc(t.resolved_at),
                    resolution=t.resolution)


def observation(o: models.Observation) -> out.Observation:
    value = float(o.value)
    return out.Observation(id=o.id, code=o.code, value=int(value) if value.is_integer() else value, unit=o.unit,
                           time_point=o.time_point, received_at=_utc(o.received_at), source=o.source,
                           message_id=o.message_id, reply_id=o.reply_id, hold_id=o.hold_id,
                           superseded_at=_utc(o.superseded_at) if o.superseded_at else None,
                           superseded_by_id=o.superseded_by_id)


def outcome(row: OutcomeRow) -> out.Outcome:
    o = row.current
    return out.Outcome(
        id=o.id, episode_id=o.episode_id, time_point=o.time_point or "", measure=o.code, label=row.label,
        value=_number(o.value), unit=o.unit, source=o.source, recorded_at=_utc(o.received_at),
        recorded_by_id=o.recorded_by_id, message_id=o.message_id,
        change_from_baseline=_number(row.change_from_baseline) if row.change_from_baseline is not None else None,
        history=[_replaced(h) for h in row.history])


def _replaced(h: models.Observation) -> out.ReplacedOutcome:
    assert h.superseded_at is not None and h.superseded_by_id is not None, "a replaced value"
    return out.ReplacedOutcome(id=h.id, value=_number(h.value), source=h.source, recorded_at=_utc(h.received_at),
                               recorded_by_id=h.recorded_by_id, replaced_at=_utc(h.superseded_at),
                               replaced_by_id=h.superseded_by_id)


def _number(value: Decimal) -> float:
    """A stored value as JSON shows it: 7, not 7.0 (a whole number), 2.35 otherwise."""
    f = float(value)
    return int(f) if f.is_integer() else f


# --- the conversation with the patient (issue 11, "Acting on replies") ------------------------


def staff_text(result: StaffText, definition: PathwayDefinition | None) -> out.StaffText:
    m = result.message
    assert m is not None, "a stored one-off text"
    tz = ZoneInfo(result.episode.patient.timezone)
    return out.StaffText(**dict(_message(m, tz, definition)), episode_id=result.episode.id, urgent=m.urgent,
                         created_by_id=m.created_by_id, waits_for_quiet_hours=result.waits_for_quiet_hours)


def _thread_item(e: ThreadEntry, tz: ZoneInfo, definition: PathwayDefinition | None) -> out.ThreadItem:
    blank: dict[str, Any] = dict(message_id=None, message_kind=None, label=None, status=None, urgent=False,
                                 history=[], reply_id=None, classification=None, red_flag_groups=[],
                                 open_task_id=None, task_id=None, by=e.by)
    if e.message is not None:
        m = e.message
        blank |= dict(body=m.body, message_id=m.id, message_kind=m.kind, status=m.status, urgent=m.urgent,
                      label=_label(definition, m.kind, message=True),
                      history=[out.DeliveryEvent(at=_utc(ev.at), source=ev.source, from_status=ev.from_status,
                                                 to_status=ev.to_status, reason=ev.reason or "",
                                                 error_code=ev.error_code) for ev in m.events])
    elif e.reply is not None:
        r = e.reply
        blank |= dict(body=r.body, reply_id=r.id, classification=r.classification,
                      red_flag_groups=list(e.red_flag_groups), open_task_id=e.open_task_id)
    else:
        assert e.task is not None
        t = e.task
        blank |= dict(body=t.resolution or "", reply_id=t.reply_id, task_id=t.id, label=t.kind)
    return out.ThreadItem(type=e.type, **_times(tz, at=e.at), **blank)


def calendar_feed(link: models.CalendarLink, public_url: str) -> out.CalendarFeed:
    return out.CalendarFeed(id=link.id, kind=link.kind, name=link.name, url=calendar_url(public_url, link.token) or "",
                            created_at=_utc(link.created_at), revoked_at=_utc(link.revoked_at))


def thread(t: Thread, definition: PathwayDefinition | None) -> out.Thread:
    tz = ZoneInfo(t.patient.timezone)
    return out.Thread(episode_id=t.episode.id, patient_id=t.patient.id, timezone=t.patient.timezone,
                      items=[_thread_item(e, tz, definition) for e in t.entries])


# --- the outcomes report (issue 12, "Outcomes") ------------------------------------------------


def _responders(s: outcomes_report.Share) -> out.Responders:
    return out.Responders(n=s.n, pct=s.pct, ci95=_interval(s.ci95))


def _interval(ends: tuple[float, float] | None) -> list[float] | None:
    return list(ends) if ends is not None else None


def _measure_outcome(m: outcomes_report.Measure) -> out.MeasureOutcome:
    return out.MeasureOutcome(n=m.n, median=m.median, median_ci95=_interval(m.median_ci95),
                              median_change_pct=m.median_change_pct,
                              median_change_pct_ci95=_interval(m.median_change_pct_ci95),
                              responders=_responders(m.responders))


def outcomes(report: outcomes_report.OutcomesReport) -> out.OutcomesReport:
    rows = []
    for t in report.time_points:
        nprs, walk, odi = (t.measures[c] for c in ("nprs", "walk_minutes", "odi"))
        rows.append(out.OutcomeTimePoint(
            time_point=t.time_point, label=t.label, episodes=t.episodes, answered=t.answered,
            nprs=_measure_outcome(nprs), walk_minutes=_measure_outcome(walk),
            odi=out.OdiOutcome(n=odi.n, mean_change=odi.mean_change, responders=_responders(odi.responders))))
    return out.OutcomesReport(
        as_of=_utc(report.as_of), time_points=rows,
        published=[out.PublishedFigure(source=p.source, measure=p.measure, figure=p.figure, citation=p.citation)
                   for p in report.published],
        process=[out.ProcessFigure(key=p.key, label=p.label, numerator=p.numerator, denominator=p.denominator,
                                   pct=p.pct, definition=p.definition) for p in report.process])
