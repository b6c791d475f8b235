"""Editing an episode after saving (issue 10): its details and candidacy items through the PATCH,
adding a hold and removing one, through the JSON API on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from tests.web.conftest_api import MISSING_ID, Harness

CLOPIDOGREL = {"drug": "clopidogrel", "prescriber_name": "Dr. Ortiz", "prescriber_phone": "(212) 555-0199"}
APIXABAN = {"drug": "Eliquis", "prescriber_name": "Dr. Ortiz"}
# What a preview may write: its audit row (and a token's last-used time). Nothing else.
NOT_PLAN = ("audit_events", "api_tokens")
# Clopidogrel's last dose, for the procedure on 2027-03-10 08:00 New York: 2027-03-02 (7 days).
AFTER_LAST_DOSE = datetime(2027, 3, 3, 15, 0, tzinfo=UTC)


def _delete(api: Harness, path: str, **kw: Any) -> Any:
    return api.call("DELETE", path, **kw)


def _audit(api: Harness, action: str) -> list[dict[str, Any]]:
    with api.runtime.engine.connect() as conn:
        rows = conn.execute(text("SELECT detail FROM audit_events WHERE action = :a ORDER BY id"), {"a": action})
        return [d if isinstance(d, dict) else json.loads(d) for (d,) in rows]


def _approve(api: Harness, hold_id: int) -> None:
    answer = api.post(f"/holds/{hold_id}/clearance", {"status": "approved", "by": "Dr. Ortiz"}, role="clinician")
    assert answer.status == 200, answer


def _codes(episode: dict[str, Any]) -> set[str]:
    return {b["code"] for b in episode["blockers"]}


def _bodies(episode: dict[str, Any], kind: str) -> list[str]:
    return [m["body"] for m in episode["messages"] if m["kind"] == kind and m["status"] == "scheduled"]


@pytest.fixture(autouse=True)
def _clock_back(api: Harness) -> Any:
    start = api.clock.now
    yield
    api.clock.set(start)


# --- details and candidacy items: the PATCH ---------------------------------------------------


def test_patch_changes_every_detail_field_at_once_with_one_audit_row_naming_them(api: Harness) -> None:
    e = api.episode()
    assert _codes(e) == {"candidacy_missing", "escort_missing"}
    change = {"facility": "Northside Spine Center", "proceduralist": "Dr. Park", "levels": "L3-L4",
              "mri_reviewed_on": "2027-01-20", "tried_pt": True, "tried_medication": True,
              "tried_injections": False, "escort_arranged": True}
    answer = api.patch(f"/episodes/{e['id']}", change)
    assert answer.status == 200, answer
    got = answer.json
    assert (got["facility"], got["proceduralist"], got["levels"], got["mri_reviewed_on"]) == (
        "Northside Spine Center", "Dr. Park", "L3-L4", "2027-01-20")
    assert (got["tried_pt"], got["tried_medication"], got["tried_injections"], got["escort_arranged"]) == (
        True, True, False, True)
    assert got["go"] is True and got["blockers"] == []  # candidacy and the escort were what blocked it
    assert got["procedure_at"] == e["procedure_at"] and got["change"]["applied"] is True
    assert got["change"]["notice"] is None and got["change"]["messages_added"] == []
    (detail,) = _audit(api, "episode.edit")[-1:]
    assert detail == {"fields": ["escort_arranged", "facility", "levels", "mri_reviewed_on", "proceduralist",
                                 "tried_medication", "tried_pt"]}  # tried_injections was already false
    again = api.get(f"/episodes/{e['id']}").json
    assert again["facility"] == "Northside Spine Center" and again["go"] is True


@pytest.mark.parametrize(("field", "value", "expected"), [
    ("facility", "Eastside ASC", "Eastside ASC"),
    ("proceduralist", "Dr. Kim", "Dr. Kim"),
    ("levels", "L2-L3", "L2-L3"),
    ("mri_reviewed_on", "2027-01-05", "2027-01-05"),
    ("tried_pt", True, True),
    ("tried_medication", True, True),
    ("tried_injections", True, True),
    ("escort_arranged", True, True),
])
def test_patch_changes_one_field_and_leaves_the_others(api: Harness, field: str, value: Any, expected: Any) -> None:
    e = api.episode()
    answer = api.patch(f"/episodes/{e['id']}", {field: value})
    assert answer.status == 200, answer
    got = answer.json
    assert got[field] == expected
    for other in ("facility", "proceduralist", "levels", "mri_reviewed_on", "tried_pt", "tried_medication",
                  "tried_injections", "escort_arranged", "procedure_at"):
        if other != field:
            assert got[other] == e[other], other
    assert _audit(api, "episode.edit")[-1] == {"fields": [field]}


def test_candidacy_items_move_the_go_no_go_both_ways(api: Harness) -> None:
    e = api.episode()
    ready = api.patch(f"/episodes/{e['id']}", {"mri_reviewed_on": "2027-01-20", "tried_pt": True,
                                                "escort_arranged": True}).json
    assert ready["go"] is True
    undone = api.patch(f"/episodes/{e['id']}", {"mri_reviewed_on": None, "escort_arranged": False}).json
    assert undone["go"] is False and undone["mri_reviewed_on"] is None
    assert _codes(undone) == {"candidacy_missing", "escort_missing"}
    assert any("MRI" in b["message"] for b in undone["blockers"])


def test_a_move_and_details_in_one_patch_keep_the_hold_at_risk_rules(api: Harness) -> None:
    e = api.episode(holds=[CLOPIDOGREL])
    hold_id = e["holds"][0]["id"]
    _approve(api, hold_id)
    before = api.snapshot(exclude=("audit_events",))
    body = {"procedure_at": "2027-03-05T08:00", "facility": "Northside Spine Center", "tried_pt": True}
    refused = api.patch(f"/episodes/{e['id']}", body)
    assert refused.status == 409 and refused.json["holds_at_risk"][0]["hold_id"] == hold_id
    assert api.snapshot(exclude=("audit_events",)) == before  # neither the move nor the details
    applied = api.patch(f"/episodes/{e['id']}", {**body, "confirm_holds_at_risk": True})
    assert applied.status == 200
    got = applied.json
    assert got["facility"] == "Northside Spine Center" and got["tried_pt"] is True
    assert got["holds"][0]["clearance"] == "requested" and got["change"]["notice"]["kind"] == "date_changed"
    detail = _audit(api, "episode.reschedule")[-1]
    assert detail["fields"] == ["facility", "procedure_at", "tried_pt"] and detail["confirmed"] is True


def test_a_details_preview_changes_nothing(api: Harness) -> None:
    e = api.episode()
    before = api.snapshot(exclude=NOT_PLAN)
    preview = api.patch(f"/episodes/{e['id']}?preview=1", {"facility": "Elsewhere", "escort_arranged": True})
    # The day-before text names the facility, so the preview shows it re-worded (and nothing else).
    assert preview.status == 200 and preview.json["applied"] is False
    assert [s.split(" Tue")[0] for s in preview.json["summary"]] == ["Reword: pre-procedure reminder"]
    assert "at Elsewhere." in preview.json["messages_reworded"][0]["body_after"]
    assert api.snapshot(exclude=NOT_PLAN) == before
    assert _audit(api, "episode.edit_preview")[-1] == {"fields": ["escort_arranged", "facility"]}


def test_bad_detail_values_are_named_and_nothing_is_stored(api: Harness) -> None:
    e = api.episode()
    before = api.snapshot()
    bad = api.patch(f"/episodes/{e['id']}", {"facility": "x" * 201, "levels": "y" * 101,
                                              "mri_reviewed_on": "last week", "tried_pt": "perhaps"})
    assert bad.status == 422 and set(bad.errors) == {"facility", "levels", "mri_reviewed_on", "tried_pt"}
    assert api.snapshot() == before


def test_editing_details_needs_a_care_team_role_and_an_open_episode(api: Harness) -> None:
    e = api.episode()
    assert api.patch(f"/episodes/{e['id']}", {"facility": "X"}, role="admin").status == 403
    assert api.patch(f"/episodes/{MISSING_ID}", {"facility": "X"}, role="admin").status == 403
    assert api.patch(f"/episodes/{e['id']}", {"facility": "X"}, role=None).status == 401
    assert api.patch(f"/episodes/{e['id']}", {"facility": "X"}, role="clinician").status == 200
    assert api.post(f"/episodes/{e['id']}/cancel", {"reason": "patient unwell"}).status == 200
    closed = api.patch(f"/episodes/{e['id']}", {"facility": "Y"})
    assert closed.status == 409 and "cancelled" in closed.json["message"]


# --- adding a hold ----------------------------------------------------------------------------


def test_adding_a_hold_plans_its_clearance_and_puts_it_on_the_worklist(api: Harness) -> None:
    e = api.episode()
    answer = api.post(f"/episodes/{e['id']}/holds", {**APIXABAN, "patient_label": "the blue pill"})
    assert answer.status == 201, answer
    assert answer.headers["Location"].endswith(f"/api/v1/episodes/{e['id']}")
    got = answer.json
    (hold,) = got["holds"]
    assert hold["drug"] == "apixaban" and hold["clearance"] == "needed" and hold["signed"] is False
    assert hold["patient_label"] == "the blue pill" and hold["last_dose_on"] is not None
    change = got["change"]
    assert change["applied"] is True
    assert {m["kind"] for m in change["milestones_added"]} == {"hold_clearance", "last_dose", "restart"}
    assert change["messages_added"] == []  # no stop text before it is approved and signed
    assert got["go"] is False and "hold_unsigned" in _codes(got)
    items = [i for i in api.get("/worklist").json["items"] if i["subject_id"] == hold["id"]]
    assert [i["kind"] for i in items] == ["hold_unresolved"]
    assert _audit(api, "hold.add")[-1] == {"drug": "apixaban", "episode_id": e["id"], "started_late": False}
    # Requested, it is on the clinicians' "Holds to sign".
    assert api.post(f"/holds/{hold['id']}/clearance", {"status": "requested"}).status == 200
    assert hold["id"] in [i["hold_id"] for i in api.get("/holds?status=unsigned").json["items"]]


def test_a_brand_name_resolves_and_free_text_needs_a_clinicians_plan(api: Harness) -> None:
    e = api.episode()
    brand = api.post(f"/episodes/{e['id']}/holds", {"drug": "Coumadin"}).json
    warfarin = brand["holds"][-1]
    assert warfarin["drug"] == "warfarin" and warfarin["inr_required"] is True
    free = api.post(f"/episodes/{e['id']}/holds", {"drug": "grandma's tonic"}).json["holds"][-1]
    assert free["catalogued"] is False and free["stop_days"] is None and free["last_dose_on"] is None
    unsigned = api.post(f"/holds/{free['id']}/clearance", {"status": "approved", "by": "Dr. Ortiz"}, role="clinician")
    assert unsigned.status == 422 and "stop_days" in unsigned.errors


def test_adding_a_second_hold_rewords_nothing_it_should_not_and_names_them_apart(api: Harness) -> None:
    e = api.episode(holds=[{"drug": "warfarin"}])
    _approve(api, e["holds"][0]["id"])
    added = api.post(f"/episodes/{e['id']}/holds", {"drug": "apixaban"}).json
    warfarin_id, apixaban_id = e["holds"][0]["id"], added["holds"][-1]["id"]
    _approve(api, apixaban_id)
    got = api.get(f"/episodes/{e['id']}").json
    texts = _bodies(got, "last_dose")
    assert len(texts) == 2 and texts[0] != texts[1]
    assert {h["id"] for h in got["holds"]} == {warfarin_id, apixaban_id}


def test_a_hold_preview_changes_nothing(api: Harness) -> None:
    e = api.episode()
    before = api.snapshot(exclude=NOT_PLAN)
    preview = api.post(f"/episodes/{e['id']}/holds?preview=1", CLOPIDOGREL)
    assert preview.status == 200 and preview.json["applied"] is False
    assert {m["kind"] for m in preview.json["milestones_added"]} == {"hold_clearance", "last_dose", "restart"}
    assert any(line.startswith("New step: ") for line in preview.json["summary"])
    assert api.snapshot(exclude=NOT_PLAN) == before
    assert api.get(f"/episodes/{e['id']}").json["holds"] == []
    assert _audit(api, "hold.add_preview")[-1] == {"drug": "clopidogrel"}


def test_adding_a_hold_validates_like_scheduling_and_refuses_a_duplicate(api: Harness) -> None:
    e = api.episode(holds=[CLOPIDOGREL])
    before = api.snapshot()
    missing = api.post(f"/episodes/{e['id']}/holds", {})
    assert missing.status == 422 and set(missing.errors) == {"drug"}
    long_label = api.post(f"/episodes/{e['id']}/holds", {"drug": "ibuprofen", "patient_label": "x" * 41,
                                                         "crcl_ml_min": 0})
    assert long_label.status == 422 and set(long_label.errors) == {"patient_label", "crcl_ml_min"}
    both = api.post(f"/episodes/{e['id']}/holds", {"drug": "mystery", "stop_days": 3, "stop_hours": 24})
    assert both.status == 422 and set(both.errors) == {"stop_hours"}
    twice = api.post(f"/episodes/{e['id']}/holds", {"drug": "Plavix"})  # clopidogrel by its brand
    assert twice.status == 422 and "already held" in twice.errors["drug"]
    assert api.snapshot() == before


def test_a_hold_is_added_only_before_the_procedure_of_an_open_episode(api: Harness) -> None:
    e = api.episode()
    c = api.episode()
    assert api.post(f"/episodes/{c['id']}/cancel", {"reason": "patient unwell"}).status == 200
    cancelled = api.post(f"/episodes/{c['id']}/holds", CLOPIDOGREL)
    assert cancelled.status == 409 and "cancelled" in cancelled.json["message"]
    api.clock.set(datetime(2027, 3, 10, 14, 0, tzinfo=UTC))  # 09:00 on the day: the procedure began at 08:00
    started = api.post(f"/episodes/{e['id']}/holds", CLOPIDOGREL)
    assert started.status == 409 and "before" in started.json["message"]
    api.clock.set(datetime(2027, 3, 10, 16, 0, tzinfo=UTC))
    assert api.post(f"/episodes/{e['id']}/procedure-end", {"ended_at": "2027-03-10T09:00"}).status == 200
    ended = api.post(f"/episodes/{e['id']}/holds", CLOPIDOGREL)
    assert ended.status == 409 and "ended" in ended.json["message"]


def test_adding_or_removing_a_hold_needs_a_care_team_role(api: Harness) -> None:
    e = api.episode(holds=[CLOPIDOGREL])
    before, audited = api.snapshot(exclude=("api_tokens", "audit_events")), len(api.audit_actions())
    assert api.post(f"/episodes/{e['id']}/holds", APIXABAN, role="admin").status == 403
    assert api.post(f"/episodes/{MISSING_ID}/holds", APIXABAN, role="admin").status == 403
    assert _delete(api, f"/holds/{e['holds'][0]['id']}", role="admin").status == 403
    assert _delete(api, f"/holds/{MISSING_ID}", role="admin").status == 403
    assert _delete(api, f"/holds/{e['holds'][0]['id']}", role=None).status == 401
    assert api.snapshot(exclude=("api_tokens", "audit_events")) == before
    # Each 403 is audited as a refused attempt (issue 13); nothing else is stored.
    assert [a[0] for a in api.audit_actions()[audited:]] == ["access.denied"] * 4
    assert api.post(f"/episodes/{MISSING_ID}/holds", APIXABAN).status == 404
    assert _delete(api, f"/holds/{MISSING_ID}").status == 404


# --- removing a hold --------------------------------------------------------------------------


def test_removing_a_hold_cancels_its_texts_and_steps_and_keeps_it_for_the_record(api: Harness) -> None:
    e = api.episode(holds=[CLOPIDOGREL, APIXABAN])
    clop, apix = (h["id"] for h in e["holds"])
    _approve(api, clop)
    _approve(api, apix)
    before = api.get(f"/episodes/{e['id']}").json
    # The restart texts wait for the recorded end (none yet); the steps exist.
    assert len(_bodies(before, "last_dose")) == 2 and _bodies(before, "restart") == []
    answer = _delete(api, f"/holds/{clop}")
    assert answer.status == 200, answer
    got = answer.json
    assert [h["id"] for h in got["holds"]] == [apix]
    change = got["change"]
    assert {m["kind"] for m in change["milestones_cancelled"]} >= {"last_dose", "restart"}
    assert {m["hold_ref"] for m in change["milestones_cancelled"]} == {f"h{clop}"}
    assert "last_dose" in {m["kind"] for m in change["messages_cancelled"]}
    assert len(_bodies(got, "last_dose")) == 1
    cancelled = [m for m in got["messages"] if m["status"] == "cancelled"]
    assert cancelled and all(m["status_reason"] == "re-planned: hold removed" for m in cancelled)
    # Only its steps already done (the signed clearance) stay, as history.
    assert {(m["kind"], m["status"]) for m in got["milestones"] if m["hold_id"] == clop} == {
        ("hold_clearance", "done"), ("last_dose", "cancelled"), ("restart", "cancelled")}
    assert _audit(api, "hold.remove")[-1] == {"drug": "clopidogrel", "episode_id": e["id"], "stopped": False}
    # Kept for the record, but left out of everything, and no longer changed.
    with api.runtime.engine.connect() as conn:
        removed_at = conn.execute(text("SELECT removed_at FROM medication_holds WHERE id = :i"), {"i": clop}).scalar()
    assert removed_at is not None
    assert _delete(api, f"/holds/{clop}").status == 409
    again = api.post(f"/holds/{clop}/clearance", {"status": "requested"})
    assert again.status == 409 and "removed" in again.json["message"]
    assert clop not in {i["subject_id"] for i in api.get("/worklist").json["items"]}


def test_removing_the_only_unsigned_hold_clears_its_blocker(api: Harness) -> None:
    e = api.episode(holds=[CLOPIDOGREL], mri_reviewed_on="2027-01-20", tried_pt=True, escort_arranged=True)
    assert e["go"] is False and _codes(e) == {"hold_unsigned"}
    got = _delete(api, f"/holds/{e['holds'][0]['id']}").json
    assert got["holds"] == [] and got["go"] is True


def test_a_removal_preview_changes_nothing(api: Harness) -> None:
    e = api.episode(holds=[CLOPIDOGREL])
    _approve(api, e["holds"][0]["id"])
    before = api.snapshot(exclude=NOT_PLAN)
    preview = _delete(api, f"/holds/{e['holds'][0]['id']}?preview=1")
    assert preview.status == 200 and preview.json["applied"] is False
    assert "last_dose" in {m["kind"] for m in preview.json["messages_cancelled"]}
    assert api.snapshot(exclude=NOT_PLAN) == before
    assert len(api.get(f"/episodes/{e['id']}").json["holds"]) == 1


def test_removing_a_hold_after_its_last_dose_needs_confirming_and_opens_a_call(api: Harness) -> None:
    e = api.episode(holds=[CLOPIDOGREL])
    hold_id = e["holds"][0]["id"]
    _approve(api, hold_id)
    api.clock.set(AFTER_LAST_DOSE)  # the patient may have stopped clopidogrel
    before = api.snapshot(exclude=("audit_events",))
    refused = _delete(api, f"/holds/{hold_id}")
    assert refused.status == 409
    assert "confirm_stopped" in refused.json["message"] and "restart" in refused.json["message"]
    assert api.snapshot(exclude=("audit_events",)) == before
    assert _audit(api, "hold.remove_refused")[-1]["stopped"] is True
    bad_flag = _delete(api, f"/holds/{hold_id}?confirm_stopped=perhaps")
    assert bad_flag.status == 422 and set(bad_flag.errors) == {"confirm_stopped"}
    done = _delete(api, f"/holds/{hold_id}?confirm_stopped=1")
    assert done.status == 200
    # Its restart step goes (no restart text exists before the procedure's end is recorded).
    assert "restart" in {m["kind"] for m in done.json["change"]["milestones_cancelled"]}
    (item,) = [i for i in api.get("/worklist").json["items"] if i["kind"] == "restart_after_removal"]
    assert item["subject_id"] == hold_id and "clopidogrel" in item["title"] and item["task_id"] is not None
    worklist = api.get("/worklist").json["items"]
    assert worklist.index(item) < min(i for i, w in enumerate(worklist) if w["kind"] == "hold_unresolved") \
        if any(w["kind"] == "hold_unresolved" for w in worklist) else True
    assert _audit(api, "hold.remove")[-1]["stopped"] is True


def test_a_hold_is_removed_only_before_the_procedure(api: Harness) -> None:
    e = api.episode(holds=[CLOPIDOGREL])
    hold_id = e["holds"][0]["id"]
    c = api.episode(holds=[CLOPIDOGREL])
    assert api.post(f"/episodes/{c['id']}/cancel", {"reason": "patient unwell"}).status == 200
    cancelled = _delete(api, f"/holds/{c['holds'][0]['id']}")
    assert cancelled.status == 409 and "cancelled" in cancelled.json["message"]
    api.clock.set(datetime(2027, 3, 10, 16, 0, tzinfo=UTC))
    assert api.post(f"/episodes/{e['id']}/procedure-end", {"ended_at": "2027-03-10T09:00"}).status == 200
    ended = _delete(api, f"/holds/{hold_id}?confirm_stopped=1")
    assert ended.status == 409 and "ended" in ended.json["message"]


# --- words: adding or removing a hold rewords the other holds' texts ------------------------


def test_adding_then_removing_a_hold_rewords_the_other_holds_pending_texts_in_preview_and_applied(
        api: Harness) -> None:
    e = api.episode(holds=[{"drug": "warfarin"}])
    warfarin = e["holds"][0]["id"]
    _approve(api, warfarin)
    (alone,) = _bodies(api.get(f"/episodes/{e['id']}").json, "last_dose")
    preview = api.post(f"/episodes/{e['id']}/holds?preview=1", {"drug": "apixaban"}).json
    (reworded,) = [m for m in preview["messages_reworded"] if m["kind"] == "last_dose"]
    assert reworded["body_before"] == alone and reworded["body_after"] != alone
    assert any(line.startswith("Reword: ") for line in preview["summary"])
    assert _bodies(api.get(f"/episodes/{e['id']}").json, "last_dose") == [alone]  # a preview changes nothing
    added = api.post(f"/episodes/{e['id']}/holds", {"drug": "apixaban"})
    assert added.status == 201
    assert [m["body_after"] for m in added.json["change"]["messages_reworded"] if m["kind"] == "last_dose"] == [
        reworded["body_after"]]
    assert _bodies(added.json, "last_dose") == [reworded["body_after"]]  # apixaban's waits for its signature
    apixaban = added.json["holds"][-1]["id"]
    removed = _delete(api, f"/holds/{apixaban}")
    assert removed.status == 200
    assert [m["body_after"] for m in removed.json["change"]["messages_reworded"] if m["kind"] == "last_dose"] == [
        alone]
    assert _bodies(removed.json, "last_dose") == [alone]


def test_a_hold_added_after_its_last_dose_would_have_been_is_answered_as_started_late(api: Harness) -> None:
    e = api.episode()
    api.clock.set(datetime(2027, 3, 5, 15, 0, tzinfo=UTC))  # 5 days before: clopidogrel needs 7
    added = api.post(f"/episodes/{e['id']}/holds", CLOPIDOGREL)
    assert added.status == 201
    hold = added.json["holds"][-1]
    assert added.json["change"]["holds_at_risk"] == [
        {"hold_id": hold["id"], "drug": "clopidogrel", "last_dose_on": "2027-03-02", "problem": "hold_started_late"}]
    assert _audit(api, "hold.add")[-1]["started_late"] is True
    # Once signed, the go / no go says so.
    _approve(api, hold["id"])
    assert "hold_started_late" in _codes(api.get(f"/episodes/{e['id']}").json)


# --- what the patient calls a medicine: PATCH /holds/<id> ----------------------------------


def test_two_blood_thinners_without_labels_name_the_drugs_until_the_patient_labels_each(api: Harness) -> None:
    """Default texts keep drug names off, except when two medicines would read the same; a label
    for each takes the names off again, keeps the signatures and re-words only unsent texts."""
    e = api.episode(holds=[{"drug": "warfarin"}, {"drug": "apixaban"}])
    warfarin_id, apixaban_id = (h["id"] for h in e["holds"])
    _approve(api, warfarin_id)
    _approve(api, apixaban_id)
    texts = _bodies(api.get(f"/episodes/{e['id']}").json, "last_dose")
    assert any("warfarin" in t for t in texts) and any("apixaban" in t for t in texts)

    before = api.snapshot(exclude=NOT_PLAN)
    preview = api.patch(f"/holds/{warfarin_id}?preview=1", {"patient_label": "the pink pill"})
    assert preview.status == 200 and preview.json["applied"] is False
    # Both medicines' texts change (the last-dose text and the stop question of each): warfarin's
    # get the label, and apixaban's no longer need its drug name.
    reworded = {r["body_before"]: r["body_after"] for r in preview.json["messages_reworded"]}
    assert len(reworded) == 4
    for old, new in reworded.items():
        assert ("warfarin" in old and "the pink pill" in new) or ("apixaban" in old and "blood thinner" in new)
        assert "warfarin" not in new and "apixaban" not in new
    assert api.snapshot(exclude=NOT_PLAN) == before  # a preview stores nothing but its audit row
    assert _audit(api, "hold.label_preview")[-1] == {"drug": "warfarin", "episode_id": e["id"], "labelled": True}

    first = api.patch(f"/holds/{warfarin_id}", {"patient_label": "the pink pill"})
    assert first.status == 200, first
    second = api.patch(f"/holds/{apixaban_id}", {"patient_label": "Eliquis"})
    assert second.status == 200, second
    got = second.json
    assert [h["patient_label"] for h in got["holds"]] == ["the pink pill", "Eliquis"]
    assert all(h["clearance"] == "approved" and h["signed_at"] for h in got["holds"])  # words only: still signed
    texts = _bodies(got, "last_dose")
    assert sorted("the pink pill" in t for t in texts) == [False, True] and any("Eliquis" in t for t in texts)
    assert not any("warfarin" in t or "apixaban" in t for t in texts)
    assert got["change"]["messages_cancelled"] == [] and got["change"]["messages_added"] == []

    cleared = api.patch(f"/holds/{warfarin_id}", {"patient_label": ""})
    assert cleared.status == 200
    assert [h["patient_label"] for h in cleared.json["holds"]] == [None, "Eliquis"]
    assert _audit(api, "hold.label")[-1] == {"drug": "warfarin", "episode_id": e["id"], "labelled": False}


def test_a_label_is_checked_and_needs_a_care_team_role_and_an_open_episode(api: Harness) -> None:
    e = api.episode(holds=[CLOPIDOGREL])
    hold_id = e["holds"][0]["id"]
    before, audited = api.snapshot(exclude=("audit_events",)), len(api.audit_actions())
    long = api.patch(f"/holds/{hold_id}", {"patient_label": "x" * 41})
    assert long.status == 422 and set(long.errors) == {"patient_label"}
    missing = api.patch(f"/holds/{hold_id}", {})
    assert missing.status == 422 and set(missing.errors) == {"patient_label"}
    extra = api.patch(f"/holds/{hold_id}", {"patient_label": "Plavix", "drug": "aspirin"})
    assert extra.status == 422 and "drug" in extra.errors
    assert api.patch(f"/holds/{hold_id}", {"patient_label": "Plavix"}, role="admin").status == 403
    assert api.patch(f"/holds/{MISSING_ID}", {"patient_label": "Plavix"}).status == 404
    assert api.snapshot(exclude=("audit_events",)) == before
    # Only each refusal's audit row is stored (issue 13: denied attempts are audited).
    assert [a[0] for a in api.audit_actions()[audited:]] == ["access.denied"] * 1
    assert api.post(f"/episodes/{e['id']}/cancel", {"reason": "patient unwell"}).status == 200
    closed = api.patch(f"/holds/{hold_id}", {"patient_label": "Plavix"})
    assert closed.status == 409 and "cancelled" in closed.json["message"]


# --- postponing after a stop, and a new zone that moves a signed last-dose day -----------------


def test_postponing_after_the_last_dose_needs_confirming_and_opens_a_restart_call(api: Harness) -> None:
    e = api.episode(holds=[CLOPIDOGREL])
    hold_id = e["holds"][0]["id"]
    _approve(api, hold_id)
    api.clock.set(AFTER_LAST_DOSE)  # the patient may have stopped clopidogrel
    body = {"procedure_at": "2027-03-31T08:00"}
    preview = api.patch(f"/episodes/{e['id']}?preview=1", body)
    assert preview.status == 200
    assert preview.json["holds_at_risk"] == [{"hold_id": hold_id, "drug": "clopidogrel",
                                              "last_dose_on": "2027-03-02", "problem": "stopped_before_move"}]
    before = api.snapshot(exclude=("audit_events",))
    refused = api.patch(f"/episodes/{e['id']}", body)
    assert refused.status == 409 and "restarting" in refused.json["message"]
    assert refused.json["holds_at_risk"][0]["problem"] == "stopped_before_move"
    assert api.snapshot(exclude=("audit_events",)) == before
    applied = api.patch(f"/episodes/{e['id']}", {**body, "confirm_holds_at_risk": True})
    assert applied.status == 200
    assert applied.json["holds"][0]["clearance"] == "approved"  # moving later keeps the signed interval
    (notice,) = _bodies(applied.json, "date_changed")
    assert "We'll call. Restart your anti-platelet medicine only as told." in notice and "stop" not in notice
    (item,) = [i for i in api.get("/worklist").json["items"] if i["kind"] == "restart_after_postpone"]
    assert item["subject_id"] == hold_id and "clopidogrel" in item["title"] and item["task_id"] is not None
    assert _audit(api, "episode.reschedule")[-1]["holds_at_risk"][0]["problem"] == "stopped_before_move"


def test_a_new_zone_that_moves_a_signed_last_dose_day_needs_confirming_and_unsigns_the_hold(api: Harness) -> None:
    p = api.patient(timezone="Pacific/Guam")
    e = api.episode(p["id"], holds=[CLOPIDOGREL])
    hold_id = e["holds"][0]["id"]
    _approve(api, hold_id)
    body = {"timezone": "America/New_York"}
    preview = api.patch(f"/patients/{p['id']}?preview=1", body)
    assert preview.status == 200
    assert preview.json["holds_at_risk"] == [{"hold_id": hold_id, "drug": "clopidogrel",
                                              "last_dose_on": "2027-03-01", "problem": "hold_too_short"}]
    before = api.snapshot(exclude=("audit_events",))
    refused = api.patch(f"/patients/{p['id']}", body)
    assert refused.status == 409 and "time zone" in refused.json["message"]
    assert refused.json["holds_at_risk"][0]["hold_id"] == hold_id
    assert api.snapshot(exclude=("audit_events",)) == before
    assert _audit(api, "patient.update_refused")[-1]["holds_at_risk"][0]["hold_id"] == hold_id
    bad_flag = api.patch(f"/patients/{p['id']}", {**body, "confirm_holds_at_risk": "perhaps"})
    assert bad_flag.status == 422 and set(bad_flag.errors) == {"confirm_holds_at_risk"}
    applied = api.patch(f"/patients/{p['id']}", {**body, "confirm_holds_at_risk": True})
    assert applied.status == 200 and applied.json["timezone"] == "America/New_York"
    assert applied.json["change"]["holds_at_risk"][0]["hold_id"] == hold_id
    got = api.get(f"/episodes/{e['id']}").json
    assert got["holds"][0]["clearance"] == "requested" and got["go"] is False
    assert not _bodies(got, "last_dose")  # no stop text until signed again
    assert [i["kind"] for i in api.get("/worklist").json["items"] if i["subject_id"] == hold_id] == ["hold_at_risk"]
