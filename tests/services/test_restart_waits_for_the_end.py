"""The restart text waits for the recorded procedure end; no step is marked done before it is due (issue 10)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from pathway.models import Message
from pathway.services import episodes as ep
from pathway.services.base import ValidationError
from pathway.services.queries import timeline
from pathway.services.worklist import worklist
from tests.conftest import at

UTC = UTC
# The episodes' procedure: Wed 10 March 2027, 08:00 New York (13:00 UTC), expected to end 14:00 UTC.


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _signed(session: Any, env: Any, staff: Any, make_episode: Any, drug: str, **episode: Any) -> Any:
    e = make_episode(holds=[{"drug": drug}], **episode)
    ep.record_clearance(session, env, staff["clinician"], e.holds[0].id, {"status": "approved", "by": "Dr. Ortiz"})
    return e


def _restarts(session: Any, e: Any) -> list[Message]:
    return list(session.scalars(select(Message).where(Message.episode_id == e.id, Message.kind == "restart")))


def _end_missing(session: Any, env: Any, staff: Any, e: Any) -> list[Any]:
    return [i for i in worklist(session, env, staff["coordinator"])
            if i.kind == "procedure_end_missing" and i.episode_id == e.id]


# --- the restart text waits for the recorded end ---------------------------------------------


def test_no_restart_text_until_the_end_is_recorded_and_the_worklist_says_it_is_held(
    session: Any, env: Any, staff: Any, make_episode: Any
) -> None:
    e = _signed(session, env, staff, make_episode, "apixaban")
    restart = next(m for m in e.milestones if m.kind == "restart")
    assert restart.due_at == _utc("2027-03-11T14:00") and restart.due_estimated  # expected end + 24 h
    assert _restarts(session, e) == []
    # Two hours after the expected end, still no end: the worklist asks for it; re-planning
    # at that moment (a booking, say) plans no restart text from the estimate either.
    late = at(env, _utc("2027-03-10T16:00"))
    ep.book_appointment(session, late, staff["coordinator"], e.id, "follow_up", {"appointment_at": "2027-03-18T10:00"})
    assert _restarts(session, e) == []
    (item,) = _end_missing(session, late, staff, e)
    assert "restart text for each held medicine is held until the procedure's end is recorded" in item.detail
    # The end is recorded: the text is planned from it, and the item clears.
    ep.record_procedure_end(session, late, staff["coordinator"], e.id, {"ended_at": "2027-03-10T10:20"})
    (text,) = _restarts(session, e)
    assert (text.status, text.send_at) == ("scheduled", _utc("2027-03-11T15:20"))  # recorded end + 24 h
    assert restart.due_at == _utc("2027-03-11T15:20") and not restart.due_estimated
    assert _end_missing(session, late, staff, e) == []
    assert _end_missing(session, at(env, _utc("2027-03-11T09:00")), staff, e) == []


def test_an_end_recorded_after_the_restart_moment_sends_the_restart_text_at_once(
    session: Any, env: Any, staff: Any, make_episode: Any
) -> None:
    e = _signed(session, env, staff, make_episode, "warfarin")  # restart 6 h after the end
    recorded = at(env, _utc("2027-03-10T22:00"))  # 17:00 New York; the restart moment was 14:50
    ep.record_procedure_end(session, recorded, staff["clinician"], e.id, {"ended_at": "2027-03-10T08:50"})
    (text,) = _restarts(session, e)
    assert (text.status, text.send_at) == ("scheduled", recorded.now)
    assert "restart" in text.body and "Wed Mar 10" in text.body


def test_an_end_recorded_in_the_evening_sends_the_restart_text_the_next_morning(
    session: Any, env: Any, staff: Any, make_episode: Any
) -> None:
    e = _signed(session, env, staff, make_episode, "warfarin")
    recorded = at(env, _utc("2027-03-11T02:30"))  # 21:30 New York: quiet hours
    ep.record_procedure_end(session, recorded, staff["clinician"], e.id, {"ended_at": "2027-03-10T08:50"})
    (text,) = _restarts(session, e)
    assert text.send_at == _utc("2027-03-11T13:00")  # 08:00 New York


def test_an_end_recorded_more_than_a_day_after_the_restart_moment_plans_no_text_and_asks_for_a_call(
    session: Any, env: Any, staff: Any, make_episode: Any
) -> None:
    e = _signed(session, env, staff, make_episode, "warfarin")
    # The restart moment was Wed 14:50 New York; a day later the dispatcher would drop the text.
    just_in_time = at(env, _utc("2027-03-11T19:49"))
    ep.record_procedure_end(session, just_in_time, staff["clinician"], e.id, {"ended_at": "2027-03-10T08:50"})
    assert [m.send_at for m in _restarts(session, e)] == [just_in_time.now]
    other = _signed(session, env, staff, make_episode, "warfarin")
    too_late = at(env, _utc("2027-03-11T19:50"))
    ep.record_procedure_end(session, too_late, staff["clinician"], other.id, {"ended_at": "2027-03-10T08:50"})
    assert _restarts(session, other) == []
    # No text will go: a person must call. The one texted in time is not on the list.
    items = [i for i in worklist(session, too_late, staff["coordinator"]) if i.kind == "restart_not_texted"]
    assert [(i.episode_id, i.subject_id, i.action) for i in items] == [(other.id, other.holds[0].id, "Call patient")]
    assert "call the patient about restarting" in items[0].detail
    restart = next(m for m in other.milestones if m.kind == "restart")
    ep.complete_milestone(session, too_late, staff["coordinator"], restart.id, {"result": {"note": "called"}})
    assert not any(i.kind == "restart_not_texted" for i in worklist(session, too_late, staff["coordinator"]))


def test_an_end_recorded_across_the_spring_forward_counts_real_hours(
    session: Any, env: Any, staff: Any, make_episode: Any
) -> None:
    # Saturday 13 March 16:30 EST; clocks spring forward that night. Ended 17:30 EST (22:30 UTC),
    # recorded 19:00 EST: the restart is 24 real hours later, Sunday 18:30 EDT.
    e = _signed(session, env, staff, make_episode, "clopidogrel", procedure_at="2027-03-13T16:30")
    recorded = at(env, _utc("2027-03-14T00:00"))
    ep.record_procedure_end(session, recorded, staff["clinician"], e.id, {"ended_at": "2027-03-13T17:30"})
    (text,) = _restarts(session, e)
    assert text.send_at == _utc("2027-03-14T22:30")
    assert "Sun Mar 14" in text.body and "6:30 PM" in text.body


def test_cancelling_after_the_end_is_recorded_cancels_the_restart_text(
    session: Any, env: Any, staff: Any, make_episode: Any
) -> None:
    e = _signed(session, env, staff, make_episode, "apixaban")
    recorded = at(env, _utc("2027-03-10T15:00"))
    ep.record_procedure_end(session, recorded, staff["clinician"], e.id, {"ended_at": "2027-03-10T09:00"})
    ep.cancel_episode(session, recorded, staff["coordinator"], e.id, {"reason": "entered on the wrong patient"})
    assert {m.status for m in _restarts(session, e)} == {"cancelled"}


# --- no step is marked done before it is due -------------------------------------------------


def _step(e: Any, kind: str) -> Any:
    return next(m for m in e.milestones if m.kind == kind)


def _refused(session: Any, env: Any, staff: Any, m: Any) -> str:
    with pytest.raises(ValidationError) as exc:
        ep.complete_milestone(session, env, staff["coordinator"], m.id, {})
    assert set(exc.value.errors) == {"due_at"}
    assert m.status != "done"
    return str(exc.value.errors["due_at"])


def test_the_72_hour_check_is_not_done_before_it_is_due(session: Any, env: Any, staff: Any,
                                                        make_episode: Any) -> None:
    e = make_episode()
    check = _step(e, "check_72h")  # 13 March 08:00 New York (72 h after the start, across no change)
    words = _refused(session, at(env, _utc("2027-03-13T12:59")), staff, check)
    assert "Sat 13 Mar 2027 08:00 EST (patient's time)" in words and "cannot be marked done before then" in words
    ep.complete_milestone(session, at(env, _utc("2027-03-13T13:00")), staff["coordinator"], check.id, {})
    assert check.status == "done"


def test_a_follow_up_visit_is_done_after_its_booked_time_on_the_visit_day(
    session: Any, env: Any, staff: Any, make_episode: Any
) -> None:
    e = make_episode()
    ep.book_appointment(session, env, staff["coordinator"], e.id, "follow_up", {"appointment_at": "2027-03-18T14:00"})
    visit = _step(e, "follow_up")
    # The morning of the visit day, before the 14:00 visit: not yet.
    words = _refused(session, at(env, _utc("2027-03-18T13:00")), staff, visit)
    assert "the visit is booked for Thu 18 Mar 2027 14:00 EDT (patient's time)" in words
    assert "move the booking first" in words
    # That afternoon, once the patient has been seen.
    ep.complete_milestone(session, at(env, _utc("2027-03-18T19:30")), staff["coordinator"], visit.id,
                          {"result": {"note": "walking 30 min"}})
    assert visit.status == "done" and e.appointment("follow_up").status == "done"


def test_an_unbooked_follow_up_or_pt_start_is_not_done_before_its_window_opens(
    session: Any, env: Any, staff: Any, make_episode: Any
) -> None:
    e = make_episode()
    visit, pt = _step(e, "follow_up"), _step(e, "pt_start")
    opens = _utc("2027-03-17T04:00")  # day 7, 00:00 EDT
    for m in (visit, pt):
        assert "this step's window opens Wed 17 Mar 2027 00:00" in _refused(
            session, at(env, _utc("2027-03-17T03:59")), staff, m)
    ep.complete_milestone(session, at(env, opens), staff["clinician"], visit.id, {})
    assert visit.status == "done"


def test_a_pt_start_is_not_done_before_the_booked_start(session: Any, env: Any, staff: Any,
                                                        make_episode: Any) -> None:
    e = make_episode()
    ep.book_appointment(session, env, staff["coordinator"], e.id, "pt_start", {"appointment_at": "2027-03-24T13:00"})
    pt = _step(e, "pt_start")
    assert "physical therapy is booked to start Wed 24 Mar 2027 13:00" in _refused(
        session, at(env, _utc("2027-03-24T16:59")), staff, pt)
    ep.complete_milestone(session, at(env, _utc("2027-03-24T17:00")), staff["coordinator"], pt.id, {})
    assert pt.status == "done"


def test_a_restart_is_not_done_before_its_estimated_or_recorded_moment(
    session: Any, env: Any, staff: Any, make_episode: Any
) -> None:
    e = _signed(session, env, staff, make_episode, "apixaban")
    restart = _step(e, "restart")
    words = _refused(session, at(env, _utc("2027-03-11T13:00")), staff, restart)
    assert "estimated from the expected end" in words and "Thu 11 Mar 2027 09:00" in words
    ep.record_procedure_end(session, at(env, _utc("2027-03-10T16:00")), staff["clinician"], e.id,
                            {"ended_at": "2027-03-10T10:00"})
    words = _refused(session, at(env, _utc("2027-03-11T14:30")), staff, restart)
    assert "this step is due Thu 11 Mar 2027 10:00" in words and "estimated" not in words
    ep.complete_milestone(session, at(env, _utc("2027-03-11T15:00")), staff["coordinator"], restart.id, {})
    assert restart.status == "done"


def test_the_page_offers_mark_done_only_from_the_due_moment(session: Any, env: Any, staff: Any,
                                                           make_episode: Any) -> None:
    e = make_episode()
    ep.book_appointment(session, env, staff["coordinator"], e.id, "follow_up", {"appointment_at": "2027-03-18T14:00"})

    def row(now: datetime) -> Any:
        return next(s for s in timeline(at(env, now), e) if s.milestone.kind == "follow_up")

    before = row(_utc("2027-03-18T17:59"))
    assert not before.completable and before.done_from == _utc("2027-03-18T18:00")
    after = row(_utc("2027-03-18T18:00"))
    assert after.completable and after.done_from is None
