"""Daylight-saving weeks in US zones: wall-clock sends stay put, the 72-hour check is 72 hours."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pathway.timeline import (
    EpisodeFacts,
    HoldFacts,
    PathwayDefinition,
    Plan,
    PlannedMessage,
    QuietHours,
    plan_episode,
)

FactsBuilder = Callable[..., EpisodeFacts]
HoldBuilder = Callable[..., HoldFacts]

UTC = UTC
EARLY = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)
ZONES = [
    "America/New_York", "America/Chicago", "America/Denver",
    "America/Phoenix", "America/Los_Angeles", "Pacific/Honolulu",
]
# Local wall time of the 72-hour check after an 08:00 procedure on the Friday before the change.
SPRING_CHECK_HOUR = {
    "America/New_York": 9, "America/Chicago": 9, "America/Denver": 9,
    "America/Phoenix": 8, "America/Los_Angeles": 9, "Pacific/Honolulu": 8,
}
FALL_CHECK_HOUR = {
    "America/New_York": 7, "America/Chicago": 7, "America/Denver": 7,
    "America/Phoenix": 8, "America/Los_Angeles": 7, "Pacific/Honolulu": 8,
}


def wall(instant: datetime, tz: ZoneInfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)


def message(plan: Plan, kind: str) -> PlannedMessage:
    return next(m for m in plan.messages if m.kind == kind)


@pytest.mark.parametrize("zone", ZONES)
def test_72h_check_across_spring_forward_is_72_real_hours(
    definition: PathwayDefinition, quiet: QuietHours, make_facts: FactsBuilder, zone: str
) -> None:
    tz = ZoneInfo(zone)
    start = datetime(2027, 3, 12, 8, 0, tzinfo=tz)  # Friday; clocks change Sunday 14th
    plan = plan_episode(definition, make_facts(tz=tz, procedure_at=start), quiet, now=EARLY)
    check = message(plan, "check_72h")
    assert check.nominal_at - start == timedelta(hours=72)
    assert wall(check.send_at, tz) == datetime(2027, 3, 15, SPRING_CHECK_HOUR[zone], 0)


@pytest.mark.parametrize("zone", ZONES)
def test_72h_check_across_fall_back_is_72_real_hours_then_waits_for_eight(
    definition: PathwayDefinition, quiet: QuietHours, make_facts: FactsBuilder, zone: str
) -> None:
    tz = ZoneInfo(zone)
    start = datetime(2027, 11, 5, 8, 0, tzinfo=tz)  # Friday; clocks change Sunday 7th
    plan = plan_episode(definition, make_facts(tz=tz, procedure_at=start), quiet, now=EARLY)
    check = message(plan, "check_72h")
    assert check.nominal_at - start == timedelta(hours=72)
    assert wall(check.nominal_at, tz) == datetime(2027, 11, 8, FALL_CHECK_HOUR[zone], 0)
    assert wall(check.send_at, tz) == datetime(2027, 11, 8, 8, 0)


@pytest.mark.parametrize("zone", ZONES)
def test_reminders_keep_their_wall_time_through_spring_forward(
    definition: PathwayDefinition, quiet: QuietHours, make_facts: FactsBuilder, make_hold: HoldBuilder,
    zone: str,
) -> None:
    tz = ZoneInfo(zone)
    start = datetime(2027, 3, 15, 8, 0, tzinfo=tz)  # Monday after the change
    facts = make_facts(tz=tz, procedure_at=start, holds=(make_hold(),))
    plan = plan_episode(definition, facts, quiet, now=EARLY)
    assert wall(message(plan, "pre_procedure").send_at, tz) == datetime(2027, 3, 14, 10, 0)
    assert wall(message(plan, "last_dose").send_at, tz) == datetime(2027, 3, 6, 17, 0)
    assert message(plan, "last_dose").context["last_dose_date"] == "2027-03-07"


@pytest.mark.parametrize("zone", ZONES)
def test_reminders_keep_their_wall_time_through_fall_back(
    definition: PathwayDefinition, quiet: QuietHours, make_facts: FactsBuilder, make_hold: HoldBuilder,
    zone: str,
) -> None:
    tz = ZoneInfo(zone)
    start = datetime(2027, 11, 8, 8, 0, tzinfo=tz)  # Monday after the change
    facts = make_facts(
        tz=tz, procedure_at=start, holds=(make_hold(),), follow_up_at=datetime(2027, 11, 16, 9, 0, tzinfo=tz)
    )
    plan = plan_episode(definition, facts, quiet, now=EARLY)
    assert wall(message(plan, "pre_procedure").send_at, tz) == datetime(2027, 11, 7, 10, 0)
    assert wall(message(plan, "last_dose").send_at, tz) == datetime(2027, 10, 30, 17, 0)
    assert wall(message(plan, "follow_up").send_at, tz) == datetime(2027, 11, 15, 10, 0)


def test_new_york_spring_forward_send_times_in_utc(
    definition: PathwayDefinition, quiet: QuietHours, make_facts: FactsBuilder, make_hold: HoldBuilder
) -> None:
    ny = ZoneInfo("America/New_York")
    start = datetime(2027, 3, 15, 8, 0, tzinfo=ny)
    plan = plan_episode(definition, make_facts(tz=ny, procedure_at=start, holds=(make_hold(),)), quiet, now=EARLY)
    assert message(plan, "last_dose").send_at == datetime(2027, 3, 6, 22, 0, tzinfo=UTC)  # EST
    assert message(plan, "pre_procedure").send_at == datetime(2027, 3, 14, 14, 0, tzinfo=UTC)  # EDT


@pytest.mark.parametrize("zone", ZONES)
def test_follow_up_window_spans_local_midnights_across_the_change(
    definition: PathwayDefinition, quiet: QuietHours, make_facts: FactsBuilder, zone: str
) -> None:
    tz = ZoneInfo(zone)
    plan = plan_episode(
        definition, make_facts(tz=tz, procedure_at=datetime(2027, 3, 10, 8, 0, tzinfo=tz)), quiet, now=EARLY
    )
    follow = plan.milestone("follow_up:")
    assert follow is not None and follow.window_start is not None and follow.window_end is not None
    assert wall(follow.window_start, tz) == datetime(2027, 3, 17, 0, 0)
    assert wall(follow.window_end, tz) == datetime(2027, 3, 21, 0, 0)


def test_restart_recorded_across_spring_forward_counts_real_hours_and_keeps_quiet_hours(
    definition: PathwayDefinition, quiet: QuietHours, make_facts: FactsBuilder, make_hold: HoldBuilder
) -> None:
    # Saturday 13 March, the evening before clocks spring forward in New York: the procedure ends
    # at 19:00 EST; 24 real hours later it is 20:00 EDT on Sunday, already quiet: Monday 08:00.
    ny = ZoneInfo("America/New_York")
    facts = make_facts(tz=ny, procedure_at=datetime(2027, 3, 13, 18, 0, tzinfo=ny), holds=(make_hold(),))
    before = plan_episode(definition, facts, quiet, now=datetime(2027, 3, 13, 23, 30, tzinfo=UTC))
    assert "restart" not in {m.kind for m in before.messages}
    ended = make_facts(tz=ny, procedure_at=datetime(2027, 3, 13, 18, 0, tzinfo=ny), holds=(make_hold(),),
                       status="completed", ended_at=datetime(2027, 3, 13, 19, 0, tzinfo=ny))
    plan = plan_episode(definition, ended, quiet, now=datetime(2027, 3, 14, 1, 0, tzinfo=UTC))
    restart = message(plan, "restart")
    assert restart.nominal_at == datetime(2027, 3, 15, 0, 0, tzinfo=UTC)
    assert wall(restart.nominal_at, ny) == datetime(2027, 3, 14, 20, 0)
    assert wall(restart.send_at, ny) == datetime(2027, 3, 15, 8, 0)
