"""The one clock.

Everything below the edges (CLI, web request, worker tick) receives ``now`` or a ``Clock``;
only the edges call :func:`system_clock`. Tests pass a fixed or stepping clock instead.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


class FixedClock:
    """A clock for tests and simulations: returns the same instant until moved."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self.now = start.astimezone(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> datetime:
        self.now += delta
        return self.now

    def set(self, instant: datetime) -> None:
        self.now = instant.astimezone(UTC)
