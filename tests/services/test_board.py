"""The follow-up board: each part's state over time, filters, counts, paging, cancelled left out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from pathway.models import Reply, Task
from pathway.services import episodes as ep
from pathway.services.base import Forbidden, ValidationError
from pathway.services.board import followup_board, proceduralists
from tests.conftest import at

UTC = UTC


def _when(day: int, hour: int = 15, month: int = 2) -> datetime:
    return datetime(2027, month, day, hour, tzinfo=UTC)


def _row(session: Any, env: Any, staff: Any, episode: Any) -> Any:
    board = followup_board(session, env, staff["clinician"])
    (row,) = [r for r in board.rows if r.episode_id == episode.id]
    return row


@pytest.fixture
def done_procedure(session: Any, env: Any, staff: Any, make_episode: Any) -> Any:
    e = make_episode(procedure_at="2027-02-03T08:00")  # Wednesday 3 Feb, 13:00 UTC
    ep.record_procedure_end(session, at(env, _when(3, 15)), staff["clinician"], e.id, {"ended_at": "2027-02-03T08:50"})
    return e


def test_admins_may_not_see_the_board(session: Any, env: Any, staff: Any) -> None:
    with pytest.raises(Forbidden):
        followup_board(session, env, staff["admin"])


def test_an_upcoming_episode_is_pending_unbooked_and_not_due(session: Any, env: Any, staff: Any,
                                                              make_episode: Any) -> None:
    e = make_episode(procedure_at="2027-02-20T08:00")
    row = _row(session, env, staff, e)
    assert (row.check_72h, row.follow_up, row.pt, row.red_flag) == ("pending", "unbooked", "not_due", False)
    assert (row.patient_name, row.mrn, row.proceduralist) == (e.patient.display_name, e.patient.mrn, "Dr. Lee")
    assert row.procedure_at == e.procedure_at and row.patient_timezone == "America/New_York"


def test_the_72_hour_check_goes_pending_due_overdue_done(
    session: Any, env: Any, staff: Any, done_procedure: Any
) -> None:
    e = done_procedure
    assert _row(session, at(env, _when(6, 12)), staff, e).check_72h == "pending"  # due 6 Feb 13:00
    assert _row(session, at(env, _when(6, 14)), staff, e).check_72h == "due"
    assert _row(session, at(env, _when(7, 14)), staff, e).check_72h == "overdue"
    m = next(m for m in e.milestones if m.kind == "check_72h")
    ep.complete_milestone(session, at(env, _when(7, 14)), staff["clinician"], m.id, {})
    assert _row(session, at(env, _when(7, 14)), staff, e).check_72h == "done"


def test_the_follow_up_visit_states(session: Any, env: Any, staff: Any, done_procedure: Any,
                                    make_episode: Any) -> None:
    e = done_procedure
    assert _row(session, at(env, _when(7)), staff, e).follow_up == "unbooked"  # day 4
    assert _row(session, at(env, _when(8)), staff, e).follow_up == "overdue"  # day 5, not booked
    ep.book_appointment(session, env, staff["coordinator"], e.id, "follow_up", {"appointment_at": "2027-02-11T10:00"})
    row = _row(session, at(env, _when(8)), staff, e)
    assert row.follow_up == "booked_in_window" and row.follow_up_at == datetime(2027, 2, 11, 15, tzinfo=UTC)
    ep.book_appointment(session, env, staff["coordinator"], e.id, "follow_up", {"appointment_at": "2027-02-16T10:00",
                                                                               "confirm_outside_window": True})
    assert _row(session, at(env, _when(8)), staff, e).follow_up == "booked_out_of_window"
    # The visit's time passed and nobody recorded it.
    assert _row(session, at(env, _when(16, 18)), staff, e).follow_up == "overdue"
    m = next(m for m in e.milestones if m.kind == "follow_up")
    ep.complete_milestone(session, at(env, _when(16, 18)), staff["clinician"], m.id, {})
    assert _row(session, at(env, _when(16, 18)), staff, e).follow_up == "done"

    other = make_episode(procedure_at="2027-02-03T09:00")
    assert _row(session, at(env, _when(15)), staff, other).follow_up == "missed"  # window ended 14 Feb


def test_pt_start_states(session: Any, env: Any, staff: Any, done_procedure: Any) -> None:
    e = done_procedure
    assert _row(session, at(env, _when(8)), staff, e).pt == "not_due"
    assert _row(session, at(env, _when(10, 12)), staff, e).pt == "unbooked"  # window opens day 7
    ep.book_appointment(session, env, staff["coordinator"], e.id, "pt_start", {"appointment_at": "2027-02-15T10:00"})
    row = _row(session, at(env, _when(12)), staff, e)
    assert row.pt == "booked" and row.pt_at == datetime(2027, 2, 15, 15, tzinfo=UTC)
    m = next(m for m in e.milestones if m.kind == "pt_start")
    ep.complete_milestone(session, at(env, _when(15, 16)), staff["clinician"], m.id, {})  # after the 10:00 start
    assert _row(session, at(env, _when(16)), staff, e).pt == "done"


def test_pt_overdue_when_its_window_closes(session: Any, env: Any, staff: Any, done_procedure: Any) -> None:
    assert _row(session, at(env, _when(25)), staff, done_procedure).pt == "overdue"  # opened 10 Feb + 14 days


def test_a_red_flag_puts_the_row_first(session: Any, env: Any, staff: Any, make_episode: Any) -> None:
    a = make_episode(procedure_at="2027-02-03T08:00")
    b = make_episode(procedure_at="2027-02-04T08:00")
    reply = Reply(patient_id=b.patient_id, episode_id=b.id, from_number="+1", body="fever", received_at=env.now,
                  classification="red_flag")
    session.add(reply)
    session.flush()
    session.add(Task(kind="red_flag", subject=f"reply:{reply.id}", priority=0, patient_id=b.patient_id,
                     episode_id=b.id, reply_id=reply.id, summary="call", created_at=env.now))
    session.flush()
    board = followup_board(session, at(env, _when(8)), staff["clinician"])
    assert [r.episode_id for r in board.rows] == [b.id, a.id]
    assert board.rows[0].red_flag and board.counts["red_flag"] == 1
    assert [r.episode_id for r in followup_board(session, at(env, _when(8)), staff["clinician"],
                                                 status="red_flag").rows] == [b.id]


def test_filters_counts_and_paging(session: Any, env: Any, staff: Any, make_episode: Any) -> None:
    now = at(env, _when(9))
    overdue = make_episode(procedure_at="2027-02-02T08:00", proceduralist="Dr. Shah")  # day 7, not booked
    in_window = make_episode(procedure_at="2027-02-01T11:00", proceduralist="Dr. Lee")
    ep.book_appointment(session, env, staff["coordinator"], in_window.id, "follow_up",
                        {"appointment_at": "2027-02-09T14:00"})
    upcoming = make_episode(procedure_at="2027-02-20T08:00", proceduralist="Dr. Lee")
    cancelled = make_episode(procedure_at="2027-02-21T08:00", proceduralist="Dr. Lee")
    ep.cancel_episode(session, env, staff["coordinator"], cancelled.id, {"reason": "patient asked"})
    make_episode(procedure_at="2027-05-20T08:00")  # beyond the look-ahead

    board = followup_board(session, now, staff["clinician"])
    ids = {r.episode_id for r in board.rows}
    assert ids == {overdue.id, in_window.id, upcoming.id} and board.total == 3
    assert board.counts["all"] == 3 and board.counts["in_window"] == 1 and board.counts["unbooked"] == 1
    assert board.counts["overdue"] == 2  # the unbooked visit past day 5, and the other's 72-hour check
    assert {r.episode_id for r in followup_board(session, now, staff["clinician"], status="overdue").rows} == {
        overdue.id, in_window.id}
    assert [r.episode_id for r in followup_board(session, now, staff["clinician"], status="in_window").rows] == [
        in_window.id]
    assert [r.episode_id for r in followup_board(session, now, staff["clinician"], status="unbooked").rows] == [
        upcoming.id]
    by_lee = followup_board(session, now, staff["clinician"], proceduralist="Dr. Lee")
    assert {r.episode_id for r in by_lee.rows} == {in_window.id, upcoming.id} and by_lee.counts["all"] == 2
    page1 = followup_board(session, now, staff["clinician"], limit=2, offset=0)
    page2 = followup_board(session, now, staff["clinician"], limit=2, offset=2)
    assert len(page1.rows) == 2 and len(page2.rows) == 1 and page1.total == 3
    assert [r.episode_id for r in page1.rows + page2.rows] == [in_window.id, overdue.id, upcoming.id]
    assert proceduralists(session, now, staff["clinician"]) == ["Dr. Lee", "Dr. Shah"]


def test_the_board_carries_every_proceduralist_as_the_filters_choices_whatever_the_filter(
    session: Any, env: Any, staff: Any, make_episode: Any
) -> None:
    make_episode(procedure_at="2027-02-03T08:00", proceduralist="Dr. Shah")
    make_episode(procedure_at="2027-02-04T08:00", proceduralist="Dr. Lee")
    board = followup_board(session, env, staff["clinician"], proceduralist="Dr. Lee", status="done")
    assert board.rows == [] and board.proceduralists == ["Dr. Lee", "Dr. Shah"]


def test_an_unknown_status_filter_is_refused(session: Any, env: Any, staff: Any) -> None:
    with pytest.raises(ValidationError):
        followup_board(session, env, staff["clinician"], status="nonsense")


def test_a_proceduralist_spelt_in_other_capitals_is_one_choice_and_one_filter(
    session: Any, env: Any, staff: Any, make_episode: Any
) -> None:
    lee = make_episode(procedure_at="2027-02-03T08:00", proceduralist="Dr. Lee")
    lower = make_episode(procedure_at="2027-02-04T08:00", proceduralist="dr. lee")
    make_episode(procedure_at="2027-02-05T08:00", proceduralist="Dr. Shah")
    assert proceduralists(session, env, staff["clinician"]) == ["Dr. Lee", "Dr. Shah"]
    by_lee = followup_board(session, env, staff["clinician"], proceduralist="Dr. Lee")
    assert {r.episode_id for r in by_lee.rows} == {lee.id, lower.id} and by_lee.counts["all"] == 2


def test_each_status_filter_is_offered_once_and_its_other_name_filters_the_same() -> None:
    from pathway.services.board import FILTER_ALIASES, FILTER_CHOICES, STATUS_FILTERS

    assert len(FILTER_CHOICES) == len(set(FILTER_CHOICES))
    assert "booked_in_window" not in FILTER_CHOICES and "in_window" in FILTER_CHOICES
    assert set(FILTER_CHOICES) | set(FILTER_ALIASES) == set(STATUS_FILTERS)


def test_booked_in_window_and_in_window_filter_the_same_episodes(
    session: Any, env: Any, staff: Any, make_episode: Any
) -> None:
    now = at(env, _when(9))
    booked = make_episode(procedure_at="2027-02-01T11:00")
    ep.book_appointment(session, env, staff["coordinator"], booked.id, "follow_up",
                        {"appointment_at": "2027-02-09T14:00"})
    make_episode(procedure_at="2027-02-02T08:00")
    one = followup_board(session, now, staff["clinician"], status="in_window")
    other = followup_board(session, now, staff["clinician"], status="booked_in_window")
    assert [r.episode_id for r in one.rows] == [r.episode_id for r in other.rows] == [booked.id]
