"""A page and the API read the same model: the same bad input gets the same field errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import template_rendered

from pathway.services.base import SYSTEM
from pathway.services.users import create_token

BAD_PATIENT = {"mrn": "", "given_name": "Ana", "family_name": "x" * 121, "birth_date": "2090-01-01",
               "phone": "555", "timezone": "Mars/Base", "language": "fr", "sms_consent": "maybe"}
BAD_EPISODE = {"procedure_at": "2027-01-10T08:00", "duration_minutes": "5", "facility": "x" * 201,
               "mri_reviewed_on": "2027-13-01", "tried_pt": "maybe", "levels": "L" * 101}


def _page_errors(app: Any, post: Callable[[], Any]) -> dict[str, str]:
    """The field errors the page was given to show (the form's ``errors``)."""
    shown: list[dict[str, str]] = []

    def record(sender: Any, template: Any, context: dict[str, Any], **extra: Any) -> None:
        if "errors" in context:
            shown.append(dict(context["errors"]))

    with template_rendered.connected_to(record, app):
        response = post()
    assert response.status_code == 422 and shown
    return shown[-1]


@pytest.fixture
def api_post(web_app: Any, session: Any, env: Any, staff: Any) -> Any:
    token = create_token(session, env, SYSTEM.__class__(role="admin", label="test"), "coordinator@example.test")
    session.flush()
    client = web_app.test_client()

    def post(path: str, body: dict[str, Any]) -> dict[str, str]:
        answer = client.post(f"/api/v1{path}", json=body, headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 422, answer.get_json()
        errors: dict[str, str] = answer.get_json()["errors"]
        return errors

    return post


def test_enrolment_page_and_api_refuse_the_same_fields_with_the_same_words(as_role: Any, api_post: Any) -> None:
    browser = as_role("coordinator")
    page = _page_errors(browser.app, lambda: browser.post("/patients/new", BAD_PATIENT))
    api = api_post("/patients", BAD_PATIENT)
    assert set(api) == {"mrn", "family_name", "birth_date", "phone", "timezone", "language", "sms_consent"}
    assert page == api


def test_scheduling_page_and_api_refuse_the_same_fields_with_the_same_words(
    as_role: Any, api_post: Any, make_patient: Any
) -> None:
    patient = make_patient()
    browser = as_role("coordinator")
    page = _page_errors(browser.app, lambda: browser.post(f"/patients/{patient.id}/episodes/new", BAD_EPISODE))
    api = api_post(f"/patients/{patient.id}/episodes", BAD_EPISODE)
    assert set(api) == {"procedure_at", "duration_minutes", "facility", "mri_reviewed_on", "tried_pt", "levels"}
    assert page == api


BAD_EDIT = {"given_name": "", "family_name": "x" * 121, "phone": "555", "timezone": "Mars/Base", "language": "fr"}


def test_patient_edit_page_and_api_refuse_the_same_fields_with_the_same_words(
    as_role: Any, api_post: Any, web_app: Any, session: Any, env: Any, make_patient: Any
) -> None:
    patient = make_patient()
    browser = as_role("coordinator")
    page = _page_errors(browser.app, lambda: browser.post(f"/patients/{patient.id}/edit",
                                                          {**BAD_EDIT, "sms_consent": "on"}))
    token = create_token(session, env, SYSTEM.__class__(role="admin", label="test"), "coordinator@example.test")
    session.flush()
    answer = web_app.test_client().patch(f"/api/v1/patients/{patient.id}", json=BAD_EDIT,
                                         headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 422
    api = answer.get_json()["errors"]
    assert set(api) == {"given_name", "family_name", "phone", "timezone", "language"}
    assert page == api
