"""The patient's printable hold plan, the texts list with bodies, and the label on the new-episode form."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from pathway.models import AuditEvent, MedicationHold
from pathway.services import episodes as ep


@pytest.fixture
def coordinator(as_role: Any) -> Any:
    return as_role("coordinator")


def _signed(session: Any, env: Any, staff: Any, e: Any) -> None:
    for hold in e.holds:
        ep.record_clearance(session, env, staff["clinician"], hold.id, {"status": "approved", "by": "Dr. Ortiz"})


@pytest.mark.parametrize(("lang", "words"), [
    ("en", ["Your medicine plan", "Take your last dose", "Blood thinner", "apixaban", "Plavix", "clopidogrel",
            "Sat Mar 6", "any time that day", "Estimated", "Call", "555"]),
    ("es", ["Plan de sus medicamentos", "Tome la última dosis", "Anticoagulante", "apixabán", "Plavix",
            "sábado 6 de marzo", "a cualquier hora de ese día", "Aproximado"]),
])
def test_the_hold_plan_names_each_medicine_with_its_dates_in_the_patients_language(
    coordinator: Any, session: Any, env: Any, staff: Any, make_patient: Any, make_episode: Any,
    lang: str, words: list[str],
) -> None:
    e = make_episode(patient=make_patient(data={"language": lang}),
                     holds=[{"drug": "apixaban"}, {"drug": "clopidogrel", "patient_label": "Plavix"}])
    _signed(session, env, staff, e)
    page = coordinator.text(f"/episodes/{e.id}/hold-plan")
    for word in words:
        assert word in page, word
    assert f'lang="{lang}"' in page
    viewed = session.scalars(select(AuditEvent).where(AuditEvent.action == "episode.hold_plan.view",
                                                      AuditEvent.entity_id == e.id)).all()
    assert len(viewed) == 1


def test_an_unsigned_hold_says_keep_taking_it_and_gives_no_dates(
    coordinator: Any, make_episode: Any
) -> None:
    e = make_episode(holds=[{"drug": "apixaban"}])
    page = coordinator.text(f"/episodes/{e.id}/hold-plan")
    assert "Keep taking it until we call or text you" in page
    assert "Sat Mar 6" not in page


def test_the_episode_page_shows_each_texts_body_and_segments(
    coordinator: Any, session: Any, env: Any, staff: Any, make_episode: Any
) -> None:
    e = make_episode(holds=[{"drug": "apixaban"}, {"drug": "clopidogrel"}])
    _signed(session, env, staff, e)
    page = coordinator.text(f"/episodes/{e.id}")
    assert "Take the last dose of your blood thinner on" in page
    assert "SMS segment" in page
    assert f"/episodes/{e.id}/hold-plan" in page


def test_the_new_episode_form_stores_what_the_patient_calls_a_medicine(
    coordinator: Any, session: Any, make_patient: Any
) -> None:
    p = make_patient()
    form = {"procedure_at": "2027-03-10T08:00", "hold-0-drug": "clopidogrel", "hold-0-patient_label": "Plavix"}
    page = coordinator.get(f"/patients/{p.id}/episodes/new")
    assert 'name="hold-0-patient_label"' in page.get_data(as_text=True)
    response = coordinator.post(f"/patients/{p.id}/episodes/new", form)
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
    hold = session.scalars(select(MedicationHold).where(MedicationHold.drug_key == "clopidogrel")
                           .order_by(MedicationHold.id.desc())).first()
    assert hold is not None and hold.patient_label == "Plavix"
