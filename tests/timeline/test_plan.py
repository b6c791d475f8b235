"""The planner: which milestones and texts an episode gets, and when."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pathway.timeline import (
    EpisodeFacts,
    HoldFacts,
    PathwayDefinition,
    Plan,
    PlannedMessage,
    QuietHours,
    TemplateSet,
    plan_episode,
    text_context,
)

FactsBuilder = Callable[..., EpisodeFacts]
HoldBuilder = Callable[..., HoldFacts]

UTC = UTC
NY = ZoneInfo("America/New_York")
EARLY = datetime(2027, 2, 1, 15, 0, tzinfo=UTC)


def ny(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2027, month, day, hour, minute, tzinfo=NY)


def texts(plan: Plan) -> dict[str, PlannedMessage]:
    return {m.plan_key: m for m in plan.messages}


def kinds(plan: Plan) -> list[str]:
    return [m.kind for m in plan.messages]


def test_approved_signed_clopidogrel_gets_the_full_timeline(
    definition: PathwayDefinition, quiet: QuietHours, make_facts: FactsBuilder, make_hold: HoldBuilder
) -> None:
    plan = plan_episode(definition, make_facts(holds=(make_hold(),)), quiet, now=EARLY)
    by_key = {m.key: m for m in plan.milestones}
    assert list(by_key) == [
        "hold_clearance:h1", "last_dose:h1", "pre_procedure:", "procedure:",
        "restart:h1", "check_72h:", "follow_up:", "pt_start:",
    ]
    clearance = by_key["hold_clearance:h1"]
    assert (clearance.window_start, clearance.window_end) == (EARLY, ny(3, 2, 0))
    assert by_key["last_dose:h1"].due_at == ny(3, 2, 0)
    assert by_key["pre_procedure:"].due_at == ny(3, 9, 10)
    assert by_key["procedure:"].due_at == ny(3, 10, 8)
    assert by_key["restart:h1"].due_at == ny(3, 11, 9)
    assert by_key["check_72h:"].due_at == ny(3, 13, 8)
    follow = by_key["follow_up:"]
    assert (follow.due_at, follow.window_start, follow.window_end) == (None, ny(3, 17, 0), ny(3, 21, 0))
    pt = by_key["pt_start:"]
    assert (pt.due_at, pt.window_start, pt.window_end) == (None, ny(3, 17, 0), ny(3, 31, 0))
    # Before the end is recorded, the restart step shows the estimate and its text waits.
    assert list(texts(plan)) == [
        "last_dose:h1:20270301T2200Z",
        "stop_confirm:h1:20270303T1400Z",  # the morning after the last-dose day: did you stop?
        "pre_procedure::20270309T1500Z",
        "check_72h::20270313T1300Z",
    ]
    assert [m.send_at for m in plan.messages] == [ny(3, 1, 17), ny(3, 3, 9), ny(3, 9, 10), ny(3, 13, 8)]
    ended = make_facts(holds=(make_hold(),), status="completed", ended_at=ny(3, 10, 9))
    plan = plan_episode(definition, ended, quiet, now=EARLY)
    assert list(texts(plan)) == [
        "last_dose:h1:20270301T2200Z",
        "stop_confirm:h1:20270303T1400Z",
        "pre_procedure::20270309T1500Z",
        "restart:h1:20270311T1400Z",
        "check_72h::20270313T1300Z",
    ]
    assert [m.send_at for m in plan.messages] == [ny(3, 1, 17), ny(3, 3, 9), ny(3, 9, 10), ny(3, 11, 9),
                                                  ny(3, 13, 8)]


def test_every_instant_in_the_plan_is_aware_utc(
    definition: PathwayDefinition, quiet: QuietHours, make_facts: FactsBuilder, make_hold: HoldBuilder
) -> None:
    facts = make_facts(holds=(make_hold(),), follow_up_at=ny(3, 18, 14), pt_start_at=ny(3, 25, 9))
    plan = plan_episode(definition, facts, quiet, now=EARLY)
    for m in plan.milestones:
        for value in (m.due_at, m.window_start, m.window_end):
            assert value is None or value.tzinfo is UTC
    for t in plan.messages:
        assert t.send_at.tzinfo is UTC and t.nominal_at.tzinfo is UTC


@pytest.mark.parametrize(
    ("clearance", "signed", "texted"),
    [
        ("needed", False, False),
        ("requested", True, False),
        ("approved", False, False),
        ("declined", True, False),
        ("not_required", True, False),
        ("approved", True, True),
    ],
)
def test_no_stop_or_restart_text_until_cleared_and_signed(
    definition: PathwayDefinition, quiet: QuietHours, make_facts: FactsBuilder, make_hold: HoldBuilder,
    clearance: str, signed: bool, texted: bool,
) -> None:
    # The end is recorded, so only the hold's clearance and signature decide.
    facts = make_facts(holds=(make_hold(clearance=clearance, signed=signed),), status="completed",
                       ended_at=ny(3, 10, 9))
    plan = plan_episode(definition, facts, quiet, now=EARLY)
    hold_texts = [k for k in kinds(plan) if k in ("last_dose", "restart")]
    assert hold_texts == (["last_dose", "restart"] if texted else [])
    assert "pre_procedure" in kinds(plan) and "check_72h" in kinds(plan)


def test_unresolved_hold_still_shows_its_milestones_for_the_worklist(
    definition: PathwayDefinition, quiet: QuietHours, make_facts: FactsBuilder, make_hold: HoldBuilder
) -> None:
    plan = plan_episode(definition, make_facts(holds=(make_hold(clearance="requested"),)), quiet, now=EARLY)
    keys = {m.key for m in plan.milestones}
    assert {"hold_clearance:h1", "last_dose:h1", "restart:h1"} <= keys


@pytest.mark.parametrize("clearance", ["declined", "not_required"])
def test_a_hold_that_is_not_held_has_no_last_dose_or_restart(
    definition: PathwayDefinition, quiet: QuietHours, make_facts: FactsBuilder, make_hold: HoldBuilder,
    clearance: str,
) -> None:
    plan = plan_episode(definition, make_facts(holds=(make_hold(clearance=clearance),)), quiet, now=EARLY)
    keys = {m.key for m in plan.milestones}
    assert "hold_clearance:h1" in keys
    assert not {"last_dose:h1", "restart:h1"} & keys


def test_hold_with_no_default_closes_clearance_the_day_before_and_plans_nothing_else(
    definition: PathwayDefinition, quiet: QuietHours, make_facts: FactsBuilder, make_hold: HoldBuilder
) -> None:
    hold = make_hold(drug_label="aspirin (secondary prevention)", stop_days=None, clearance="approved")
    plan = plan_episode(definition, make_facts(holds=(hold,)), quiet, now=EARLY)
    by_key = {m.key: m for m in plan.milestones}
    assert by_key["hold_clearance:h1"].window_end == ny(3, 9, 0)
    assert "last_dose:h1" not in by_key and "restart:h1" not in by_key
    assert not {"last_dose", "restart"} & set(kinds(plan))


def test_hour_based_hold_reminds_the_evening_before_the_last_dose_day(
    definition: PathwayDefinition, quiet: QuietHours, make_facts: FactsBuilder, make_hold: HoldBuilder
) -> None:
    hold = make_hold(drug_label="enoxaparin (prophylactic dose)", stop_days=None, stop_hours=12)
    plan = plan_episode(definition, make_facts(holds=(hold,)), quiet, now=EARLY)
    by_key = {m.key: m for m in plan.milestones}
    assert by_key["last_dose:h1"].due_at == ny(3, 9, 20)
    assert by_key["hold_clearance:h1"].window_end == ny(3, 9, 0)
    reminder = next(m for m in plan.messages if m.kind == "last_dose")
    assert reminder.send_at == ny(3, 8, 17)
    assert reminder.context["last_dose_at"] == "2027-03-10T01:00:00+00:00"
    assert reminder.context["last_dose_date"] == "2027-03-09"


def test_restart_in_the_night_is_texted_at_eight_with_the_nominal_time_kept(
    definition: PathwayDefinition, quiet: QuietHours, make_facts: FactsBuilder, make_hold: HoldBuilder
) -> None:
    hold = make_hold(drug_label="heparin (subcutaneous)", stop_days=None, stop_hours=24, restart_hours=8)
    facts = make_facts(holds=(hold,), procedure_at=ny(3, 10, 18), status="completed",
                       ended_at=ny(3, 10, 19))  # ends 19:00, restart 03:00
    restart = next(m for m in plan_episode(definition, facts, quiet, now=EARLY).messages if m.kind == "restart")
    assert restart.nominal_at == ny(3, 11, 3)
    assert restart.send_at == ny(3, 11, 8)
    assert restart.plan_key == "restart:h1:20270311T0800Z"


def test_cancelled_episode_plans_nothing(
    definition: PathwayDefinition, quiet: QuietHours, make_facts: FactsBuilder, make_hold: HoldBuilder
) -> None:
    plan = plan_episode(definition, make_facts(status="cancelled", holds=(make_hold(),)), quiet, now=EARLY)
    assert plan == Plan((), ())


def test_follow_up_and_pt_texts_only_once_booked(
    definition: PathwayDefinition, quiet: QuietHours, make_facts: FactsBuilder
) -> None:
    unbooked = plan_episode(definition, make_facts(), quiet, now=EARLY)
    assert not {"follow_up", "pt_start"} & set(kinds(unbooked))
    booked = plan_episode(
        definition, make_facts(follow_up_at=ny(3, 18, 14), pt_start_at=ny(3, 25, 9)), quiet, now=EARLY
    )
    sends = {m.kind: m.send_at for m in booked.messages}
    assert sends["follow_up"] == ny(3, 17, 10)
    assert sends["pt_start"] == ny(3, 24, 10)


def test_pt_window_opens_at_the_booked_follow_up_and_lasts_fourteen_days(
    definition: PathwayDefinition, quiet: QuietHours, make_facts: FactsBuilder
) -> None:
    plan = plan_episode(definition, make_facts(follow_up_at=ny(3, 18, 14)), quiet, now=EARLY)
    pt = plan.milestone("pt_start:")
    follow = plan.milestone("follow_up:")
    assert pt is not None and follow is not None
    assert follow.due_at == ny(3, 18, 14)
    assert (pt.window_start, pt.window_end) == (ny(3, 18, 14), ny(4, 1, 14))


def test_completed_episode_keeps_its_timeline_and_restart_counts_from_recorded_end(
    definition: PathwayDefinition, quiet: QuietHours, make_facts: FactsBuilder, make_hold: HoldBuilder
) -> None:
    facts = make_facts(status="completed", ended_at=ny(3, 10, 9, 40), holds=(make_hold(),))
    plan = plan_episode(definition, facts, quiet, now=ny(3, 10, 10))
    assert [m.kind for m in plan.messages] == ["restart", "check_72h"]
    assert plan.messages[0].send_at == ny(3, 11, 9, 40)


def test_late_approval_sends_the_last_dose_reminder_at_once_while_it_can_help(
    definition: PathwayDefinition, quiet: QuietHours, make_facts: FactsBuilder, make_hold: HoldBuilder
) -> None:
    now = ny(3, 1, 18, 30)  # after the 17:00 reminder time, before the last-dose day starts
    plan = plan_episode(definition, make_facts(holds=(make_hold(),)), quiet, now=now)
    reminder = next(m for m in plan.messages if m.kind == "last_dose")
    assert reminder.send_at == now
    assert reminder.plan_key == "last_dose:h1:20270301T2200Z"  # identity is the nominal time


def test_late_catch_up_in_quiet_hours_waits_for_morning(
    definition: PathwayDefinition, quiet: QuietHours, make_facts: FactsBuilder, make_hold: HoldBuilder
) -> None:
    now = ny(3, 1, 21, 0)
    plan = plan_episode(definition, make_facts(holds=(make_hold(),)), quiet, now=now)
    reminder = next(m for m in plan.messages if m.kind == "last_dose")
    assert reminder.send_at == ny(3, 2, 8)


def test_reminder_is_dropped_once_its_moment_has_passed(
    definition: PathwayDefinition, quiet: QuietHours, make_facts: FactsBuilder, make_hold: HoldBuilder
) -> None:
    plan = plan_episode(definition, make_facts(holds=(make_hold(),)), quiet, now=ny(3, 2, 9))
    assert "last_dose" not in kinds(plan)
    assert "check_72h" in kinds(plan)


def test_no_restart_text_before_the_end_is_recorded_though_its_step_shows_the_estimate(
    definition: PathwayDefinition, quiet: QuietHours, make_facts: FactsBuilder, make_hold: HoldBuilder
) -> None:
    # Long past the expected end (09:00) and the estimated restart (Thu 09:00): still no text.
    facts = make_facts(holds=(make_hold(),))
    for now in (EARLY, ny(3, 10, 12), ny(3, 11, 10)):
        plan = plan_episode(definition, facts, quiet, now=now)
        assert "restart" not in kinds(plan)
        restart = plan.milestone("restart:h1")
        assert restart is not None and restart.due_at == ny(3, 11, 9)


def test_an_end_recorded_after_the_restart_moment_sends_the_restart_text_at_once(
    definition: PathwayDefinition, quiet: QuietHours, make_facts: FactsBuilder, make_hold: HoldBuilder
) -> None:
    hold = make_hold(drug_label="heparin (intravenous)", stop_days=None, stop_hours=6, restart_hours=2)
    facts = make_facts(holds=(hold,), status="completed", ended_at=ny(3, 10, 9, 10))  # restart from 11:10
    now = ny(3, 10, 14)  # the end is recorded at 14:00
    restart = next(m for m in plan_episode(definition, facts, quiet, now=now).messages if m.kind == "restart")
    assert restart.nominal_at == ny(3, 10, 11, 10)
    assert restart.send_at == now
    assert restart.plan_key == "restart:h1:20270310T1610Z"


def test_an_end_recorded_late_in_the_evening_sends_the_restart_text_at_eight(
    definition: PathwayDefinition, quiet: QuietHours, make_facts: FactsBuilder, make_hold: HoldBuilder
) -> None:
    hold = make_hold(drug_label="heparin (intravenous)", stop_days=None, stop_hours=6, restart_hours=2)
    facts = make_facts(holds=(hold,), status="completed", ended_at=ny(3, 10, 9, 10))
    restart = next(m for m in plan_episode(definition, facts, quiet, now=ny(3, 10, 21)).messages
                   if m.kind == "restart")
    assert restart.send_at == ny(3, 11, 8)


def test_an_end_recorded_more_than_a_day_after_the_restart_moment_plans_no_restart_text(
    definition: PathwayDefinition, quiet: QuietHours, make_facts: FactsBuilder, make_hold: HoldBuilder
) -> None:
    # Restart from Thu 09:00; the dispatcher drops a restart text more than a day late, so the
    # planner does not plan one (a person calls: the worklist showed the missing end).
    facts = make_facts(holds=(make_hold(),), status="completed", ended_at=ny(3, 10, 9))
    assert "restart" in kinds(plan_episode(definition, facts, quiet, now=ny(3, 12, 8, 59)))
    assert "restart" not in kinds(plan_episode(definition, facts, quiet, now=ny(3, 12, 9)))


def test_pre_procedure_text_catches_up_until_the_procedure(
    definition: PathwayDefinition, quiet: QuietHours, make_facts: FactsBuilder
) -> None:
    now = ny(3, 9, 15, 0)  # booked the afternoon before
    plan = plan_episode(definition, make_facts(), quiet, now=now)
    pre = next(m for m in plan.messages if m.kind == "pre_procedure")
    assert pre.send_at == now and pre.nominal_at == ny(3, 9, 10)


def test_check_72h_is_dropped_when_planned_after_it(
    definition: PathwayDefinition, quiet: QuietHours, make_facts: FactsBuilder
) -> None:
    plan = plan_episode(definition, make_facts(status="completed"), quiet, now=ny(3, 14, 9))
    assert plan.messages == ()


def test_follow_up_booked_for_tomorrow_afternoon_is_reminded_now(
    definition: PathwayDefinition, quiet: QuietHours, make_facts: FactsBuilder
) -> None:
    now = ny(3, 16, 12)
    plan = plan_episode(definition, make_facts(status="completed", follow_up_at=ny(3, 17, 9)), quiet, now=now)
    follow = next(m for m in plan.messages if m.kind == "follow_up")
    assert follow.send_at == now


def test_message_context_carries_facts_not_phrases(
    definition: PathwayDefinition, quiet: QuietHours, make_facts: FactsBuilder, make_hold: HoldBuilder
) -> None:
    plan = plan_episode(definition, make_facts(holds=(make_hold(),)), quiet, now=EARLY)
    by_kind = {m.kind: m for m in plan.messages}
    assert dict(by_kind["last_dose"].context) == {
        "procedure_at": "2027-03-10T13:00:00+00:00",
        "hold_ref": "h1",
        "drug_label": "clopidogrel",
        "last_dose_date": "2027-03-02",
        "restart_at": "2027-03-11T14:00:00+00:00",
    }
    assert "drug_label" not in by_kind["pre_procedure"].context


@pytest.mark.parametrize(("lang", "phrase"), [("en", "on Tue Mar 2."), ("es", "el martes 2 de marzo")])
def test_planned_last_dose_text_renders_the_reference_date(
    definition: PathwayDefinition, quiet: QuietHours, templates: TemplateSet,
    make_facts: FactsBuilder, make_hold: HoldBuilder, lang: str, phrase: str,
) -> None:
    plan = plan_episode(definition, make_facts(holds=(make_hold(),)), quiet, now=EARLY)
    reminder = next(m for m in plan.messages if m.kind == "last_dose")
    context = text_context(reminder.context, lang=lang, tz=NY, clinic_name="Lakeside Pain Clinic",
                           clinic_phone="555-201-4477")
    body = templates.render("last_dose", lang, context)
    assert phrase in body
    assert "clopidogrel" not in body


def test_two_holds_get_their_own_milestones_and_texts(
    definition: PathwayDefinition, quiet: QuietHours, make_facts: FactsBuilder, make_hold: HoldBuilder
) -> None:
    holds = (make_hold(), make_hold(ref="h2", drug_label="naproxen", stop_days=4))
    plan = plan_episode(definition, make_facts(holds=holds), quiet, now=EARLY)
    last = {m.ref: m.due_at for m in plan.milestones if m.kind == "last_dose"}
    assert last == {"h1": ny(3, 2, 0), "h2": ny(3, 5, 0)}
    assert sorted(m.plan_key for m in plan.messages if m.kind == "last_dose") == [
        "last_dose:h1:20270301T2200Z", "last_dose:h2:20270304T2200Z",
    ]


def test_naive_now_is_refused(definition: PathwayDefinition, quiet: QuietHours, make_facts: FactsBuilder) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        plan_episode(definition, make_facts(), quiet, now=datetime(2027, 2, 1))


def test_unknown_clearance_is_refused(make_hold: HoldBuilder) -> None:
    with pytest.raises(ValueError, match="clearance 'maybe'"):
        make_hold(clearance="maybe")


def test_planning_is_deterministic(
    definition: PathwayDefinition, quiet: QuietHours, make_facts: FactsBuilder, make_hold: HoldBuilder
) -> None:
    facts = make_facts(holds=(make_hold(),))
    assert plan_episode(definition, facts, quiet, now=EARLY) == plan_episode(definition, facts, quiet, now=EARLY)


def test_last_dose_date_is_local_date_minus_n_plus_one(
    definition: PathwayDefinition, quiet: QuietHours, make_facts: FactsBuilder, make_hold: HoldBuilder
) -> None:
    plan = plan_episode(definition, make_facts(holds=(make_hold(stop_days=5),)), quiet, now=EARLY)
    reminder = next(m for m in plan.messages if m.kind == "last_dose")
    assert reminder.context["last_dose_date"] == date(2027, 3, 4).isoformat()
    assert reminder.send_at == ny(3, 3, 17)
    assert timedelta(0) < ny(3, 10, 8) - reminder.send_at
