"""Observations through the API (issue 11): staff record pain scores, stopped medicines and
walking minutes; a bad field is a 422 naming it with nothing stored; a high 72-hour pain score
(or one far above the patient's baseline) opens a same-day `pain_high` worklist item."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.web.conftest_api import Harness


def _observe(api: Harness, episode_id: int, **body: Any) -> Any:
    return api.post(f"/episodes/{episode_id}/observations", body)


def _worklist_kinds(api: Harness, episode_id: int) -> list[str]:
    items = api.get("/worklist").json["items"]
    return [i["kind"] for i in items if i["episode_id"] == episode_id]


def test_staff_record_an_observation_and_the_episode_lists_it_with_its_source_and_time(api: Harness) -> None:
    e = api.episode()
    made = _observe(api, e["id"], code="nprs", value="6", time_point="baseline", received_at="2027-01-31T09:30")
    assert made.status == 201, made
    assert made.headers["Location"].endswith(f"/episodes/{e['id']}/observations")
    listed = api.get(f"/episodes/{e['id']}/observations")
    assert listed.status == 200
    (obs,) = listed.json
    assert {k: obs[k] for k in ("code", "value", "unit", "time_point", "source", "message_id")} == {
        "code": "nprs", "value": 6, "unit": "points", "time_point": "baseline", "source": "staff",
        "message_id": None}
    # A wall time without an offset is the patient's own (New York, UTC-5 in January).
    assert obs["received_at"] == "2027-01-31T14:30:00+00:00" and obs["id"] == made.json["id"]
    walk = _observe(api, e["id"], code="walk_minutes", value=20, unit="min")
    assert walk.status == 201 and walk.json["time_point"] is None
    assert walk.json["received_at"] == api.clock().isoformat()  # now, when left out
    assert [o["code"] for o in api.get(f"/episodes/{e['id']}/observations").json] == ["nprs", "walk_minutes"]
    writes = [a for a in api.audit_actions(action="observation.record") if a[3] == e["patient_id"]]
    assert len(writes) == 2 and {a[4] for a in writes} == {api.user_ids["coordinator"]}
    assert api.audit_actions(action="observation.list", entity_id=e["id"])


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"code": "blood_pressure", "value": 120}, "code", "must be one of nprs, stopped_medicine, walk_minutes"),
        ({"code": "nprs", "value": 11}, "value", "from 0 to 10"),
        ({"code": "nprs", "value": -1}, "value", "from 0 to 10"),
        ({"code": "nprs", "value": 6.5}, "value", "whole number"),
        ({"code": "nprs", "value": "seven"}, "value", "not a number"),
        ({"code": "nprs"}, "value", "required"),
        ({"code": "nprs", "value": 5, "time_point": "1w"}, "time_point", "baseline, 72h, visit"),
        ({"code": "nprs", "value": 5, "unit": "mm"}, "unit", "points"),
        ({"code": "walk_minutes", "value": 601}, "value", "from 0 to 600"),
        ({"code": "nprs", "value": 5, "received_at": "2030-01-01T08:00"}, "received_at", "future"),
        ({"code": "stopped_medicine", "value": 2}, "value", "from 0 to 1"),
    ],
)
def test_a_bad_observation_is_a_422_naming_the_field_and_nothing_is_stored(api: Harness, body: dict[str, Any],
                                                                          field: str, says: str) -> None:
    e = api.episode(holds=[{"drug": "clopidogrel"}])
    before = api.snapshot()
    bad = _observe(api, e["id"], **body)
    assert bad.status == 422, bad
    assert field in bad.errors and says in bad.errors[field], bad.errors
    assert api.snapshot() == before


def test_a_stopped_medicine_names_its_hold_when_the_episode_has_several(api: Harness) -> None:
    e = api.episode(holds=[{"drug": "clopidogrel"}, {"drug": "apixaban"}])
    missing = _observe(api, e["id"], code="stopped_medicine", value=1)
    assert missing.status == 422 and "hold_id" in missing.errors
    other = api.episode(holds=[{"drug": "warfarin"}])
    wrong = _observe(api, e["id"], code="stopped_medicine", value=1, hold_id=other["holds"][0]["id"])
    assert wrong.status == 422 and "not a hold of this episode" in wrong.errors["hold_id"]
    hold_id = e["holds"][1]["id"]
    ok = _observe(api, e["id"], code="stopped_medicine", value=1, hold_id=hold_id)
    assert ok.status == 201 and (ok.json["hold_id"], ok.json["unit"], ok.json["value"]) == (hold_id, "yes/no", 1)
    single = api.episode(holds=[{"drug": "clopidogrel"}])
    alone = _observe(api, single["id"], code="stopped_medicine", value=0)
    assert alone.status == 201 and alone.json["hold_id"] == single["holds"][0]["id"]


def test_an_unknown_episode_is_404(api: Harness) -> None:
    assert api.get("/episodes/999999/observations").status == 404
    assert _observe(api, 999999, code="nprs", value=3).status == 404


@pytest.mark.parametrize(
    ("baseline", "at_72h", "high"),
    [(None, 8, True), (None, 7, False), (None, 10, True), (4, 7, True), (5, 7, False), (2, 5, True),
     (7, 9, True), (6, 6, False)],
)
def test_a_high_72_hour_pain_score_or_one_far_over_baseline_is_a_same_day_item(api: Harness, baseline: int | None,
                                                                              at_72h: int, high: bool) -> None:
    e = api.episode(procedure_at="2027-02-02T08:00")
    if baseline is not None:
        assert _observe(api, e["id"], code="nprs", value=baseline, time_point="baseline").status == 201
    api.clock.set(datetime(2027, 2, 5, 14, 0, tzinfo=UTC))
    assert _observe(api, e["id"], code="nprs", value=at_72h, time_point="72h").status == 201
    kinds = _worklist_kinds(api, e["id"])
    assert ("pain_high" in kinds) is high, kinds
    if high:
        item = next(i for i in api.get("/worklist").json["items"]
                    if i["episode_id"] == e["id"] and i["kind"] == "pain_high")
        assert item["action"] == "Call patient today" and f"pain {at_72h}/10" in item["detail"]
        # Right after red flags and the calls about holds, before everything routine.
        assert item["priority"] < 10


def test_a_pain_score_at_another_time_point_opens_nothing(api: Harness) -> None:
    e = api.episode()
    assert _observe(api, e["id"], code="nprs", value=9, time_point="baseline").status == 201
    assert "pain_high" not in _worklist_kinds(api, e["id"])


# --- a medicine the patient has not stopped (issue 11, last-dose confirmation) ---------------

READY = {"mri_reviewed_on": "2027-01-15", "tried_pt": True, "escort_arranged": True}


def _not_stopped(api: Harness) -> tuple[dict[str, Any], int]:
    e = api.episode(holds=[{"drug": "clopidogrel"}], **READY)
    hold_id = e["holds"][0]["id"]
    assert api.post(f"/holds/{hold_id}/clearance", {"status": "approved", "by": "Dr. Ortiz"},
                    role="clinician").status == 200
    assert _observe(api, e["id"], code="stopped_medicine", value=0, hold_id=hold_id).status == 201
    return e, hold_id


def test_a_medicine_not_stopped_blocks_the_episode_until_a_clinician_decides(api: Harness) -> None:
    e, hold_id = _not_stopped(api)
    got = api.get(f"/episodes/{e['id']}").json
    assert got["go"] is False and [b["code"] for b in got["blockers"]] == ["hold_not_stopped"]
    assert got["blockers"][0]["hold_id"] == hold_id
    check = next(c for c in got["checklist"] if c["item"].endswith("stop confirmed"))
    assert check["ok"] is False and "a clinician must decide" in check["detail"]
    items = [i for i in api.get("/worklist").json["items"] if i["episode_id"] == e["id"]]
    assert items[0]["kind"] == "hold_not_stopped" and items[0]["priority"] == 1
    assert items[0]["action"] == "Clinician decides"

    before, audited = api.snapshot(exclude=("audit_events",)), len(api.audit_actions())
    assert api.post(f"/holds/{hold_id}/stop-decision", {"note": "go ahead"}).status == 403  # a coordinator
    missing = api.post(f"/holds/{hold_id}/stop-decision", {"note": " "}, role="clinician")
    assert missing.status == 422 and "note" in missing.errors
    # Nor may the generic task route close it for a coordinator, or without a note.
    task_id = items[0]["task_id"]
    assert api.post(f"/tasks/{task_id}/resolve", {"resolution": "done"}).status == 403
    assert api.post(f"/tasks/{task_id}/resolve", {"resolution": ""}, role="clinician").status == 422
    # Nothing stored but the two refusals' own audit rows (denied attempts are audited).
    assert api.snapshot(exclude=("audit_events",)) == before
    assert [a[0] for a in api.audit_actions()[audited:]] == ["access.denied", "access.denied"]

    decided = api.post(f"/holds/{hold_id}/stop-decision",
                       {"note": "spoke to the prescriber: stop today, go ahead"}, role="clinician")
    assert decided.status == 200, decided
    assert decided.json["go"] is True and decided.json["blockers"] == []
    check = next(c for c in decided.json["checklist"] if c["item"].endswith("stop confirmed"))
    assert check["ok"] is True and "decision is recorded" in check["detail"]
    assert api.audit_actions(action="hold.stop_decision", entity_id=hold_id)
    again = api.post(f"/holds/{hold_id}/stop-decision", {"note": "again"}, role="clinician")
    assert again.status == 409  # nothing left to decide


def test_a_stop_confirmed_by_staff_shows_in_the_go_no_go(api: Harness) -> None:
    e = api.episode(holds=[{"drug": "clopidogrel"}], **READY)
    hold_id = e["holds"][0]["id"]
    api.post(f"/holds/{hold_id}/clearance", {"status": "approved", "by": "Dr. Ortiz"}, role="clinician")
    assert _observe(api, e["id"], code="stopped_medicine", value=1).status == 201
    got = api.get(f"/episodes/{e['id']}").json
    check = next(c for c in got["checklist"] if c["item"].endswith("stop confirmed"))
    assert check["ok"] is True and check["detail"].startswith("stop confirmed: recorded yes")
    assert got["go"] is True
