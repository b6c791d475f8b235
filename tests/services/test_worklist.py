"""The worklist: each source, ordering, dedupe, cancelled episodes left out, roles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pathway.models import Message, Reply, Task
from pathway.services import episodes as ep
from pathway.services.base import Forbidden, ValidationError
from pathway.services.patients import opt_out
from pathway.services.tasks import open_task
from pathway.services.worklist import PRIORITY, worklist
from tests.conftest import T0, at

UTC = UTC


def _kinds(items: list[Any]) -> list[str]:
    return [i.kind for i in items]


def _red_flag(session: Any, env: Any, episode: Any) -> Task:
    reply = Reply(patient_id=episode.patient_id, episode_id=episode.id, from_number="+12125550001",
                  body="bleeding from the wound", received_at=env.now, classification="red_flag")
    session.add(reply)
    session.flush()
    task = Task(kind="red_flag", subject=f"reply:{reply.id}", priority=0, patient_id=episode.patient_id,
                episode_id=episode.id, reply_id=reply.id, summary="Red flag: call today", created_at=env.now)
    session.add(task)
    session.flush()
    return task


def test_an_empty_clinic_has_an_empty_worklist(session: Any, env: Any, staff: Any) -> None:
    assert worklist(session, env, staff["coordinator"]) == []


def test_admins_may_not_see_the_worklist(session: Any, env: Any, staff: Any) -> None:
    with pytest.raises(Forbidden):
        worklist(session, env, staff["admin"])


def test_an_unresolved_hold_is_on_the_worklist_from_the_day_the_episode_is_created(
    session: Any, env: Any, staff: Any, make_episode: Any
) -> None:
    # Issue 10 replaced "a week before the last dose" with "from the day the episode is created".
    e = make_episode(holds=[{"drug": "clopidogrel"}])  # last dose Tue 2 March
    assert [i.subject_id for i in worklist(session, env, staff["coordinator"])] == [e.holds[0].id]
    (item,) = worklist(session, at(env, datetime(2027, 2, 23, 15, tzinfo=UTC)), staff["coordinator"])
    assert (item.kind, item.episode_id, item.subject_id, item.action) == (
        "hold_unresolved", e.id, e.holds[0].id, "Request clearance")
    assert item.patient_name == e.patient.display_name and item.mrn == e.patient.mrn
    ep.record_clearance(session, env, staff["coordinator"], e.holds[0].id, {"status": "requested"})
    (item,) = worklist(session, at(env, datetime(2027, 2, 23, 15, tzinfo=UTC)), staff["coordinator"])
    assert item.title == "Hold awaiting prescriber"
    ep.record_clearance(session, env, staff["clinician"], e.holds[0].id, {"status": "approved", "by": "Dr. O"})
    assert worklist(session, at(env, datetime(2027, 2, 23, 15, tzinfo=UTC)), staff["coordinator"]) == []


def test_an_unresolved_holds_last_dose_reads_as_the_pages_write_dates(
    session: Any, env: Any, staff: Any, make_episode: Any
) -> None:
    make_episode(holds=[{"drug": "clopidogrel"}])  # last dose Tue 2 March
    (item,) = worklist(session, env, staff["coordinator"])
    assert "last dose Tue 2 Mar 2027" in item.detail and "2027-03-02" not in item.detail


def test_a_drug_without_a_default_is_on_the_worklist_from_the_day_the_episode_is_created(
    session: Any, env: Any, staff: Any, make_episode: Any
) -> None:
    make_episode(holds=[{"drug": "aspirin-secondary"}])  # procedure Wed 10 March
    (item,) = worklist(session, env, staff["clinician"])
    assert item.kind == "hold_unresolved" and "no default" in item.detail
    (item,) = worklist(session, at(env, datetime(2027, 3, 3, 15, tzinfo=UTC)), staff["clinician"])
    assert item.kind == "hold_unresolved" and "no default" in item.detail


def test_failed_and_unknown_texts_appear_unless_a_task_covers_them(session: Any, env: Any, staff: Any,
                                                                    make_patient: Any) -> None:
    p = make_patient()
    enrolment = session.query(Message).filter_by(patient_id=p.id).one()
    enrolment.status, enrolment.error_code = "failed", 30003
    second = Message(patient_id=p.id, kind="reply", language="en", body="x", plan_key="reply:1", send_at=T0,
                     status="unknown", created_at=T0, updated_at=T0)
    session.add(second)
    session.flush()
    items = worklist(session, env, staff["coordinator"])
    assert sorted((i.kind, i.subject_id) for i in items) == sorted(
        [("text_failed", enrolment.id), ("text_unknown", second.id)])
    open_task(session, env, "send_failed", f"message:{enrolment.id}", "Text failed: call the patient",
              patient_id=p.id, message_id=enrolment.id)
    session.flush()
    items = worklist(session, env, staff["coordinator"])
    failed = [i for i in items if i.kind == "text_failed"]
    assert len(failed) == 1 and failed[0].task_id is not None and failed[0].subject_id == enrolment.id
    # A week later the text without a task has aged out; the task stays until resolved.
    later = worklist(session, at(env, T0 + timedelta(days=8)), staff["coordinator"])
    assert _kinds(later) == ["text_failed"]


def test_a_follow_up_not_booked_by_day_5_appears_and_booking_clears_it(session: Any, env: Any, staff: Any,
                                                                        make_episode: Any) -> None:
    e = make_episode(procedure_at="2027-02-03T08:00")
    ep.record_procedure_end(session, at(env, datetime(2027, 2, 3, 15, tzinfo=UTC)), staff["clinician"], e.id,
                            {"ended_at": "2027-02-03T08:50"})
    day4 = at(env, datetime(2027, 2, 7, 15, tzinfo=UTC))
    assert "follow_up_unbooked" not in _kinds(worklist(session, day4, staff["coordinator"]))
    day5 = at(env, datetime(2027, 2, 8, 15, tzinfo=UTC))
    items = [i for i in worklist(session, day5, staff["coordinator"]) if i.kind == "follow_up_unbooked"]
    assert [(i.episode_id, i.action) for i in items] == [(e.id, "Book follow-up")]
    ep.book_appointment(session, day5, staff["coordinator"], e.id, "follow_up", {"appointment_at": "2027-02-11T10:00"})
    assert "follow_up_unbooked" not in _kinds(worklist(session, day5, staff["coordinator"]))


def test_overdue_person_owned_milestones_appear_with_their_rule(session: Any, env: Any, staff: Any,
                                                                 make_episode: Any) -> None:
    e = make_episode(procedure_at="2027-02-03T08:00")
    # The procedure's end is not recorded by the evening: overdue after 12 h grace.
    items = worklist(session, at(env, datetime(2027, 2, 3, 20, tzinfo=UTC)), staff["clinician"])
    assert items == []
    items = worklist(session, at(env, datetime(2027, 2, 4, 2, tzinfo=UTC)), staff["clinician"])
    assert [(i.kind, i.title) for i in items] == [("milestone_overdue", "Procedure end not recorded")]
    # Day 4 after: the 72-hour check (due 6 Feb 13:00 + 24 h grace) is overdue too.
    items = worklist(session, at(env, datetime(2027, 2, 7, 14, tzinfo=UTC)), staff["clinician"])
    titles = [i.title for i in items]
    assert "72-hour check not done" in titles
    check = next(i for i in items if i.title == "72-hour check not done")
    assert "72 h after the procedure start" in check.detail
    # Done milestones leave the list.
    m = next(m for m in e.milestones if m.kind == "check_72h")
    ep.complete_milestone(session, at(env, datetime(2027, 2, 7, 14, tzinfo=UTC)), staff["clinician"], m.id, {})
    items = worklist(session, at(env, datetime(2027, 2, 7, 14, tzinfo=UTC)), staff["clinician"])
    assert "72-hour check not done" not in [i.title for i in items]


def test_a_patient_who_opted_out_during_an_episode_appears_once(session: Any, env: Any, staff: Any,
                                                                 make_episode: Any, make_patient: Any) -> None:
    p = make_patient()
    make_episode(p)
    make_episode(p, procedure_at="2027-04-10T08:00")
    idle = make_patient()
    opt_out(session, env, staff["coordinator"], p, "STOP reply")
    opt_out(session, env, staff["coordinator"], idle, "STOP reply")  # no episode: nothing to do
    items = worklist(session, env, staff["coordinator"])
    assert [(i.kind, i.patient_id) for i in items] == [("opted_out", p.id)]
    # A stop-request task about the same patient replaces the derived item.
    open_task(session, env, "stop_request", f"patient:{p.id}", "asked to stop", patient_id=p.id)
    session.flush()
    items = worklist(session, env, staff["coordinator"])
    assert [(i.kind, i.task_id is not None) for i in items] == [("opted_out", True)]


def test_red_flags_come_first_then_by_priority_and_time(session: Any, env: Any, staff: Any,
                                                         make_episode: Any) -> None:
    late = at(env, datetime(2027, 3, 5, 15, tzinfo=UTC))
    a = make_episode(procedure_at="2027-03-04T08:00", holds=[{"drug": "aspirin-secondary"}])
    b = make_episode(holds=[{"drug": "clopidogrel"}])
    open_task(session, late, "reply", "reply:9", "Patient replied", patient_id=b.patient_id, episode_id=b.id)
    _red_flag(session, late, b)
    items = worklist(session, late, staff["coordinator"])
    assert items[0].kind == "red_flag" and items[0].priority == 0 and items[0].action == "Call patient today"
    priorities = [i.priority for i in items]
    assert priorities == sorted(priorities)
    holds = [i for i in items if i.kind == "hold_unresolved"]
    assert [i.episode_id for i in holds] == [b.id, a.id]  # last dose 2 March before procedure 4 March
    assert items[-1].kind in ("milestone_overdue", "task")
    assert len(worklist(session, late, staff["coordinator"], limit=2)) == 2


def test_cancelled_episodes_are_left_out_but_a_red_flag_is_not(session: Any, env: Any, staff: Any,
                                                               make_episode: Any) -> None:
    e = make_episode(procedure_at="2027-02-03T08:00", holds=[{"drug": "aspirin-secondary"}])
    later = at(env, datetime(2027, 2, 9, 15, tzinfo=UTC))
    open_task(session, env, "send_failed", "message:77", "Text failed", patient_id=e.patient_id, episode_id=e.id)
    assert len(worklist(session, later, staff["coordinator"])) >= 3
    ep.cancel_episode(session, env, staff["coordinator"], e.id, {"reason": "moved away"})
    assert worklist(session, later, staff["coordinator"]) == []
    _red_flag(session, later, e)
    assert _kinds(worklist(session, later, staff["coordinator"])) == ["red_flag"]


def test_resolving_a_task_keeps_a_trimmed_note_of_at_most_500_characters_or_says_done(
    session: Any, env: Any, staff: Any, make_episode: Any
) -> None:
    from pathway.services.tasks import resolve_task

    e = make_episode()
    long = open_task(session, env, "send_failed", "message:a", "Text failed", patient_id=e.patient_id)
    blank = open_task(session, env, "send_failed", "message:b", "Text failed", patient_id=e.patient_id)
    session.flush()
    assert resolve_task(session, env, staff["coordinator"], long.id, "  " + "x" * 600).resolution == "x" * 500
    assert resolve_task(session, env, staff["coordinator"], blank.id, "   ").resolution == "done"
    assert {i.task_id for i in worklist(session, env, staff["coordinator"])}.isdisjoint({long.id, blank.id})


def test_an_unresolved_holds_priority_rises_as_its_last_dose_nears(session: Any, env: Any, staff: Any,
                                                                    make_episode: Any) -> None:
    e = make_episode(holds=[{"drug": "clopidogrel"}])  # last dose Tue 2 March; created Mon 1 Feb
    d = env.rules.definition

    def item_on(day: int, month: int = 2) -> Any:
        (item,) = [i for i in worklist(session, at(env, datetime(2027, month, day, 15, tzinfo=UTC)),
                                       staff["coordinator"]) if i.kind == "hold_unresolved"]
        return item

    normal, high, urgent = item_on(1), item_on(16), item_on(27)
    assert (d.hold_high_days, d.hold_urgent_days) == (14, 3)
    assert normal.priority == PRIORITY["hold_unresolved_normal"]  # 29 days before
    assert high.priority == PRIORITY["hold_unresolved"] and high.detail.endswith("; high priority")  # 14 days before
    assert urgent.priority == PRIORITY["hold_unresolved_urgent"]
    assert urgent.detail.endswith("; urgent priority")  # 3 days before
    assert item_on(15).priority == PRIORITY["hold_unresolved_normal"]  # 15 days before
    assert item_on(28).priority == PRIORITY["hold_unresolved_urgent"] == item_on(3, 3).priority  # past
    assert PRIORITY["red_flag"] < PRIORITY["hold_unresolved_urgent"] < PRIORITY["hold_unresolved"]
    assert PRIORITY["hold_unresolved_normal"] > max(v for k, v in PRIORITY.items() if k != "hold_unresolved_normal")
    ep.record_clearance(session, env, staff["clinician"], e.holds[0].id, {"status": "approved", "by": "Dr. O"})
    assert not [i for i in worklist(session, env, staff["coordinator"]) if i.kind == "hold_unresolved"]


def test_a_change_the_patient_could_not_be_told_in_time_is_its_own_call_even_once_cancelled(
    session: Any, env: Any, staff: Any, make_episode: Any
) -> None:
    """Mon 1 Feb 21:30 in New York (quiet hours until 08:00): one procedure moved to 07:00, another
    at 07:00 cancelled; neither text could reach the patient before the procedure ends, so each is
    a call, named for what happened, right under the red flags, with the call to record."""
    from pathway.services.tasks import PRIORITY as TASK_PRIORITY
    from pathway.services.tasks import resolve_task

    moved = make_episode()
    dropped = make_episode(procedure_at="2027-02-02T07:00")
    evening = at(env, datetime(2027, 2, 2, 2, 30, tzinfo=UTC))
    ep.reschedule(session, evening, staff["coordinator"], moved.id, {"procedure_at": "2027-02-02T07:00"})
    ep.cancel_episode(session, evening, staff["coordinator"], dropped.id, {"reason": "patient unwell"})
    session.flush()
    items = {i.episode_id: i for i in worklist(session, evening, staff["coordinator"]) if i.kind == "notice_too_late"}
    assert set(items) == {moved.id, dropped.id}, _kinds(worklist(session, evening, staff["coordinator"]))
    assert items[moved.id].title == "Call: the patient was not told the procedure moved before it ended"
    assert items[dropped.id].title == "Call: the patient was not told the procedure was cancelled before it ended"
    for item in items.values():
        assert item.action == "Call patient today" and item.priority == TASK_PRIORITY["notice_too_late"] < 12
        assert "Call the patient" in item.detail and item.task_id is not None
    with pytest.raises(ValidationError, match="record the call"):
        resolve_task(session, evening, staff["coordinator"], items[moved.id].task_id, "  ")
    resolve_task(session, evening, staff["coordinator"], items[moved.id].task_id, "reached her, told her 07:00")
    assert [i.episode_id for i in worklist(session, evening, staff["coordinator"])
            if i.kind == "notice_too_late"] == [dropped.id]
