"""Use cases about patients: enrolment, consent, preferences, opting out and back in."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from pathway.models import Message, Patient
from pathway.models.patient import LANGUAGES
from pathway.services import outbox
from pathway.services.base import (
    Actor,
    Env,
    ValidationError,
    audit,
    get_or_404,
    parse_bool,
    parse_date,
    parse_text,
    parse_zone,
)
from pathway.services.parsing import parse_phone
from pathway.services.planning import add_message
from pathway.timeline import PlannedMessage

CONSENT_METHODS = ("verbal", "written", "electronic", "text")


def enrol_patient(session: Session, env: Env, actor: Actor, data: Mapping[str, Any]) -> Patient:
    """Enrol a patient; with consent, queue the enrolment text (clinic name, STOP/HELP)."""
    actor.require("coordinator", "clinician")
    errors: dict[str, str] = {}
    mrn = parse_text(errors, "mrn", data.get("mrn"), max_len=64)
    given = parse_text(errors, "given_name", data.get("given_name"), max_len=120)
    family = parse_text(errors, "family_name", data.get("family_name"), max_len=120)
    birth = parse_date(errors, "birth_date", data.get("birth_date"))
    if birth is not None and birth > env.now.date():
        errors["birth_date"] = "is in the future"
    phone = parse_phone(errors, "phone", data.get("phone"))
    tz = parse_zone(errors, "timezone", data.get("timezone") or env.rules.clinic.timezone)
    language = data.get("language") or "en"
    if language not in LANGUAGES:
        errors["language"] = f"must be one of {', '.join(LANGUAGES)}"
    consent = parse_bool(errors, "sms_consent", data.get("sms_consent"))
    method = data.get("consent_method") or ("verbal" if consent else None)
    if consent and method not in CONSENT_METHODS:
        errors["consent_method"] = f"must be one of {', '.join(CONSENT_METHODS)}"
    detailed = parse_bool(errors, "detailed_texts", data.get("detailed_texts"))
    if mrn and "mrn" not in errors and session.scalar(select(Patient.id).where(Patient.mrn == mrn)) is not None:
        errors["mrn"] = f"a patient with MRN {mrn} is already enrolled"
    if errors:
        raise ValidationError(errors)
    assert birth is not None and tz is not None
    patient = Patient(
        mrn=mrn,
        given_name=given,
        family_name=family,
        birth_date=birth,
        phone=phone,
        timezone=tz,
        language=language,
        detailed_texts=detailed,
        sms_consent_at=env.now if consent else None,
        sms_consent_method=method if consent else None,
        sms_consent_by_id=actor.user_id if consent else None,
        created_at=env.now,
    )
    session.add(patient)
    session.flush()
    audit(session, env, actor, "patient.enrol", "patient", patient.id, patient_id=patient.id,
          detail={"sms_consent": consent, "language": language})
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
    actor.require("coordinator", "clinician")
    if method not in CONSENT_METHODS:
        raise ValidationError({"consent_method": f"must be one of {', '.join(CONSENT_METHODS)}"})
    patient: Patient = get_or_404(session, Patient, patient_id, "patient")
    patient.sms_consent_at = env.now
    patient.sms_consent_method = method
    patient.sms_consent_by_id = actor.user_id
    patient.opted_out_at = None
    patient.opted_out_via = None
    audit(session, env, actor, "patient.consent", "patient", patient.id, patient_id=patient.id,
          detail={"method": method})
    queue_enrolment_text(session, env, patient)
    return patient


def update_preferences(session: Session, env: Env, actor: Actor, patient_id: Any, data: Mapping[str, Any]) -> Patient:
    actor.require("coordinator", "clinician")
    patient: Patient = get_or_404(session, Patient, patient_id, "patient")
    errors: dict[str, str] = {}
    changes: dict[str, Any] = {}
    if "phone" in data:
        phone = parse_phone(errors, "phone", data.get("phone"))
        if phone and phone != patient.phone:
            changes["phone"] = phone
    if "timezone" in data:
        tz = parse_zone(errors, "timezone", data.get("timezone"))
        if tz:
            changes["timezone"] = tz
    if "language" in data:
        if data["language"] not in LANGUAGES:
            errors["language"] = f"must be one of {', '.join(LANGUAGES)}"
        else:
            changes["language"] = data["language"]
    if "detailed_texts" in data:
        changes["detailed_texts"] = parse_bool(errors, "detailed_texts", data.get("detailed_texts"))
    if errors:
        raise ValidationError(errors)
    for k, v in changes.items():
        setattr(patient, k, v)
    if "phone" in changes:
        patient.phone_flagged_at = None
        patient.phone_flag_reason = None
    audit(session, env, actor, "patient.update", "patient", patient.id, patient_id=patient.id,
          detail={"fields": sorted(changes)})
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
