"""The sending rate, shared by every worker through the database.

Each sender (a From number or a Messaging Service) has one row holding the next free send
slot. A worker reserves slots for the texts it claimed inside the claim's transaction (the row
is locked on PostgreSQL; SQLite serialises writers), so four workers on one long code still send
one text a second between them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from pathway.models import SendRate


def reserve_slots(session: Session, sender: str, n: int, now: datetime, rate: float | None) -> list[datetime]:
    """Times at which ``n`` texts may be sent; all ``now`` when the rate is unlimited."""
    if n <= 0:
        return []
    if not rate:
        return [now] * n
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(insert(SendRate).values(sender=sender, next_free_at=now).on_conflict_do_nothing())
    row = session.scalars(select(SendRate).where(SendRate.sender == sender).with_for_update()).one()
    start = max(row.next_free_at, now)
    step = timedelta(seconds=1.0 / rate)
    slots = [start + step * i for i in range(n)]
    row.next_free_at = start + step * n
    return slots


def slots_affordable(rate: float | None, horizon: timedelta, batch_size: int) -> int:
    """How many texts one pass may claim so none waits longer than ``horizon`` for its slot."""
    if not rate:
        return batch_size
    return max(1, min(batch_size, int(rate * horizon.total_seconds())))
