"""Outcomes through the API (issue 12): staff record a measure at a time point; the list gives
each current value with its change from the baseline and the values it replaced; a bad field is
a 422 naming it with nothing stored; the observations API obeys the same replacement rule."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.conftest_api import Harness


def _record(api: Harness, episode_id: int, role: str = "coordinator", **body: Any) -> Any:
    return api.post(f"/episodes/{episode_id}/outcomes", body, role=role)


def test_an_outcome_is_recorded_and_listed_with_its_change_from_baseline(api: Harness) -> None:
    e = api.episode()
    base = _record(api, e["id"], time_point="baseline", measure="odi", value=48, source="visit",
                   recorded_at="2027-01-31T09:30")
    assert base.status == 201, base
    assert base.headers["Location"].endswith(f"/episodes/{e['id']}/outcomes")
    assert {k: base.json[k] for k in ("time_point", "measure", "value", "unit", "source", "change_from_baseline",
                                      "history", "label")} == {
        "time_point": "baseline", "measure": "odi", "value": 48, "unit": "points", "source": "visit",
        "change_from_baseline": None, "history": [], "label": "Oswestry Disability Index (0-100)"}
    # A wall time without an offset is the patient's own (New York, UTC-5 in January).
    assert base.json["recorded_at"] == "2027-01-31T14:30:00+00:00"
    assert base.json["recorded_by_id"] == api.user_ids["coordinator"]
    later = _record(api, e["id"], role="clinician", time_point="visit", measure="odi", value=30, source="visit")
    assert later.status == 201 and later.json["change_from_baseline"] == -18
    assert later.json["recorded_at"] == api.clock().isoformat()  # now, when left out
    zcq = _record(api, e["id"], time_point="visit", measure="zcq_symptom", value="3.5", source="phone")
    assert zcq.status == 201 and zcq.json["value"] == 3.5 and zcq.json["change_from_baseline"] is None
    listed = api.get(f"/episodes/{e['id']}/outcomes")
    assert listed.status == 200
    assert [(o["time_point"], o["measure"], o["value"], o["change_from_baseline"]) for o in listed.json] == [
        ("baseline", "odi", 48, None), ("visit", "odi", 30, -18), ("visit", "zcq_symptom", 3.5, None)]
    writes = [a for a in api.audit_actions(action="outcome.record") if a[3] == e["patient_id"]]
    assert len(writes) == 3 and {a[4] for a in writes} == {api.user_ids["coordinator"], api.user_ids["clinician"]}
    assert api.audit_actions(action="outcome.list", entity_id=e["id"])


def test_a_later_value_replaces_the_current_one_which_stays_in_the_history(api: Harness) -> None:
    e = api.episode()
    assert _record(api, e["id"], time_point="baseline", measure="nprs", value=8, source="sms").status == 201
    first = _record(api, e["id"], time_point="6w", measure="nprs", value=5, source="sms").json
    second = _record(api, e["id"], time_point="6w", measure="nprs", value=3, source="phone",
                     recorded_at="2027-01-31T09:00").json  # measured earlier, entered later: still the correction
    assert second["value"] == 3 and second["change_from_baseline"] == -5
    assert [(h["id"], h["value"], h["source"], h["replaced_by_id"]) for h in second["history"]] == [
        (first["id"], 5, "sms", second["id"])]
    third = _record(api, e["id"], time_point="6w", measure="nprs", value=4, source="visit").json
    assert [h["value"] for h in third["history"]] == [3, 5]  # newest first
    listed = api.get(f"/episodes/{e['id']}/outcomes").json
    six_weeks = [o for o in listed if o["time_point"] == "6w"]
    assert len(six_weeks) == 1 and six_weeks[0]["id"] == third["id"]
    assert six_weeks[0]["change_from_baseline"] == -4
    # The observations list keeps every row, each replaced one saying by which.
    rows = {o["id"]: o for o in api.get(f"/episodes/{e['id']}/observations").json}
    assert rows[first["id"]]["superseded_by_id"] == second["id"] and rows[first["id"]]["superseded_at"]
    assert rows[third["id"]]["superseded_at"] is None
    # A new baseline moves every change with it.
    assert _record(api, e["id"], time_point="baseline", measure="nprs", value=6, source="visit").status == 201
    assert [o["change_from_baseline"] for o in api.get(f"/episodes/{e['id']}/outcomes").json
            if o["time_point"] == "6w"] == [-2]


def test_the_observations_api_obeys_the_same_replacement_rule(api: Harness) -> None:
    e = api.episode()
    one = api.post(f"/episodes/{e['id']}/observations", {"code": "walk_minutes", "value": 5, "time_point": "3m"})
    two = _record(api, e["id"], time_point="3m", measure="walk_minutes", value=25, source="phone")
    three = api.post(f"/episodes/{e['id']}/observations", {"code": "walk_minutes", "value": 30, "time_point": "3m"})
    assert {one.status, two.status, three.status} == {201}
    (current,) = [o for o in api.get(f"/episodes/{e['id']}/outcomes").json if o["time_point"] == "3m"]
    assert (current["id"], current["source"]) == (three.json["id"], "staff")
    assert [h["id"] for h in current["history"]] == [two.json["id"], one.json["id"]]
    # Without a time point nothing is replaced: two stand side by side.
    for value in (10, 12):
        api.post(f"/episodes/{e['id']}/observations", {"code": "walk_minutes", "value": value})
    loose = [o for o in api.get(f"/episodes/{e['id']}/observations").json if o["time_point"] is None]
    assert [o["superseded_at"] for o in loose] == [None, None]


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"time_point": "6w", "measure": "blood_pressure", "value": 120, "source": "visit"}, "measure",
         "must be one of nprs, walk_minutes, stand_minutes, odi, zcq_symptom, global_change"),
        ({"time_point": "6w", "measure": "stopped_medicine", "value": 1, "source": "visit"}, "measure", "one of"),
        ({"time_point": "1w", "measure": "nprs", "value": 5, "source": "visit"}, "time_point", "baseline, 72h, visit"),
        ({"measure": "nprs", "value": 5, "source": "visit"}, "time_point", "must be one of"),
        ({"time_point": "6w", "measure": "nprs", "value": 11, "source": "visit"}, "value", "from 0 to 10"),
        ({"time_point": "6w", "measure": "odi", "value": 101, "source": "visit"}, "value", "from 0 to 100"),
        ({"time_point": "6w", "measure": "odi", "value": 40.5, "source": "visit"}, "value", "whole number"),
        ({"time_point": "6w", "measure": "zcq_symptom", "value": 0.5, "source": "visit"}, "value", "from 1 to 5"),
        ({"time_point": "6w", "measure": "global_change", "value": 0, "source": "sms"}, "value", "from 1 to 7"),
        ({"time_point": "6w", "measure": "global_change", "value": 8, "source": "sms"}, "value", "from 1 to 7"),
        ({"time_point": "6w", "measure": "stand_minutes", "value": -1, "source": "phone"}, "value", "from 0 to 600"),
        ({"time_point": "6w", "measure": "nprs", "value": "seven", "source": "visit"}, "value", "not a number"),
        ({"time_point": "6w", "measure": "nprs", "source": "visit"}, "value", "required"),
        ({"time_point": "6w", "measure": "nprs", "value": 5, "source": "email"}, "source", "sms, visit, phone"),
        ({"time_point": "6w", "measure": "nprs", "value": 5}, "source", "sms, visit, phone"),
        ({"time_point": "6w", "measure": "nprs", "value": 5, "source": "visit", "recorded_at": "2030-01-01T08:00"},
         "recorded_at", "future"),
        ({"time_point": "6w", "measure": "nprs", "value": 5, "source": "visit", "recorded_at": "yesterday"},
         "recorded_at", "not a date and time"),
    ],
)
def test_a_bad_outcome_is_a_422_naming_the_field_and_nothing_is_stored(api: Harness, body: dict[str, Any],
                                                                      field: str, says: str) -> None:
    e = api.episode()
    before = api.snapshot()
    bad = api.post(f"/episodes/{e['id']}/outcomes", body)
    assert bad.status == 422, bad
    assert field in bad.errors and says in bad.errors[field], bad.errors
    assert api.snapshot() == before


def test_an_unknown_episode_is_404(api: Harness) -> None:
    assert api.get("/episodes/999999/outcomes").status == 404
    assert _record(api, 999999, time_point="6w", measure="nprs", value=3, source="visit").status == 404
