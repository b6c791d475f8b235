"""Use cases about patients: enrolment, consent, preferences, opting out and back in."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from pathway.models import Message, Patient
from pathway.schemas.fields import Context
from pathway.schemas.inputs import ConsentIn, PatientIn
from pathway.schemas.vocab import CONSENT_METHODS
from pathway.services import outbox
from pathway.services.base import Actor, Env, audit, get_or_404, read_input
from pathway.services.planning import add_message
from pathway.timeline import PlannedMessage
from pathway.timeline.vocabulary import CARE_TEAM

__all__ = ["CONSENT_METHODS", "enrol_patient", "opt_in", "opt_out", "queue_enrolment_text", "record_consent",
           "search_patients", "suppress_pending"]


def enrol_patient(session: Session, env: Env, actor: Actor, data: Mapping[str, Any] | PatientIn) -> Patient:
    """Enrol a patient; with consent, queue the enrolment text (clinic name, STOP/HELP)."""
    actor.require(*CARE_TEAM)
    given = read_input(PatientIn, data, Context(
        now=env.now, default_zone=env.rules.clinic.timezone,
        mrn_taken=lambda mrn: session.scalar(select(Patient.id).where(Patient.mrn == mrn)) is not None))
    consent = given.sms_consent
    patient = Patient(
        mrn=given.mrn,
        given_name=given.given_name,
        family_name=given.family_name,
        birth_date=given.birth_date,
        phone=given.phone,
        timezone=given.timezone,
        language=given.language,
        detailed_texts=given.detailed_texts,
        sms_consent_at=env.now if consent else None,
        sms_consent_method=given.consent_method,
        sms_consent_by_id=actor.user_id if consent else None,
        created_at=env.now,
    )
    session.add(patient)
    session.flush()
    audit(session, env, actor, "patient.enrol", "patient", patient.id, patient_id=patient.id,
          detail={"sms_consent": consent, "language": given.language})
    if consent:
        queue_enrolment_text(session, env, patient)
    return patient


def queue_enrolment_text(session: Session, env: Env, patient: Patient) -> Message:
    assert patient.sms_consent_at is not None
    nominal = patient.sms_consent_at
    planned = PlannedMessage(
        kind="enrolment",
        milestone_key=None,
        nominal_at=nominal,
        send_at=env.rules.quiet.next_allowed(env.now, ZoneInfo(patient.timezone)),
        context={},
    )
    return add_message(session, env, patient, planned, episode=None, milestone=None, reason="consent recorded")


def record_consent(session: Session, env: Env, actor: Actor, patient_id: Any, method: str) -> Patient:
    actor.require(*CARE_TEAM)
    consent = read_input(ConsentIn, {"consent_method": method})
    patient: Patient = get_or_404(session, Patient, patient_id, "patient")
    patient.sms_consent_at = env.now
    patient.sms_consent_method = consent.consent_method
    patient.sms_consent_by_id = actor.user_id
    patient.opted_out_at = None
    patient.opted_out_via = None
    audit(session, env, actor, "patient.consent", "patient", patient.id, patient_id=patient.id,
          detail={"method": consent.consent_method})
    queue_enrolment_text(session, env, patient)
    return patient


def opt_out(session: Session, env: Env, actor: Actor, patient: Patient, via: str) -> int:
    """Stop all texts to a patient at once; returns how many pending texts were suppressed."""
    if patient.opted_out_at is None:
        patient.opted_out_at = env.now
        patient.opted_out_via = via
    n = suppress_pending(session, env, patient, f"patient opted out ({via})", actor)
    audit(session, env, actor, "patient.opt_out", "patient", patient.id, patient_id=patient.id,
          detail={"via": via, "suppressed": n})
    return n


def opt_in(session: Session, env: Env, actor: Actor, patient: Patient, via: str) -> None:
    patient.opted_out_at = None
    patient.opted_out_via = None
    if patient.sms_consent_at is None:
        patient.sms_consent_at = env.now
        patient.sms_consent_method = "text"
    audit(session, env, actor, "patient.opt_in", "patient", patient.id, patient_id=patient.id, detail={"via": via})


def suppress_pending(session: Session, env: Env, patient: Patient, reason: str, actor: Actor) -> int:
    """Suppress every text still waiting for this patient; one statement, so none slips through."""
    return len(outbox.record_where(session, outbox.Suppressed(reason), expect="scheduled",
                                   where=Message.patient_id == patient.id, now=env.now, source="user",
                                   actor=actor.label))


def search_patients(session: Session, query: str, *, limit: int = 50) -> list[Patient]:
    q = (query or "").strip()
    stmt = select(Patient)
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(
            or_(
                Patient.mrn == q,
                func.lower(Patient.family_name).like(like),
                func.lower(Patient.given_name).like(like),
                func.lower(Patient.family_name + ", " + Patient.given_name).like(like),
            )
        )
    return list(session.scalars(stmt.order_by(Patient.family_name, Patient.given_name, Patient.id).limit(limit)))
