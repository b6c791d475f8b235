"""Through the API: the restart text waits for the recorded end; a step is not done before it is due (issue 10)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.web.conftest_api import Harness


def _by_kind(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {m["kind"]: m for m in items}


def _restarts(episode: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m["status"], m["send_at"]) for m in episode["messages"] if m["kind"] == "restart"]


def _end_missing(api: Harness, episode_id: int) -> list[dict[str, Any]]:
    return [i for i in api.get("/worklist").json["items"]
            if i["kind"] == "procedure_end_missing" and i["episode_id"] == episode_id]


def test_the_restart_text_is_held_until_the_end_is_recorded(api: Harness) -> None:
    e = api.episode(holds=[{"drug": "apixaban"}])
    signed = api.post(f"/holds/{e['holds'][0]['id']}/clearance", {"status": "approved", "by": "Dr. Ortiz"},
                      role="clinician")
    assert signed.status == 200 and signed.json["restart_at_estimated"] is True
    e = api.get(f"/episodes/{e['id']}").json
    assert _restarts(e) == []
    restart = _by_kind(e["milestones"])["restart"]
    assert (restart["due_at"], restart["due_at_estimated"]) == ("2027-03-11T14:00:00+00:00", True)
    # Two hours after the expected end (14:00 UTC): on the worklist, saying the text is held.
    api.clock.set(datetime(2027, 3, 10, 16, 0, tzinfo=UTC))
    (item,) = _end_missing(api, e["id"])
    assert "held until the procedure's end is recorded" in item["detail"]
    assert _restarts(api.get(f"/episodes/{e['id']}").json) == []
    ended = api.post(f"/episodes/{e['id']}/procedure-end", {"ended_at": "2027-03-10T10:40"})
    assert ended.status == 200
    assert _restarts(ended.json) == [("scheduled", "2027-03-11T15:40:00+00:00")]  # recorded end + 24 h
    restart = _by_kind(ended.json["milestones"])["restart"]
    assert (restart["due_at"], restart["due_at_estimated"]) == ("2027-03-11T15:40:00+00:00", False)
    assert ended.json["holds"][0]["restart_at_estimated"] is False
    assert _end_missing(api, e["id"]) == []


def test_an_end_recorded_after_the_restart_moment_texts_at_once(api: Harness) -> None:
    e = api.episode(holds=[{"drug": "warfarin"}])  # restart 6 h after the end
    api.post(f"/holds/{e['holds'][0]['id']}/clearance", {"status": "approved", "by": "Dr. Ortiz"}, role="clinician")
    api.clock.set(datetime(2027, 3, 10, 21, 30, tzinfo=UTC))  # 16:30 New York; restart from 15:00
    ended = api.post(f"/episodes/{e['id']}/procedure-end", {"ended_at": "2027-03-10T09:00"})
    assert ended.status == 200
    assert _restarts(ended.json) == [("scheduled", "2027-03-10T21:30:00+00:00")]


def test_a_step_is_not_completed_before_it_is_due(api: Harness) -> None:
    e = api.episode()
    ms = _by_kind(e["milestones"])
    before = api.snapshot()
    early = api.post(f"/milestones/{ms['check_72h']['id']}/complete", {"result": {"pain": 2}})
    assert early.status == 422 and set(early.errors) == {"due_at"}
    assert early.errors["due_at"] == ("this step is due Sat 13 Mar 2027 08:00 EST (patient's time); it cannot be "
                                      "marked done before then")
    assert api.snapshot() == before
    api.clock.set(datetime(2027, 3, 13, 13, 0, tzinfo=UTC))  # 72 h after the start
    assert api.post(f"/milestones/{ms['check_72h']['id']}/complete", {}).status == 200


def test_a_follow_up_visit_is_completed_on_its_day_once_it_has_happened(api: Harness) -> None:
    e = api.episode()
    booked = api.post(f"/episodes/{e['id']}/follow-up", {"appointment_at": "2027-03-18T10:00"})
    visit = _by_kind(booked.json["milestones"])["follow_up"]
    api.clock.set(datetime(2027, 3, 18, 13, 0, tzinfo=UTC))  # 09:00 New York, before the 10:00 visit
    early = api.post(f"/milestones/{visit['id']}/complete", {})
    assert early.status == 422 and "the visit is booked for Thu 18 Mar 2027 10:00" in early.errors["due_at"]
    api.clock.set(datetime(2027, 3, 18, 19, 0, tzinfo=UTC))  # 15:00: the patient was seen this morning
    done = api.post(f"/milestones/{visit['id']}/complete", {"result": {"note": "walking 30 min"}})
    assert done.status == 200 and done.json["status"] == "done"
