"""Re-planning: what to change in the stored timeline and outbox to match a fresh plan.

Pure: it compares stored rows (as plain values) with a `Plan` and returns the changes; the
service applies them in one transaction. Texts that have left (or may have left) the building
are history: they are never cancelled and never planned again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

from pathway.timeline.definition import NOTICE_KINDS, PLANNED_MESSAGE_KINDS, PathwayDefinition
from pathway.timeline.localtime import UTC, require_aware, to_local
from pathway.timeline.plan import Plan, PlannedMessage, PlannedMilestone
from pathway.timeline.quiet import QuietHours
from pathway.timeline.texts import format_date, format_time
from pathway.timeline.vocabulary import Language, MessageStatus, MilestoneStatus

__all__ = [
    "MESSAGE_STATUSES",
    "MILESTONE_STATUSES",
    "PlanDiff",
    "RewordedMessage",
    "StoredMessage",
    "StoredMilestone",
    "diff_plan",
    "procedure_end",
]

MILESTONE_STATUSES = frozenset(MilestoneStatus)
MESSAGE_STATUSES = frozenset(MessageStatus)
# Statuses in which a stored text still stands for its plan key (so it is not added again).
DEAD_MESSAGE_STATUSES = frozenset({MessageStatus.CANCELLED, MessageStatus.SUPPRESSED})
# Milestone statuses a re-plan leaves alone.
CLOSED_MILESTONE_STATUSES = frozenset({MilestoneStatus.DONE, MilestoneStatus.CANCELLED})

MIDNIGHT = time(0, 0)


@dataclass(frozen=True)
class StoredMilestone:
    """A milestone row as stored."""

    key: str
    status: str
    due_at: datetime | None
    window_start: datetime | None
    window_end: datetime | None

    def __post_init__(self) -> None:
        if self.status not in MILESTONE_STATUSES:
            raise ValueError(f"milestone {self.key}: unknown status {self.status!r}")

    def same_times(self, planned: PlannedMilestone) -> bool:
        return (self.due_at, self.window_start, self.window_end) == (
            planned.due_at, planned.window_start, planned.window_end,
        )


@dataclass(frozen=True)
class StoredMessage:
    """An outbox row as stored."""

    plan_key: str
    kind: str
    status: str
    send_at: datetime

    def __post_init__(self) -> None:
        if self.status not in MESSAGE_STATUSES:
            raise ValueError(f"message {self.plan_key}: unknown status {self.status!r}")


def _when(value: datetime | None, tz: ZoneInfo) -> str:
    """A local date and time; a step that is a whole day (local midnight) shows its date alone."""
    if value is None:
        return "(no date)"
    local = to_local(value, tz)
    if local.time() == MIDNIGHT:
        return format_date(local.date(), Language.EN)
    return f"{format_date(local.date(), 'en')} {format_time(local.time(), 'en')} {local.tzname()}"


def _span(due: datetime | None, start: datetime | None, end: datetime | None, tz: ZoneInfo) -> str:
    if due is not None or start is None:
        return _when(due, tz)
    if end is not None and to_local(end, tz).time() == MIDNIGHT:
        # Windows end at midnight, exclusive: "day 7 to day 10" is shown as the last whole day.
        last = to_local(end, tz).date() - timedelta(days=1)
        return f"{_when(start, tz)} to {format_date(last, 'en')}"
    return f"{_when(start, tz)} to {_when(end, tz)}"


def _kind_of(key: str) -> str:
    return key.partition(":")[0]


def _ref_of(key: str) -> str:
    """The hold ref in a milestone key ("kind:ref") or a per-hold text's plan key ("kind:ref:minute")."""
    return key.split(":")[1] if key.count(":") >= 1 else ""


def _humanise(kind: str) -> str:
    return kind.replace("_", " ")


@dataclass(frozen=True)
class _Labels:
    definition: PathwayDefinition | None

    def milestone(self, kind: str) -> str:
        if self.definition is None:
            return _humanise(kind)
        try:
            return self.definition.milestone_label(kind)
        except KeyError:
            return _humanise(kind)

    def message(self, kind: str) -> str:
        if self.definition is None:
            return _humanise(kind) + " text"
        try:
            return self.definition.message_label(kind)
        except KeyError:
            return _humanise(kind) + " text"


@dataclass(frozen=True)
class RewordedMessage:
    """A text not yet sent whose words change while its time stays: a medicine's label, the
    patient's language or detailed-texts choice, another hold added or removed (names must stay
    distinguishable), or reviewed template wording."""

    plan_key: str
    kind: str
    send_at: datetime
    body_before: str
    body_after: str


@dataclass(frozen=True)
class PlanDiff:
    """The changes that bring stored state in line with a plan.

    ``reworded`` is filled by the service, which renders bodies (the timeline plans times and
    facts, not words); ``diff_plan`` leaves it empty.
    """

    milestones_added: tuple[PlannedMilestone, ...]
    milestones_moved: tuple[tuple[StoredMilestone, PlannedMilestone], ...]
    milestones_cancelled: tuple[StoredMilestone, ...]
    messages_cancelled: tuple[StoredMessage, ...]
    messages_added: tuple[PlannedMessage, ...]
    notice: PlannedMessage | None
    reworded: tuple[RewordedMessage, ...] = ()
    # A notice was asked for but could not reach the patient before the procedure it is about
    # ends (its first allowed moment is after that end): none is planned; a person must call.
    notice_too_late: str | None = None

    @property
    def is_empty(self) -> bool:
        return not (
            self.milestones_added
            or self.milestones_moved
            or self.milestones_cancelled
            or self.messages_cancelled
            or self.messages_added
            or self.notice
            or self.reworded
        )

    def summary(
        self, tz: ZoneInfo, definition: PathwayDefinition | None = None, names: Mapping[str, str] | None = None
    ) -> list[str]:
        """Lines for a preview before the change is saved, in the patient's local time.

        Labels come from the pathway definition when given, else from the kind names. `names`
        maps a hold ref to its medicine, so that with several holds each per-hold line says
        which medicine it is about (three bare "Last dose before the hold" lines cannot be told apart).
        """
        labels = _Labels(definition)
        names = names or {}

        def of(ref: str) -> str:
            return f" ({names[ref]})" if ref in names else ""

        lines: list[str] = []
        for old, new in self.milestones_moved:
            before = _span(old.due_at, old.window_start, old.window_end, tz)
            after = _span(new.due_at, new.window_start, new.window_end, tz)
            lines.append(f"Move: {labels.milestone(new.kind)}{of(new.ref)} {before} \u2192 {after}")
        for m in self.milestones_added:
            when = _span(m.due_at, m.window_start, m.window_end, tz)
            lines.append(f"New step: {labels.milestone(m.kind)}{of(m.ref)} {when}")
        for s in self.milestones_cancelled:
            when = _span(s.due_at, s.window_start, s.window_end, tz)
            lines.append(f"Drop step: {labels.milestone(_kind_of(s.key))}{of(_ref_of(s.key))} {when}")
        for sm in self.messages_cancelled:
            lines.append(f"Cancel: {labels.message(sm.kind)}{of(_ref_of(sm.plan_key))} {_when(sm.send_at, tz)}")
        for pm in self.messages_added:
            lines.append(f"Add: {labels.message(pm.kind)}{of(pm.ref)} {_when(pm.send_at, tz)}")
        for rm in self.reworded:
            lines.append(f"Reword: {labels.message(rm.kind)} {_when(rm.send_at, tz)}")
        if self.notice is not None:
            notice = self.notice
            lines.append(f"Send: {labels.message(notice.kind)} {_when(notice.send_at, tz)}")
        if self.notice_too_late is not None:
            lines.append(f"No text: the {labels.message(self.notice_too_late)} could not reach the patient before "
                         "the procedure ends; a call goes on the worklist instead")
        return lines


def _diff_milestones(
    stored: Iterable[StoredMilestone], plan: Plan
) -> tuple[
    tuple[PlannedMilestone, ...],
    tuple[tuple[StoredMilestone, PlannedMilestone], ...],
    tuple[StoredMilestone, ...],
]:
    """Added, moved, cancelled. A stored cancelled step planned again counts as moved
    (re-opened), so the service updates the row instead of inserting a duplicate key."""
    by_key = {s.key: s for s in stored}
    planned_keys = {m.key for m in plan.milestones}
    added = tuple(m for m in plan.milestones if m.key not in by_key)
    moved = tuple(
        (by_key[m.key], m)
        for m in plan.milestones
        if m.key in by_key
        and by_key[m.key].status != MilestoneStatus.DONE
        and (by_key[m.key].status == MilestoneStatus.CANCELLED or not by_key[m.key].same_times(m))
    )
    cancelled = tuple(
        s
        for s in by_key.values()
        if s.key not in planned_keys and s.status not in CLOSED_MILESTONE_STATUSES
    )
    return added, moved, cancelled


def _diff_messages(
    stored: Iterable[StoredMessage], plan: Plan, *, new_notice: bool
) -> tuple[tuple[StoredMessage, ...], tuple[PlannedMessage, ...]]:
    """Cancelled, added. Only still-scheduled texts can be cancelled: a text that is sending
    or has gone is history. A pending notice is replaced when a new notice is issued."""
    stored = tuple(stored)
    planned_keys = plan.message_keys()

    def stale(s: StoredMessage) -> bool:
        if s.status != MessageStatus.SCHEDULED:
            return False
        if s.kind in NOTICE_KINDS:
            return new_notice
        # Enrolment confirmations are not the planner's to cancel.
        return s.kind in PLANNED_MESSAGE_KINDS and s.plan_key not in planned_keys

    live_keys = {s.plan_key for s in stored if s.status not in DEAD_MESSAGE_STATUSES}
    cancelled = tuple(s for s in stored if stale(s))
    added = tuple(m for m in plan.messages if m.plan_key not in live_keys)
    return cancelled, added


def procedure_end(procedure_at: datetime, duration_minutes: int | None, ended_at: datetime | None) -> datetime:
    """When the procedure ends: its recorded end, else its start plus its expected length. A
    notice about a change to it (date changed, cancelled) is of no use to the patient after this."""
    if ended_at is not None:
        return ended_at
    return procedure_at + timedelta(minutes=duration_minutes or 0)


def diff_plan(
    stored_milestones: Iterable[StoredMilestone],
    stored_messages: Iterable[StoredMessage],
    plan: Plan,
    *,
    notice_kind: str | None,
    notice_context: Mapping[str, str],
    quiet: QuietHours,
    tz: ZoneInfo,
    now: datetime,
    notice_until: datetime | None = None,
) -> PlanDiff:
    """The changes from stored state to `plan`, plus at most one notice to the patient.

    `notice_kind` is "date_changed" when the procedure moved, "cancelled" when the episode
    was cancelled, else None; the notice goes out at the next allowed moment from `now`.
    No notice about a change goes after the procedure it concerns has ended: when that moment
    (`notice_until`) comes before the next allowed one, none is planned and the diff says so.
    """
    now = require_aware(now, "now").astimezone(UTC)
    if notice_kind is not None and notice_kind not in NOTICE_KINDS:
        raise ValueError(f"notice_kind must be one of {', '.join(NOTICE_KINDS)} or None")
    added_m, moved_m, cancelled_m = _diff_milestones(stored_milestones, plan)
    cancelled_t, added_t = _diff_messages(
        stored_messages, plan, new_notice=notice_kind is not None
    )
    notice = None
    send_at = quiet.next_allowed(now, tz)
    if notice_kind is not None and notice_until is not None and send_at >= notice_until:
        return PlanDiff(added_m, moved_m, cancelled_m, cancelled_t, added_t, None, notice_too_late=notice_kind)
    if notice_kind is not None:
        notice = PlannedMessage(
            kind=notice_kind,
            milestone_key=None,
            nominal_at=now,
            send_at=send_at,
            context=MappingProxyType(dict(notice_context)),
        )
    return PlanDiff(added_m, moved_m, cancelled_m, cancelled_t, added_t, notice)
