"""Patient-local wall times <-> aware UTC instants.

Everything the timeline stores or returns is an aware UTC instant; local wall times exist only
to schedule ("17:00 the day before") and to show. Two directions need different strictness:

* scheduling (`at_local`) must always produce an instant, even on a daylight-saving change
  day, so a wall time that does not exist moves forward and a repeated one takes the first;
* a person typing a procedure time (`parse_local_strict`) must never be guessed for: a time
  in the spring-forward gap or the fall-back fold is refused with a message saying what to do.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

UTC = UTC

__all__ = [
    "UTC",
    "AmbiguousLocalTime",
    "LocalTimeError",
    "NonexistentLocalTime",
    "add_local_days",
    "at_local",
    "local_date",
    "parse_local_strict",
    "require_aware",
    "to_local",
]


class LocalTimeError(ValueError):
    """A local wall time that cannot be turned into one instant without guessing."""


class NonexistentLocalTime(LocalTimeError):
    """The wall time falls in a spring-forward gap: clocks skip it."""


class AmbiguousLocalTime(LocalTimeError):
    """The wall time falls in a fall-back fold: clocks show it twice."""


def require_aware(value: datetime, name: str = "datetime") -> datetime:
    """Refuse naive datetimes at the API edge: a naive value silently means 'server time'."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value


def to_local(instant: datetime, tz: ZoneInfo) -> datetime:
    """The instant as an aware wall time in `tz` (for display and local arithmetic)."""
    return require_aware(instant, "instant").astimezone(tz)


def local_date(instant: datetime, tz: ZoneInfo) -> date:
    """The calendar date the patient sees at `instant` (day arithmetic is done on this)."""
    return to_local(instant, tz).date()


def _candidates(naive: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants for fold=0 and fold=1; they differ only in gaps and folds."""
    first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    return first, second


def _exists(naive: datetime, instant: datetime, tz: ZoneInfo) -> bool:
    """True when `instant` shows `naive` on the local clock (round trip through UTC)."""
    return instant.astimezone(tz).replace(tzinfo=None) == naive


def _gap_end(before: datetime, after: datetime, tz: ZoneInfo) -> datetime:
    """The transition instant between two UTC instants straddling a spring-forward gap.

    `before` is on the old offset and `after` on the new one; bisect to the first second on
    the new offset, which is the first valid wall time after the gap.
    """
    old_offset = before.astimezone(tz).utcoffset()
    lo, hi = before, after
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(tz).utcoffset() == old_offset:
            lo = mid
        else:
            hi = mid
    return hi.replace(microsecond=0)


def at_local(day: date, t: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of wall time `t` on `day` in `tz`, for scheduling.

    A wall time skipped by a spring-forward change moves forward to the first valid instant
    (the moment clocks jump); a wall time repeated by a fall-back change takes the first
    (earlier) occurrence, so a reminder is never late.
    """
    if t.tzinfo is not None:
        raise ValueError("at_local takes a naive wall time; the zone is the tz argument")
    naive = datetime.combine(day, t)
    first, second = _candidates(naive, tz)
    if first == second or _exists(naive, first, tz):
        return first
    # In a gap, fold=1 resolves with the new offset (earlier UTC), fold=0 with the old one.
    return _gap_end(min(first, second), max(first, second), tz)


def _offset_text(instant: datetime, tz: ZoneInfo) -> str:
    """'-04:00' style offset of `instant` in `tz`, to suggest in error messages."""
    return instant.astimezone(tz).isoformat()[-6:]


def parse_local_strict(naive: datetime, tz: ZoneInfo) -> datetime:
    """Turn a user-entered local time into a UTC instant, refusing to guess.

    An aware input already carries an explicit offset and is simply converted. A naive one in
    a spring-forward gap raises `NonexistentLocalTime`; one in a fall-back fold raises
    `AmbiguousLocalTime`. Both messages tell the user how to enter it unambiguously.
    """
    if naive.tzinfo is not None:
        return require_aware(naive, "procedure time").astimezone(UTC)
    first, second = _candidates(naive, tz)
    if first == second:
        return first
    shown = naive.strftime("%Y-%m-%d %H:%M")
    if _exists(naive, first, tz):
        raise AmbiguousLocalTime(
            f"{shown} happens twice in {tz.key} (clocks fall back); enter the time with an "
            f"explicit UTC offset ({_offset_text(first, tz)} for the first, "
            f"{_offset_text(second, tz)} for the second)"
        )
    raise NonexistentLocalTime(
        f"{shown} does not exist in {tz.key} (clocks spring forward); enter the time with an "
        "explicit UTC offset"
    )


def add_local_days(instant: datetime, days: int, tz: ZoneInfo) -> datetime:
    """The same wall-clock time `days` calendar days later in `tz` (a day is not 24 h on a
    daylight-saving change), as UTC."""
    local = to_local(instant, tz)
    return at_local(local.date() + timedelta(days=days), local.time().replace(tzinfo=None), tz)
