"""The planner: from an episode's facts to its milestones and the texts to send.

Pure and deterministic: the same facts, definition, quiet hours and `now` always give the same
plan, so re-planning after any change can be diffed against what is stored (see `diff.py`).
The planner decides; services apply its decisions to the database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

from pathway.timeline.arrival import effective_arrival
from pathway.timeline.definition import (
    DATE_ANCHORS,
    INSTANT_ANCHORS,
    PathwayDefinition,
    SendRule,
)
from pathway.timeline.holds import HoldDates, HoldPlanInput, compute_hold
from pathway.timeline.localtime import (
    UTC,
    add_local_days,
    at_local,
    local_date,
    require_aware,
)
from pathway.timeline.quiet import QuietHours
from pathway.timeline.texts import plural
from pathway.timeline.vocabulary import ClearanceStatus, EpisodeStatus, MessageKind, MilestoneKind

__all__ = [
    "CLEARANCE_STATUSES",
    "EPISODE_STATUSES",
    "LATE_REMINDER_GRACE",
    "EpisodeFacts",
    "HoldFacts",
    "Plan",
    "PlannedMessage",
    "PlannedMilestone",
    "plan_episode",
    "plan_key_refs",
]

CLEARANCE_STATUSES = frozenset(ClearanceStatus)
NOT_HELD = frozenset({ClearanceStatus.DECLINED, ClearanceStatus.NOT_REQUIRED})
EPISODE_STATUSES = frozenset(EpisodeStatus)
MIDNIGHT = time(0, 0)
# How long after its milestone's due moment a restart (or 72-hour) text still helps: the
# dispatcher drops one that would go later (dispatch/outbox.py `_stale_after`), and a restart
# text timed from an end recorded late catches up until then (`_catch_up_deadline`).
LATE_REMINDER_GRACE = timedelta(days=1)


@dataclass(frozen=True)
class HoldFacts:
    """One drug to hold for this episode, as recorded (not the catalogue default)."""

    ref: str
    drug_label: str
    stop_days: int | None
    stop_hours: int | None
    restart_hours: int | None
    clearance: str
    signed: bool
    rule: str
    # When the plan was signed (None: unknown). A signature after the last-dose text's time
    # means the text never went: it may still go on the last-dose day (see `_catch_up_deadline`).
    signed_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.clearance not in CLEARANCE_STATUSES:
            known = ", ".join(sorted(CLEARANCE_STATUSES))
            raise ValueError(f"hold {self.ref}: clearance {self.clearance!r} is not one of {known}")
        if not self.ref or ":" in self.ref:
            raise ValueError(f"hold ref {self.ref!r} must be non-empty and contain no ':'")

    @property
    def held(self) -> bool:
        """False when the prescriber declined the hold or it turned out not to be needed."""
        return self.clearance not in NOT_HELD

    @property
    def may_text(self) -> bool:
        """Only a cleared AND signed plan may tell a patient to stop or restart a drug."""
        return self.held and self.clearance == ClearanceStatus.APPROVED and self.signed

    def plan_input(self) -> HoldPlanInput:
        return HoldPlanInput(self.stop_days, self.stop_hours, self.restart_hours)


@dataclass(frozen=True)
class EpisodeFacts:
    """Everything the planner needs about one episode; datetimes are aware."""

    tz: ZoneInfo
    status: str
    procedure_at: datetime
    duration: timedelta
    ended_at: datetime | None
    created_at: datetime
    holds: tuple[HoldFacts, ...]
    follow_up_at: datetime | None
    pt_start_at: datetime | None
    # The day-before text: the episode's own arrival time (None: the pathway's default lead) and
    # the place as staff recorded it (the text leaves out what would reveal the visit's purpose).
    arrival_at: datetime | None = None
    facility: str = ""
    facility_address: str = ""

    def __post_init__(self) -> None:
        if self.status not in EPISODE_STATUSES:
            known = ", ".join(sorted(EPISODE_STATUSES))
            raise ValueError(f"episode status {self.status!r} is not one of {known}")
        if self.duration <= timedelta(0):
            raise ValueError("expected duration must be positive")
        require_aware(self.procedure_at, "procedure_at")
        require_aware(self.created_at, "created_at")
        for name in ("ended_at", "follow_up_at", "pt_start_at", "arrival_at"):
            value = getattr(self, name)
            if value is not None:
                require_aware(value, name)
        refs = [h.ref for h in self.holds]
        if len(set(refs)) != len(refs):
            raise ValueError(f"hold refs must be unique within an episode: {refs}")


@dataclass(frozen=True)
class PlannedMilestone:
    """One step on the timeline: a due moment, a window, or both; UTC instants."""

    kind: str
    ref: str
    due_at: datetime | None
    window_start: datetime | None
    window_end: datetime | None
    rule: str

    @property
    def key(self) -> str:
        """Stable identity within the episode: kind plus hold ref ('' for episode steps)."""
        return f"{self.kind}:{self.ref}"

    @property
    def deadline(self) -> datetime | None:
        """The moment after which reminding about this step is pointless."""
        return self.due_at if self.due_at is not None else self.window_end


@dataclass(frozen=True)
class PlannedMessage:
    """One text to send. `nominal_at` (the rule's time) is its identity; `send_at` may shift."""

    kind: str
    milestone_key: str | None
    nominal_at: datetime
    send_at: datetime
    context: Mapping[str, str] = field(default_factory=dict, hash=False)
    # The holds this text is about (one per text today: each text names its own medicine, so
    # two never read alike; several refs would mean one text naming several medicines).
    refs: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        """The hold ref of a per-hold text, '' otherwise."""
        if self.milestone_key is None:
            return ""
        return self.milestone_key.partition(":")[2]

    @property
    def plan_key(self) -> str:
        """Identity for de-duplication across re-plans.

        Planned texts: kind, hold ref and the nominal minute, so a catch-up or quiet-hours
        shift does not make a "new" text. Notices (no milestone): kind and the second they
        were issued, so each notice is distinct.
        """
        nominal = self.nominal_at.astimezone(UTC)
        if self.milestone_key is None:
            return f"{self.kind}::{nominal:%Y%m%dT%H%M%SZ}"
        refs = "+".join(self.refs) if len(self.refs) > 1 else self.ref
        return f"{self.kind}:{refs}:{nominal:%Y%m%dT%H%MZ}"


def plan_key_refs(plan_key: str) -> list[str]:
    """The hold refs a stored text's plan key names ("last_dose:h1+h2:<minute>" -> h1, h2): one
    text may name several medicines. The inverse of ``PlannedMessage.plan_key``."""
    parts = plan_key.split(":")
    return [ref for ref in parts[1].split("+") if ref] if len(parts) >= 2 else []


@dataclass(frozen=True)
class Plan:
    """The decisions for one episode at one moment."""

    milestones: tuple[PlannedMilestone, ...]
    messages: tuple[PlannedMessage, ...]

    def milestone(self, key: str) -> PlannedMilestone | None:
        for item in self.milestones:
            if item.key == key:
                return item
        return None

    def message_keys(self) -> frozenset[str]:
        return frozenset(m.plan_key for m in self.messages)


EMPTY_PLAN = Plan((), ())


# --- Anchors: the moments send rules are measured from ------------------------------------


@dataclass(frozen=True)
class _Anchors:
    procedure_date: date
    procedure_start: datetime
    follow_up_date: date | None
    pt_start_date: date | None
    last_dose_date: date | None = None
    restart_at: datetime | None = None


@dataclass(frozen=True)
class _Hold:
    facts: HoldFacts
    dates: HoldDates
    last_day: date | None


def _resolve(rule: SendRule, anchors: _Anchors, tz: ZoneInfo) -> datetime | None:
    """The rule's nominal send time, or None when its anchor is unknown (e.g. not booked)."""
    if rule.anchor in DATE_ANCHORS:
        day: date | None = getattr(anchors, rule.anchor)
        if day is None:
            return None
        assert rule.day_offset is not None and rule.local_time is not None
        return at_local(day + timedelta(days=rule.day_offset), rule.local_time, tz)
    if rule.anchor in INSTANT_ANCHORS:
        instant: datetime | None = getattr(anchors, rule.anchor)
        if instant is None:
            return None
        assert rule.offset_hours is not None
        return instant.astimezone(UTC) + timedelta(hours=rule.offset_hours)
    return None


def _base_anchors(facts: EpisodeFacts) -> _Anchors:
    tz = facts.tz

    def day_of(value: datetime | None) -> date | None:
        return None if value is None else local_date(value, tz)

    return _Anchors(
        procedure_date=local_date(facts.procedure_at, tz),
        procedure_start=facts.procedure_at.astimezone(UTC),
        follow_up_date=day_of(facts.follow_up_at),
        pt_start_date=day_of(facts.pt_start_at),
    )


def _hold(facts: EpisodeFacts, hold: HoldFacts) -> _Hold:
    dates = compute_hold(
        hold.plan_input(),
        procedure_at=facts.procedure_at,
        tz=facts.tz,
        duration=facts.duration,
        ended_at=facts.ended_at,
    )
    return _Hold(hold, dates, dates.last_dose_day(facts.tz))


def _describe(rule: SendRule) -> str:
    """Human timing of a send rule, for the milestone's `rule` line."""
    where = rule.anchor.replace("_", " ")
    if rule.local_time is not None and rule.day_offset is not None:
        days = abs(rule.day_offset)
        side = "before" if rule.day_offset < 0 else "after"
        shift = "on" if days == 0 else f"{plural(days, 'day', 'days')} {side}"
        return f"{rule.local_time:%H:%M} local, {shift} the {where}"
    hours = rule.offset_hours or 0
    return f"{hours} h after the {where}"


# --- Milestones --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    definition: PathwayDefinition
    facts: EpisodeFacts
    holds: tuple[_Hold, ...]
    anchors: _Anchors

    @property
    def tz(self) -> ZoneInfo:
        return self.facts.tz

    def rule_line(self, kind: str, timing: str) -> str:
        """The milestone's `rule`: label, timing, and the source it comes from."""
        milestone = self.definition.milestone(kind)
        return f"{milestone.label}: {timing}; {milestone.source}"


def _hold_clearance(c: _Context) -> Iterable[PlannedMilestone]:
    before_procedure = c.anchors.procedure_date - timedelta(days=1)
    for h in c.holds:
        closes = h.last_day if h.last_day is not None else before_procedure
        yield PlannedMilestone(
            kind=MilestoneKind.HOLD_CLEARANCE,
            ref=h.facts.ref,
            due_at=None,
            window_start=c.facts.created_at.astimezone(UTC),
            window_end=at_local(closes, MIDNIGHT, c.tz),
            rule=h.facts.rule,
        )


def _last_dose(c: _Context) -> Iterable[PlannedMilestone]:
    for h in c.holds:
        if not h.facts.held or not h.dates.computed:
            continue
        due = h.dates.last_dose_at
        if due is None:
            assert h.dates.last_dose_on is not None
            due = at_local(h.dates.last_dose_on, MIDNIGHT, c.tz)
        yield PlannedMilestone(MilestoneKind.LAST_DOSE, h.facts.ref, due, None, None, h.facts.rule)


def _restart(c: _Context) -> Iterable[PlannedMilestone]:
    """The restart step of each held drug. Until the end is recorded its due moment is an
    estimate (start + expected duration + restart hours): the step shows it, but no restart
    text is planned from it (see `_candidates`)."""
    for h in c.holds:
        if h.facts.held and h.dates.restart_at is not None:
            yield PlannedMilestone(
                MilestoneKind.RESTART, h.facts.ref, h.dates.restart_at, None, None, h.facts.rule
            )


def _at_send_time(kind: str) -> Callable[[_Context], Iterable[PlannedMilestone]]:
    """Milestones that are due when their reminder is due (pre-procedure, 72-hour check)."""

    def build(c: _Context) -> Iterable[PlannedMilestone]:
        rule = c.definition.rule(kind)
        due = _resolve(rule, c.anchors, c.tz)
        yield PlannedMilestone(kind, "", due, None, None, c.rule_line(kind, _describe(rule)))

    return build


def _procedure(c: _Context) -> Iterable[PlannedMilestone]:
    rule = c.rule_line(MilestoneKind.PROCEDURE, "as scheduled")
    yield PlannedMilestone(MilestoneKind.PROCEDURE, "", c.anchors.procedure_start, None, None, rule)


def _follow_up_window(c: _Context) -> tuple[datetime, datetime]:
    d = c.definition
    first = c.anchors.procedure_date + timedelta(days=d.follow_up_window_start_day)
    after_last = c.anchors.procedure_date + timedelta(days=d.follow_up_window_end_day + 1)
    return at_local(first, MIDNIGHT, c.tz), at_local(after_last, MIDNIGHT, c.tz)


def _follow_up(c: _Context) -> Iterable[PlannedMilestone]:
    d = c.definition
    start, end = _follow_up_window(c)
    due = None if c.facts.follow_up_at is None else c.facts.follow_up_at.astimezone(UTC)
    first, last = d.follow_up_window_start_day, d.follow_up_window_end_day
    span = f"day {first} to day {last} after the procedure"
    yield PlannedMilestone(MilestoneKind.FOLLOW_UP, "", due, start, end, c.rule_line(MilestoneKind.FOLLOW_UP, span))


def _pt_start(c: _Context) -> Iterable[PlannedMilestone]:
    days = c.definition.pt_window_days
    opens = c.facts.follow_up_at.astimezone(UTC) if c.facts.follow_up_at is not None else _follow_up_window(c)[0]
    closes = add_local_days(opens, days, c.tz)
    due = None if c.facts.pt_start_at is None else c.facts.pt_start_at.astimezone(UTC)
    span = f"within {plural(days, 'day', 'days')} of the follow-up visit"
    yield PlannedMilestone(MilestoneKind.PT_START, "", due, opens, closes, c.rule_line(MilestoneKind.PT_START, span))


_MILESTONE_BUILDERS: Mapping[str, Callable[[_Context], Iterable[PlannedMilestone]]] = {
    MilestoneKind.HOLD_CLEARANCE: _hold_clearance,
    MilestoneKind.LAST_DOSE: _last_dose,
    MilestoneKind.PRE_PROCEDURE: _at_send_time(MilestoneKind.PRE_PROCEDURE),
    MilestoneKind.PROCEDURE: _procedure,
    MilestoneKind.RESTART: _restart,
    MilestoneKind.CHECK_72H: _at_send_time(MilestoneKind.CHECK_72H),
    MilestoneKind.FOLLOW_UP: _follow_up,
    MilestoneKind.PT_START: _pt_start,
}


def _milestones(c: _Context) -> tuple[PlannedMilestone, ...]:
    planned: list[PlannedMilestone] = []
    for kind in c.definition.milestones:
        planned.extend(_MILESTONE_BUILDERS[kind.kind](c))
    return tuple(planned)


# --- Messages ----------------------------------------------------------------------------


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _episode_facts(facts: EpisodeFacts) -> dict[str, str]:
    found = {"procedure_at": _iso(facts.procedure_at)}
    if facts.follow_up_at is not None:
        found["follow_up_at"] = _iso(facts.follow_up_at)
    if facts.pt_start_at is not None:
        found["pt_start_at"] = _iso(facts.pt_start_at)
    return found


def _day_before_facts(c: _Context) -> dict[str, str]:
    """The day-before text's arrival (`arrival_at`: the episode's own, else the default lead) and
    the place as recorded; `text_context` decides what of the place a text may say."""
    at = effective_arrival(c.facts.procedure_at, c.facts.arrival_at, c.definition.arrival_before)
    return {"arrival_at": _iso(at), "facility": c.facts.facility, "facility_address": c.facts.facility_address}


def _hold_facts(h: _Hold) -> dict[str, str]:
    found = {"hold_ref": h.facts.ref, "drug_label": h.facts.drug_label}
    if h.last_day is not None:
        found["last_dose_date"] = h.last_day.isoformat()
    if h.dates.last_dose_at is not None:
        found["last_dose_at"] = _iso(h.dates.last_dose_at)
    if h.dates.restart_at is not None:
        found["restart_at"] = _iso(h.dates.restart_at)
    return found


@dataclass(frozen=True)
class _Candidate:
    rule: SendRule
    milestone: PlannedMilestone
    anchors: _Anchors
    facts: Mapping[str, str]
    signed_at: datetime | None = None


def _candidates(c: _Context, milestones: Mapping[str, PlannedMilestone]) -> Iterable[_Candidate]:
    """(rule, milestone, anchors, facts) for each text the episode could get right now.

    A restart text is timed from the RECORDED end only: until `ended_at` is recorded its
    anchor is unknown, so no restart text is planned (the worklist asks for the end).
    """
    base = _episode_facts(c.facts)
    for rule in c.definition.planned_rules():
        assert rule.milestone is not None
        if not c.definition.milestone(rule.milestone).per_hold:
            found = milestones.get(f"{rule.milestone}:")
            if found is not None:
                extra = _day_before_facts(c) if rule.kind == MessageKind.PRE_PROCEDURE else {}
                yield _Candidate(rule, found, c.anchors, MappingProxyType(base | extra))
            continue
        for h in c.holds:
            found = milestones.get(f"{rule.milestone}:{h.facts.ref}")
            if found is None or not h.facts.may_text:
                continue
            restart_at = h.dates.restart_at if c.facts.ended_at is not None else None
            anchors = replace(c.anchors, last_dose_date=h.last_day, restart_at=restart_at)
            yield _Candidate(rule, found, anchors, MappingProxyType(base | _hold_facts(h)), h.facts.signed_at)


def _signed_late(candidate: _Candidate, nominal: datetime) -> bool:
    """A last-dose text whose hold was signed after its time (so it never went out): it may
    still catch up until the end of the last-dose day."""
    return (candidate.milestone.kind == MilestoneKind.LAST_DOSE and candidate.signed_at is not None
            and candidate.signed_at >= nominal)


def _catch_up_deadline(candidate: _Candidate, nominal: datetime, tz: ZoneInfo) -> datetime | None:
    if candidate.rule.catch_up_until == "procedure_start":
        return candidate.anchors.procedure_start
    if candidate.rule.anchor == "restart_at" and candidate.milestone.deadline is not None:
        # Timed from the recorded end: an end recorded after the restart moment still gets
        # its text at once (quiet hours apply), while it can help (the dispatcher's limit).
        return candidate.milestone.deadline + LATE_REMINDER_GRACE
    if _signed_late(candidate, nominal) and "last_dose_at" not in candidate.facts:
        # A day-based last dose may be taken any time that day: a clearance signed after the
        # reminder's time (so it never went) still gets its text until the day is over; never
        # after: no "last dose" in the past (the go/no-go shows hold_started_late from the
        # hold's signed_at and last_dose_on).
        day = candidate.anchors.last_dose_date
        if day is not None:
            return at_local(day + timedelta(days=1), MIDNIGHT, tz)
    return candidate.milestone.deadline


def _schedule(
    candidate: _Candidate, tz: ZoneInfo, quiet: QuietHours, now: datetime
) -> PlannedMessage | None:
    """Nominal time -> quiet hours -> catch-up if already past, or drop if too late."""
    nominal = _resolve(candidate.rule, candidate.anchors, tz)
    if nominal is None:
        return None
    send_at = quiet.next_allowed(nominal, tz)
    if candidate.rule.catch_up_until == "procedure_start" and send_at >= candidate.anchors.procedure_start:
        return None  # a text that helps only before the procedure (a stop question after a late last dose)
    if send_at < now:
        deadline = _catch_up_deadline(candidate, nominal, tz)
        if deadline is None or deadline <= now:
            return None
        send_at = quiet.next_allowed(now, tz)
        if _signed_late(candidate, nominal) and send_at >= deadline:
            return None  # quiet hours leave no time on the last-dose day: a person must call
    ref = candidate.milestone.ref
    return PlannedMessage(
        kind=candidate.rule.kind,
        milestone_key=candidate.milestone.key,
        nominal_at=nominal,
        send_at=send_at,
        context=candidate.facts,
        refs=(ref,) if ref else (),
    )


def plan_episode(
    definition: PathwayDefinition, facts: EpisodeFacts, quiet: QuietHours, *, now: datetime
) -> Plan:
    """Milestones and texts for an episode as of `now`.

    A cancelled episode has nothing open and nothing to send. Texts about a drug need a
    cleared and signed hold, and a restart text the recorded end of the procedure; follow-up
    and PT reminders need a booking. A text whose time has passed is sent at once (within
    quiet hours) while it can still help, else dropped.
    """
    now = require_aware(now, "now").astimezone(UTC)
    if facts.status == EpisodeStatus.CANCELLED:
        return EMPTY_PLAN
    context = _Context(
        definition=definition,
        facts=facts,
        holds=tuple(_hold(facts, h) for h in facts.holds),
        anchors=_base_anchors(facts),
    )
    milestones = _milestones(context)
    by_key = {m.key: m for m in milestones}
    messages = [
        message
        for candidate in _candidates(context, by_key)
        if (message := _schedule(candidate, facts.tz, quiet, now)) is not None
    ]
    messages.sort(key=lambda m: (m.send_at, m.nominal_at, m.plan_key))
    return Plan(milestones, tuple(messages))
