"""Issue 15: the patients page opens on the active patients and searches every form of a name,
an MRN and a phone (the API answers the same search, audited with the query and the ids shown);
the messages page shows each text's words, filters by patient, status, kind and days, and links
a text that did not reach the patient to what fixes it."""

from __future__ import annotations

import random
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from pathway.dispatch.outbox import record_failure
from pathway.models import Message, Task
from pathway.services import outbox
from tests.web.test_pages_audit import ADDR, Both


@pytest.fixture
def both(web_app: Any, session: Any, env: Any) -> Both:
    return Both(web_app, session, env)


def _rows(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in html else ""
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r)).strip() for r in body.split("<tr")[1:]]


# --- patients ------------------------------------------------------------------------------------------


def test_the_patients_page_opens_on_the_active_patients(browser: Any, make_patient: Any, make_episode: Any) -> None:
    make_episode(make_patient(given_name="Ana", family_name="Ruiz"), procedure_at="2027-02-10T08:00")
    make_patient(given_name="Nobody", family_name="Scheduled")
    page = browser.login_as("coordinator").text("/patients")
    rows = _rows(page)
    assert len(rows) == 1 and "Ruiz, Ana" in rows[0]
    assert "Wed 10 Feb 2027, 08:00 EST" in rows[0]  # the procedure, its zone stated
    assert "1 active patient: procedure in the last 30 days or ahead" in page
    assert "Scheduled, Nobody" not in page


def test_no_active_patient_says_what_to_do(browser: Any) -> None:
    page = browser.login_as("coordinator").text("/patients")
    assert "No active patients" in page and "Search for a patient above, enrol a patient, or import a schedule" in page


@pytest.mark.parametrize(("q", "words"), [
    ("Ruiz Ana", "Family name and given name"), ("ruiz, ana", "Family name and given name"),
    ("ANA RUÍZ", "Family name and given name"), ("ruiz", "Family name"), ("mrn100200", "MRN"),
    ("646.555.0123", "Mobile phone"), ("(646) 555-0123", "Mobile phone"),
])
def test_the_search_shows_why_each_patient_matched(browser: Any, make_patient: Any, q: str, words: str) -> None:
    make_patient(given_name="Ana", family_name="Ruiz", mrn="MRN100200", phone="+1 646 555 0123")
    page = browser.login_as("coordinator").text("/patients?q=" + q)
    (row,) = _rows(page)
    assert "Ruiz, Ana" in row and row.endswith(words), row
    assert "1 patient matching" in page
    for internal in ("family_given", "search_family", "patient_id"):
        assert internal not in page


def test_a_search_that_finds_no_one_says_what_to_do(browser: Any) -> None:
    page = browser.login_as("coordinator").text("/patients?q=Nobody")
    assert "No patient matches “Nobody”" in page and "search by MRN or mobile phone" in page


def test_the_api_answers_the_same_search_paged_and_audited(both: Both, make_patient: Any) -> None:
    ana = make_patient(given_name="Ana", family_name="Ruiz", mrn="MRN100200", phone="+1 646 555 0123")
    other = make_patient(given_name="Ana María", family_name="Ruiz Gómez", mrn="MRN100201")
    rows = both.api_rows("GET", "/api/v1/patients?q=ruiz%20ana&limit=1")
    assert rows == [("patient.search", "patient", None, None, rows[0][4], ADDR,
                     {"query": "ruiz ana", "results": 1, "patient_ids": [ana.id]})]
    r = both.api.get("/api/v1/patients?q=ruiz%20ana&limit=1&offset=1",
                     headers={"Authorization": f"Bearer {both.token}"})
    body = r.get_json()
    assert r.status_code == 200
    assert (body["total"], body["limit"], body["offset"], body["query"]) == (2, 1, 1, "ruiz ana")
    (item,) = body["items"]
    assert (item["id"], item["matched"], item["matched_label"]) == (other.id, "family_given",
                                                                   "family name and given name")
    r = both.api.get("/api/v1/patients?q=(646)%20555-0123", headers={"Authorization": f"Bearer {both.token}"})
    assert [(i["id"], i["matched"]) for i in r.get_json()["items"]] == [(ana.id, "phone")]
    # The page's search is audited the same way.
    page_rows = both.page_rows("GET", "/patients?q=ruiz%20ana")
    api_rows = both.api_rows("GET", "/api/v1/patients?q=ruiz%20ana")
    assert [r[:4] + r[5:] for r in page_rows] == [r[:4] + r[5:] for r in api_rows]


def test_the_api_lists_the_active_patients_without_a_query(both: Both, make_patient: Any,
                                                           make_episode: Any) -> None:
    e = make_episode(make_patient(family_name="Active"), procedure_at="2027-02-10T08:00")
    r = both.api.get("/api/v1/patients", headers={"Authorization": f"Bearer {both.token}"})
    body = r.get_json()
    assert r.status_code == 200 and body["total"] == 1
    (item,) = body["items"]
    assert (item["id"], item["matched"]) == (e.patient_id, "active")
    assert item["procedure_at"] == "2027-02-10T13:00:00+00:00" and item["procedure_at_local"].endswith("-05:00")


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "offset=-1", "q=" + "x" * 201])
def test_the_api_refuses_a_bad_parameter_naming_it(both: Both, query: str) -> None:
    r = both.api.get("/api/v1/patients?" + query, headers={"Authorization": f"Bearer {both.token}"})
    assert r.status_code == 422
    assert list(r.get_json()["errors"]) == [query.split("=")[0]]


def test_a_clinician_may_search_and_an_admin_may_not(as_role: Any, web_app: Any, session: Any, env: Any) -> None:
    from pathway.services.base import SYSTEM
    from pathway.services.users import create_token

    assert as_role("clinician").get("/patients?q=x").status_code == 200
    token = create_token(session, env, SYSTEM, "admin@example.test")
    session.flush()
    r = web_app.test_client().get("/api/v1/patients?q=x", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403


# --- messages ------------------------------------------------------------------------------------------


def _fail(session: Any, env: Any, msg: Message, outcome: str, code: int) -> None:
    outbox.record(session, msg, outbox.Sending(worker="test"), now=env.now, source="dispatch")
    record_failure(session, env, msg.id, outcome=outcome, code=code, http_status=400, retry_after=None,
                   configuration=None, worker_id="test", max_attempts=1, base=timedelta(seconds=1),
                   ceiling=timedelta(seconds=2), rng=random.Random(1))
    session.flush()


@pytest.fixture
def texts(session: Any, env: Any, make_patient: Any, make_episode: Any) -> dict[str, Any]:
    ana = make_episode(make_patient(given_name="Ana", family_name="Ruiz"), procedure_at="2027-02-10T08:00")
    bob = make_episode(make_patient(given_name="Bob", family_name="Stone"), procedure_at="2027-02-12T08:00")
    session.flush()
    return {"ana": ana, "bob": bob}


def _messages(session: Any, episode: Any) -> list[Message]:
    return list(session.scalars(select(Message).where(Message.patient_id == episode.patient_id)
                                .order_by(Message.send_at, Message.id)))


def _episode_text(session: Any, episode: Any) -> Message:
    return next(m for m in _messages(session, episode) if m.episode_id == episode.id)


def test_messages_show_their_words_newest_first(browser: Any, session: Any, texts: dict[str, Any]) -> None:
    page = browser.login_as("coordinator").text("/messages")
    every = list(session.scalars(select(Message).order_by(Message.send_at.desc(), Message.id.desc())))
    shown = [int(i) for i in re.findall(r'<tr id="message-(\d+)"', page)]
    assert shown == [m.id for m in every][:50]
    assert every[0].body.split()[0] in page
    from markupsafe import escape
    assert str(escape(every[-1].body)) in page  # the whole text
    assert re.search(r"\d{2}:\d{2} (EST|EDT)", page)  # every time says its zone
    assert "newest first" in page


def test_messages_filter_by_patient_status_kind_and_days(browser: Any, session: Any, texts: dict[str, Any]) -> None:
    coordinator = browser.login_as("coordinator")
    ana = texts["ana"]
    page = coordinator.text(f"/messages?patient_id={ana.patient_id}")
    ids = {int(i) for i in re.findall(r'<tr id="message-(\d+)"', page)}
    assert ids == {m.id for m in _messages(session, ana)} and "Show every patient" in page
    kind_page = coordinator.text("/messages?kind=enrolment")
    kinds = {session.get(Message, int(i)).kind for i in re.findall(r'<tr id="message-(\d+)"', kind_page)}
    assert kinds == {"enrolment"}
    first = _messages(session, ana)[0]
    day = first.send_at.astimezone(__import__("zoneinfo").ZoneInfo("America/New_York")).date()
    day_page = coordinator.text(f"/messages?from={day}&to={day}")
    days = {session.get(Message, int(i)).send_at.astimezone(__import__("zoneinfo").ZoneInfo("America/New_York"))
            .date() for i in re.findall(r'<tr id="message-(\d+)"', day_page)}
    assert days == {day}
    assert f'id="message-{first.id}"' in day_page
    nothing = coordinator.text("/messages?status=failed&kind=pt_start")
    assert "No failed texts match this filter" in nothing and "clear the filter" in nothing


def test_a_bad_day_is_refused_naming_the_field(browser: Any, texts: dict[str, Any]) -> None:
    r = browser.login_as("coordinator").get("/messages?from=2027-13-01")
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert 'id="f-from-error"' in page and "Sent from: must be a date" in page
    r = browser.get("/messages?from=2027-03-02&to=2027-03-01")
    assert r.status_code == 422 and 'id="f-to-error"' in r.get_data(as_text=True)
    assert browser.get("/messages?patient_id=999999").status_code == 404


def test_a_failed_text_links_to_what_fixes_it(browser: Any, session: Any, env: Any, texts: dict[str, Any]) -> None:
    ana, bob = texts["ana"], texts["bob"]
    refused = _messages(session, ana)[0]
    _fail(session, env, refused, "permanent", 30006)  # a landline: the number is flagged
    stopped = _episode_text(session, bob)
    _fail(session, env, stopped, "opted_out", 21610)  # the patient replied STOP
    page = browser.login_as("coordinator").text("/messages?status=failed")
    rows = dict(zip(re.findall(r'<tr id="message-(\d+)"', page), _rows(page), strict=True))
    assert "The number cannot take texts: correct the mobile number" in rows[str(refused.id)]
    # The reason names the carrier's code: it is not repeated under it as "Twilio error 30006".
    assert "(error 30006)" in rows[str(refused.id)] and "Twilio error 30006" not in rows[str(refused.id)]
    assert f'href="/patients/{ana.patient_id}/edit"' in page
    task = session.scalar(select(Task).where(Task.subject == f"patient:{bob.patient_id}", Task.kind == "opted_out"))
    assert "The patient opted out of texts: call them instead" in rows[str(stopped.id)]
    assert f'href="/episodes/{bob.id}#task-{task.id}"' in page
    # And the episode page has that task where the link points.
    assert f'id="task-{task.id}"' in browser.text(f"/episodes/{bob.id}")


def test_a_text_given_up_on_links_to_its_call_task(browser: Any, session: Any, env: Any,
                                                   texts: dict[str, Any]) -> None:
    ana = texts["ana"]
    msg = _episode_text(session, ana)
    _fail(session, env, msg, "retry", 20429)  # max_attempts=1: given up
    task = session.scalar(select(Task).where(Task.subject == f"message:{msg.id}"))
    page = browser.login_as("coordinator").text("/messages?status=failed")
    assert "Call the patient" in page and f'href="/episodes/{ana.id}#task-{task.id}"' in page


def test_no_text_yet_says_what_to_do(browser: Any) -> None:
    page = browser.login_as("coordinator").text("/messages")
    assert "No texts yet" in page and "once a patient who agreed to texts is enrolled" in page


def test_plural_says_the_count_with_the_word_that_agrees() -> None:
    from pathway.web.filters import plural

    assert [plural(n, "day", "days") for n in (0, 1, 2)] == ["0 days", "1 day", "2 days"]


def test_the_messages_page_shows_no_internal_names(browser: Any, texts: dict[str, Any]) -> None:
    page = browser.login_as("coordinator").text("/messages")
    shown = re.sub(r"<[^>]+>", " ", page)  # the words a person reads, not the markup
    for internal in ("check_72h", "pre_procedure", "patient_id", "date_from", "dispatch:", "plan:"):
        assert internal not in shown, internal
