"""Observations of an episode: a pain score, whether a held medicine was stopped, walking minutes.

Each comes from the patient's answer to a question text (source ``sms``, with the text that
asked it and the reply) or from a person (source ``staff``). Their bounds and units are data
(``pathway/data/answers.toml``); the codes and time points are fixed by the code.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Numeric, String, text
from sqlalchemy.orm import Mapped, mapped_column

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
