"""Property tests for the day arithmetic, local times and quiet hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from pathway.timeline import (
    EpisodeFacts,
    HoldFacts,
    HoldPlanInput,
    LocalTimeError,
    PathwayDefinition,
    QuietHours,
    at_local,
    compute_hold,
    load_definition,
    parse_local_strict,
    plan_episode,
)

UTC = UTC
ZONES = [
    ZoneInfo(name)
    for name in (
        "America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
        "America/Los_Angeles", "Pacific/Honolulu", "America/Anchorage", "Europe/London",
    )
]
DEFINITION: PathwayDefinition = load_definition()

zones = st.sampled_from(ZONES)
instants = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31)).map(
    lambda naive: naive.replace(tzinfo=UTC)
)
wall_times = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31))
# Daytime windows: DST changes happen between 01:00 and 03:00, never inside a sending window.
windows = st.tuples(
    st.times(min_value=time(4, 0), max_value=time(11, 59)),
    st.times(min_value=time(12, 0), max_value=time(23, 59)),
).map(lambda pair: QuietHours(pair[0].replace(microsecond=0), pair[1].replace(microsecond=0)))


@settings(deadline=None)
@given(instant=instants, tz=zones, quiet=windows)
def test_next_allowed_is_allowed_never_earlier_and_the_earliest(
    instant: datetime, tz: ZoneInfo, quiet: QuietHours
) -> None:
    got = quiet.next_allowed(instant, tz)
    assert got.tzinfo is UTC
    assert got >= instant
    assert quiet.allowed(got, tz)
    if quiet.allowed(instant, tz):
        assert got == instant
    else:
        just_before = got - timedelta(minutes=1)
        assert just_before < instant or not quiet.allowed(just_before, tz)


@settings(deadline=None)
@given(instant=instants, tz=zones, days=st.integers(min_value=0, max_value=30))
def test_day_hold_leaves_exactly_n_whole_days_without_the_drug(
    instant: datetime, tz: ZoneInfo, days: int
) -> None:
    got = compute_hold(HoldPlanInput(stop_days=days), procedure_at=instant, tz=tz, duration=timedelta(hours=1))
    assert got.last_dose_on is not None
    procedure_day = instant.astimezone(tz).date()
    days_between = range(got.last_dose_on.toordinal() + 1, procedure_day.toordinal())
    assert len(days_between) == days


@settings(deadline=None)
@given(day=st.dates(min_value=date(2026, 1, 1), max_value=date(2028, 12, 31)), tz=zones,
       days=st.integers(min_value=0, max_value=30))
def test_day_hold_does_not_depend_on_the_time_of_day(day: date, tz: ZoneInfo, days: int) -> None:
    hold = HoldPlanInput(stop_days=days)
    early = compute_hold(hold, procedure_at=at_local(day, time(0, 0), tz), tz=tz, duration=timedelta(hours=1))
    late = compute_hold(hold, procedure_at=at_local(day, time(23, 59), tz), tz=tz, duration=timedelta(hours=1))
    assert early.last_dose_on == late.last_dose_on


@settings(deadline=None)
@given(instant=instants, tz=zones, hours=st.integers(min_value=0, max_value=96),
       restart=st.integers(min_value=0, max_value=72), minutes=st.integers(min_value=1, max_value=240))
def test_hour_holds_and_restarts_are_absolute_hours(
    instant: datetime, tz: ZoneInfo, hours: int, restart: int, minutes: int
) -> None:
    duration = timedelta(minutes=minutes)
    got = compute_hold(
        HoldPlanInput(stop_hours=hours, restart_hours=restart), procedure_at=instant, tz=tz, duration=duration
    )
    assert got.last_dose_at is not None and got.restart_at is not None
    assert instant - got.last_dose_at == timedelta(hours=hours)
    assert got.restart_at - (instant + duration) == timedelta(hours=restart)


@settings(deadline=None)
@given(naive=wall_times, tz=zones)
def test_strict_parse_either_refuses_or_round_trips(naive: datetime, tz: ZoneInfo) -> None:
    try:
        got = parse_local_strict(naive, tz)
    except LocalTimeError:
        return
    assert got.astimezone(tz).replace(tzinfo=None) == naive


@settings(deadline=None)
@given(naive=wall_times, tz=zones)
def test_scheduling_never_fails_and_never_moves_backwards(naive: datetime, tz: ZoneInfo) -> None:
    got = at_local(naive.date(), naive.time(), tz)
    shown = got.astimezone(tz).replace(tzinfo=None)
    assert shown >= naive
    assert shown - naive <= timedelta(hours=1)


@settings(deadline=None, max_examples=60)
@given(procedure=instants, tz=zones, now_before=st.integers(min_value=-20, max_value=20),
       stop_days=st.integers(min_value=0, max_value=10))
def test_every_planned_text_respects_quiet_hours_and_is_not_in_the_past(
    procedure: datetime, tz: ZoneInfo, now_before: int, stop_days: int
) -> None:
    hold = HoldFacts("h1", "x", stop_days, None, 24, "approved", True, "rule")
    facts = EpisodeFacts(
        tz=tz, status="scheduled", procedure_at=procedure, duration=timedelta(hours=1), ended_at=None,
        created_at=procedure - timedelta(days=60), holds=(hold,),
        follow_up_at=procedure + timedelta(days=8), pt_start_at=procedure + timedelta(days=15),
    )
    now = procedure + timedelta(days=now_before)
    quiet = DEFINITION.quiet_hours()
    plan = plan_episode(DEFINITION, facts, quiet, now=now)
    for message in plan.messages:
        assert quiet.allowed(message.send_at, tz)
        assert message.send_at >= now
        assert message.send_at >= message.nominal_at or message.send_at == quiet.next_allowed(now, tz)
