"""Logs carry no patient details (issue 13): SQL parameters are hidden, and one handler logs an
unexpected error by request id and route, never the body or the exception's text."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.exc import IntegrityError

from pathway.models import Patient
from pathway.web.context import db, env
from tests.web.conftest import Browser

NAME, PHONE, BIRTH = "Zelda Quixote", "+12125550199", "1944-07-13"


def _duplicate_patient(app: Flask, mrn: str) -> None:
    """A page that stores a patient whose MRN is taken: a real IntegrityError with real details."""

    @app.get("/test-only/duplicate")
    def duplicate() -> Any:
        db().add(Patient(mrn=mrn, given_name=NAME.split()[0], family_name=NAME.split()[1],
                         birth_date=date.fromisoformat(BIRTH), phone=PHONE, timezone="America/New_York",
                         language="en", created_at=env().now))
        db().flush()
        return "stored"


def _no_details(text: str) -> None:
    # Request ids are random hex, so a short run of digits such as "555" can appear in one by
    # chance; the phone is checked whole and in its common spellings instead.
    for detail in ("Zelda", "Quixote", "2125550199", "212-555-0199", "(212) 555-0199", BIRTH, "1944-07"):
        assert detail not in text, detail


def test_an_integrity_error_on_a_page_logs_its_request_id_and_route_but_no_values(
        web_app: Flask, staff: Any, make_patient: Any, caplog: pytest.LogCaptureFixture) -> None:
    taken = make_patient().mrn
    _duplicate_patient(web_app, taken)
    caplog.set_level(logging.DEBUG)
    nurse = Browser(web_app).login_as("coordinator")
    response = nurse.get("/test-only/duplicate")
    assert response.status_code == 500
    rid = response.headers["X-Request-ID"]
    page = response.get_data(as_text=True)
    assert rid in page and "Nothing was saved" in page
    failure = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(failure) == 1
    line = failure[0].getMessage()
    assert rid in line and "/test-only/duplicate" in line and "IntegrityError" in line
    assert f"user={staff['coordinator'].user_id}" in line
    _no_details(caplog.text)
    _no_details(page)


def test_the_engine_hides_bound_parameters_from_error_texts(session: Any, env: Any, make_patient: Any) -> None:
    taken = make_patient().mrn
    with pytest.raises(IntegrityError) as err, session.begin_nested():
        session.add(Patient(mrn=taken, given_name="Zelda", family_name="Quixote",
                            birth_date=date.fromisoformat(BIRTH), phone=PHONE, timezone="America/New_York",
                            language="en", created_at=env.now))
        session.flush()
    assert "parameters hidden" in str(err.value)
    _no_details(str(err.value))


def test_an_unexpected_api_error_answers_json_with_the_request_id_that_the_log_names(
        api: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from pathway.services import patients

    def broken(*_a: Any, **_k: Any) -> Any:
        raise RuntimeError(f"{NAME} {PHONE}")

    monkeypatch.setattr(patients, "enrol_patient", broken)
    caplog.set_level(logging.DEBUG)
    answer = api.post("/patients", api.patient_data(given_name="Zelda", family_name="Quixote", phone=PHONE))
    assert answer.status == 500
    rid = answer.headers["X-Request-ID"]
    assert rid in answer.json["message"]
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and rid in errors[0] and "POST /api/v1/patients" in errors[0]
    _no_details(caplog.text)


def test_every_log_line_of_a_request_carries_only_ids(api: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    patient = api.patient(given_name="Zelda", family_name="Quixote", phone=PHONE, birth_date=BIRTH)
    api.get(f"/patients/{patient['id']}")
    assert caplog.records  # the API logs each request ...
    _no_details(caplog.text)  # ... by ids
