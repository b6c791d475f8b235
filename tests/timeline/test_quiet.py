"""Quiet hours: texts go out 08:00-20:00 in the patient's zone, DST days included."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from pathway.timeline import QuietHours

UTC = UTC
NY = ZoneInfo("America/New_York")
QUIET = QuietHours(time(8, 0), time(20, 0))


def local(instant: datetime, tz: ZoneInfo = NY) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)


@pytest.mark.parametrize(
    ("wall", "expected"),
    [
        (datetime(2027, 3, 9, 21, 13), datetime(2027, 3, 10, 8, 0)),  # evening -> next morning
        (datetime(2027, 3, 9, 6, 0), datetime(2027, 3, 9, 8, 0)),  # early -> same morning
        (datetime(2027, 3, 9, 20, 0), datetime(2027, 3, 10, 8, 0)),  # exactly 20:00 is quiet
        (datetime(2027, 3, 9, 19, 59), datetime(2027, 3, 9, 19, 59)),  # inside: unchanged
        (datetime(2027, 3, 9, 8, 0), datetime(2027, 3, 9, 8, 0)),  # exactly 08:00 is allowed
        (datetime(2027, 3, 9, 0, 0), datetime(2027, 3, 9, 8, 0)),
        (datetime(2027, 3, 9, 23, 59), datetime(2027, 3, 10, 8, 0)),
    ],
)
def test_send_time_moves_forward_to_the_next_allowed_minute(wall: datetime, expected: datetime) -> None:
    instant = wall.replace(tzinfo=NY)
    got = QUIET.next_allowed(instant, NY)
    assert local(got) == expected
    assert got.tzinfo is UTC


def test_early_morning_on_spring_forward_day_waits_for_local_eight() -> None:
    instant = datetime(2027, 3, 14, 6, 30, tzinfo=UTC)  # 01:30 EST
    got = QUIET.next_allowed(instant, NY)
    assert got == datetime(2027, 3, 14, 12, 0, tzinfo=UTC)  # 08:00 EDT
    assert local(got) == datetime(2027, 3, 14, 8, 0)


def test_evening_before_spring_forward_moves_to_eight_edt() -> None:
    got = QUIET.next_allowed(datetime(2027, 3, 13, 21, 0, tzinfo=NY), NY)
    assert got == datetime(2027, 3, 14, 12, 0, tzinfo=UTC)


def test_second_one_thirty_on_fall_back_day_waits_for_eight_est() -> None:
    instant = datetime(2027, 11, 7, 6, 30, tzinfo=UTC)  # 01:30 EST, the second pass
    got = QUIET.next_allowed(instant, NY)
    assert got == datetime(2027, 11, 7, 13, 0, tzinfo=UTC)


def test_quiet_hours_are_judged_in_the_patients_zone_not_utc() -> None:
    instant = datetime(2027, 3, 10, 2, 0, tzinfo=UTC)  # 21:00 EST, 16:00 in Honolulu
    honolulu = ZoneInfo("Pacific/Honolulu")
    assert not QUIET.allowed(instant, NY)
    assert QUIET.allowed(instant, honolulu)
    assert QUIET.next_allowed(instant, honolulu) == instant


def test_start_must_be_before_end() -> None:
    with pytest.raises(ValueError, match="must be before end"):
        QuietHours(time(20, 0), time(8, 0))
    with pytest.raises(ValueError, match="must be before end"):
        QuietHours(time(9, 0), time(9, 0))


def test_allowed_refuses_naive_instants() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        QUIET.allowed(datetime(2027, 3, 9, 12, 0), NY)
