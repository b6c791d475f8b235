"""The outcomes report's summary (one row per episode and measure) always says what the current
observations say: after any sequence of recordings and replacements through the one writer, after
rows added directly, and after the migration's set-based backfill."""

from __future__ import annotations

import importlib.util
import random
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text

from pathway.models import Observation, OutcomeSummary
from pathway.models.observation import SUMMARY_CODES, TIME_POINTS, refresh_summaries, summary_column
from pathway.resources import migrations_dir
from pathway.services.observations import add_observation
from pathway.timeline.vocabulary import ObservationSource

CODES = (*SUMMARY_CODES, "stand_minutes")  # stand_minutes: recorded, never summarised


def implied(session: Any, episode_ids: set[int]) -> dict[tuple[int, str], dict[str, Decimal | None]]:
    """What the observations say, computed here in Python: for each episode and report measure with
    a value at some time point, the latest current value (highest id) at each time point."""
    latest: dict[tuple[int, str, str], tuple[int, Decimal]] = {}
    for o in session.scalars(select(Observation).where(Observation.episode_id.in_(episode_ids))):
        if o.superseded_at is None and o.time_point is not None and o.code in SUMMARY_CODES:
            key = (o.episode_id, o.code, o.time_point)
            if key not in latest or latest[key][0] < o.id:
                latest[key] = (o.id, o.value)
    out: dict[tuple[int, str], dict[str, Decimal | None]] = {}
    for (episode_id, code, tp), (_, value) in latest.items():
        out.setdefault((episode_id, code), dict.fromkeys(TIME_POINTS))[tp] = value
    return out


def summarised(session: Any, episode_ids: set[int]) -> dict[tuple[int, str], dict[str, Decimal | None]]:
    session.expire_all()
    rows = session.scalars(select(OutcomeSummary).where(OutcomeSummary.episode_id.in_(episode_ids)))
    return {(r.episode_id, r.code): {tp: getattr(r, summary_column(tp)) for tp in TIME_POINTS} for r in rows}


def test_a_random_sequence_of_recordings_and_replacements_leaves_the_summary_equal_to_the_observations(
        session: Any, env: Any, make_episode: Any) -> None:
    rng = random.Random(20261206)
    episodes = [make_episode() for _ in range(4)]
    ids = {e.id for e in episodes}
    for step in range(160):
        e = rng.choice(episodes)
        code, tp = rng.choice(CODES), rng.choice(TIME_POINTS)
        value = Decimal(rng.randint(0, 10)) if code == "nprs" else Decimal(rng.randint(0, 90))
        step_env = replace(env, now=env.now + timedelta(minutes=step))
        add_observation(session, step_env, e, code, value, time_point=tp, received_at=step_env.now,
                        source=rng.choice((ObservationSource.STAFF, ObservationSource.SMS)))
        if step % 40 == 39:
            assert summarised(session, ids) == implied(session, ids)
    expected = implied(session, ids)
    assert len(expected) == 4 * len(SUMMARY_CODES)  # every episode and measure has values by now
    assert sum(1 for o in session.scalars(select(Observation)) if o.superseded_at is not None) > 50
    assert summarised(session, ids) == expected
    # A value without a time point (an answer about a hold, a pain score outside the schedule) is no outcome.
    add_observation(session, env, episodes[0], "nprs", Decimal(3), time_point=None, received_at=env.now,
                    source=ObservationSource.STAFF)
    assert summarised(session, ids) == expected
    # The backfill (plain SQL, as the migration and the bench run it) writes the same rows.
    refresh_summaries(session.connection())
    assert summarised(session, ids) == expected


def test_rows_added_directly_and_replaced_values_are_summarised_at_the_flush(session: Any, env: Any,
                                                                              make_episode: Any) -> None:
    e = make_episode()
    when = env.now
    for value, superseded in ((7, when), (5, None)):
        session.add(Observation(episode_id=e.id, code="odi", value=Decimal(value), unit="%", time_point="6w",
                                received_at=when, source="staff", created_at=when, superseded_at=superseded))
    session.flush()
    assert summarised(session, {e.id})[(e.id, "odi")]["6w"] == Decimal(5)
    assert summarised(session, {e.id}) == implied(session, {e.id})
    # A current value marked replaced by hand (no later one): the summary follows at the next flush.
    current = session.scalars(select(Observation).where(Observation.episode_id == e.id,
                                                        Observation.superseded_at.is_(None))).one()
    current.superseded_at = when
    session.flush()
    assert summarised(session, {e.id}) == implied(session, {e.id}) == {}  # no current value: no row


def test_the_migration_backfills_the_same_statement_the_models_run() -> None:
    path = next((migrations_dir() / "versions").glob("0019_*.py"))
    spec = importlib.util.spec_from_file_location("m0019", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from pathway.models.observation import _summary_sql

    assert _summary_sql(False) == module.BACKFILL
    assert module.TIME_POINTS == TIME_POINTS and module.CODES == SUMMARY_CODES
    assert "INSERT INTO outcome_summaries" in str(text(module.BACKFILL))
