"""The outcomes report's row per episode (``report_episodes``) always says what the source tables
say. Each check recounts every row here in Python, from the ORM objects, independently of the SQL
that keeps the rows: after each step of a realistic episode life through the real services (holds
signed and removed, a stop answer, reschedules, an edit of the proceduralist and facility, outcome
values recorded and replaced, visits booked and completed, a cancellation), after rows added
directly, after the set-based refresh and after the migration's backfill."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text

from pathway.migrate import revision_module
from pathway.models import (
    Appointment,
    Episode,
    MedicationHold,
    Milestone,
    Observation,
    ReportEpisode,
)
from pathway.models.report import (
    REPORT_CODES,
    VALUE_COLUMNS,
    _refresh_sql,
    refresh_report_rows,
    value_column,
    write_pending,
)
from pathway.services import episodes as ep
from pathway.services.observations import add_observation
from pathway.timeline.vocabulary import TIME_POINTS, ObservationSource

FACTS = ("procedure_at", "proceduralist", "facility", "status", *VALUE_COLUMNS, "holds_signed", "holds_stopped",
         "postponed_for_hold", "follow_up_window_end", "follow_up_in_window", "pt_started_at", "nprs_72h_first_at")


def recount(session: Any, episode_ids: set[int]) -> dict[int, dict[str, Any]]:
    """Each episode's row, computed here from the source rows."""
    session.expire_all()
    out: dict[int, dict[str, Any]] = {}
    for e in session.scalars(select(Episode).where(Episode.id.in_(episode_ids))):
        obs = list(session.scalars(select(Observation).where(Observation.episode_id == e.id)))
        holds = list(session.scalars(select(MedicationHold).where(MedicationHold.episode_id == e.id)))
        steps = list(session.scalars(select(Milestone).where(Milestone.episode_id == e.id)))
        visits = list(session.scalars(select(Appointment).where(Appointment.episode_id == e.id)))
        row: dict[str, Any] = {"procedure_at": e.procedure_at, "proceduralist": e.proceduralist,
                               "facility": e.facility, "status": e.status}
        for code in REPORT_CODES:
            for tp in TIME_POINTS:
                current = [o for o in obs if o.code == code and o.time_point == tp and o.superseded_at is None]
                latest = max(current, key=lambda o: o.id, default=None)
                row[value_column(code, tp)] = None if latest is None else int(latest.value * 100)
        signed = [h for h in holds if h.removed_at is None and h.signed_at is not None and h.clearance == "approved"]
        row["holds_signed"] = len(signed)
        row["holds_stopped"] = sum(1 for h in signed if any(
            o.code == "stopped_medicine" and o.value == 1 and o.superseded_at is None
            and o.hold_id in (h.id, None) and o.received_at <= e.procedure_at for o in obs))
        row["postponed_for_hold"] = int(e.moved_at is not None and any(
            o.code == "stopped_medicine" and o.value == 0 and o.received_at < e.moved_at for o in obs))
        follow_up = [m for m in steps if m.kind == "follow_up" and m.ref == "" and m.status != "cancelled"]
        row["follow_up_window_end"] = min((m.window_end for m in follow_up if m.window_end), default=None)
        row["follow_up_in_window"] = int(any(
            any(a.kind == "follow_up" and a.status == "done" and m.window_start <= a.appointment_at < m.window_end
                for a in visits)
            or (m.status == "done" and m.completed_at is not None and m.window_start <= m.completed_at < m.window_end)
            for m in follow_up))
        starts = [a.appointment_at for a in visits if a.kind == "pt_start" and a.status == "done"]
        starts += [m.completed_at for m in steps if m.kind == "pt_start" and m.status == "done" and m.completed_at]
        row["pt_started_at"] = min(starts, default=None)
        row["nprs_72h_first_at"] = min((o.received_at for o in obs if o.code == "nprs" and o.time_point == "72h"),
                                       default=None)
        out[e.id] = row
    return out


def kept(session: Any, episode_ids: set[int]) -> dict[int, dict[str, Any]]:
    """The rows as the commit leaves them (the test's transaction is never committed)."""
    session.flush()
    write_pending(session)
    session.expire_all()
    rows = session.scalars(select(ReportEpisode).where(ReportEpisode.episode_id.in_(episode_ids)))
    return {r.episode_id: {f: getattr(r, f) for f in FACTS} for r in rows}


def test_a_whole_episode_life_through_the_services_keeps_every_row_equal_to_a_recount(
        session: Any, env: Any, staff: Any, make_episode: Any) -> None:
    coordinator, clinician = staff["coordinator"], staff["clinician"]
    a = make_episode(holds=[{"drug": "clopidogrel"}, {"drug": "apixaban"}])
    b = make_episode(procedure_at="2027-03-11T09:00")
    c = make_episode(holds=[{"drug": "clopidogrel"}])
    ids = {a.id, b.id, c.id}

    def check() -> None:
        got, want = kept(session, ids), recount(session, ids)
        assert {i: {k: v for k, v in r.items() if want[i][k] != v} for i, r in got.items()} == {i: {} for i in ids}
        assert got == want

    check()  # new episodes: a row each, no values
    for hold in a.holds:
        ep.record_clearance(session, env, clinician, hold.id, {"status": "approved", "by": "Dr. Ortiz"})
    check()
    assert kept(session, {a.id})[a.id]["holds_signed"] == 2
    # A baseline and a "not stopped" answer, then the procedure moves (postponed for the hold).
    add_observation(session, env, a, "nprs", Decimal(7), time_point="baseline", received_at=env.now,
                    source=ObservationSource.SMS)
    add_observation(session, env, a, "stopped_medicine", Decimal(0), time_point=None, received_at=env.now,
                    source=ObservationSource.SMS, hold_id=a.holds[0].id)
    check()
    later = replace(env, now=env.now + timedelta(hours=2))
    ep.reschedule(session, later, coordinator, a.id, {"procedure_at": "2027-03-24T08:00",
                                                      "confirm_holds_at_risk": True})
    check()
    assert kept(session, {a.id})[a.id]["postponed_for_hold"] == 1
    ep.reschedule(session, later, coordinator, b.id, {"proceduralist": "Dr. Park", "facility": "Eastside ASC"})
    ep.remove_hold(session, later, coordinator, c.holds[0].id)
    check()
    assert kept(session, {b.id})[b.id]["proceduralist"] == "Dr. Park"
    # Signed again; both stopped before the procedure (the general answer covers both holds).
    for hold in a.holds:
        if hold.signed_at is None:
            ep.record_clearance(session, later, clinician, hold.id, {"status": "approved", "by": "Dr. Ortiz"})
    add_observation(session, later, a, "stopped_medicine", Decimal(1), time_point=None, received_at=later.now,
                    source=ObservationSource.STAFF)
    check()
    assert kept(session, {a.id})[a.id]["holds_stopped"] == 2
    # After the procedure: values at time points, one replaced, the visit and PT booked and done.
    after = replace(env, now=a.procedure_at + timedelta(days=3, hours=2))
    for code, tp, value in (("nprs", "72h", 4), ("nprs", "72h", 3), ("walk_minutes", "baseline", 10),
                            ("odi", "baseline", 46)):
        add_observation(session, after, a, code, Decimal(value), time_point=tp, received_at=after.now,
                        source=ObservationSource.SMS)
    check()
    assert kept(session, {a.id})[a.id]["nprs_72h"] == 300
    ep.book_appointment(session, after, coordinator, a.id, "follow_up", {"appointment_at": "2027-04-01T10:00"})
    ep.book_appointment(session, after, coordinator, a.id, "pt_start", {"appointment_at": "2027-04-08T10:00"})
    check()
    visit = replace(env, now=a.procedure_at + timedelta(days=9))
    follow_up = next(m for m in a.milestones if m.kind == "follow_up")
    ep.complete_milestone(session, visit, coordinator, follow_up.id, {})
    pt_day = replace(env, now=a.procedure_at + timedelta(days=16))
    pt = next(m for m in a.milestones if m.kind == "pt_start")
    ep.complete_milestone(session, pt_day, coordinator, pt.id, {})
    add_observation(session, pt_day, a, "walk_minutes", Decimal("12.5"), time_point="visit", received_at=pt_day.now,
                    source=ObservationSource.STAFF)
    check()
    row = kept(session, {a.id})[a.id]
    assert row["follow_up_in_window"] == 1 and row["pt_started_at"] is not None and row["walk_minutes_visit"] == 1250
    ep.cancel_episode(session, later, coordinator, b.id, {"reason": "patient chose surgery"})
    check()
    assert kept(session, {b.id})[b.id]["status"] == "cancelled"
    # The set-based refresh of every row (as the migration and the bench run it) writes the same.
    before = kept(session, ids)
    refresh_report_rows(session.connection())
    assert kept(session, ids) == before


def test_rows_added_directly_and_replaced_by_hand_are_kept_at_the_flush(session: Any, env: Any,
                                                                        make_episode: Any) -> None:
    e = make_episode()
    when = env.now
    for value, superseded in ((7, when), (5, None)):
        session.add(Observation(episode_id=e.id, code="odi", value=Decimal(value), unit="%", time_point="6w",
                                received_at=when, source="staff", created_at=when, superseded_at=superseded))
    session.flush()
    assert kept(session, {e.id})[e.id]["odi_6w"] == 500
    assert kept(session, {e.id}) == recount(session, {e.id})
    current = session.scalars(select(Observation).where(Observation.episode_id == e.id,
                                                        Observation.superseded_at.is_(None))).one()
    current.superseded_at = when
    session.flush()
    assert kept(session, {e.id})[e.id]["odi_6w"] is None
    assert kept(session, {e.id}) == recount(session, {e.id})
    # A value without a time point (an answer about a hold) is no outcome.
    add_observation(session, env, e, "nprs", Decimal(3), time_point=None, received_at=env.now,
                    source=ObservationSource.STAFF)
    assert all(kept(session, {e.id})[e.id][c] is None for c in VALUE_COLUMNS)


def test_a_savepoint_neither_writes_the_rows_nor_forgets_what_the_transaction_noted(
        session: Any, env: Any, make_episode: Any) -> None:
    e = make_episode()
    kept(session, {e.id})  # as if committed
    add_observation(session, env, e, "nprs", Decimal(7), time_point="baseline", received_at=env.now,
                    source=ObservationSource.SMS)
    with session.begin_nested():  # released: the outermost commit writes, not this one
        session.add(Observation(episode_id=e.id, code="odi", value=Decimal(30), unit="%", time_point="baseline",
                                received_at=env.now, source="staff", created_at=env.now))
    assert session.scalar(select(ReportEpisode.nprs_baseline).where(ReportEpisode.episode_id == e.id)) is None
    nested = session.begin_nested()
    session.add(Observation(episode_id=e.id, code="odi", value=Decimal(40), unit="%", time_point="6w",
                            received_at=env.now, source="staff", created_at=env.now))
    session.flush()
    nested.rollback()  # the 6-week value is gone; the baseline noted before it is still to be written
    row = kept(session, {e.id})[e.id]
    assert (row["nprs_baseline"], row["odi_baseline"], row["odi_6w"]) == (700, 3000, None)
    assert kept(session, {e.id}) == recount(session, {e.id})


def test_rows_written_by_plain_sql_are_kept_by_the_set_based_refresh(session: Any, env: Any,
                                                                     make_episode: Any) -> None:
    e = make_episode()
    kept(session, {e.id})  # as if committed
    session.execute(text("INSERT INTO observations (episode_id, code, value, unit, time_point, received_at, source, "
                         "created_at) VALUES (:e, 'walk_minutes', 12.5, 'min', '3m', :at, 'staff', :at)"),
                    {"e": e.id, "at": env.now.replace(tzinfo=None) if session.get_bind().dialect.name == "sqlite"
                     else env.now})
    assert kept(session, {e.id})[e.id]["walk_minutes_3m"] is None  # no flush saw it: nothing noted
    refresh_report_rows(session.connection(), [e.id])
    assert kept(session, {e.id})[e.id]["walk_minutes_3m"] == 1250
    assert kept(session, {e.id}) == recount(session, {e.id})


def test_the_migration_backfills_with_the_statement_the_models_run() -> None:
    module = revision_module("0020")
    assert _refresh_sql(False) == module.BACKFILL
    assert module.VALUE_COLUMNS == VALUE_COLUMNS


def test_two_transactions_rewriting_one_episodes_row_at_once_both_land(fresh_db: Any, rules: Any) -> None:
    """A reply's answer is stored while a coordinator's change to the same episode is still open:
    the second rewrite waits for the first and neither fails; the row has both changes."""
    import threading

    from pathway import migrate
    from pathway.clock import FixedClock
    from pathway.config import load_config
    from pathway.models import Patient
    from pathway.runtime import Runtime
    from tests.conftest import T0

    migrate.upgrade(fresh_db.url)
    rt = Runtime.build(load_config(env={}, overrides={"database": {"url": fresh_db.url}}), clock=FixedClock(T0))
    try:
        with rt.unit_of_work() as (session, _):
            p = Patient(mrn="R1", given_name="Pat", family_name="Race", birth_date=T0.date(), phone="+12125550101",
                        timezone="America/New_York", language="en", created_at=T0)
            session.add(p)
            session.flush()
            e = Episode(patient_id=p.id, procedure_at=T0 + timedelta(days=30), proceduralist="Dr. Lee",
                        facility="Riverside", created_at=T0)
            session.add(e)
            session.flush()
            episode_id = e.id
        errors: list[BaseException] = []
        first_flushed, second_started = threading.Event(), threading.Event()

        def answer() -> None:
            try:
                first_flushed.wait(10)
                with rt.unit_of_work() as (session, _):
                    second_started.set()
                    session.add(Observation(episode_id=episode_id, code="nprs", value=Decimal(6), unit="0-10",
                                            time_point="baseline", received_at=T0, source="sms", created_at=T0))
                # The commit rewrites the row: it waits for the first transaction.
            except BaseException as exc:
                errors.append(exc)

        second = threading.Thread(target=answer)
        second.start()
        with rt.unit_of_work() as (session, _):
            session.get(Episode, episode_id).proceduralist = "Dr. Park"  # type: ignore[union-attr]
            session.flush()
            write_pending(session)  # rewrites the row now (the commit would), and holds it until the commit
            first_flushed.set()
            second_started.wait(10)
            second.join(0.5)  # the second is waiting for this transaction
            assert second.is_alive()
        second.join(20)
        assert not second.is_alive() and errors == []
        with rt.unit_of_work() as (session, _):
            row = session.get(ReportEpisode, episode_id)
            assert row is not None and (row.proceduralist, row.nprs_baseline) == ("Dr. Park", 600)
            assert kept(session, {episode_id}) == recount(session, {episode_id})
    finally:
        rt.engine.dispose()
