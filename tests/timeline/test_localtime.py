"""Local wall times: scheduling never fails, user entry never guesses."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from pathway.timeline import (
    AmbiguousLocalTime,
    NonexistentLocalTime,
    add_local_days,
    at_local,
    local_date,
    parse_local_strict,
)

UTC = UTC
NY = ZoneInfo("America/New_York")
DST_ZONES = ["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"]


def test_at_local_returns_aware_utc() -> None:
    got = at_local(date(2027, 3, 9), time(17, 0), NY)
    assert got == datetime(2027, 3, 9, 22, 0, tzinfo=UTC)
    assert got.tzinfo is UTC


def test_at_local_in_spring_forward_gap_moves_to_the_first_valid_instant() -> None:
    # 02:30 does not exist on 2027-03-14; clocks jump from 02:00 EST to 03:00 EDT (07:00 UTC).
    assert at_local(date(2027, 3, 14), time(2, 30), NY) == datetime(2027, 3, 14, 7, 0, tzinfo=UTC)


def test_at_local_in_fall_back_fold_takes_the_first_occurrence() -> None:
    # 01:30 happens twice on 2027-11-07; the first is EDT (05:30 UTC).
    assert at_local(date(2027, 11, 7), time(1, 30), NY) == datetime(2027, 11, 7, 5, 30, tzinfo=UTC)


def test_at_local_midnight_gap_moves_to_the_first_valid_instant() -> None:
    # Havana springs forward at midnight: 2027-03-14 00:00 does not exist; the day starts 01:00.
    havana = ZoneInfo("America/Havana")
    got = at_local(date(2027, 3, 14), time(0, 0), havana)
    assert got.astimezone(havana).replace(tzinfo=None) == datetime(2027, 3, 14, 1, 0)


def test_at_local_refuses_an_aware_time() -> None:
    with pytest.raises(ValueError, match="naive wall time"):
        at_local(date(2027, 3, 9), time(17, 0, tzinfo=UTC), NY)


@pytest.mark.parametrize("zone", DST_ZONES)
def test_time_in_the_spring_forward_gap_is_refused_with_a_helpful_message(zone: str) -> None:
    with pytest.raises(NonexistentLocalTime) as caught:
        parse_local_strict(datetime(2027, 3, 14, 2, 30), ZoneInfo(zone))
    assert str(caught.value) == (
        f"2027-03-14 02:30 does not exist in {zone} (clocks spring forward); "
        "enter the time with an explicit UTC offset"
    )


@pytest.mark.parametrize("zone", DST_ZONES)
def test_time_in_the_fall_back_fold_is_refused_with_a_helpful_message(zone: str) -> None:
    with pytest.raises(AmbiguousLocalTime) as caught:
        parse_local_strict(datetime(2027, 11, 7, 1, 30), ZoneInfo(zone))
    message = str(caught.value)
    assert message.startswith(f"2027-11-07 01:30 happens twice in {zone} (clocks fall back)")
    assert "enter the time with an explicit UTC offset" in message


def test_fold_message_offers_both_offsets() -> None:
    with pytest.raises(AmbiguousLocalTime, match=r"-04:00 for the first, -05:00 for the second"):
        parse_local_strict(datetime(2027, 11, 7, 1, 30), NY)


@pytest.mark.parametrize("zone", ["America/Phoenix", "Pacific/Honolulu"])
def test_zones_without_dst_accept_those_times(zone: str) -> None:
    tz = ZoneInfo(zone)
    assert parse_local_strict(datetime(2027, 3, 14, 2, 30), tz).tzinfo is UTC
    assert parse_local_strict(datetime(2027, 11, 7, 1, 30), tz).tzinfo is UTC


def test_ordinary_time_parses_to_utc() -> None:
    assert parse_local_strict(datetime(2027, 3, 10, 8, 0), NY) == datetime(2027, 3, 10, 13, 0, tzinfo=UTC)


def test_time_with_an_explicit_offset_is_taken_as_given() -> None:
    given = datetime(2027, 11, 7, 1, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert parse_local_strict(given, NY) == datetime(2027, 11, 7, 6, 30, tzinfo=UTC)


def test_local_date_is_the_patients_calendar_date() -> None:
    assert local_date(datetime(2027, 3, 10, 3, 0, tzinfo=UTC), NY) == date(2027, 3, 9)


def test_local_date_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        local_date(datetime(2027, 3, 10, 3, 0), NY)


def test_adding_local_days_keeps_the_wall_time_across_dst() -> None:
    start = datetime(2027, 3, 10, 14, 0, tzinfo=NY)
    got = add_local_days(start, 14, NY)
    assert got.astimezone(NY).replace(tzinfo=None) == datetime(2027, 3, 24, 14, 0)
    assert got - start == timedelta(days=14, hours=-1)
