"""The JSON API: authentication, patients, bodies and errors."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from pathway.models import ApiToken, User
from tests.web.conftest_api import MISSING_ID, T0, Harness

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


# --- authentication --------------------------------------------------------------------------


def test_a_request_without_a_token_gets_401_with_a_bearer_challenge(api: Harness) -> None:
    before = api.snapshot()
    answer = api.post("/patients", api.patient_data(), role=None)
    assert answer.status == 401
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert "invalid_token" not in answer.headers["WWW-Authenticate"]
    assert "Bearer" in answer.json["message"]
    assert api.snapshot() == before


@pytest.mark.parametrize("header", ["Bearer pw_not-a-real-token", "Basic dXNlcjpwYXNz", "Bearer ", "pw_token"])
def test_an_unknown_or_malformed_token_gets_401_invalid_token(api: Harness, header: str) -> None:
    answer = api.get(f"/patients/{MISSING_ID}", role=None, headers={"Authorization": header})
    assert answer.status == 401
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="pathway", error="invalid_token"'


def test_a_revoked_token_and_a_deactivated_user_get_401(api: Harness) -> None:
    from pathway.services.base import SYSTEM
    from pathway.services.users import create_token, create_user

    with api.runtime.unit_of_work() as (session, env):
        user = create_user(session, env, SYSTEM, f"temp-{api.tag}@example.test", "coordinator", "correct horse battery")
        revoked = create_token(session, env, SYSTEM, user.email)
        other = create_token(session, env, SYSTEM, user.email)
    assert api.post("/patients", {}, token=revoked).status == 422  # works while valid
    with api.runtime.unit_of_work() as (session, env):
        session.execute(update(ApiToken).where(ApiToken.prefix == revoked[:10]).values(revoked_at=env.now))
    assert api.post("/patients", {}, token=revoked).status == 401
    assert api.post("/patients", {}, token=other).status == 422
    with api.runtime.unit_of_work() as (session, env):
        session.execute(update(User).where(User.id == user.id).values(active=False))
    assert api.post("/patients", {}, token=other).status == 401


def test_the_openapi_document_is_public(api: Harness) -> None:
    answer = api.get("/openapi.json", role=None)
    assert answer.status == 200 and answer.json["openapi"] == "3.1.0"


def test_an_unknown_api_path_answers_json_404_and_a_wrong_method_json_405(api: Harness) -> None:
    response = api.client.get("/api/v1/no-such-thing", headers={"Authorization": f"Bearer {api.tokens['coordinator']}"})
    assert response.status_code == 404 and response.get_json()["message"]
    answer = api.call("DELETE", "/patients/1")
    assert answer.status == 405 and "GET" in answer.headers["Allow"]
    assert answer.json["message"]


# --- patients ----------------------------------------------------------------------------------


def test_enrolling_a_patient_answers_201_with_id_location_and_fields(api: Harness) -> None:
    data = api.patient_data(phone="(646) 555-0142", sms_consent=True)
    answer = api.post("/patients", data)
    assert answer.status == 201
    p = answer.json
    assert isinstance(p["id"], int) and answer.headers["Location"].endswith(f"/api/v1/patients/{p['id']}")
    assert (p["mrn"], p["given_name"], p["family_name"], p["birth_date"]) == (
        data["mrn"], "Pat", data["family_name"], "1950-04-30")
    assert p["phone"] == "+16465550142"  # stored in E.164
    assert p["timezone"] == "America/New_York" and p["language"] == "en"
    assert p["sms_consent"] is True and p["sms_consent_at"] == "2027-02-01T15:00:00+00:00"
    assert p["sms_consent_method"] == "verbal" and p["can_text"] is True
    assert p["created_at"] == T0.isoformat() and p["episodes"] == []
    assert ("patient.enrol", "patient", p["id"], p["id"], api.user_ids["coordinator"], "203.0.113.7") in \
        api.audit_actions(patient_id=p["id"])


def test_a_clinician_may_enrol_too(api: Harness) -> None:
    assert api.post("/patients", api.patient_data(), role="clinician").status == 201


def test_getting_a_patient_shows_their_episodes_and_is_audited(api: Harness) -> None:
    p = api.patient()
    e = api.episode(p["id"])
    answer = api.get(f"/patients/{p['id']}", role="clinician")
    assert answer.status == 200
    assert answer.json["id"] == p["id"]
    assert [x["id"] for x in answer.json["episodes"]] == [e["id"]]
    assert answer.json["episodes"][0]["procedure_at"] == "2027-03-10T13:00:00+00:00"
    assert answer.json["episodes"][0]["procedure_at_local"] == "2027-03-10T08:00:00-05:00"
    views = [a for a in api.audit_actions(patient_id=p["id"]) if a[0] == "patient.view"]
    assert views == [("patient.view", "patient", p["id"], p["id"], api.user_ids["clinician"], "203.0.113.7")]


def test_an_unknown_patient_is_404_and_nothing_is_audited(api: Harness) -> None:
    before = api.snapshot()
    answer = api.get(f"/patients/{MISSING_ID}")
    assert answer.status == 404 and "patient" in answer.json["message"]
    assert api.snapshot() == before


def test_every_bad_patient_field_is_named_and_nothing_is_stored(api: Harness) -> None:
    before = api.snapshot()
    answer = api.post("/patients", {
        "mrn": "", "given_name": 7, "family_name": "x" * 121, "birth_date": "30/04/1950",
        "phone": "+1 555", "timezone": "Mars/Olympus", "language": "fr", "sms_consent": "perhaps",
    })
    assert answer.status == 422
    assert set(answer.errors) == {"mrn", "given_name", "family_name", "birth_date", "phone", "timezone",
                                  "language", "sms_consent"}
    assert "YYYY-MM-DD" in answer.errors["birth_date"] and "IANA" in answer.errors["timezone"]
    assert api.snapshot() == before


def test_an_empty_body_names_every_required_field(api: Harness) -> None:
    answer = api.post("/patients", None)
    assert answer.status == 422
    assert {"mrn", "given_name", "family_name", "birth_date", "phone"} <= set(answer.errors)


def test_a_duplicate_mrn_is_a_422_on_mrn(api: Harness) -> None:
    p = api.patient()
    before = api.snapshot()
    answer = api.post("/patients", api.patient_data(mrn=p["mrn"]))
    assert answer.status == 422 and set(answer.errors) == {"mrn"}
    assert api.snapshot() == before


def test_a_birth_date_in_the_future_is_refused(api: Harness) -> None:
    answer = api.post("/patients", api.patient_data(birth_date="2030-01-01"))
    assert answer.status == 422 and "future" in answer.errors["birth_date"]


@pytest.mark.parametrize("raw, why", [
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "must be a JSON object"),
    (b"\"text\"", "must be a JSON object"),
    (b"null", "not valid JSON"),
    ("\u00ff\u00fe".encode("latin-1"), "not valid JSON"),
])
def test_a_body_that_is_not_a_json_object_is_a_422_naming_body(api: Harness, raw: bytes, why: str) -> None:
    before = api.snapshot()
    answer = api.call("POST", "/patients", raw=raw)
    assert answer.status == 422 and set(answer.errors) == {"body"}
    assert why in answer.errors["body"]
    assert api.snapshot() == before


def test_a_unique_key_taken_at_the_same_moment_is_a_409_and_nothing_is_stored(api: Harness, monkeypatch) -> None:
    from sqlalchemy.exc import IntegrityError

    from pathway.services import patients

    def racing(*_args: object, **_kw: object) -> None:
        raise IntegrityError("INSERT INTO patients ...", {}, Exception("UNIQUE constraint failed: patients.mrn"))

    monkeypatch.setattr(patients, "enrol_patient", racing)
    before = api.snapshot()
    answer = api.post("/patients", api.patient_data())
    assert answer.status == 409 and "try again" in answer.json["message"]
    assert api.snapshot() == before


def test_an_unexpected_error_is_a_json_500_that_stores_nothing_and_logs_no_values(api: Harness, monkeypatch,
                                                                                  caplog) -> None:
    from pathway.services import patients

    real = patients.enrol_patient

    def broken(session, env, actor, data):  # type: ignore[no-untyped-def]
        real(session, env, actor, data)
        raise RuntimeError(f"boom for {data['family_name']}")

    monkeypatch.setattr(patients, "enrol_patient", broken)
    data = api.patient_data(family_name="Secretname")
    before = api.snapshot()
    answer = api.post("/patients", data)
    assert answer.status == 500 and "nothing was stored" in answer.json["message"]
    assert api.snapshot() == before
    assert "RuntimeError" in caplog.text and "Secretname" not in caplog.text
