"""The patient edit page: the form, its preview of the texts that change, and the confirmed edit."""

from __future__ import annotations

from typing import Any

import pytest
from markupsafe import escape
from sqlalchemy import select

from pathway.models import AuditEvent, Message
from tests.web.sms_words import template_words


@pytest.fixture
def coordinator(as_role: Any) -> Any:
    return as_role("coordinator")


def _form(patient: Any, **changes: Any) -> dict[str, Any]:
    """The edit form as the page fills it in, with ``changes`` typed over it."""
    values = {"given_name": patient.given_name, "family_name": patient.family_name, "phone": patient.phone,
              "timezone": patient.timezone, "language": patient.language,
              "detailed_texts": "on" if patient.detailed_texts else "", "sms_consent": "on",
              "consent_method": "verbal"}
    values.update(changes)
    return {k: v for k, v in values.items() if v != ""}  # an unticked box is not sent


def test_the_patient_page_links_to_an_edit_form_filled_in_with_the_patient(coordinator: Any,
                                                                          make_patient: Any) -> None:
    p = make_patient(phone="+1 212 555 0142")
    assert f'href="/patients/{p.id}/edit"' in coordinator.text(f"/patients/{p.id}")
    page = coordinator.text(f"/patients/{p.id}/edit")
    assert f'value="{p.family_name}"' in page and 'value="(212) 555-0142"' in page
    assert "cannot be changed here" in page and 'name="mrn"' not in page


def test_a_name_change_is_saved_at_once_without_a_preview(coordinator: Any, session: Any,
                                                          make_patient: Any) -> None:
    p = make_patient()
    r = coordinator.post(f"/patients/{p.id}/edit", _form(p, family_name="Ortega"))
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/patients/{p.id}")
    session.refresh(p)
    assert p.family_name == "Ortega"
    assert "Saved: Family name." in coordinator.text(f"/patients/{p.id}")


def test_a_change_that_moves_texts_is_previewed_then_saved_on_confirmation(
    coordinator: Any, session: Any, make_episode: Any
) -> None:
    e = make_episode(procedure_at="2027-03-10T08:00")
    p = e.patient
    form = _form(p, timezone="America/Chicago", language="es")
    r = coordinator.post(f"/patients/{p.id}/edit", form)
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert "Nothing has changed yet" in page
    assert "Tue 9 Mar 2027, 10:00 EST" in page and "Tue 9 Mar 2027, 10:00 CST" in page  # same local time
    # The words before and after (the page escapes them as HTML).
    assert escape(template_words("pre_procedure", "es")) in page
    assert escape(template_words("pre_procedure", "en")) in page
    session.refresh(p)
    assert (p.timezone, p.language) == ("America/New_York", "en")
    r = coordinator.post(f"/patients/{p.id}/edit", {**form, "confirm": "yes"})
    assert r.status_code == 302
    session.refresh(p)
    assert (p.timezone, p.language) == ("America/Chicago", "es")
    # The texts this session loaded when it made the episode still hold their old words until
    # expired; whether they are still in the identity map depends on the garbage collector.
    session.expire_all()
    pending = session.scalars(select(Message).where(Message.patient_id == p.id, Message.status == "scheduled"))
    assert all(m.language == "es" for m in pending)
    actions = list(session.scalars(select(AuditEvent.action).where(AuditEvent.patient_id == p.id)))
    assert actions.count("patient.update_preview") == 1 and actions.count("patient.update") == 1


def test_unticking_consent_previews_the_texts_that_will_not_be_sent(coordinator: Any, session: Any,
                                                                    make_episode: Any) -> None:
    e = make_episode(procedure_at="2027-03-10T08:00")
    form = _form(e.patient, sms_consent="")
    page = coordinator.post(f"/patients/{e.patient_id}/edit", form).get_data(as_text=True)
    assert "Consent withdrawn" in page and "Will not be sent" in page
    coordinator.post(f"/patients/{e.patient_id}/edit", {**form, "confirm": "yes"})
    statuses = set(session.scalars(select(Message.status).where(Message.patient_id == e.patient_id)))
    assert statuses == {"suppressed"}


def test_bad_values_re_show_the_form_with_each_fields_error_and_store_nothing(
    coordinator: Any, session: Any, make_patient: Any
) -> None:
    p = make_patient()
    r = coordinator.post(f"/patients/{p.id}/edit", _form(p, given_name="", phone="555", timezone="Mars/Base"))
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert "Nothing was saved" in page and "not a valid US mobile number: 555" in page
    session.refresh(p)
    assert p.given_name == "Pat"


def test_the_edit_form_needs_the_csrf_token(coordinator: Any, session: Any, make_patient: Any) -> None:
    p = make_patient()
    r = coordinator.post(f"/patients/{p.id}/edit", _form(p, family_name="Ortega"), csrf=False)
    assert r.status_code == 400
    session.refresh(p)
    assert p.family_name != "Ortega"


def test_a_new_zone_that_moves_a_signed_last_dose_day_warns_and_needs_the_box_ticked(
    as_role: Any, coordinator: Any, session: Any, make_patient: Any, make_episode: Any
) -> None:
    from pathway.models import MedicationHold, Task

    p = make_patient(timezone="Pacific/Guam")
    e = make_episode(patient=p, holds=[{"drug": "clopidogrel"}])
    hold_id = e.holds[0].id
    r = as_role("clinician").post(f"/episodes/{e.id}/holds/{hold_id}/clearance",
                                  {"status": "approved", "by": "Dr. Ortiz"})
    assert r.status_code in (200, 302)
    form = _form(p, timezone="America/New_York")
    r = coordinator.post(f"/patients/{p.id}/edit", form)
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "The new time zone changes 1 signed hold plan" in page
    assert "new last dose Mon Mar 1" in page and 'name="confirm_holds_at_risk"' in page
    r = coordinator.post(f"/patients/{p.id}/edit", {**form, "confirm": "yes"})
    assert r.status_code == 409 and "Tick the box" in r.get_data(as_text=True)
    session.expire_all()
    assert session.get(MedicationHold, hold_id).approved_and_signed
    r = coordinator.post(f"/patients/{p.id}/edit", {**form, "confirm": "yes", "confirm_holds_at_risk": "yes"})
    assert r.status_code == 302
    session.expire_all()
    assert session.get(MedicationHold, hold_id).clearance == "requested"
    assert session.scalars(select(Task).where(Task.kind == "hold_at_risk")).one().subject == f"hold:{hold_id}"
