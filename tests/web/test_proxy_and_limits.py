"""``[web] trusted_proxies`` decides whose address the audit records, and ``[web]
max_request_bytes`` refuses large bodies with 413 (issue 13)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from pathway.models import AuditEvent
from tests.web.conftest import PASSWORD, Browser

PROXY, CLIENT = "10.0.0.5", "198.51.100.23"
FORWARDED = {"X-Forwarded-For": CLIENT, "X-Forwarded-Proto": "https"}


def _sign_in(app: Any) -> Any:
    b = Browser(app)
    b.get("/login", environ_base={"REMOTE_ADDR": PROXY}, headers=FORWARDED)
    return b.post("/login", {"email": "coordinator@example.test", "password": PASSWORD},
                  environ_base={"REMOTE_ADDR": PROXY}, headers=FORWARDED)


def _login_addresses(session: Any) -> list[str | None]:
    return list(session.scalars(select(AuditEvent.remote_addr).where(AuditEvent.action == "login")))


def test_behind_a_trusted_proxy_the_audit_records_the_clients_address(web_app_with: Any, session: Any) -> None:
    response = _sign_in(web_app_with(web={"trusted_proxies": 1}))
    # Signed in over https with no Referer (Referrer-Policy: no-referrer): the form still works.
    assert response.status_code == 302
    assert _login_addresses(session) == [CLIENT]
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")  # the client used https


def test_without_trusted_proxies_forwarded_headers_are_ignored(web_app: Any, session: Any) -> None:
    response = _sign_in(web_app)  # trusted_proxies = 0: anyone could have written those headers
    assert response.status_code == 302
    assert _login_addresses(session) == [PROXY]
    assert "Strict-Transport-Security" not in response.headers


def test_only_as_many_forwarded_addresses_as_trusted_proxies_are_believed(web_app_with: Any, session: Any) -> None:
    app = web_app_with(web={"trusted_proxies": 1})
    b = Browser(app)
    headers = {"X-Forwarded-For": f"6.6.6.6, {CLIENT}"}  # the first entry is the client's own claim
    b.get("/login", environ_base={"REMOTE_ADDR": PROXY}, headers=headers)
    b.post("/login", {"email": "coordinator@example.test", "password": PASSWORD},
           environ_base={"REMOTE_ADDR": PROXY}, headers=headers)
    assert _login_addresses(session) == [CLIENT]


def test_a_page_form_over_the_limit_gets_a_413_page_and_stores_nothing(as_role: Any, session: Any) -> None:
    from pathway.models import Patient

    nurse = as_role("coordinator")
    before = session.scalar(select(Patient.id).order_by(Patient.id.desc()).limit(1))
    response = nurse.post("/patients/new", {"mrn": "BIG1", "given_name": "x" * (1024 * 1024 + 1)})
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "Too large" in page and "1024 KB" in page and response.content_type.startswith("text/html")
    assert response.headers["Cache-Control"] == "no-store"
    assert session.scalar(select(Patient.id).order_by(Patient.id.desc()).limit(1)) == before


def test_an_api_body_over_the_limit_gets_a_json_413(api: Any) -> None:
    data = api.patient_data(family_name="x" * (1024 * 1024))
    before = api.snapshot()
    answer = api.call("POST", "/patients", raw=json.dumps(data))
    assert answer.status == 413 and answer.json == {"message": answer.json["message"]}
    assert "too large" in answer.json["message"].lower() or "exceeds" in answer.json["message"].lower()
    assert api.snapshot() == before


def test_the_limit_is_a_setting(web_app_with: Any, staff: Any) -> None:
    nurse = Browser(web_app_with(web={"max_request_bytes": 2048})).login_as("coordinator")
    assert nurse.post("/patients/new", {"mrn": "x" * 4096}).status_code == 413
    assert nurse.post("/patients/new", {"mrn": "x" * 100}).status_code == 422  # under it: read as usual


def test_a_form_posted_from_another_site_is_refused_even_with_a_token(as_role: Any, session: Any) -> None:
    nurse = as_role("coordinator")
    refused = nurse.post("/logout", headers={"Sec-Fetch-Site": "cross-site"})
    assert refused.status_code == 400 and "The form expired" in refused.get_data(as_text=True)
    assert nurse.get("/patients").status_code == 200  # still signed in
    assert nurse.post("/logout", headers={"Sec-Fetch-Site": "same-origin"}).status_code == 302
