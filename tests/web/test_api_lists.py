"""The JSON API's lists: the worklist and the follow-up board (services by the worklist team)."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.web.conftest_api import T0, Harness

UTC = UTC


def test_the_worklist_shows_an_unresolved_hold_near_its_last_dose_and_is_audited(api: Harness) -> None:
    e = api.episode(procedure_at="2027-02-10T08:00", holds=[{"drug": "apixaban"}])  # last dose 2027-02-06
    hold = e["holds"][0]
    answer = api.get("/worklist")
    assert answer.status == 200
    mine = [i for i in answer.json["items"] if i["patient_id"] == e["patient_id"]]
    assert [(i["kind"], i["episode_id"], i["subject_id"]) for i in mine] == [("hold_unresolved", e["id"], hold["id"])]
    item = mine[0]
    assert item["action"] == "Request clearance" and item["due_at"].endswith("+00:00")
    assert answer.json["count"] == len(answer.json["items"]) and answer.json["limit"] == 200
    views = [a for a in api.audit_actions(action="worklist.view")]
    assert views and views[-1][4] == api.user_ids["coordinator"]
    # Once the prescriber's answer is recorded, the item goes away.
    api.post(f"/holds/{hold['id']}/clearance", {"status": "approved", "by": "Dr. Ortiz"}, role="clinician")
    again = api.get("/worklist", role="clinician")
    assert not [i for i in again.json["items"] if i["patient_id"] == e["patient_id"]]


def test_the_worklist_limit_is_checked(api: Harness) -> None:
    api.episode(procedure_at="2027-02-09T08:00", holds=[{"drug": "apixaban"}])
    api.episode(procedure_at="2027-02-09T09:00", holds=[{"drug": "rivaroxaban"}])
    assert api.get("/worklist?limit=1").json["count"] == 1
    for bad in ("0", "abc", "501"):
        answer = api.get(f"/worklist?limit={bad}")
        assert answer.status == 422 and set(answer.errors) == {"limit"}


def test_the_follow_up_board_shows_overdue_steps_and_filters(api: Harness) -> None:
    doctor = f"Dr. Board {api.tag}"
    api.clock.set(datetime(2027, 1, 10, 15, 0, tzinfo=UTC))
    late = api.episode(procedure_at="2027-01-20T08:00", proceduralist=doctor)
    soon = api.episode(procedure_at="2027-02-15T08:00", proceduralist=doctor)
    api.clock.set(T0)
    answer = api.get(f"/followups?proceduralist={doctor}")
    assert answer.status == 200
    board = answer.json
    rows = {r["episode_id"]: r for r in board["rows"]}
    assert set(rows) == {late["id"], soon["id"]} and board["total"] == 2 and board["counts"]["all"] == 2
    row = rows[late["id"]]
    assert (row["check_72h"], row["follow_up"]) == ("overdue", "missed")
    assert (
        row["procedure_at"] == "2027-01-20T13:00:00+00:00" and row["procedure_at_local"] == "2027-01-20T08:00:00-05:00"
    )
    assert row["proceduralist"] == doctor and row["mrn"].startswith("A")
    assert rows[soon["id"]]["check_72h"] == "pending"
    overdue = api.get(f"/followups?status=overdue&proceduralist={doctor}").json
    assert [r["episode_id"] for r in overdue["rows"]] == [late["id"]] and overdue["status"] == "overdue"
    page = api.get(f"/followups?proceduralist={doctor}&limit=1&offset=1").json
    assert len(page["rows"]) == 1 and page["total"] == 2 and (page["limit"], page["offset"]) == (1, 1)
    assert [a for a in api.audit_actions(action="followups.view")]


def test_bad_board_filters_are_named(api: Harness) -> None:
    answer = api.get("/followups?status=someday&limit=0&offset=-1")
    assert answer.status == 422 and set(answer.errors) == {"status", "limit", "offset"}
    status = api.get("/followups?status=someday")
    assert status.status == 422 and set(status.errors) == {"status"}
