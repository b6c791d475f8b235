"""The read side: the episode's timeline (overdue, phase, what may be marked done), who may sign,
and the audit of every view of a patient's record or of a list of patients."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from pathway.models import AuditEvent
from pathway.services import episodes as ep
from pathway.services import queries
from pathway.services.worklist import PERSON_OWNED_GRACE
from tests.conftest import at


def _audits(session: Any, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def _step(steps: list[queries.TimelineStep], kind: str) -> queries.TimelineStep:
    return next(s for s in steps if s.milestone.kind == kind)


def test_a_person_owned_step_is_overdue_only_once_its_grace_after_the_deadline_has_passed(
    env: Any, make_episode: Any
) -> None:
    e = make_episode()
    check = _step(queries.timeline(env, e), "check_72h").milestone
    assert check.deadline is not None
    late = check.deadline + PERSON_OWNED_GRACE["check_72h"]
    # Its time has come, within the grace a person has to do it: due (never "planned" once past).
    assert _step(queries.timeline(at(env, late - timedelta(hours=1)), e), "check_72h").status == "due"
    assert _step(queries.timeline(at(env, late + timedelta(hours=1)), e), "check_72h").status == "overdue"


def test_a_reminder_to_the_patient_is_never_shown_overdue(env: Any, make_episode: Any) -> None:
    e = make_episode()
    reminder = _step(queries.timeline(env, e), "pre_procedure").milestone
    assert reminder.deadline is not None
    assert _step(queries.timeline(at(env, reminder.deadline + timedelta(days=3)), e), "pre_procedure").status \
        != "overdue"


def test_the_timeline_is_in_time_order_with_each_holds_drug_in_its_label(env: Any, make_episode: Any) -> None:
    e = make_episode(holds=[{"drug": "warfarin"}])
    steps = queries.timeline(env, e)
    assert [s.when for s in steps] == sorted(s.when for s in steps)
    assert any(s.milestone.kind == "hold_clearance" and s.label.endswith(": warfarin") for s in steps)
    assert "past" not in {s.phase for s in steps}  # the procedure is five weeks ahead
    assert _step(steps, "procedure").phase == "upcoming"


def test_only_steps_a_person_completes_may_be_marked_done_and_none_once_cancelled(
    session: Any, env: Any, staff: Any, make_episode: Any
) -> None:
    e = make_episode(holds=[{"drug": "warfarin"}])
    # Weeks ahead, nothing has happened: no step may be marked done yet, and each says from when.
    early = queries.timeline(env, e)
    assert not any(s.completable for s in early)
    assert {s.milestone.kind for s in early if s.done_from is not None} == set(queries.COMPLETABLE)
    # Day 8 after the procedure (its follow-up window open): each step a person completes.
    later = at(env, datetime(2027, 3, 18, 15, tzinfo=UTC))
    offered = {s.milestone.kind for s in queries.timeline(later, e) if s.completable}
    assert offered == set(queries.COMPLETABLE) & {s.milestone.kind for s in queries.timeline(later, e)}
    assert "procedure" not in offered and "hold_clearance" not in offered
    ep.cancel_episode(session, env, staff["coordinator"], e.id, {"reason": "patient asked"})
    assert not any(s.completable or s.done_from for s in queries.timeline(later, e))


def test_only_a_clinician_viewing_the_episode_may_sign_holds(session: Any, env: Any, staff: Any,
                                                              make_episode: Any) -> None:
    e = make_episode()
    assert queries.episode_record(session, env, staff["clinician"], e.id).may_sign_holds
    assert not queries.episode_record(session, env, staff["coordinator"], e.id).may_sign_holds


def test_an_episode_is_open_and_reschedulable_until_cancelled_and_ready_when_every_item_is_confirmed(
    session: Any, env: Any, staff: Any, make_episode: Any
) -> None:
    e = make_episode()
    record = queries.episode_record(session, env, staff["coordinator"], e.id)
    assert record.open and record.reschedulable and not all(c.ok for c in record.checklist)  # no escort yet
    ep.set_escort(session, env, staff["coordinator"], e.id, True)
    ep.cancel_episode(session, env, staff["coordinator"], e.id, {"reason": "patient asked"})
    record = queries.episode_record(session, env, staff["coordinator"], e.id)
    assert not record.open and not record.reschedulable and all(c.ok for c in record.checklist)


def test_every_read_of_an_episode_record_is_audited_and_a_form_load_is_not(
    session: Any, env: Any, staff: Any, make_episode: Any
) -> None:
    e = make_episode()
    queries.load_episode(session, staff["coordinator"], e.id)
    assert _audits(session, "episode.view") == []
    for _ in range(2):
        queries.episode_record(session, env, staff["coordinator"], e.id)
    rows = _audits(session, "episode.view")
    assert [(r.entity_id, r.patient_id, r.user_id) for r in rows] == [(e.id, e.patient_id,
                                                                        staff["coordinator"].user_id)] * 2


def test_the_outbox_view_is_audited_with_the_patients_it_shows_and_carries_their_history(
    session: Any, env: Any, staff: Any, make_patient: Any
) -> None:
    patients = [make_patient() for _ in range(3)]
    session.flush()
    page = queries.outbox(session, env, staff["coordinator"], status="scheduled", limit=2)
    (row,) = _audits(session, "outbox.view")
    assert row.detail == {"patient_ids": sorted({p.id for _, p in page.rows})}
    assert len(page.rows) == 2 and page.has_next and {p.id for _, p in page.rows} <= {p.id for p in patients}
    assert set(page.history) <= {m.id for m, _ in page.rows}
