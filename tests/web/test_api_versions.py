"""Optimistic concurrency through the API (issue 13): patients and episodes carry a ``version``
and an ETag; a change sent from an older one (in the body, or as ``If-Match``) answers 409
``Stale`` and stores nothing, so the later of two people editing one record no longer wins
silently. Real HTTP through the test client, a real database (SQLite or PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.web.conftest_api import PREFIX, Answer, Harness

HOLD = {"drug": "clopidogrel", "prescriber_name": "Dr. Ortiz"}


def _stale(answer: Answer, record: str, record_id: int, sent: int) -> None:
    assert answer.status == 409, answer
    body = answer.json
    assert body["record"] == record and body["record_id"] == record_id and body["sent_version"] == sent
    assert body["version"] > sent
    assert "someone else changed this" in body["message"] and "nothing was changed" in body["message"]


def test_patient_and_episode_answers_carry_their_version_and_an_etag(api: Harness) -> None:
    e = api.episode(holds=[HOLD])
    v = e["version"]
    assert v >= 1 and e["holds"][0]["episode_version"] == v
    got = api.get(f"/episodes/{e['id']}")
    assert got.json["version"] == v and got.headers["ETag"] == f'"v{v}"'
    p = api.get(f"/patients/{e['patient_id']}")
    assert p.json["version"] == 1 and p.headers["ETag"] == '"v1"'


def test_every_change_raises_the_version_and_a_hold_change_raises_its_episodes(api: Harness) -> None:
    e = api.episode(holds=[HOLD])
    hold_id, v = e["holds"][0]["id"], e["version"]
    cleared = api.post(f"/holds/{hold_id}/clearance", {"status": "requested", "version": v})
    assert cleared.status == 200, cleared
    v2 = cleared.json["episode_version"]
    assert v2 > v and cleared.headers["ETag"] == f'"v{v2}"'
    assert api.get(f"/episodes/{e['id']}").json["version"] == v2
    moved = api.patch(f"/episodes/{e['id']}", {"facility": "North Clinic", "version": v2})
    assert moved.status == 200 and moved.json["version"] > v2 and moved.headers["ETag"] == f'"v{moved.json["version"]}"'
    edited = api.patch(f"/patients/{e['patient_id']}", {"given_name": "Ana", "version": 1})
    assert edited.status == 200 and edited.json["version"] == 2 and edited.headers["ETag"] == '"v2"'


def test_a_patient_edit_from_a_stale_version_answers_409_and_changes_nothing(api: Harness) -> None:
    p = api.patient()
    assert api.patch(f"/patients/{p['id']}", {"given_name": "Ana"}).status == 200  # someone else: version 2
    before = api.snapshot()
    answer = api.patch(f"/patients/{p['id']}", {"family_name": "Ortega", "version": p["version"]})
    _stale(answer, "patient", p["id"], 1)
    assert answer.json["version"] == 2
    assert api.snapshot() == before
    assert api.get(f"/patients/{p['id']}").json["family_name"] == p["family_name"]


def test_a_stale_if_match_is_refused_and_the_current_one_is_accepted(api: Harness) -> None:
    e = api.episode()
    etag = api.get(f"/episodes/{e['id']}").headers["ETag"]
    assert api.patch(f"/episodes/{e['id']}", {"levels": "L3-L4"}).status == 200  # someone else's change
    before = api.snapshot()
    stale = api.patch(f"/episodes/{e['id']}", {"facility": "North Clinic"}, headers={"If-Match": etag})
    _stale(stale, "episode", e["id"], e["version"])
    assert api.snapshot() == before
    fresh = api.get(f"/episodes/{e['id']}").headers["ETag"]
    ok = api.patch(f"/episodes/{e['id']}", {"facility": "North Clinic"}, headers={"If-Match": fresh})
    assert ok.status == 200 and ok.json["facility"] == "North Clinic" and ok.json["levels"] == "L3-L4"


def test_if_match_star_checks_nothing_and_a_malformed_one_is_a_422_naming_it(api: Harness) -> None:
    e = api.episode()
    assert api.patch(f"/episodes/{e['id']}", {"levels": "L2"}, headers={"If-Match": "*"}).status == 200
    bad = api.patch(f"/episodes/{e['id']}", {"levels": "L3"}, headers={"If-Match": "yesterday"})
    assert bad.status == 422 and "If-Match" in bad.errors
    both = api.patch(f"/episodes/{e['id']}", {"levels": "L3", "version": 1}, headers={"If-Match": '"v99"'})
    assert both.status == 422 and "If-Match" in both.errors
    assert api.patch(f"/episodes/{e['id']}", {"levels": "L3", "version": "two"}).errors.keys() == {"version"}


def _actions(api: Harness, e: dict[str, Any]) -> dict[str, Callable[[int], Answer]]:
    eid, hold_id = e["id"], e["holds"][0]["id"]
    check = next(m for m in e["milestones"] if m["kind"] == "check_72h")
    return {
        "move": lambda v: api.patch(f"/episodes/{eid}", {"procedure_at": "2027-03-11T08:00", "version": v}),
        "cancel": lambda v: api.post(f"/episodes/{eid}/cancel", {"reason": "patient asked", "version": v}),
        "procedure end": lambda v: api.post(f"/episodes/{eid}/procedure-end",
                                            {"ended_at": "2027-03-10T09:00", "version": v}),
        "follow-up": lambda v: api.post(f"/episodes/{eid}/follow-up",
                                        {"appointment_at": "2027-03-18T10:00", "version": v}),
        "pt start": lambda v: api.post(f"/episodes/{eid}/pt-start", {"appointment_at": "2027-03-20T10:00",
                                                                      "version": v}),
        "clearance": lambda v: api.post(f"/holds/{hold_id}/clearance", {"status": "approved", "by": "Dr. Ortiz",
                                                                         "version": v}, role="clinician"),
        "inr": lambda v: api.post(f"/holds/{hold_id}/inr", {"value": "1.1", "version": v}),
        "label": lambda v: api.patch(f"/holds/{hold_id}", {"patient_label": "the white pill", "version": v}),
        "add hold": lambda v: api.post(f"/episodes/{eid}/holds", {"drug": "apixaban", "version": v}),
        "remove hold": lambda v: api.call("DELETE", f"/holds/{hold_id}", headers={"If-Match": f'"v{v}"'}),
        "milestone": lambda v: api.post(f"/milestones/{check['id']}/complete", {"version": v}),
    }


ACTIONS = ("move", "cancel", "procedure end", "follow-up", "pt start", "clearance", "inr", "label", "add hold",
           "remove hold", "milestone")


@pytest.mark.parametrize("action", ACTIONS)
def test_every_change_to_an_episode_from_a_stale_version_answers_409_and_stores_nothing(
    api: Harness, action: str
) -> None:
    e = api.episode(holds=[HOLD])
    # Someone else changes the episode (its details) after this caller read version 1.
    assert api.patch(f"/episodes/{e['id']}", {"proceduralist": "Dr. Park"}).status == 200
    if action in ("procedure end", "milestone"):
        api.clock.set(datetime(2027, 3, 14, 15, 0, tzinfo=UTC))  # after the procedure and the 72-hour check
    before = api.snapshot()
    _stale(_actions(api, e)[action](e["version"]), "episode", e["id"], e["version"])
    assert api.snapshot() == before


@pytest.mark.parametrize("action", ("move", "cancel", "clearance", "label", "add hold", "remove hold"))
def test_the_same_change_from_the_current_version_is_applied(api: Harness, action: str) -> None:
    e = api.episode(holds=[HOLD])
    answer = _actions(api, e)[action](e["version"])
    assert answer.status in (200, 201), answer
    assert api.get(f"/episodes/{e['id']}").json["version"] > e["version"]


def test_two_people_changing_one_episode_at_the_same_moment_one_wins_the_other_gets_409(api: Harness) -> None:
    """Two requests made from the same version, released together: exactly one is applied."""
    e = api.episode()
    barrier = threading.Barrier(2)
    answers: dict[str, Answer] = {}

    def edit(facility: str) -> None:
        client = api.app.test_client()
        barrier.wait()
        answers[facility] = Answer(client.patch(
            f"{PREFIX}/episodes/{e['id']}", json={"facility": facility, "version": e["version"]},
            headers={"Authorization": f"Bearer {api.tokens['coordinator']}"}))

    threads = [threading.Thread(target=edit, args=(name,)) for name in ("North Clinic", "South Clinic")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    statuses = sorted(a.status for a in answers.values())
    assert statuses == [200, 409], answers
    (winner,) = [name for name, a in answers.items() if a.status == 200]
    (loser,) = [a for a in answers.values() if a.status == 409]
    assert "someone else changed this" in loser.json["message"]
    stored = api.get(f"/episodes/{e['id']}").json
    assert stored["facility"] == winner and stored["version"] > e["version"]


def test_two_people_editing_one_patient_at_the_same_moment_one_wins_the_other_gets_409(api: Harness) -> None:
    p = api.patient()
    barrier = threading.Barrier(2)
    answers: dict[str, Answer] = {}

    def edit(name: str) -> None:
        client = api.app.test_client()
        barrier.wait()
        answers[name] = Answer(client.patch(
            f"{PREFIX}/patients/{p['id']}", json={"given_name": name}, headers={
                "Authorization": f"Bearer {api.tokens['coordinator']}", "If-Match": '"v1"'}))

    threads = [threading.Thread(target=edit, args=(name,)) for name in ("Ana", "Eva")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(a.status for a in answers.values()) == [200, 409], answers
    (winner,) = [name for name, a in answers.items() if a.status == 200]
    stored = api.get(f"/patients/{p['id']}").json
    assert stored["given_name"] == winner and stored["version"] == 2


def test_the_database_refuses_a_write_from_a_version_another_session_changed_meanwhile(api: Harness) -> None:
    """The guard under the check: two sessions hold the same patient; the first commits a change;
    the second's UPDATE says ``WHERE version = <the one it read>``, matches nothing, and fails,
    whatever the service checked before. Through the API this is a 409 (above)."""
    from sqlalchemy.orm import Session
    from sqlalchemy.orm.exc import StaleDataError

    from pathway.models import Patient

    p = api.patient()
    with Session(api.runtime.engine, expire_on_commit=False) as late:
        mine = late.get(Patient, p["id"])
        assert mine is not None and mine.version == p["version"]
        late.commit()  # ends the read (SQLite serialises transactions), keeps what was read
        with Session(api.runtime.engine) as first:
            theirs = first.get(Patient, p["id"])
            assert theirs is not None
            theirs.given_name = "Eva"
            first.commit()
        mine.given_name = "Ana"
        with pytest.raises(StaleDataError):
            late.commit()
    stored = api.get(f"/patients/{p['id']}").json
    assert stored["given_name"] == "Eva" and stored["version"] == p["version"] + 1
