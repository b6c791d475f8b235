"""Re-planning diffs: exactly what to cancel, add and move after each kind of change."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from pathway.timeline import (
    EpisodeFacts,
    HoldFacts,
    PathwayDefinition,
    Plan,
    PlanDiff,
    QuietHours,
    StoredMessage,
    StoredMilestone,
    diff_plan,
    plan_episode,
)

FactsBuilder = Callable[..., EpisodeFacts]
HoldBuilder = Callable[..., HoldFacts]

UTC = UTC
NY = ZoneInfo("America/New_York")
EARLY = datetime(2027, 2, 1, 15, 0, tzinfo=UTC)  # 10:00 in New York
# The texts planned before the procedure: the restart text waits for the recorded end.
ORIGINAL_TEXTS = {
    "last_dose:h1:20270301T2200Z",
    "stop_confirm:h1:20270303T1400Z",  # the morning after the last-dose day (Tue 2 Mar): 09:00 EST
    "pre_procedure::20270309T1500Z",
    "check_72h::20270313T1300Z",
}
STOP_CONFIRM = "stop_confirm:h1:20270303T1400Z"
# The procedure's end as recorded (Wed Mar 10 09:30 New York), and the restart text it times.
RESTART_TEXT = "restart:h1:20270311T1430Z"
ALL_MILESTONES = {
    "hold_clearance:h1", "last_dose:h1", "pre_procedure:", "procedure:",
    "restart:h1", "check_72h:", "follow_up:", "pt_start:",
}


def ny(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2027, month, day, hour, minute, tzinfo=NY)


def stored(
    plan: Plan,
    message_status: Mapping[str, str] | None = None,
    milestone_status: Mapping[str, str] | None = None,
) -> tuple[list[StoredMilestone], list[StoredMessage]]:
    """What the services would have saved from `plan` (statuses overridable by key)."""
    message_status = message_status or {}
    milestone_status = milestone_status or {}
    milestones = [
        StoredMilestone(m.key, milestone_status.get(m.key, "planned"), m.due_at, m.window_start, m.window_end)
        for m in plan.milestones
    ]
    messages = [
        StoredMessage(m.plan_key, m.kind, message_status.get(m.plan_key, "scheduled"), m.send_at)
        for m in plan.messages
    ]
    return milestones, messages


def rediff(
    definition: PathwayDefinition, quiet: QuietHours, before: tuple[list[StoredMilestone], list[StoredMessage]],
    facts: EpisodeFacts, *, now: datetime = EARLY, notice_kind: str | None = None,
    notice_context: Mapping[str, str] | None = None,
) -> PlanDiff:
    plan = plan_episode(definition, facts, quiet, now=now)
    return diff_plan(
        before[0], before[1], plan, notice_kind=notice_kind, notice_context=notice_context or {},
        quiet=quiet, tz=NY, now=now,
    )


def keys(items: Iterable[Any]) -> set[str]:
    """Plan keys of texts, keys of milestones (the planned side of a moved pair)."""
    found: set[str] = set()
    for item in items:
        if isinstance(item, tuple):
            item = item[1]
        found.add(item.plan_key if hasattr(item, "plan_key") else item.key)
    return found


@pytest.fixture
def base(
    definition: PathwayDefinition, quiet: QuietHours, make_facts: FactsBuilder, make_hold: HoldBuilder
) -> EpisodeFacts:
    return make_facts(holds=(make_hold(),))


def test_replanning_unchanged_facts_changes_nothing(
    definition: PathwayDefinition, quiet: QuietHours, base: EpisodeFacts
) -> None:
    before = stored(plan_episode(definition, base, quiet, now=EARLY))
    diff = rediff(definition, quiet, before, base)
    assert diff.is_empty
    assert diff.summary(NY) == []


def test_a_text_reworded_at_the_same_time_is_a_change_and_a_summary_line(
    definition: PathwayDefinition, quiet: QuietHours, base: EpisodeFacts
) -> None:
    from dataclasses import replace

    from pathway.timeline import RewordedMessage

    before = stored(plan_episode(definition, base, quiet, now=EARLY))
    diff = rediff(definition, quiet, before, base)
    text = next(m for m in plan_episode(definition, base, quiet, now=EARLY).messages if m.kind == "check_72h")
    reworded = replace(diff, reworded=(RewordedMessage(text.plan_key, text.kind, text.send_at, "old", "new"),))
    assert not reworded.is_empty
    (line,) = reworded.summary(NY)
    assert line.startswith("Reword: ") and "72" in line


def test_procedure_moved_replaces_every_dated_text_and_sends_one_notice(
    definition: PathwayDefinition, quiet: QuietHours, base: EpisodeFacts, make_facts: FactsBuilder,
    make_hold: HoldBuilder,
) -> None:
    before = stored(plan_episode(definition, base, quiet, now=EARLY))
    moved = make_facts(holds=(make_hold(),), procedure_at=ny(3, 12, 8))
    diff = rediff(definition, quiet, before, moved, notice_kind="date_changed",
                  notice_context={"procedure_at": "2027-03-12T13:00:00+00:00"})
    assert keys(diff.messages_cancelled) == ORIGINAL_TEXTS
    assert keys(diff.messages_added) == {
        "last_dose:h1:20270303T2200Z",
        "stop_confirm:h1:20270305T1400Z",
        "pre_procedure::20270311T1500Z",
        "check_72h::20270315T1300Z",
    }
    # The restart step moves with the estimate; its text still waits for the recorded end.
    assert keys(diff.milestones_moved) == ALL_MILESTONES
    assert diff.milestones_added == () and diff.milestones_cancelled == ()
    assert diff.notice is not None
    assert diff.notice.kind == "date_changed"
    assert diff.notice.plan_key == "date_changed::20270201T150000Z"
    assert diff.notice.send_at == EARLY
    assert dict(diff.notice.context) == {"procedure_at": "2027-03-12T13:00:00+00:00"}


def test_procedure_moved_never_cancels_or_resends_texts_already_sent(
    definition: PathwayDefinition, quiet: QuietHours, base: EpisodeFacts, make_facts: FactsBuilder,
    make_hold: HoldBuilder,
) -> None:
    plan = plan_episode(definition, base, quiet, now=EARLY)
    before = stored(plan, message_status={"last_dose:h1:20270301T2200Z": "delivered"})
    now = ny(3, 1, 18)
    moved = make_facts(holds=(make_hold(),), procedure_at=ny(3, 12, 8))
    diff = rediff(definition, quiet, before, moved, now=now, notice_kind="date_changed")
    assert keys(diff.messages_cancelled) == ORIGINAL_TEXTS - {"last_dose:h1:20270301T2200Z"}
    assert "last_dose:h1:20270303T2200Z" in keys(diff.messages_added)


def test_recorded_end_moves_only_the_restart_and_adds_its_text(
    definition: PathwayDefinition, quiet: QuietHours, base: EpisodeFacts, make_facts: FactsBuilder,
    make_hold: HoldBuilder,
) -> None:
    plan = plan_episode(definition, base, quiet, now=EARLY)
    before = stored(plan, message_status={
        "last_dose:h1:20270301T2200Z": "delivered", "pre_procedure::20270309T1500Z": "delivered",
        STOP_CONFIRM: "delivered",
    })
    ended = make_facts(holds=(make_hold(),), status="completed", ended_at=ny(3, 10, 9, 30))
    diff = rediff(definition, quiet, before, ended, now=ny(3, 10, 10))
    assert keys(diff.messages_cancelled) == set()
    assert keys(diff.messages_added) == {RESTART_TEXT}
    assert keys(diff.milestones_moved) == {"restart:h1"}
    assert diff.milestones_moved[0][1].due_at == ny(3, 11, 9, 30)
    assert diff.notice is None


def test_follow_up_booked_adds_its_reminder_and_moves_the_pt_window(
    definition: PathwayDefinition, quiet: QuietHours, base: EpisodeFacts, make_facts: FactsBuilder,
    make_hold: HoldBuilder,
) -> None:
    before = stored(plan_episode(definition, base, quiet, now=EARLY))
    booked = make_facts(holds=(make_hold(),), follow_up_at=ny(3, 18, 14))
    diff = rediff(definition, quiet, before, booked)
    assert keys(diff.messages_cancelled) == set()
    assert keys(diff.messages_added) == {"follow_up::20270317T1400Z"}
    assert keys(diff.milestones_moved) == {"follow_up:", "pt_start:"}
    assert diff.notice is None


def test_follow_up_moved_swaps_its_reminder(
    definition: PathwayDefinition, quiet: QuietHours, make_facts: FactsBuilder, make_hold: HoldBuilder
) -> None:
    first = make_facts(holds=(make_hold(),), follow_up_at=ny(3, 18, 14))
    before = stored(plan_episode(definition, first, quiet, now=EARLY))
    moved = make_facts(holds=(make_hold(),), follow_up_at=ny(3, 19, 15))
    diff = rediff(definition, quiet, before, moved)
    assert keys(diff.messages_cancelled) == {"follow_up::20270317T1400Z"}
    assert keys(diff.messages_added) == {"follow_up::20270318T1400Z"}
    assert keys(diff.milestones_moved) == {"follow_up:", "pt_start:"}


def test_pt_booked_adds_its_reminder(
    definition: PathwayDefinition, quiet: QuietHours, make_facts: FactsBuilder, make_hold: HoldBuilder
) -> None:
    first = make_facts(holds=(make_hold(),), follow_up_at=ny(3, 18, 14))
    before = stored(plan_episode(definition, first, quiet, now=EARLY))
    booked = make_facts(holds=(make_hold(),), follow_up_at=ny(3, 18, 14), pt_start_at=ny(3, 25, 9))
    diff = rediff(definition, quiet, before, booked)
    assert keys(diff.messages_cancelled) == set()
    assert keys(diff.messages_added) == {"pt_start::20270324T1400Z"}
    assert keys(diff.milestones_moved) == {"pt_start:"}


def test_hold_approved_and_signed_adds_the_stop_and_restart_texts(
    definition: PathwayDefinition, quiet: QuietHours, make_facts: FactsBuilder, make_hold: HoldBuilder
) -> None:
    pending = make_facts(holds=(make_hold(clearance="requested", signed=False),))
    before = stored(plan_episode(definition, pending, quiet, now=EARLY))
    approved = make_facts(holds=(make_hold(),))
    diff = rediff(definition, quiet, before, approved)
    # The restart text waits for the end.
    assert keys(diff.messages_added) == {"last_dose:h1:20270301T2200Z", STOP_CONFIRM}
    assert diff.messages_cancelled == () and diff.milestones_moved == ()
    assert diff.notice is None
    ended = make_facts(holds=(make_hold(),), status="completed", ended_at=ny(3, 10, 9, 30))
    assert keys(rediff(definition, quiet, before, ended).messages_added) == {
        "last_dose:h1:20270301T2200Z", STOP_CONFIRM, RESTART_TEXT}


def test_hold_declined_cancels_its_texts_and_steps(
    definition: PathwayDefinition, quiet: QuietHours, base: EpisodeFacts, make_facts: FactsBuilder,
    make_hold: HoldBuilder,
) -> None:
    before = stored(plan_episode(definition, base, quiet, now=EARLY))
    declined = make_facts(holds=(make_hold(clearance="declined"),))
    diff = rediff(definition, quiet, before, declined)
    assert keys(diff.messages_cancelled) == {"last_dose:h1:20270301T2200Z", STOP_CONFIRM}
    assert keys(diff.milestones_cancelled) == {"last_dose:h1", "restart:h1"}
    assert diff.messages_added == ()
    # Declined after the end was recorded: its restart text goes too.
    ended = make_facts(holds=(make_hold(),), status="completed", ended_at=ny(3, 10, 9, 30))
    before = stored(plan_episode(definition, ended, quiet, now=EARLY))
    declined = make_facts(holds=(make_hold(clearance="declined"),), status="completed", ended_at=ny(3, 10, 9, 30))
    assert RESTART_TEXT in keys(rediff(definition, quiet, before, declined).messages_cancelled)


def test_episode_cancelled_cancels_everything_open_and_sends_one_notice(
    definition: PathwayDefinition, quiet: QuietHours, base: EpisodeFacts, make_facts: FactsBuilder,
    make_hold: HoldBuilder,
) -> None:
    plan = plan_episode(definition, base, quiet, now=EARLY)
    before = stored(
        plan,
        message_status={"last_dose:h1:20270301T2200Z": "sent"},
        milestone_status={"hold_clearance:h1": "done"},
    )
    before[1].append(StoredMessage("enrolment::20270201T140000Z", "enrolment", "delivered", EARLY))
    now = ny(3, 1, 21)  # evening: the notice waits for morning
    cancelled = make_facts(holds=(make_hold(),), status="cancelled")
    diff = rediff(definition, quiet, before, cancelled, now=now, notice_kind="cancelled",
                  notice_context={"procedure_at": "2027-03-10T13:00:00+00:00"})
    assert keys(diff.messages_cancelled) == ORIGINAL_TEXTS - {"last_dose:h1:20270301T2200Z"}
    assert keys(diff.milestones_cancelled) == ALL_MILESTONES - {"hold_clearance:h1"}
    assert diff.messages_added == () and diff.milestones_added == () and diff.milestones_moved == ()
    assert diff.notice is not None and diff.notice.kind == "cancelled"
    assert diff.notice.send_at == ny(3, 2, 8)
    assert diff.notice.plan_key == "cancelled::20270302T020000Z"


def test_a_cancelled_or_suppressed_text_planned_again_is_added_again(
    definition: PathwayDefinition, quiet: QuietHours, make_facts: FactsBuilder, make_hold: HoldBuilder
) -> None:
    ended = make_facts(holds=(make_hold(),), status="completed", ended_at=ny(3, 10, 9, 30))
    plan = plan_episode(definition, ended, quiet, now=EARLY)
    before = stored(plan, message_status={RESTART_TEXT: "cancelled", "check_72h::20270313T1300Z": "suppressed"})
    diff = rediff(definition, quiet, before, ended)
    assert keys(diff.messages_added) == {RESTART_TEXT, "check_72h::20270313T1300Z"}
    assert diff.messages_cancelled == ()


@pytest.mark.parametrize("status", ["sending", "sent", "delivered", "undelivered", "failed", "unknown"])
def test_texts_in_flight_or_gone_are_history(
    definition: PathwayDefinition, quiet: QuietHours, base: EpisodeFacts, make_facts: FactsBuilder,
    make_hold: HoldBuilder, status: str,
) -> None:
    plan = plan_episode(definition, base, quiet, now=EARLY)
    before = stored(plan, message_status={key: status for key in ORIGINAL_TEXTS})
    same = rediff(definition, quiet, before, base)
    assert same.messages_added == () and same.messages_cancelled == ()
    moved = rediff(definition, quiet, before, make_facts(holds=(make_hold(),), procedure_at=ny(3, 12, 8)))
    assert moved.messages_cancelled == ()


def test_a_pending_notice_is_replaced_by_the_new_one_and_enrolment_is_left_alone(
    definition: PathwayDefinition, quiet: QuietHours, base: EpisodeFacts, make_facts: FactsBuilder,
    make_hold: HoldBuilder,
) -> None:
    before = stored(plan_episode(definition, base, quiet, now=EARLY))
    before[1].append(StoredMessage("date_changed::20270131T020000Z", "date_changed", "scheduled", EARLY))
    before[1].append(StoredMessage("enrolment::20270131T020000Z", "enrolment", "scheduled", EARLY))
    moved = make_facts(holds=(make_hold(),), procedure_at=ny(3, 12, 8))
    diff = rediff(definition, quiet, before, moved, notice_kind="date_changed")
    assert "date_changed::20270131T020000Z" in keys(diff.messages_cancelled)
    assert "enrolment::20270131T020000Z" not in keys(diff.messages_cancelled)
    assert diff.notice is not None


def test_without_a_notice_a_pending_notice_stays(
    definition: PathwayDefinition, quiet: QuietHours, base: EpisodeFacts
) -> None:
    before = stored(plan_episode(definition, base, quiet, now=EARLY))
    before[1].append(StoredMessage("date_changed::20270131T020000Z", "date_changed", "scheduled", EARLY))
    assert rediff(definition, quiet, before, base).is_empty


def test_done_milestones_are_never_moved_and_cancelled_ones_reopen(
    definition: PathwayDefinition, quiet: QuietHours, base: EpisodeFacts, make_facts: FactsBuilder,
    make_hold: HoldBuilder,
) -> None:
    plan = plan_episode(definition, base, quiet, now=EARLY)
    before = stored(plan, milestone_status={"hold_clearance:h1": "done", "check_72h:": "cancelled"})
    moved = make_facts(holds=(make_hold(),), procedure_at=ny(3, 12, 8))
    diff = rediff(definition, quiet, before, moved)
    assert "hold_clearance:h1" not in keys(diff.milestones_moved)
    assert "check_72h:" in keys(diff.milestones_moved)
    same = rediff(definition, quiet, before, base)
    assert keys(same.milestones_moved) == {"check_72h:"}  # re-opened at the same time


def test_unknown_notice_kind_is_refused(definition: PathwayDefinition, quiet: QuietHours, base: EpisodeFacts) -> None:
    with pytest.raises(ValueError, match="notice_kind"):
        rediff(definition, quiet, stored(Plan((), ())), base, notice_kind="moved")


def test_summary_names_the_medicine_of_each_per_hold_line_when_given_the_names(
    definition: PathwayDefinition, quiet: QuietHours, base: EpisodeFacts, make_facts: FactsBuilder,
    make_hold: HoldBuilder,
) -> None:
    before = stored(plan_episode(definition, base, quiet, now=EARLY))
    moved = make_facts(holds=(make_hold(),), procedure_at=ny(3, 12, 8))
    diff = rediff(definition, quiet, before, moved, notice_kind="date_changed")
    lines = diff.summary(NY, definition, {"h1": "warfarin"})
    assert "Cancel: last-dose reminder (warfarin) Mon Mar 1 5:00 PM EST" in lines
    assert "Add: last-dose reminder (warfarin) Wed Mar 3 5:00 PM EST" in lines
    assert any(line.startswith("Move: Last dose before the hold (warfarin) Tue Mar 2") for line in lines)
    assert "Move: Procedure Wed Mar 10 8:00 AM EST \u2192 Fri Mar 12 8:00 AM EST" in lines  # not a hold's step


def test_summary_reads_as_a_preview_in_local_time(
    definition: PathwayDefinition, quiet: QuietHours, base: EpisodeFacts, make_facts: FactsBuilder,
    make_hold: HoldBuilder,
) -> None:
    before = stored(plan_episode(definition, base, quiet, now=EARLY))
    moved = make_facts(holds=(make_hold(),), procedure_at=ny(3, 12, 8))
    diff = rediff(definition, quiet, before, moved, notice_kind="date_changed")
    lines = diff.summary(NY, definition)
    assert "Cancel: last-dose reminder Mon Mar 1 5:00 PM EST" in lines
    assert "Add: last-dose reminder Wed Mar 3 5:00 PM EST" in lines
    assert "Move: Procedure Wed Mar 10 8:00 AM EST \u2192 Fri Mar 12 8:00 AM EST" in lines
    assert any(line.startswith("Move: Last dose before the hold Tue Mar 2 \u2192 Thu Mar 4") for line in lines)
    assert "Send: date-change notice Mon Feb 1 10:00 AM EST" in lines
    plain = diff.summary(NY)
    # Each time says its zone, and a move across the daylight-saving change says both.
    across = rediff(definition, quiet, before, make_facts(holds=(make_hold(),), procedure_at=ny(3, 17, 8)),
                    notice_kind="date_changed").summary(NY, definition)
    assert "Move: Procedure Wed Mar 10 8:00 AM EST \u2192 Wed Mar 17 8:00 AM EDT" in across
    assert "Cancel: last dose text Mon Mar 1 5:00 PM EST" in plain
