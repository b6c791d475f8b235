"""The episode page's conversation and its one-off text (issue 11, "Acting on replies"): the
thread in time order, a text shown before it is sent and sent once, refusals that say what to
do instead."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from pathway.models import Message, Task
from pathway.services.replies import receive_reply
from pathway.services.tasks import resolve_task
from tests.conftest import T0
from tests.web.conftest import Browser


def _words(response: Any) -> str:
    """A page's text as a person reads it (tags out)."""
    return html.unescape(re.sub(r"<[^>]+>", "", response.get_data(as_text=True)))


def _staff_texts(session: Any) -> list[Message]:
    return list(session.scalars(select(Message).where(Message.kind == "staff").order_by(Message.id)))


def test_the_conversation_shows_texts_replies_and_the_red_flags_note_in_time_order_on_both_clocks(
        as_role: Any, session: Any, env: Any, web_clock: Any, staff: Any, make_patient: Any,
        make_episode: Any) -> None:
    patient = make_patient(data={"timezone": "America/Chicago"})
    e = make_episode(patient)
    later = env.__class__(rules=env.rules, now=T0 + timedelta(minutes=30))
    reply = receive_reply(session, later, from_number=patient.phone, body="my leg feels numb and weak",
                          provider_id="SMpage1")
    task_id = session.scalars(select(Task.id).where(Task.reply_id == reply.reply_id)).one()
    resolve_task(session, env.__class__(rules=env.rules, now=T0 + timedelta(minutes=50)), staff["clinician"],
                 task_id, {"resolution": "Called: advised to come to the clinic today at 2pm"})
    session.flush()
    coordinator: Browser = as_role("coordinator")
    page = html.unescape(coordinator.text(f"/episodes/{e.id}"))
    conversation = page[page.index('id="conversation"'):page.index('id="texts"')]
    # The enrolment text has not gone yet (no worker ran): the reply, the answer sent straight
    # back, then the note.
    assert "Enrolment confirmation" not in conversation
    order = [conversation.index(w) for w in ("my leg feels numb and weak", "To the patient",
                                             "Answer to the patient's text", "Red flag resolved",
                                             "Called: advised to come")]
    assert order == sorted(order)
    assert "Red flag: leg numbness, leg weakness" in conversation or "Red flag: leg weakness, leg numbness" in \
        conversation
    assert "by Clinician" in conversation  # who wrote the note
    # On the patient's clock first, then the clinic's (Chicago is an hour behind New York).
    assert "Mon 1 Feb 2027, 09:30 CST" in conversation and "(clinic: 10:30 EST)" in conversation
    assert "Write no diagnosis, procedure or medicine name" in conversation


def test_a_one_off_text_is_shown_before_it_is_sent_and_sent_once(
        as_role: Any, session: Any, make_episode: Any) -> None:
    e = make_episode()
    coordinator: Browser = as_role("coordinator")
    words = "Hi, it's the clinic. Please call us back today about your visit."
    r = coordinator.post(f"/episodes/{e.id}/messages", {"body": words})
    preview = html.unescape(r.get_data(as_text=True))
    assert r.status_code == 200 and "Review the text to" in preview and "Nothing has been sent yet" in preview
    assert f"{len(words)} characters" in preview and re.search(r'id="text-segments">1<', preview)
    assert "GoesNow" in _words(r)
    assert _staff_texts(session) == []
    key = re.search(r'name="key" value="([0-9a-f]{32})"', preview)
    assert key is not None
    confirm = {"body": words, "key": key.group(1), "confirm": "yes"}
    r = coordinator.post(f"/episodes/{e.id}/messages", confirm)
    assert r.status_code == 302 and "#thread-message-" in r.headers["Location"]
    again = coordinator.post(f"/episodes/{e.id}/messages", confirm)  # a double click, a reload
    assert again.status_code == 302
    (msg,) = _staff_texts(session)
    assert (msg.body, msg.status, msg.urgent, msg.episode_id) == (words, "scheduled", False, e.id)
    page = html.unescape(coordinator.text(f"/episodes/{e.id}"))
    assert "Text queued: it goes now" in page and words in page and "typed by Coordinator" in page


def test_at_night_the_preview_says_when_it_goes_and_urgent_goes_now(
        as_role: Any, session: Any, web_clock: Any, make_episode: Any) -> None:
    e = make_episode()
    web_clock.set(T0 + timedelta(hours=12))  # 22:00 in New York
    coordinator: Browser = as_role("coordinator")
    preview = _words(coordinator.post(f"/episodes/{e.id}/messages", {"body": "Call us"}))
    assert "At Tue 2 Feb 2027, 08:00 EST, when the patient's quiet hours end" in preview
    urgent_page = coordinator.post(f"/episodes/{e.id}/messages", {"body": "Call us", "urgent": "yes"})
    urgent = _words(urgent_page)
    assert "Now, even though it is the patient's quiet hours (marked urgent)" in urgent
    key = re.search(r'name="key" value="([0-9a-f]{32})"', urgent_page.get_data(as_text=True))
    assert key is not None
    coordinator.post(f"/episodes/{e.id}/messages", {"body": "Call us", "urgent": "yes", "key": key.group(1),
                                                   "confirm": "yes"})
    (msg,) = _staff_texts(session)
    assert msg.urgent and msg.send_at == T0 + timedelta(hours=12)


def test_too_long_or_empty_is_refused_naming_the_words_and_nothing_is_stored(
        as_role: Any, session: Any, make_episode: Any) -> None:
    e = make_episode()
    coordinator: Browser = as_role("coordinator")
    r = coordinator.post(f"/episodes/{e.id}/messages", {"body": "Hola, ¿cómo está? " * 12, "confirm": "yes",
                                                        "key": "a" * 32})
    page = html.unescape(r.get_data(as_text=True))
    assert r.status_code == 422 and "Not sent: too long: 4 SMS segments" in page and "UCS-2" in page
    assert "Shorten the text" in page and "Send this text" not in page
    r = coordinator.post(f"/episodes/{e.id}/messages", {"body": "   "})
    page = html.unescape(r.get_data(as_text=True))
    assert r.status_code == 422 and "required: type the words to send" in page
    assert _staff_texts(session) == []


def test_a_patient_who_opted_out_gets_no_form_and_a_post_is_refused(
        as_role: Any, session: Any, env: Any, make_episode: Any) -> None:
    e = make_episode()
    receive_reply(session, env, from_number=e.patient.phone, body="STOP", provider_id="SMpage-stop")
    session.flush()
    coordinator: Browser = as_role("coordinator")
    page = html.unescape(coordinator.text(f"/episodes/{e.id}"))
    assert "No text can be sent: the patient opted out of texts" in page and 'id="text-body"' not in page
    r = coordinator.post(f"/episodes/{e.id}/messages", {"body": "Are you there?", "confirm": "yes"})
    assert r.status_code == 302
    assert "opted out" in html.unescape(coordinator.text(r.headers["Location"]))
    assert _staff_texts(session) == []


def test_the_review_warns_when_a_text_names_a_medicine_or_the_procedure_unless_the_patient_chose_detailed_texts(
        as_role: Any, session: Any, make_patient: Any, make_episode: Any) -> None:
    plain = make_episode()
    detailed = make_episode(make_patient(data={"detailed_texts": True}))
    coordinator: Browser = as_role("coordinator")
    words = "Please stop your Eliquis on Sunday, before your MILD procedure."
    warned = _words(coordinator.post(f"/episodes/{plain.id}/messages", {"body": words}))
    assert "This text names Eliquis, MILD. The patient did not choose detailed texts" in warned
    assert "Send this text" in warned  # a warning: the person may still send it
    quiet = _words(coordinator.post(f"/episodes/{detailed.id}/messages", {"body": words}))
    assert "This text names" not in quiet and "This patient chose detailed texts" in quiet
    mild = _words(coordinator.post(f"/episodes/{plain.id}/messages", {"body": "Some mild pain is normal."}))
    assert "This text names" not in mild
