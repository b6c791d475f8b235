"""Input nobody should send, sent to every kind of route over real HTTP (issue 13).

The real ``create_app`` over a database built with the real migrations (SQLite, or PostgreSQL
under ``PATHWAY_TEST_DATABASE_URL``, where an id beyond INTEGER fails in the database itself),
served by werkzeug on 127.0.0.1 and called with ``requests``: the JSON API with a bearer token,
the staff pages with a signed-in session and its CSRF token, and Twilio's webhooks signed by the
twilio SDK's own ``RequestValidator``.

- ids beyond the database's integer range answer 404 on every route that takes an id;
- out-of-range dates (year 9999, year 1), numbers (1e309, NaN, Infinity), lone surrogates, NUL,
  control and bidirectional-override characters in names, and deep nesting answer 422 naming the
  field, never 500, and store nothing;
- birth dates before 1900 or in the future, and procedures more than two years ahead, answer 422;
- bodies over ``[web] max_request_bytes`` answer 413 on pages, the API and the webhooks.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from pathway import migrate
from pathway.app import create_app
from pathway.clock import FixedClock
from pathway.config import load_config
from pathway.models import Patient, Reply
from pathway.runtime import Runtime
from pathway.services.base import MAX_ID, SYSTEM
from pathway.services.users import create_token, create_user
from tests.conftest import ScratchDatabase, test_database_url
from tests.web.conftest_api import CONTRACT
from tests.web.loopback import LoopbackServer

T0 = datetime(2027, 2, 1, 15, 0, tzinfo=UTC)  # a Monday, 10:00 in New York
PASSWORD = "correct horse battery"
AUTH_TOKEN = "0123456789abcdef0123456789abcdef"
LIMIT = 64 * 1024  # [web] max_request_bytes for this server: small, so the 413 tests send little
BEYOND = (MAX_ID + 1, 2**63)  # just past INTEGER, and past BIGINT
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Live:
    """The app on 127.0.0.1, a token per role, and a signed-in coordinator's browser session."""

    def __init__(self, scratch: ScratchDatabase) -> None:
        self.clock = FixedClock(T0)
        # The server first, so the app's public address is the one it is called at (plain http: the
        # session cookie is then not Secure, and Twilio's signatures are made for this address).
        self.server = LoopbackServer(self._wsgi)
        self.url = self.server.url
        self.public_url = self.url
        config = load_config(
            env={"TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": AUTH_TOKEN},
            overrides={"database": {"url": scratch.url}, "web": {"public_url": self.url, "max_request_bytes": LIMIT},
                       "sms": {"backend": "twilio", "from_number": "+15555550100"}})
        migrate.upgrade(scratch.url)
        self.runtime = Runtime.build(config, clock=self.clock)
        self.tag = uuid.uuid4().hex[:6]
        self.tokens: dict[str, str] = {}
        with self.runtime.unit_of_work() as (session, env):
            for role in ("coordinator", "clinician", "admin"):
                user = create_user(session, env, SYSTEM, f"{role}-{self.tag}@example.test", role, PASSWORD, role)
                session.flush()
                self.tokens[role] = create_token(session, env, SYSTEM, user.email, "tests")
        self.app = create_app(runtime=self.runtime, SECRET_KEY="live-test-secret")
        self.pages = self.sign_in("coordinator")

    def _wsgi(self, environ: Any, start_response: Any) -> Any:
        return self.app(environ, start_response)

    def close(self) -> None:
        self.server.stop()
        self.runtime.engine.dispose()

    # -- the API ------------------------------------------------------------------------------

    def api(self, method: str, path: str, body: Any = None, *, raw: str | bytes | None = None,
            role: str = "coordinator", **kw: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.tokens[role]}", "Content-Type": "application/json"}
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        return requests.request(method, self.url + "/api/v1" + path, data=data, headers=headers, timeout=30, **kw)

    # -- the pages ----------------------------------------------------------------------------

    def sign_in(self, role: str) -> requests.Session:
        browser = requests.Session()
        browser.csrf = _CSRF.search(browser.get(self.url + "/login", timeout=30).text).group(1)  # type: ignore
        answer = browser.post(self.url + "/login", data={"email": f"{role}-{self.tag}@example.test",
                                                         "password": PASSWORD, "csrf_token": browser.csrf},
                              allow_redirects=False, timeout=30)
        assert answer.status_code == 302, answer.text[:300]
        # Signing in starts a fresh session, with a CSRF token of its own.
        browser.csrf = _CSRF.search(browser.get(self.url + "/patients", timeout=30).text).group(1)  # type: ignore
        return browser

    def page(self, method: str, path: str, form: dict[str, Any] | None = None, **kw: Any) -> requests.Response:
        data = {**(form or {}), "csrf_token": self.pages.csrf} if method != "GET" else None  # type: ignore
        return self.pages.request(method, self.url + path, data=data, allow_redirects=False, timeout=30, **kw)

    # -- Twilio ---------------------------------------------------------------------------------

    def twilio(self, path: str, params: dict[str, str], *, signed: bool = True) -> requests.Response:
        signature = RequestValidator(AUTH_TOKEN).compute_signature(self.public_url + path, params) if signed else "x"
        return requests.post(self.url + path, data=params, headers={"X-Twilio-Signature": signature}, timeout=30)

    # -- the database -----------------------------------------------------------------------------

    def count(self, model: Any) -> int:
        with self.runtime.sessions() as s:
            return len(s.scalars(select(model.id)).all())


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    scratch = ScratchDatabase(test_database_url(), Path(tmp_path_factory.mktemp("live")))
    server = None
    try:
        server = Live(scratch)
        yield server
    finally:
        if server is not None:
            server.close()
        scratch.drop()


_mrns = iter(range(1, 10_000))


def _patient_body(live: Live, **overrides: Any) -> dict[str, Any]:
    n = next(_mrns)
    body = {"mrn": f"R{live.tag}{n:04d}", "given_name": "Rosa", "family_name": f"Example{n}",
            "birth_date": "1950-04-30", "phone": f"+1 646 555 {n:04d}", "timezone": "America/New_York",
            "language": "en", "sms_consent": False}
    body.update(overrides)
    return body


@pytest.fixture(scope="module")
def records(live: Live) -> dict[str, int]:
    """A patient with an episode, a hold and its milestones, made through the API."""
    patient = live.api("POST", "/patients", _patient_body(live)).json()
    episode = live.api("POST", f"/patients/{patient['id']}/episodes", {
        "procedure_at": "2027-03-10T08:00", "facility": "Riverside", "proceduralist": "Dr. Lee", "levels": "L4-L5",
        "holds": [{"drug": "warfarin"}]}).json()
    assert "id" in episode, episode
    milestone = next(m for m in episode["milestones"] if m["kind"] == "check_72h")
    return {"patient": patient["id"], "episode": episode["id"], "hold": episode["holds"][0]["id"],
            "milestone": milestone["id"]}


# --- ids beyond the database's integer range ---------------------------------------------------------


def _id_routes(live: Live) -> list[tuple[str, str, str]]:
    routes = []
    for rule in live.app.url_map.iter_rules():
        if "<int:" not in rule.rule:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append((method, rule.rule, rule.endpoint))
    return routes


def test_ids_beyond_the_database_integer_range_answer_404_on_every_route(live: Live) -> None:
    routes = _id_routes(live)
    assert len(routes) >= 40  # every page and API route that takes an id
    problems = []
    for method, rule, endpoint in routes:
        for big in (MAX_ID, *BEYOND):
            path = re.sub(r"<int:[a-z_]+>", str(big), rule)
            if endpoint.startswith("api."):
                answer = live.api(method, path.removeprefix("/api/v1"), {})
                ok = answer.status_code == 404 and answer.headers["Content-Type"].startswith("application/json")
            else:
                answer = live.page(method, path, {})
                ok = answer.status_code == 404 and "<title>Not found" in answer.text
            if big == MAX_ID:  # in range: it reaches the database, which answers as for any missing record
                ok = answer.status_code < 500
            if not ok:
                problems.append(f"{method} {path} -> {answer.status_code}")
    assert problems == []


def test_ids_beyond_range_in_a_body_or_a_query_are_named(live: Live, records: dict[str, int]) -> None:
    answer = live.api("POST", "/replies/1/link", {"patient_id": MAX_ID + 1})
    assert answer.status_code in (404, 422) and answer.status_code != 500
    assert live.page("GET", "/messages?page=99999999999999999999999").status_code == 200
    assert live.page("GET", "/messages?page=\u00b2").status_code == 200  # a digit to isdigit(), not to int()
    assert live.page("GET", "/?page=" + "9" * 5000).status_code == 200
    answer = live.api("GET", "/worklist", params={"limit": str(10**30)})
    assert answer.status_code == 422 and "limit" in answer.json()["errors"]


# --- values out of range, or not text, in the API's bodies -------------------------------------------

NESTED_40 = "[" * 40 + "]" * 40
NESTED_DEEP = "[" * 20_000 + "]" * 20_000  # past the JSON parser's recursion limit, under the size limit

# (method, path with {patient}/{episode}/{hold}/{milestone}, raw JSON body, the field the 422 names)
API_CASES = [
    # dates
    ("POST", "/patients", {"birth_date": "9999-12-31"}, "birth_date"),
    ("POST", "/patients", {"birth_date": "0001-01-01"}, "birth_date"),
    ("POST", "/patients", {"birth_date": "1899-12-31"}, "birth_date"),
    ("POST", "/patients", {"birth_date": "2027-02-03"}, "birth_date"),  # the future
    ("POST", "/patients/{patient}/episodes", {"procedure_at": "9999-12-31T23:59:59-05:00"}, "procedure_at"),
    ("POST", "/patients/{patient}/episodes", {"procedure_at": "0001-01-01T00:00:00+05:00"}, "procedure_at"),
    ("POST", "/patients/{patient}/episodes", {"procedure_at": "2100-03-10T08:00"}, "procedure_at"),
    ("POST", "/patients/{patient}/episodes", {"procedure_at": "2029-02-03T08:00"}, "procedure_at"),  # > 2 years
    ("PATCH", "/episodes/{episode}", {"procedure_at": "9999-12-31T08:00"}, "procedure_at"),
    ("PATCH", "/episodes/{episode}", {"procedure_at": "2100-03-10T08:00"}, "procedure_at"),
    ("PATCH", "/episodes/{episode}", {"mri_reviewed_on": "9999-12-31"}, "mri_reviewed_on"),
    ("POST", "/episodes/{episode}/follow-up", {"appointment_at": "9999-12-31T23:00-05:00"}, "appointment_at"),
    ("POST", "/episodes/{episode}/pt-start", {"appointment_at": "0001-01-01T00:00+14:00"}, "appointment_at"),
    ("POST", "/episodes/{episode}/procedure-end", {"ended_at": "9999-12-31T23:00-12:00"}, "ended_at"),
    ("POST", "/holds/{hold}/inr", {"value": "1.2", "measured_at": "9999-12-31T23:00-05:00"}, "measured_at"),
    # numbers
    ("POST", "/patients/{patient}/episodes", '{"procedure_at": "2027-03-20T08:00", "duration_minutes": 1e309}',
     "duration_minutes"),
    ("POST", "/patients/{patient}/episodes", '{"procedure_at": "2027-03-20T08:00", "duration_minutes": NaN}',
     "duration_minutes"),
    ("POST", "/patients/{patient}/episodes",
     '{"procedure_at": "2027-03-20T08:00", "holds": [{"drug": "dabigatran", "crcl_ml_min": -Infinity}]}',
     "holds[0].crcl_ml_min"),
    ("POST", "/holds/{hold}/inr", '{"value": NaN}', "value"),
    ("POST", "/holds/{hold}/inr", '{"value": 1e309}', "value"),
    ("POST", "/holds/{hold}/clearance", '{"status": "requested", "stop_days": 1e309}', "stop_days"),
    ("POST", "/milestones/{milestone}/complete", '{"result": {"pain": 1e309}}', "result.pain"),
    # lone surrogates and NUL
    ("POST", "/patients", '{"given_name": "Ro\\ud800sa"}', "given_name"),
    ("POST", "/patients", '{"family_name": "Exam\\u0000ple"}', "family_name"),
    ("POST", "/patients", '{"mrn": "\\u0000"}', "mrn"),
    ("POST", "/patients", '{"timezone": "America/New_York\\udfff"}', "timezone"),
    ("POST", "/patients", '{"phone": "+1 646 555 0100\\u0000"}', "phone"),
    ("POST", "/patients/{patient}/episodes", '{"procedure_at": "2027-03-20T08:00", "holds": [{"drug": "\\udc80"}]}',
     "holds[0].drug"),
    ("POST", "/episodes/{episode}/cancel", '{"reason": "moved \\ud83d"}', "reason"),
    ("POST", "/milestones/{milestone}/complete", '{"result": {"note": "ok\\u0000"}}', "result.note"),
    ("PATCH", "/patients/{patient}", '{"family_name": "Exa\\u0000mple"}', "family_name"),
    # control and bidirectional-override characters in names
    ("POST", "/patients", {"given_name": "Ana\u202eztiuR"}, "given_name"),
    ("POST", "/patients", {"family_name": "Lee\u2067"}, "family_name"),
    ("POST", "/patients", {"given_name": "Ann\nMarie"}, "given_name"),
    ("POST", "/patients", {"given_name": "Ann\u0007"}, "given_name"),
    ("PATCH", "/patients/{patient}", {"given_name": "Rosa\u202d"}, "given_name"),
    ("POST", "/patients/{patient}/episodes", {"procedure_at": "2027-03-20T08:00", "proceduralist": "Dr.\u202eeeL"},
     "proceduralist"),
    ("POST", "/patients/{patient}/episodes",
     {"procedure_at": "2027-03-20T08:00", "holds": [{"drug": "warfarin", "prescriber_name": "Dr. Ng\u2069"}]},
     "holds[0].prescriber_name"),
    ("POST", "/holds/{hold}/clearance", {"status": "requested", "by": "Dr.\tNg"}, "by"),
    # nesting
    ("POST", "/patients/{patient}/episodes", '{"procedure_at": "2027-03-20T08:00", "holds": ' + NESTED_40 + "}",
     "holds"),
    ("POST", "/milestones/{milestone}/complete", '{"result": {"a": ' + NESTED_40 + "}}", "result"),
    ("POST", "/patients", NESTED_DEEP, "body"),
]


def _case_id(case: tuple[str, str, Any, str]) -> str:
    method, path, body, field = case
    text = body if isinstance(body, str) else json.dumps(body)
    return f"{method} {path} {field} {text[:40]}"


@pytest.mark.parametrize("case", API_CASES, ids=[_case_id(c) for c in API_CASES])
def test_the_api_answers_422_naming_the_field_and_stores_nothing(
        live: Live, records: dict[str, int], case: tuple[str, str, Any, str]) -> None:
    method, path, body, field = case
    path = path.format(**records)
    if isinstance(body, dict) and path == "/patients":
        body = _patient_body(live, **body)  # every other field right: only the one under test is wrong
    raw = body if isinstance(body, str) else json.dumps(body)
    patients, replies = live.count(Patient), live.count(Reply)
    answer = live.api(method, path, raw=raw)
    assert answer.status_code == 422, (answer.status_code, answer.text[:300])
    errors = answer.json()["errors"]
    assert field in errors, errors
    assert (live.count(Patient), live.count(Reply)) == (patients, replies)
    CONTRACT.check_response(method, "/api/v1" + path, 422, answer.json(), answer.headers["Content-Type"])


@pytest.mark.parametrize(("query", "field"), [
    ({"limit": "1e309"}, "limit"), ({"limit": "NaN"}, "limit"), ({"limit": str(MAX_ID + 1)}, "limit"),
    ({"status": "overdue\x00"}, "status"), ({"proceduralist": "Dr. Lee\x00"}, "proceduralist"),
])
def test_query_parameters_out_of_range_or_with_nul_answer_422_naming_them(
        live: Live, query: dict[str, str], field: str) -> None:
    answer = live.api("GET", "/followups", params=query)
    assert answer.status_code == 422, answer.text[:300]
    assert field in answer.json()["errors"]


def test_a_name_with_accents_apostrophes_and_hyphens_is_still_welcome(live: Live) -> None:
    answer = live.api("POST", "/patients", _patient_body(live, given_name="José-María",
                                                         family_name="O'Brien Núñez 李"))
    assert answer.status_code == 201, answer.text[:300]
    assert (answer.json()["given_name"], answer.json()["family_name"]) == ("José-María", "O'Brien Núñez 李")


def test_dates_at_the_edges_of_the_range_are_accepted(live: Live) -> None:
    born = live.api("POST", "/patients", _patient_body(live, birth_date="1900-01-01"))
    assert born.status_code == 201, born.text[:300]
    # Two years ahead, less a day: still a booking.
    ahead = (T0 + timedelta(days=729)).date().isoformat() + "T08:00"
    answer = live.api("POST", f"/patients/{born.json()['id']}/episodes", {"procedure_at": ahead, "holds": []})
    assert answer.status_code == 201, answer.text[:300]


# --- the same on the staff pages ---------------------------------------------------------------------


def _enrol_form(live: Live, **overrides: str) -> dict[str, str]:
    body = _patient_body(live)
    form = {k: str(v) for k, v in body.items() if k != "sms_consent"}
    form.update(overrides)
    return form


PAGE_CASES = [
    ("POST", "/patients/new", {"given_name": "Ro\x00sa"}, "given_name"),
    ("POST", "/patients/new", {"birth_date": "9999-12-31"}, "birth_date"),
    ("POST", "/patients/new", {"birth_date": "0001-01-01"}, "birth_date"),
    ("POST", "/patients/new", {"birth_date": "1899-12-31"}, "birth_date"),
    ("POST", "/patients/new", {"birth_date": "2030-01-01"}, "birth_date"),
    ("POST", "/patients/new", {"given_name": "Ana\u202eztiuR"}, "given_name"),
    ("POST", "/patients/new", {"family_name": "Le\u0085e"}, "family_name"),  # a C1 control (next line)
    ("POST", "/patients/{patient}/episodes/new", {"procedure_at": "9999-12-31T08:00"}, "procedure_at"),
    ("POST", "/patients/{patient}/episodes/new", {"procedure_at": "2100-03-10T08:00"}, "procedure_at"),
    ("POST", "/patients/{patient}/episodes/new", {"procedure_at": "2027-03-20T08:00", "duration_minutes": "1e309"},
     "duration_minutes"),
    ("POST", "/patients/{patient}/edit", {"given_name": "Rosa\u2066", "family_name": "Example", "phone":
                                          "+1 646 555 0100", "timezone": "America/New_York", "language": "en"},
     "given_name"),
    ("GET", "/patients?q=Ro%00sa", None, "q"),
    ("POST", "/login", {"email": "coordinator\x00@example.test", "password": "x"}, "email"),
]


@pytest.mark.parametrize("case", PAGE_CASES, ids=[f"{c[0]} {c[1]} {c[3]}" for c in PAGE_CASES])
def test_the_pages_answer_422_naming_the_field_and_store_nothing(
        live: Live, records: dict[str, int], case: tuple[str, str, dict[str, str] | None, str]) -> None:
    method, path, form, field = case
    path = path.format(**records)
    if path == "/patients/new" and form is not None:
        form = _enrol_form(live, **form)
    patients = live.count(Patient)
    answer = live.page(method, path, form)
    assert answer.status_code == 422, (answer.status_code, answer.text[:500])
    # The field is named: on its own input's error, or in the refusal of what cannot be read.
    named = f'id="f-{field}-error"' in answer.text or f"{field}: " in answer.text
    assert named and "Nothing was saved" in answer.text, answer.text[-3000:]
    assert live.count(Patient) == patients


# --- Twilio's webhooks ---------------------------------------------------------------------------------


def test_a_signed_reply_with_a_nul_is_kept_with_the_nul_shown_as_a_replacement(live: Live) -> None:
    replies = live.count(Reply)
    answer = live.twilio("/webhooks/twilio/inbound", {"From": "+16465550199", "To": "+15555550100",
                                                      "Body": "yes\x00 ok", "MessageSid": "SM" + "1" * 32})
    assert answer.status_code == 200, answer.text[:300]
    assert live.count(Reply) == replies + 1
    with live.runtime.sessions() as s:
        reply = s.scalars(select(Reply).order_by(Reply.id.desc())).first()
        assert reply is not None and reply.body == "yes\ufffd ok"


def test_a_signed_status_callback_naming_an_id_beyond_range_changes_nothing(live: Live) -> None:
    for ref in (str(MAX_ID + 1), str(10**30), "%C2%B2"):  # the last is "²", a digit to str.isdigit
        path = f"/webhooks/twilio/status?m={ref}"
        answer = live.twilio(path, {"MessageSid": "SM" + "2" * 32, "MessageStatus": "delivered"})
        assert answer.status_code == 204, (ref, answer.status_code)


def test_an_unsigned_webhook_with_bad_input_is_still_just_forbidden(live: Live) -> None:
    answer = live.twilio("/webhooks/twilio/inbound", {"From": "+1\x00", "Body": "\x00"}, signed=False)
    assert answer.status_code == 403


# --- the request size limit ------------------------------------------------------------------------------


def test_bodies_over_the_limit_answer_413_on_pages_the_api_and_the_webhooks(live: Live) -> None:
    big = "x" * (LIMIT + 1)
    patients, replies = live.count(Patient), live.count(Reply)
    page = live.page("POST", "/patients/new", _enrol_form(live, given_name=big))
    assert page.status_code == 413 and "Too large" in page.text and page.headers["Content-Type"].startswith("text/html")
    api = live.api("POST", "/patients", _patient_body(live, given_name=big))
    assert api.status_code == 413 and api.headers["Content-Type"].startswith("application/json")
    for path in ("/webhooks/twilio/inbound", "/webhooks/twilio/status"):
        params = {"From": "+16465550199", "Body": big, "MessageSid": "SM" + "3" * 32}
        assert live.twilio(path, params).status_code == 413  # signed or not: refused before it is read
        assert live.twilio(path, params, signed=False).status_code == 413
    assert (live.count(Patient), live.count(Reply)) == (patients, replies)


def test_bodies_just_under_the_limit_are_read_as_usual(live: Live) -> None:
    # A 60 KB body is read: the answer is about its fields (too long), not about its size.
    api = live.api("POST", "/patients", _patient_body(live, given_name="x" * (LIMIT - 4096)))
    assert api.status_code == 422 and "given_name" in api.json()["errors"]
    page = live.page("POST", "/patients/new", _enrol_form(live, given_name="x" * (LIMIT - 4096)))
    assert page.status_code == 422 and 'id="f-given_name-error"' in page.text


def test_the_id_pattern_matches_exactly_the_numbers_up_to_the_limit() -> None:
    from pathway.web.security import RecordId, digits_up_to

    for limit in (0, 5, 9, 10, 100, 109, 2024, MAX_ID):
        pattern = re.compile(digits_up_to(limit) + "$")
        edges = {0, 1, limit - 1, limit, limit + 1, limit * 10, 10 ** len(str(limit)) - 1}
        for n in sorted(e for e in edges if e >= 0) + list(range(min(limit + 50, 300))):
            assert bool(pattern.match(str(n))) == (n <= limit), (limit, n)
    route = re.compile(RecordId.regex + "$")
    assert route.match(str(MAX_ID)) and not route.match(str(MAX_ID + 1)) and not route.match("9" * 11)
