from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from pathway.models import AuditEvent, Message, Patient
from pathway.services.base import Actor, ValidationError
from pathway.services.patients import enrol_patient, opt_in, opt_out, search_patients
from tests.conftest import at

GOOD = {
    "mrn": "A1001", "given_name": "Rosa", "family_name": "Alvarez", "birth_date": "1948-11-02",
    "phone": "(212) 555-0142", "timezone": "America/Chicago", "language": "es", "sms_consent": True,
}


def test_enrolment_stores_e164_phone_and_consent_and_queues_confirmation(session, env, staff) -> None:
    p = enrol_patient(session, env, staff["coordinator"], GOOD)
    assert p.phone == "+12125550142"
    assert p.sms_consent_at == env.now and p.sms_consent_method == "verbal"
    assert p.sms_consent_by_id == staff["coordinator"].user_id
    assert p.detailed_texts is False
    msg = session.scalars(select(Message).where(Message.patient_id == p.id)).one()
    assert msg.kind == "enrolment" and msg.language == "es" and msg.status == "scheduled"
    assert "STOP" in msg.body and "HELP" in msg.body and "Riverside" in msg.body
    assert msg.send_at == env.now  # 09:00 in Chicago: inside quiet hours, goes at once
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "patient.enrol")) == 1


def test_enrolment_text_waits_for_morning_in_the_patients_zone(session, env, staff) -> None:
    late = at(env, datetime(2027, 2, 2, 4, 30, tzinfo=UTC))  # 22:30 in Chicago
    p = enrol_patient(session, late, staff["coordinator"], GOOD)
    msg = session.scalars(select(Message).where(Message.patient_id == p.id)).one()
    assert msg.send_at == datetime(2027, 2, 2, 14, 0, tzinfo=UTC)  # 08:00 Chicago


def test_no_consent_means_no_enrolment_text(session, env, staff) -> None:
    p = enrol_patient(session, env, staff["coordinator"], {**GOOD, "sms_consent": False})
    assert p.sms_consent_at is None
    assert session.scalar(select(func.count()).select_from(Message).where(Message.patient_id == p.id)) == 0


def test_bad_enrolment_names_every_bad_field_and_stores_nothing(session, env, staff) -> None:
    before = session.scalar(select(func.count()).select_from(Patient))
    with pytest.raises(ValidationError) as err:
        enrol_patient(session, env, staff["coordinator"], {
            "mrn": "", "given_name": "Rosa", "family_name": "", "birth_date": "2030-01-01",
            "phone": "+1 555", "timezone": "Mars/Base", "language": "fr", "sms_consent": "maybe",
        })
    errors = err.value.errors
    assert set(errors) == {"mrn", "family_name", "birth_date", "phone", "timezone", "language", "sms_consent"}
    assert errors["phone"] == "not a valid US mobile number: +1 555"
    assert "IANA" in errors["timezone"]
    assert session.scalar(select(func.count()).select_from(Patient)) == before


def test_duplicate_mrn_is_refused(session, env, staff) -> None:
    enrol_patient(session, env, staff["coordinator"], GOOD)
    with pytest.raises(ValidationError) as err:
        enrol_patient(session, env, staff["coordinator"], {**GOOD, "phone": "+12125550143"})
    assert "already enrolled" in err.value.errors["mrn"]


def test_time_zone_defaults_to_the_clinics(session, env, staff) -> None:
    data = {k: v for k, v in GOOD.items() if k != "timezone"}
    assert enrol_patient(session, env, staff["coordinator"], data).timezone == "America/New_York"


def test_opt_out_suppresses_every_pending_text_and_opt_in_restores_sending(session, env, staff, make_episode) -> None:
    episode = make_episode()
    patient = episode.patient
    pending = session.scalar(select(func.count()).select_from(Message).where(
        Message.patient_id == patient.id, Message.status == "scheduled"))
    assert pending >= 2
    n = opt_out(session, env, Actor(role="system", label="patient"), patient, "STOP reply")
    assert n == pending and patient.opted_out_at == env.now
    statuses = set(session.scalars(select(Message.status).where(Message.patient_id == patient.id)))
    assert statuses == {"suppressed"}
    opt_in(session, env, Actor(role="system", label="patient"), patient, "START reply")
    assert patient.can_text


def test_search_finds_by_mrn_and_name_fragment(session, env, staff) -> None:
    enrol_patient(session, env, staff["coordinator"], GOOD)
    assert [p.mrn for p in search_patients(session, "A1001")] == ["A1001"]
    assert [p.mrn for p in search_patients(session, "alvar")] == ["A1001"]
    assert search_patients(session, "zzz") == []


def test_a_patient_edit_validates_and_a_new_number_clears_the_refused_number_flag(session, env, staff) -> None:
    from pathway.services.patients import update_patient

    p = enrol_patient(session, env, staff["coordinator"], GOOD)
    p.phone_flagged_at, p.phone_flag_reason = env.now, "21614 not a mobile"
    with pytest.raises(ValidationError):
        update_patient(session, env, staff["coordinator"], p.id, {"phone": "12"})
    assert p.phone_flagged_at is not None
    result = update_patient(session, env, staff["coordinator"], p.id,
                            {"phone": "+1 212 555 0177", "detailed_texts": True})
    assert p.phone == "+12125550177" and p.phone_flagged_at is None and p.phone_flag_reason is None
    assert p.detailed_texts and result.fields == ("phone", "detailed_texts")


def test_a_preview_of_a_patient_edit_leaves_the_patient_and_texts_as_they_were(session, env, staff) -> None:
    from pathway.services.patients import update_patient

    p = enrol_patient(session, env, staff["coordinator"], GOOD)
    bodies = list(session.scalars(select(Message.body).where(Message.patient_id == p.id)))
    result = update_patient(session, env, staff["coordinator"], p.id, {"language": "en", "sms_consent": False},
                            preview=True)
    assert not result.applied and result.fields == ("language", "sms_consent") and result.suppressed == 1
    assert (p.language, p.opted_out_at, p.sms_consent_at is not None) == ("es", None, True)
    assert list(session.scalars(select(Message.body).where(Message.patient_id == p.id))) == bodies
    assert set(session.scalars(select(Message.status).where(Message.patient_id == p.id))) == {"scheduled"}


def test_a_new_time_zone_keeps_a_waiting_date_change_notice_out_of_the_new_zones_night(
    session, env, staff, make_episode
) -> None:
    from pathway.services import episodes as ep
    from pathway.services.patients import update_patient

    e = make_episode()
    night = at(env, datetime(2027, 2, 2, 4, 30, tzinfo=UTC))  # 23:30 in New York
    ep.reschedule(session, night, staff["coordinator"], e.id, {"procedure_at": "2027-03-12T08:00"})
    notice = session.scalars(select(Message).where(Message.episode_id == e.id, Message.kind == "date_changed")).one()
    assert notice.send_at == datetime(2027, 2, 2, 13, 0, tzinfo=UTC)  # 08:00 New York = 05:00 Los Angeles
    update_patient(session, night, staff["coordinator"], e.patient.id, {"timezone": "America/Los_Angeles"})
    session.refresh(notice)
    assert notice.status == "scheduled"
    assert notice.send_at == datetime(2027, 2, 2, 16, 0, tzinfo=UTC)  # 08:00 Los Angeles
