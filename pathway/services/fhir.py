"""The FHIR R4 export (issue 14): an episode as a `Bundle`, and every episode as Bulk Data NDJSON.

One mapping, two shapes. `episode_resources` turns an episode's records into plain FHIR R4
resources (dicts); the bundle gives each one a `fullUrl` of ``urn:uuid:<uuid>`` and points its
references at those, while the bulk export refers by ``<Type>/<id>`` (the Bulk Data convention).
A resource's id is a UUID derived from its table and database id (uuid5), so the same record
always gets the same id: a second export updates a receiving server's copy, never duplicates it.

What is exported:
- `Patient`: MRN, name, birth date, mobile phone, preferred language.
- `CarePlan`: the episode (active / completed / revoked), one activity per milestone's `Task`.
- `Task` per milestone: its status, and its due time or window as `executionPeriod`; a step about
  a hold has the hold's `MedicationStatement` as `focus`.
- `Appointment` for the procedure and for each booked follow-up visit and PT session.
- `MedicationStatement` per hold: the drug with its RxNorm ingredient code from the catalogue
  (`data/anticoagulants.toml`), `on-hold` from the last dose to the restart.
- `CommunicationRequest` per text still to be sent, `Communication` per text sent. The body
  only for patients who chose detailed texts (the same rule as the texts themselves).
- `Observation` per observation (pain 0-10, stopped medicine, walking and standing minutes, ODI,
  ZCQ symptom severity, global impression of change), coded with LOINC where `data/answers.toml`
  gives a code (pain: 72514-3), else named by its label; an answer by text is `derivedFrom` the
  question's Communication, and a stopped medicine has the hold's MedicationStatement as `focus`.
  A value a later one replaced (same episode, time point and measure) is left out.
Nothing here reads the clock or writes except the audit rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from pathway.models import Episode, Message, Observation, Patient
from pathway.models.episode import Appointment, MedicationHold, Milestone
from pathway.services.answer_reader import Code, load_answers
from pathway.services.base import Actor, Env, NotFound, audit
from pathway.services.observations import episode_observations
from pathway.timeline.catalogue import Catalogue
from pathway.timeline.definition import PathwayDefinition
from pathway.timeline.vocabulary import (
    CARE_TEAM,
    AppointmentStatus,
    EpisodeStatus,
    MessageStatus,
    MilestoneKind,
    MilestoneStatus,
)

__all__ = [
    "FHIR_JSON",
    "RESOURCE_TYPES",
    "RXNORM",
    "count_episodes",
    "episode_bundle",
    "episode_resources",
    "export_resources",
    "resource_id",
]

FHIR_JSON = "application/fhir+json"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
# Stable ids: uuid5 of "<table>/<id>" in this namespace (itself uuid5 of the project's name).
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/pathway/mild-pathway/fhir")
SMS = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode", "code": "SMSWRIT",
                   "display": "SMS written"}]}
MRN_TYPE = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR",
                        "display": "Medical record number"}]}
RESOURCE_TYPES = ("Patient", "CarePlan", "Task", "Appointment", "MedicationStatement", "CommunicationRequest",
                  "Communication", "Observation")
LOINC = "http://loinc.org"
SURVEY = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "survey",
                      "display": "Survey"}]}

_TASK_STATUS = {MilestoneStatus.PLANNED: "requested", MilestoneStatus.DUE: "ready", MilestoneStatus.DONE: "completed",
                MilestoneStatus.MISSED: "failed", MilestoneStatus.CANCELLED: "cancelled"}
_CAREPLAN_STATUS = {EpisodeStatus.SCHEDULED: "active", EpisodeStatus.COMPLETED: "completed",
                    EpisodeStatus.CANCELLED: "revoked"}
_APPOINTMENT_STATUS = {AppointmentStatus.BOOKED: "booked", AppointmentStatus.DONE: "fulfilled",
                       AppointmentStatus.MISSED: "noshow", AppointmentStatus.CANCELLED: "cancelled"}
# A text with one of these statuses went (or may have gone) to the carrier: a Communication.
_SENT = {MessageStatus.SENT: "completed", MessageStatus.DELIVERED: "completed",
         MessageStatus.UNDELIVERED: "stopped", MessageStatus.UNKNOWN: "unknown"}
# Still to be sent, or withdrawn before sending: a CommunicationRequest.
_REQUESTED = {MessageStatus.SCHEDULED: "active", MessageStatus.SENDING: "active",
              MessageStatus.CANCELLED: "revoked", MessageStatus.SUPPRESSED: "revoked",
              MessageStatus.FAILED: "revoked"}
_HOLD_STEPS = {MilestoneKind.HOLD_CLEARANCE, MilestoneKind.LAST_DOSE, MilestoneKind.RESTART}


def resource_id(table: str, record_id: int) -> str:
    """The stable FHIR id of a record: the same table and id always give the same UUID."""
    return str(uuid.uuid5(NAMESPACE, f"{table}/{record_id}"))


Ref = Callable[[str, str], dict[str, str]]  # (resource type, id) -> a Reference


def bundle_ref(kind: str, rid: str) -> dict[str, str]:
    return {"reference": f"urn:uuid:{rid}", "type": kind}


def bulk_ref(kind: str, rid: str) -> dict[str, str]:
    return {"reference": f"{kind}/{rid}"}


def _instant(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _period(start: datetime | date | None, end: datetime | None) -> dict[str, str] | None:
    period = {k: v.isoformat() for k, v in (("start", start), ("end", end)) if v is not None}
    return period or None


def _clean(resource: dict[str, Any]) -> dict[str, Any]:
    """FHIR has no nulls or empty lists: leave such elements out."""
    return {k: v for k, v in resource.items() if v is not None and v != [] and v != {}}


# --- the mapping (no Session) -------------------------------------------------------------------


def patient_resource(patient: Patient) -> dict[str, Any]:
    return _clean({
        "resourceType": "Patient",
        "id": resource_id("patients", patient.id),
        "identifier": [{"use": "usual", "type": MRN_TYPE, "value": patient.mrn}],
        "name": [{"use": "official", "family": patient.family_name, "given": [patient.given_name]}],
        "birthDate": patient.birth_date.isoformat(),
        "telecom": [{"system": "phone", "value": patient.phone, "use": "mobile"}],
        "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": patient.language}]},
                           "preferred": True}],
    })


def _hold_status(hold: MedicationHold, episode: Episode) -> tuple[str, str]:
    if hold.removed_at is not None:
        return "unknown", "hold removed from the plan"
    restarted = any(m.kind == MilestoneKind.RESTART and m.hold_id == hold.id and m.status == MilestoneStatus.DONE
                    for m in episode.milestones)
    if restarted:
        return "active", "restarted after the procedure"
    if episode.status == EpisodeStatus.CANCELLED:
        return "unknown", "procedure cancelled"
    return "on-hold", "held for the procedure"


def medication_resource(hold: MedicationHold, episode: Episode, catalogue: Catalogue, ref: Ref,
                        patient_id: str) -> dict[str, Any]:
    drug = catalogue.find(hold.drug_key) if hold.drug_key else None
    coding = [{"system": RXNORM, "code": drug.rxcui, "display": drug.text_name("en")}] if drug and drug.rxcui else []
    status, why = _hold_status(hold, episode)
    start: datetime | date | None = hold.last_dose_at or hold.last_dose_on
    notes = [{"text": f"prescriber clearance: {hold.clearance.replace('_', ' ')}"}]
    return _clean({
        "resourceType": "MedicationStatement",
        "id": resource_id("medication_holds", hold.id),
        "status": status,
        "statusReason": [{"text": why}],
        "medicationCodeableConcept": _clean({"coding": coding, "text": hold.drug_name}),
        "subject": ref("Patient", patient_id),
        "effectivePeriod": _period(start, hold.restart_at),
        "dateAsserted": _instant(episode.created_at),
        "note": notes,
    })


def task_resource(m: Milestone, episode: Episode, definition: PathwayDefinition, ref: Ref, patient_id: str,
                  careplan_id: str, appointments: Mapping[str, str]) -> dict[str, Any]:
    if m.window_start is not None or m.window_end is not None:
        period = _period(m.window_start, m.window_end)
    else:
        period = _period(None, m.due_at)
    focus = None
    if m.kind in _HOLD_STEPS and m.hold_id is not None:
        focus = ref("MedicationStatement", resource_id("medication_holds", m.hold_id))
    elif m.kind in appointments:
        focus = ref("Appointment", appointments[m.kind])
    label = definition.milestone_label(m.kind)
    return _clean({
        "resourceType": "Task",
        "id": resource_id("milestones", m.id),
        "identifier": [{"system": "urn:pathway:milestone", "value": m.key}],
        "basedOn": [ref("CarePlan", careplan_id)],
        "status": _TASK_STATUS.get(MilestoneStatus(m.status), "requested"),
        "intent": "plan",
        "code": {"text": label},
        "description": m.rule or None,
        "focus": focus,
        "for": ref("Patient", patient_id),
        "executionPeriod": period,
        "authoredOn": _instant(episode.created_at),
        "lastModified": _instant(m.completed_at),
    })


def _appointment(rid: str, status: str, start: datetime, end: datetime, text: str, ref: Ref, patient_id: str,
                 booked: datetime | None) -> dict[str, Any]:
    return _clean({
        "resourceType": "Appointment",
        "id": rid,
        "status": status,
        "description": text,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "created": _instant(booked),
        "participant": [{"actor": ref("Patient", patient_id), "required": "required", "status": "accepted"}],
    })


def _procedure_status(episode: Episode) -> str:
    if episode.status == EpisodeStatus.CANCELLED:
        return "cancelled"
    return "fulfilled" if episode.ended_at is not None or episode.status == EpisodeStatus.COMPLETED else "booked"


def message_resource(msg: Message, patient: Patient, definition: PathwayDefinition, ref: Ref,
                     patient_id: str) -> dict[str, Any] | None:
    """A text still to send (CommunicationRequest) or sent (Communication); the body only with
    detailed texts. None for a status that is neither (nothing today)."""
    status = MessageStatus(msg.status)
    payload = [{"contentString": msg.body}] if patient.detailed_texts else []
    category = [{"text": definition.message_label(msg.kind)}]
    if status in _SENT:
        return _clean({
            "resourceType": "Communication",
            "id": resource_id("messages", msg.id),
            "status": _SENT[status],
            "category": category,
            "medium": [SMS],
            "subject": ref("Patient", patient_id),
            "recipient": [ref("Patient", patient_id)],
            "sent": _instant(msg.sent_at or msg.send_at),
            "payload": payload,
        })
    if status in _REQUESTED:
        return _clean({
            "resourceType": "CommunicationRequest",
            "id": resource_id("messages", msg.id),
            "status": _REQUESTED[status],
            "category": category,
            "priority": "urgent" if msg.urgent else "routine",
            "medium": [SMS],
            "subject": ref("Patient", patient_id),
            "recipient": [ref("Patient", patient_id)],
            "occurrenceDateTime": msg.send_at.isoformat(),
            "authoredOn": _instant(msg.created_at),
            "payload": payload,
        })
    return None


METHODS = {"sms": "patient's answer by text", "staff": "recorded by staff",
           "visit": "measured or asked at a clinic visit", "phone": "asked on a telephone call"}


def observation_resource(obs: Observation, code: Code | None, ref: Ref, patient_id: str,
                         messages: Mapping[int, dict[str, Any]]) -> dict[str, Any]:
    """One observation; `messages` maps a text's id to its exported resource (for `derivedFrom`)."""
    label = code.label if code else obs.code
    coding = [{"system": LOINC, "code": code.loinc}] if code and code.loinc else []
    value = int(obs.value) if obs.value == obs.value.to_integral_value() else float(obs.value)
    question = messages.get(obs.message_id) if obs.message_id is not None else None
    return _clean({
        "resourceType": "Observation",
        "id": resource_id("observations", obs.id),
        "identifier": [{"system": "urn:pathway:observation-code", "value": obs.code}],
        "status": "final",
        "category": [SURVEY],
        "code": _clean({"coding": coding, "text": label}),
        "subject": ref("Patient", patient_id),
        "focus": [ref("MedicationStatement", resource_id("medication_holds", obs.hold_id))]
        if obs.hold_id is not None else None,
        "effectiveDateTime": obs.received_at.isoformat(),
        "issued": obs.created_at.isoformat(),
        "valueQuantity": {"value": value, "unit": obs.unit},
        "note": [{"text": f"time point: {obs.time_point}"}] if obs.time_point else None,
        "derivedFrom": [ref(question["resourceType"], question["id"])] if question else None,
        "method": {"text": METHODS.get(obs.source, "recorded by staff")},
    })


def episode_resources(episode: Episode, messages: list[Message], definition: PathwayDefinition,
                      catalogue: Catalogue, ref: Ref, *, with_patient: bool = True,
                      observations: list[Observation] | None = None) -> Iterator[dict[str, Any]]:
    """The episode's resources, the Patient first (unless `with_patient` is false)."""
    patient = episode.patient
    pid = resource_id("patients", patient.id)
    if with_patient:
        yield patient_resource(patient)
    careplan_id = resource_id("episodes", episode.id)
    appointments: dict[str, str] = {}
    for a in episode.appointments:
        if a.status != AppointmentStatus.CANCELLED:
            appointments[a.kind] = resource_id("appointments", a.id)
    procedure_id = resource_id("episodes/procedure", episode.id)
    appointments[MilestoneKind.PROCEDURE] = procedure_id
    tasks = [task_resource(m, episode, definition, ref, pid, careplan_id, appointments) for m in episode.milestones]
    yield _clean({
        "resourceType": "CarePlan",
        "id": careplan_id,
        "status": _CAREPLAN_STATUS.get(EpisodeStatus(episode.status), "unknown"),
        "intent": "plan",
        "title": "MILD procedure pathway",
        "description": " ".join(x for x in (episode.levels, episode.facility) if x) or None,
        "subject": ref("Patient", pid),
        "period": _period(episode.created_at, None),
        "created": _instant(episode.created_at),
        "activity": [{"reference": ref("Task", t["id"])} for t in tasks],
    })
    yield from tasks
    start = episode.procedure_at
    what = " ".join(x for x in (definition.milestone_label(MilestoneKind.PROCEDURE), episode.facility) if x)
    yield _appointment(procedure_id, _procedure_status(episode), start,
                       max(episode.ended_at or start + timedelta(minutes=episode.duration_minutes), start), what,
                       ref, pid, episode.created_at)
    for a in episode.appointments:
        yield _appointment(resource_id("appointments", a.id), _appointment_status(a), a.appointment_at,
                           # the clinic records only a visit's start; FHIR needs an end (app-3)
                           a.appointment_at, definition.milestone_label(a.kind), ref, pid, a.booked_at)
    for hold in episode.all_holds:
        yield medication_resource(hold, episode, catalogue, ref, pid)
    exported: dict[int, dict[str, Any]] = {}
    for msg in messages:
        resource = message_resource(msg, patient, definition, ref, pid)
        if resource is not None:
            exported[msg.id] = resource
            yield resource
    codes = load_answers().codes
    for obs in observations or ():
        if obs.superseded_at is not None:
            continue  # a value a later one replaced: the record exports what stands (the API keeps the history)
        yield observation_resource(obs, codes.get(obs.code), ref, pid, exported)


def _appointment_status(a: Appointment) -> str:
    return _APPOINTMENT_STATUS.get(AppointmentStatus(a.status), "booked")


# --- the use cases ------------------------------------------------------------------------------


def _load_episode(session: Session, episode_id: int) -> Episode | None:
    return session.scalars(
        select(Episode).where(Episode.id == episode_id).options(
            selectinload(Episode.patient), selectinload(Episode.all_holds), selectinload(Episode.milestones),
            selectinload(Episode.appointments))
    ).first()


def episode_bundle(session: Session, env: Env, actor: Actor, episode_id: Any) -> dict[str, Any]:
    """`GET /api/v1/episodes/<id>/fhir`: the episode as a FHIR R4 `collection` Bundle (audited)."""
    actor.require(*CARE_TEAM)
    try:
        key = int(episode_id)
    except (TypeError, ValueError):
        raise NotFound("episode") from None
    episode = _load_episode(session, key)
    if episode is None:
        raise NotFound("episode")
    messages = list(session.scalars(
        select(Message).where(Message.patient_id == episode.patient_id,
                              or_(Message.episode_id == episode.id, Message.episode_id.is_(None)))
        .order_by(Message.send_at, Message.id)))
    audit(session, env, actor, "episode.fhir", "episode", episode.id, patient_id=episode.patient_id)
    resources = episode_resources(episode, messages, env.rules.definition, env.rules.catalogue, bundle_ref,
                                  observations=episode_observations(session, episode.id))
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid5(NAMESPACE, f"bundle/episodes/{episode.id}/{env.now.isoformat()}")),
        "meta": {"lastUpdated": env.now.isoformat()},
        "type": "collection",
        "timestamp": env.now.isoformat(),
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources],
    }


def count_episodes(session: Session, since: datetime | None) -> int:
    """How many episodes `export_resources` will write (for the progress bar)."""
    query = select(func.count(Episode.id))
    if since is not None:
        query = query.where(_since(since))
    return int(session.scalar(query) or 0)


def _since(since: datetime) -> Any:
    return or_(Episode.procedure_at >= since, Episode.created_at >= since, Episode.moved_at >= since)


def export_resources(session: Session, env: Env, actor: Actor, since: datetime | None = None, *,
                     batch: int = 200) -> Iterator[tuple[int, dict[str, Any]]]:
    """Every episode's resources for FHIR Bulk Data, as (episode number, resource), in constant memory.

    Episodes are read `batch` at a time in (patient, id) order, and each batch is let go of before
    the next, so memory does not grow with the database. A patient and their texts that belong to
    no episode (the enrolment text) are written once, with the patient's first episode. `since`
    keeps episodes whose procedure is at or after it, or that were created or moved at or after it.
    The export is audited once (`fhir.export`), before the first resource.
    """
    actor.require(*CARE_TEAM)  # the command line exports as the system (its operator holds the database)
    audit(session, env, actor, "fhir.export", "episode", None,
          detail={"since": since.isoformat() if since else None})
    session.flush()
    definition, catalogue = env.rules.definition, env.rules.catalogue
    last: tuple[int, int] = (0, 0)
    last_patient = 0
    done = 0
    while True:
        query = (select(Episode.id, Episode.patient_id)
                 .where(or_(Episode.patient_id > last[0], (Episode.patient_id == last[0]) & (Episode.id > last[1])))
                 .order_by(Episode.patient_id, Episode.id).limit(batch))
        if since is not None:
            query = query.where(_since(since))
        keys = session.execute(query).all()
        if not keys:
            return
        # The batch in a few queries: its episodes with their steps, holds and visits, then its
        # patients' texts (a patient's texts of episodes in other batches are skipped).
        ids = [int(k[0]) for k in keys]
        episodes = {e.id: e for e in session.scalars(select(Episode).where(Episode.id.in_(ids)).options(
            selectinload(Episode.patient), selectinload(Episode.all_holds), selectinload(Episode.milestones),
            selectinload(Episode.appointments)))}
        texts: dict[tuple[int, int | None], list[Message]] = {}
        for msg in session.scalars(select(Message).where(Message.patient_id.in_({int(k[1]) for k in keys}))
                                   .order_by(Message.send_at, Message.id)):
            texts.setdefault((msg.patient_id, msg.episode_id), []).append(msg)
        measured: dict[int, list[Observation]] = {}
        for obs in session.scalars(select(Observation).where(Observation.episode_id.in_(ids))
                                   .order_by(Observation.received_at, Observation.id)):
            measured.setdefault(obs.episode_id, []).append(obs)
        for episode_id, patient_id in keys:
            episode = episodes[episode_id]
            first = patient_id != last_patient
            messages = texts.get((patient_id, episode_id), [])
            if first:  # the texts about no episode (the enrolment text) go with the patient, once
                messages = sorted([*texts.get((patient_id, None), []), *messages], key=lambda m: (m.send_at, m.id))
            done += 1
            for resource in episode_resources(episode, messages, definition, catalogue, bulk_ref,
                                              with_patient=first, observations=measured.get(episode_id, [])):
                yield done, resource
            last_patient = patient_id
        last = (int(keys[-1][1]), int(keys[-1][0]))
        session.expunge_all()  # let the batch go: memory stays flat however many episodes there are

