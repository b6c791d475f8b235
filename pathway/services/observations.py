"""Observations of an episode: recorded by staff, or read from the patient's answer to a question.

The bounds and units of each code are data (``pathway/data/answers.toml``). A 72-hour pain score
at or over ``[answers] pain_high_nprs`` of mild_pathway.toml, or ``pain_rise_over_baseline``
points above the patient's own baseline, opens a same-day ``pain_high`` worklist item, whoever
recorded it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathway.models import Episode, MedicationHold, Observation
from pathway.schemas.fields import Context
from pathway.schemas.inputs import ObservationIn
from pathway.services.answer_reader import load_answers
from pathway.services.base import Actor, Env, ValidationError, audit, get_or_404, read_input
from pathway.services.tasks import open_task
from pathway.timeline.vocabulary import AT_72H, BASELINE, CARE_TEAM, ObservationCode, ObservationSource


def episode_observations(session: Session, episode_id: int) -> list[Observation]:
    """An episode's observations, oldest first."""
    return list(session.scalars(select(Observation).where(Observation.episode_id == episode_id)
                                .order_by(Observation.received_at, Observation.id)))


def list_observations(session: Session, env: Env, actor: Actor, episode_id: Any) -> list[Observation]:
    """What the API's GET answers (audited, as every view of a patient's record is)."""
    actor.require(*CARE_TEAM)
    episode: Episode = get_or_404(session, Episode, episode_id, "episode")
    audit(session, env, actor, "observation.list", "episode", episode.id, patient_id=episode.patient_id)
    return episode_observations(session, episode.id)


def record_observation(session: Session, env: Env, actor: Actor, episode_id: Any,
                       data: Mapping[str, Any] | ObservationIn) -> Observation:
    """A person records an observation (the API's POST, the episode page's form). Audited."""
    actor.require(*CARE_TEAM)
    episode: Episode = get_or_404(session, Episode, episode_id, "episode", lock=True)
    form = read_input(ObservationIn, data, Context(now=env.now, tz=ZoneInfo(episode.patient.timezone)))
    code = load_answers().codes[form.code]
    errors: dict[str, str] = {}
    why = code.check(form.value)
    if why:
        errors["value"] = f"{why} for {form.code}"
    if form.unit and form.unit != code.unit:
        errors["unit"] = f"{form.code} is recorded in {code.unit}; leave unit out or send {code.unit!r}"
    hold = None
    if form.hold_id is not None:
        hold = session.get(MedicationHold, form.hold_id)
        if hold is None or hold.episode_id != episode.id or hold.removed_at is not None:
            errors["hold_id"] = "not a hold of this episode: pick one of its holds"
        elif form.code != ObservationCode.STOPPED_MEDICINE:
            errors["hold_id"] = "only a stopped_medicine observation is about a hold"
    elif form.code == ObservationCode.STOPPED_MEDICINE:
        if len(episode.holds) != 1:
            errors["hold_id"] = "say which hold the patient stopped (the episode has "\
                                f"{len(episode.holds)} holds)"
        else:
            hold = episode.holds[0]
    if errors:
        raise ValidationError(errors)
    assert form.received_at is not None
    obs = add_observation(session, env, episode, form.code, form.value, time_point=form.time_point,
                          received_at=form.received_at, source=ObservationSource.STAFF,
                          hold_id=hold.id if hold else None, recorded_by_id=actor.user_id)
    audit(session, env, actor, "observation.record", "observation", obs.id, patient_id=episode.patient_id,
          detail={"episode_id": episode.id, "code": obs.code, "time_point": obs.time_point, "value": str(obs.value)})
    after_observation(session, env, episode, obs)
    return obs


def add_observation(session: Session, env: Env, episode: Episode, code: str, value: Decimal, *,
                    time_point: str | None, received_at: Any, source: str, message_id: int | None = None,
                    reply_id: int | None = None, hold_id: int | None = None,
                    recorded_by_id: int | None = None) -> Observation:
    """Store one observation (checked by the caller): the one writer of observations, for the
    observations and outcomes APIs, the episode page and the patient's answers alike.

    At a time point, the value recorded last replaces the current one for the same episode, time
    point and code (whatever its measured time: the latest entry is the correction); the replaced
    row stays for the history with ``superseded_at`` and ``superseded_by_id``. The episode row is
    locked first, so two writers at once leave exactly one current value. The flush notes the
    episode; its outcomes report row (``ReportEpisode``) is rewritten at the commit."""
    if time_point is not None:
        session.execute(select(Episode.id).where(Episode.id == episode.id).with_for_update())
    obs = Observation(episode_id=episode.id, code=code, value=value, unit=load_answers().codes[code].unit,
                      time_point=time_point, received_at=received_at, source=source, message_id=message_id,
                      reply_id=reply_id, hold_id=hold_id, recorded_by_id=recorded_by_id, created_at=env.now)
    session.add(obs)
    session.flush()
    if time_point is not None:
        for old in session.scalars(select(Observation).where(
                Observation.episode_id == episode.id, Observation.code == code, Observation.time_point == time_point,
                Observation.superseded_at.is_(None), Observation.id != obs.id)):
            old.superseded_at, old.superseded_by_id = env.now, obs.id
        # The flush notes the episode: its ReportEpisode row is rewritten at the commit (models.report).
        session.flush()
    return obs


def current_value(session: Session, episode_id: int, code: str, time_point: str) -> Observation | None:
    """The current (not replaced) value of ``code`` at ``time_point``, if any."""
    return session.scalar(select(Observation).where(
        Observation.episode_id == episode_id, Observation.code == code, Observation.time_point == time_point,
        Observation.superseded_at.is_(None)).order_by(Observation.id.desc()).limit(1))


@dataclass(frozen=True)
class PainCheck:
    high: bool
    why: str


def pain_check(session: Session, env: Env, episode: Episode, obs: Observation) -> PainCheck:
    """Whether a 72-hour pain score needs a same-day call: at or over the threshold, or far
    enough above the patient's own baseline (its current value)."""
    d = env.rules.definition
    if obs.code != ObservationCode.NPRS or obs.time_point != AT_72H:
        return PainCheck(False, "")
    if obs.value >= d.pain_high_nprs:
        return PainCheck(True, f"pain {obs.value:.0f}/10 at the 72-hour check (at or over {d.pain_high_nprs})")
    current = current_value(session, episode.id, ObservationCode.NPRS, BASELINE)
    baseline = current.value if current is not None else None
    if baseline is not None and obs.value - baseline >= d.pain_rise_over_baseline:
        return PainCheck(True, f"pain {obs.value:.0f}/10 at the 72-hour check, {obs.value - baseline:.0f} points "
                               f"over the baseline {baseline:.0f}")
    return PainCheck(False, "")


def after_observation(session: Session, env: Env, episode: Episode, obs: Observation) -> None:
    """What an observation sets going: a high 72-hour pain score becomes a same-day worklist item;
    a patient who says they have NOT stopped a held medicine, a `hold_not_stopped` item right below
    red flags and a blocker of the go / no go until a clinician records a decision."""
    if obs.code == ObservationCode.STOPPED_MEDICINE and obs.value == 0 and obs.hold_id is not None:
        hold = session.get(MedicationHold, obs.hold_id)
        if hold is not None and hold.removed_at is None and episode.status != "cancelled":
            open_task(session, env, "hold_not_stopped", f"hold:{hold.id}",
                      f"The patient says they have NOT stopped {hold.drug_name}: call them; a clinician must "
                      f"decide before the procedure",
                      patient_id=episode.patient_id, episode_id=episode.id, reply_id=obs.reply_id)
    check = pain_check(session, env, episode, obs)
    if check.high:
        open_task(session, env, "pain_high", f"episode:{episode.id}:nprs:72h",
                  f"High pain after the procedure: {check.why}. Call the patient today",
                  patient_id=episode.patient_id, episode_id=episode.id, reply_id=obs.reply_id)
