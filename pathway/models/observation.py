"""Observations of an episode: a pain score, whether a held medicine was stopped, walking minutes.

Each comes from the patient's answer to a question text (source ``sms``, with the text that
asked it and the reply) or from a person (source ``staff``). Their bounds and units are data
(``pathway/data/answers.toml``); the codes and time points are fixed by the code.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, ForeignKey, Index, Numeric, String, bindparam, event, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from pathway.db import Base, check_in
from pathway.timeline.vocabulary import TIME_POINTS, ObservationCode, ObservationSource

CURRENT_WHERE = text("superseded_at IS NULL")


class Observation(Base):
    __tablename__ = "observations"
    __table_args__ = (
        check_in("code", ObservationCode),
        check_in("source", ObservationSource),
        check_in("time_point", TIME_POINTS),
        # The episode's observations in time order (the API, the page, the baseline lookup).
        Index("ix_observations_episode_id_code_received_at", "episode_id", "code", "received_at"),
        # The outcomes report: the current value of each measure at each time point.
        Index("ix_observations_code_time_point_episode_id", "code", "time_point", "episode_id"),
        # ... and its pairing of current values with baselines, read from the index alone.
        Index("ix_observations_code_time_point_episode_id_value", "code", "time_point", "episode_id", "value",
              sqlite_where=CURRENT_WHERE, postgresql_where=CURRENT_WHERE),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(ForeignKey("episodes.id"))
    code: Mapped[str] = mapped_column(String(40))
    value: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    unit: Mapped[str] = mapped_column(String(20))
    time_point: Mapped[str | None] = mapped_column(String(10))
    received_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(10))
    # For an answer by text: the question text it answers, and the patient's reply.
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    reply_id: Mapped[int | None] = mapped_column(ForeignKey("replies.id"))
    # For stopped_medicine: the hold it is about.
    hold_id: Mapped[int | None] = mapped_column(ForeignKey("medication_holds.id"))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    # An outcome recorded again for the same episode, time point and code replaces this one: it
    # stays for the history with when and by which row it was replaced. Current rows have NULL.
    superseded_at: Mapped[datetime | None]
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("observations.id"))


# The measures the outcomes report compares with their baseline (issue 12).
SUMMARY_CODES: tuple[str, ...] = ("nprs", "walk_minutes", "odi")


def summary_column(time_point: str) -> str:
    """The column of ``OutcomeSummary`` holding the current value at ``time_point``."""
    return f"at_{time_point}"


class OutcomeSummary(Base):
    """One row per episode and report measure: the current value at the baseline and at each time
    point (NULL where none), so the outcomes report groups one narrow row per episode and measure
    instead of pairing every current observation with its baseline.

    Derived data, never written directly: every flush that adds or changes an observation of a
    report measure rewrites its episode's rows from the episode's current observations (the latest
    current row of each measure and time point, as ``current_value`` reads it), in the same
    transaction; ``add_observation``, the one writer of observations, holds the episode's lock
    while it does. Rows written by plain SQL (a migration, the bench's seeding) are summarised by
    ``refresh_summaries`` with no episode list, as migration 0019 did. A row exists once the
    episode has a value of the measure at some time point."""

    __tablename__ = "outcome_summaries"

    episode_id: Mapped[int] = mapped_column(ForeignKey("episodes.id"), primary_key=True)
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    at_baseline: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    at_72h: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    at_visit: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    at_6w: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    at_3m: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    at_6m: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    at_12m: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    at_24m: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))


_SUMMARY_COLUMNS = tuple(c.name for c in OutcomeSummary.__table__.c if c.name.startswith("at_"))
assert tuple(summary_column(tp) for tp in TIME_POINTS) == _SUMMARY_COLUMNS, "one summary column per time point"


def _summary_sql(filtered: bool) -> str:
    codes = ", ".join(f"'{c}'" for c in SUMMARY_CODES)
    columns = ", ".join(summary_column(tp) for tp in TIME_POINTS)
    values = ", ".join(f"MAX(CASE WHEN o.time_point = '{tp}' THEN o.value END)" for tp in TIME_POINTS)
    only = " AND episode_id IN :ids" if filtered else ""
    return (f"INSERT INTO outcome_summaries (episode_id, code, {columns}) "
            f"SELECT o.episode_id, o.code, {values} FROM observations o "
            "JOIN (SELECT MAX(id) AS id FROM observations WHERE superseded_at IS NULL AND time_point IS NOT NULL "
            f"AND code IN ({codes}){only} GROUP BY episode_id, code, time_point) latest ON latest.id = o.id "
            "GROUP BY o.episode_id, o.code")


def refresh_summaries(connection: Connection, episode_ids: Iterable[int] | None = None) -> None:
    """Rewrite the summary rows of these episodes (all episodes when None) from their current
    observations: set-based, on SQLite and PostgreSQL."""
    if episode_ids is None:
        connection.execute(text("DELETE FROM outcome_summaries"))
        connection.execute(text(_summary_sql(False)))
        return
    ids = sorted(set(episode_ids))
    if not ids:
        return
    connection.execute(text("DELETE FROM outcome_summaries WHERE episode_id IN :ids")
                       .bindparams(bindparam("ids", ids, expanding=True)))
    connection.execute(text(_summary_sql(True)).bindparams(bindparam("ids", ids, expanding=True)))


@event.listens_for(Session, "after_flush")
def _summarise_flushed_observations(session: Session, context: Any) -> None:
    episodes = {o.episode_id for o in (*session.new, *session.dirty, *session.deleted)
                if isinstance(o, Observation) and o.code in SUMMARY_CODES}
    if episodes:
        refresh_summaries(session.connection(), episodes)
