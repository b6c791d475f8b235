"""The worklist's reply items on the page: a shared number's item offers each patient on it;
dismissing needs a note; a patient's free-text reply shows its words (issue 11)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from pathway.models import Reply, Task
from pathway.services.replies import receive_reply
from tests.web.conftest import Browser


def test_a_shared_number_item_offers_each_patient_and_linking_one_makes_it_their_reply(
        as_role: Any, session: Any, env: Any, make_episode: Any) -> None:
    a = make_episode(procedure_at="2027-02-03T08:00")
    b = make_episode(procedure_at="2027-02-04T08:00")
    b.patient.phone = a.patient.phone
    session.flush()
    rid = receive_reply(session, env, from_number=a.patient.phone, body="is it tomorrow?", provider_id="SMpg1").reply_id
    session.flush()
    coordinator: Browser = as_role("coordinator")
    page = coordinator.text("/")
    assert "Reply from a shared number" in page and "is it tomorrow?" in page
    assert f"It is {a.patient.display_name}" in page and f"It is {b.patient.display_name}" in page
    r = coordinator.post(f"/replies/{rid}/link", {"patient_id": str(b.patient.id)})
    assert r.status_code == 302 and f"/episodes/{b.id}" in r.headers["Location"]
    assert session.get(Reply, rid).patient_id == b.patient.id
    assert session.scalars(select(Task.kind).where(Task.patient_id == b.patient.id,
                                                   Task.resolved_at.is_(None))).all() == ["reply"]


def test_dismissing_an_unknown_number_reply_without_a_note_is_refused_and_says_why(
        as_role: Any, session: Any, env: Any) -> None:
    rid = receive_reply(session, env, from_number="+13055550177", body="hola?", provider_id="SMpg2").reply_id
    session.flush()
    coordinator: Browser = as_role("coordinator")
    r = coordinator.post(f"/replies/{rid}/dismiss", {"note": " ", "next": "/"})
    assert r.status_code == 302
    assert "Not dismissed" in coordinator.text("/") and session.get(Reply, rid).handled_at is None
    coordinator.post(f"/replies/{rid}/dismiss", {"note": "wrong number", "next": "/"})
    assert session.get(Reply, rid).handled_at is not None
    assert "hola?" not in coordinator.text("/")
    page = coordinator.text(f"/replies/{rid}")
    assert "This reply was dismissed" in page
