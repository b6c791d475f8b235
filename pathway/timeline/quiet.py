"""Quiet hours: texts go out only inside a daytime window in the patient's own time zone.

The window is half-open, [start, end): with the default 08:00-20:00 a text due at exactly
20:00 waits for 08:00 the next day, so nothing is ever sent at or after the end time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from pathway.timeline.localtime import UTC, at_local, to_local

__all__ = ["QuietHours"]


@dataclass(frozen=True)
class QuietHours:
    """The daily window in which texts may be sent, as naive patient-local wall times."""

    start: time = time(8, 0)
    end: time = time(20, 0)

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("quiet hours are local wall times: pass naive times")
        if self.start >= self.end:
            raise ValueError(
                f"quiet hours start ({self.start:%H:%M}) must be before end ({self.end:%H:%M}); "
                "windows that wrap midnight are not supported"
            )

    def allowed(self, instant: datetime, tz: ZoneInfo) -> bool:
        """True when the patient's wall clock at `instant` is inside [start, end)."""
        wall = to_local(instant, tz).time().replace(tzinfo=None)
        return self.start <= wall < self.end

    def next_allowed(self, instant: datetime, tz: ZoneInfo) -> datetime:
        """The earliest UTC instant at or after `instant` when a text may be sent.

        Inside the window the instant is returned unchanged (as UTC); before the window it
        moves to today's start, after it to tomorrow's start, both resolved through the
        patient's zone so the wall time is right on daylight-saving change days.
        """
        local = to_local(instant, tz)
        if self.allowed(instant, tz):
            return instant.astimezone(UTC)
        day = local.date()
        if local.time().replace(tzinfo=None) >= self.end:
            day += timedelta(days=1)
        candidate = at_local(day, self.start, tz)
        if candidate < instant:
            # Only when the start time itself is repeated by a fall-back change and `instant`
            # is in the second pass: the second occurrence of the start is the next one.
            later = datetime.combine(day, self.start).replace(tzinfo=tz, fold=1)
            candidate = later.astimezone(UTC)
        return candidate
