"""The pathway definition: milestones, send rules and windows, loaded from `mild_pathway.toml`.

Kinds are fixed by the code (the planner knows what a `restart` is); everything with a number
in it (times of day, offsets, windows, SMS budgets) comes from the data file so clinicians can
review and change it, and each entry carries its source.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pathway.resources import DATA_DIR
from pathway.timeline import _fields as f
from pathway.timeline.quiet import QuietHours
from pathway.timeline.vocabulary import (
    ASKED_BY_TEXT,
    NOTICE_KINDS,
    TIME_POINTS,
    MessageKind,
    MilestoneKind,
    ReplyText,
)

__all__ = [
    "DATE_ANCHORS",
    "HOLD_ANCHORS",
    "INSTANT_ANCHORS",
    "MESSAGE_KINDS",
    "MILESTONE_KINDS",
    "NOTICE_KINDS",
    "PLANNED_MESSAGE_KINDS",
    "REPLY_KINDS",
    "TEXT_KINDS",
    "DefinitionError",
    "MilestoneStep",
    "PathwayDefinition",
    "SendRule",
    "TimePoint",
    "load_definition",
]

DEFAULT_DEFINITION = DATA_DIR / "mild_pathway.toml"

# The kinds come from pathway.timeline.vocabulary; the data file must use exactly these.
MILESTONE_KINDS: tuple[MilestoneKind, ...] = tuple(MilestoneKind)
# The kinds of text with a send rule in the data file (all but the straight replies and the
# one-off texts a person types).
OFF_PLAN_KINDS: tuple[MessageKind, ...] = (MessageKind.REPLY, MessageKind.STAFF)
MESSAGE_KINDS: tuple[MessageKind, ...] = tuple(k for k in MessageKind if k not in OFF_PLAN_KINDS)
# What staff call the texts that have no send rule (and so no label in the data file).
OFF_PLAN_LABELS: Mapping[str, str] = MappingProxyType({MessageKind.REPLY: "answer to the patient's text",
                                                       MessageKind.STAFF: "one-off text from staff"})
# Answers sent straight back to a patient's text (HELP, a red-flag symptom); no send rule.
REPLY_KINDS: tuple[ReplyText, ...] = tuple(ReplyText)
# Every kind of text that has a template (and a segment budget).
TEXT_KINDS: tuple[str, ...] = (*MESSAGE_KINDS, *REPLY_KINDS)
# Texts the planner schedules ahead (each tied to a milestone); the rest are sent on an event.
# Outcome questions are asked on the day of each time point, one after another as answers come
# (services/outcomes.py), so they are not planned ahead either.
PLANNED_MESSAGE_KINDS = tuple(k for k in MESSAGE_KINDS
                              if k not in {MessageKind.ENROLMENT, MessageKind.OUTCOME, *NOTICE_KINDS})
IMMEDIATELY = "immediately"
# An outcome question goes at `local_time` on the day of its time point ([[time_point]] `day`).
TIME_POINT_ANCHOR = "time_point"
DATE_ANCHORS = frozenset({"last_dose_date", "procedure_date", "follow_up_date", "pt_start_date"})
INSTANT_ANCHORS = frozenset({"procedure_start", "restart_at"})
HOLD_ANCHORS = frozenset({"last_dose_date", "restart_at"})
# A last-dose text whose hold was signed after the text's time may still go until the
# last-dose day ends, whatever this says (see pathway/timeline/plan.py `_catch_up_deadline`).
CATCH_UP_UNTIL = frozenset({"milestone", "procedure_start"})


class DefinitionError(ValueError):
    """The pathway file is malformed; the message names the entry and the field."""


@dataclass(frozen=True)
class MilestoneStep:
    """One step of the pathway, as shown on the timeline."""

    kind: str
    label: str
    actor: str
    per_hold: bool
    source: str


@dataclass(frozen=True)
class SendRule:
    """When one kind of text is sent.

    Date anchors send at `local_time` on the anchor's local date shifted by `day_offset`;
    instant anchors send `offset_hours` absolute hours after the anchor; "immediately" rules
    are notices sent when the event happens and are never planned ahead.
    """

    kind: str
    label: str
    anchor: str
    milestone: str | None
    day_offset: int | None
    local_time: time | None
    offset_hours: int | None
    catch_up_until: str | None
    source: str

    @property
    def immediate(self) -> bool:
        return self.anchor == IMMEDIATELY


@dataclass(frozen=True)
class TimePoint:
    """When an outcome is measured, in days from the procedure's local date (`[[time_point]]`).

    The window is `window_start_day` to `window_end_day` inclusive (patient-local dates); the
    baseline's window ends at the procedure's start. `asked_by_text`: the patient is asked by text
    (the baseline at enrolment, the others on `day`), one question a text in the order of `asks`;
    otherwise staff enter it (at the visit).
    """

    code: str
    label: str
    day: int
    window_start_day: int
    window_end_day: int
    asked_by_text: bool
    source: str
    asks: tuple[str, ...] = ()  # the measures asked by text, in order (empty unless asked_by_text)


@dataclass(frozen=True)
class PathwayDefinition:
    """The whole pathway as data; see `data/mild_pathway.toml` for the meaning of each part."""

    name: str
    version: str
    milestones: tuple[MilestoneStep, ...]
    messages: tuple[SendRule, ...]
    expected_duration: timedelta
    quiet_start: time
    quiet_end: time
    follow_up_window_start_day: int
    follow_up_window_end_day: int
    pt_window_days: int
    segment_budget: Mapping[str, Mapping[str, int]]
    inr_max: float
    inr_source: str
    inr_window_days: int
    hold_high_days: int
    hold_urgent_days: int
    reviewed_by: str = ""
    reviewed_on: str = ""
    # How long after the expected end an unrecorded procedure end goes on the worklist
    # (`[timing] procedure_end_missing_after_hours`; None: not checked).
    end_missing_after: timedelta | None = None
    # Free-text replies from the procedure up to this many days after it are read by a person with
    # priority (`[timing] read_replies_days_after`; clinical reference, "Hearing the patient").
    read_replies_days_after: int = 14
    # The answers to question texts (`[answers]`): a 72-hour pain score at or over pain_high_nprs,
    # or pain_rise_over_baseline points over the patient's own baseline, is a same-day worklist
    # item; a question stays open for answers this long after it was sent.
    pain_high_nprs: int = 8
    pain_rise_over_baseline: int = 3
    pain_source: str = ""
    answer_window: timedelta = timedelta(hours=48)
    # The day-before text's arrival time when the episode sets none: this long before the
    # procedure (`[procedure_day] arrival_minutes_before`), and the earliest an episode's own
    # arrival may be (`arrival_max_minutes_before`).
    arrival_before: timedelta = timedelta(minutes=60)
    arrival_max_before: timedelta = timedelta(minutes=240)
    # Words that tell whoever reads the patient's phone what the visit is for; a place named in a
    # default (not detailed) text must not carry them (`[procedure_day] revealing_words`).
    revealing_words: tuple[str, ...] = ()
    # The most characters the facility's name and address line may take together ("name,
    # address") in the day-before text, so the default English text stays one segment in the
    # worst case (`[procedure_day] place_max_chars`).
    place_max_chars: int = 40
    # The longest one-off text a person may type, in SMS segments (`[staff_text] max_segments`).
    staff_text_max_segments: int = 3
    # Words a one-off text is warned about for a patient without detailed texts (`[staff_text]`).
    staff_text_identifying_words: tuple[str, ...] = ()
    # The outcome time points and their windows (`[[time_point]]`), in TIME_POINTS order.
    time_points: tuple[TimePoint, ...] = ()

    def time_point(self, code: str) -> TimePoint:
        """The time point named `code` (KeyError if the pathway has none)."""
        for item in self.time_points:
            if item.code == code:
                return item
        raise KeyError(code)

    def milestone(self, kind: str) -> MilestoneStep:
        """The milestone kind named `kind` (KeyError if the pathway has none)."""
        for item in self.milestones:
            if item.kind == kind:
                return item
        raise KeyError(f"no milestone kind {kind!r}")

    def rule(self, kind: str) -> SendRule:
        """The send rule for message kind `kind` (KeyError if the pathway has none)."""
        for item in self.messages:
            if item.kind == kind:
                return item
        raise KeyError(f"no message kind {kind!r}")

    def planned_rules(self) -> tuple[SendRule, ...]:
        """Rules the planner schedules ahead: those tied to a milestone."""
        return tuple(r for r in self.messages if r.milestone is not None)

    def quiet_hours(self) -> QuietHours:
        """The default quiet hours (a clinic setting may override them)."""
        return QuietHours(self.quiet_start, self.quiet_end)

    def max_segments(self, kind: str, lang: str) -> int:
        """The SMS segment budget for a kind of text in a language."""
        try:
            return self.segment_budget[lang][kind]
        except KeyError:
            raise KeyError(f"no segment budget for {kind!r} in {lang!r}") from None

    def languages(self) -> tuple[str, ...]:
        """Languages the pathway has SMS budgets (and so templates) for."""
        return tuple(self.segment_budget)

    def milestone_label(self, kind: str) -> str:
        return self.milestone(kind).label

    def message_label(self, kind: str) -> str:
        if kind in OFF_PLAN_LABELS:
            return OFF_PLAN_LABELS[kind]
        return self.rule(kind).label


_MILESTONE_FIELDS = frozenset({"kind", "label", "actor", "per_hold", "source"})
_RULE_REQUIRED = frozenset({"kind", "label", "anchor", "source"})
_RULE_OPTIONAL = frozenset(
    {"milestone", "day_offset", "local_time", "offset_hours", "catch_up_until"}
)
_TIMING_FIELDS = frozenset(
    {
        "expected_duration_minutes",
        "quiet_start",
        "quiet_end",
        "follow_up_window_start_day",
        "follow_up_window_end_day",
        "hold_high_days",
        "hold_urgent_days",
        "pt_window_days",
    }
)


def _milestones(doc: Mapping[str, Any]) -> tuple[MilestoneStep, ...]:
    items: list[MilestoneStep] = []
    for index, row in enumerate(f.rows(doc, "file", "milestone")):
        where = f"milestone #{index + 1}"
        f.check_fields(row, where, _MILESTONE_FIELDS - {"per_hold"}, frozenset({"per_hold"}))
        kind = f.text(row, where, "kind")
        where = f"milestone '{kind}'"
        items.append(
            MilestoneStep(
                kind=kind,
                label=f.text(row, where, "label"),
                actor=f.text(row, where, "actor"),
                per_hold=f.flag(row, where, "per_hold"),
                source=f.text(row, where, "source"),
            )
        )
    kinds = tuple(m.kind for m in items)
    if kinds != MILESTONE_KINDS:
        raise f.FieldError(
            "[[milestone]]", "kind", f"must list exactly {', '.join(MILESTONE_KINDS)} in order"
        )
    return tuple(items)


def _anchor_fields(rule: SendRule, where: str, per_hold: bool) -> None:
    """Each anchor type needs its own timing fields and forbids the others."""
    date_fields = (rule.day_offset, rule.local_time)
    if rule.anchor in DATE_ANCHORS:
        for name, value in zip(("day_offset", "local_time"), date_fields, strict=True):
            if value is None:
                raise f.FieldError(where, name, f"is required with anchor '{rule.anchor}'")
        if rule.offset_hours is not None:
            raise f.FieldError(where, "offset_hours", "is only for instant anchors")
    elif rule.anchor in INSTANT_ANCHORS:
        if rule.offset_hours is None:
            raise f.FieldError(where, "offset_hours", f"is required with anchor '{rule.anchor}'")
        if any(v is not None for v in date_fields):
            raise f.FieldError(where, "day_offset", "and local_time are only for date anchors")
    if rule.anchor in HOLD_ANCHORS and not per_hold:
        raise f.FieldError(where, "anchor", "is per held drug; use it only for per-hold milestones")


def _rule_links(rule: SendRule, where: str, per_hold: dict[str, bool]) -> None:
    """Planned rules belong to a milestone and say how long to catch up; notices don't."""
    if rule.immediate:
        for name in ("milestone", "day_offset", "local_time", "offset_hours", "catch_up_until"):
            if getattr(rule, name) is not None:
                raise f.FieldError(where, name, "is not used with anchor 'immediately'")
        return
    if rule.anchor == TIME_POINT_ANCHOR:
        if rule.local_time is None:
            raise f.FieldError(where, "local_time", f"is required with anchor '{TIME_POINT_ANCHOR}'")
        for name in ("milestone", "day_offset", "offset_hours", "catch_up_until"):
            if getattr(rule, name) is not None:
                raise f.FieldError(where, name, f"is not used with anchor '{TIME_POINT_ANCHOR}'")
        return
    if rule.milestone is None or rule.milestone not in per_hold:
        raise f.FieldError(where, "milestone", "must name a milestone kind for a planned text")
    if rule.catch_up_until not in CATCH_UP_UNTIL:
        choices = ", ".join(sorted(CATCH_UP_UNTIL))
        raise f.FieldError(where, "catch_up_until", f"must be one of: {choices}")
    _anchor_fields(rule, where, per_hold[rule.milestone])


def _rule(row: Mapping[str, Any], index: int, per_hold: dict[str, bool]) -> SendRule:
    where = f"message #{index + 1}"
    f.check_fields(row, where, _RULE_REQUIRED, _RULE_OPTIONAL)
    kind = f.text(row, where, "kind")
    where = f"message '{kind}'"
    anchor = f.text(row, where, "anchor")
    if anchor not in {IMMEDIATELY, TIME_POINT_ANCHOR} and anchor not in DATE_ANCHORS | INSTANT_ANCHORS:
        choices = ", ".join(sorted(DATE_ANCHORS | INSTANT_ANCHORS | {IMMEDIATELY, TIME_POINT_ANCHOR}))
        raise f.FieldError(where, "anchor", f"must be one of: {choices}")
    rule = SendRule(
        kind=kind,
        label=f.text(row, where, "label"),
        anchor=anchor,
        milestone=f.text(row, where, "milestone") if "milestone" in row else None,
        day_offset=f.signed_int(row, where, "day_offset"),
        local_time=f.wall_time(row, where, "local_time"),
        offset_hours=f.signed_int(row, where, "offset_hours"),
        catch_up_until=f.text(row, where, "catch_up_until") if "catch_up_until" in row else None,
        source=f.text(row, where, "source"),
    )
    _rule_links(rule, where, per_hold)
    return rule


def _messages(
    doc: Mapping[str, Any], milestones: tuple[MilestoneStep, ...]
) -> tuple[SendRule, ...]:
    per_hold = {m.kind: m.per_hold for m in milestones}
    rules = tuple(_rule(row, i, per_hold) for i, row in enumerate(f.rows(doc, "file", "message")))
    kinds = [r.kind for r in rules]
    if sorted(kinds) != sorted(MESSAGE_KINDS):
        raise f.FieldError(
            "[[message]]", "kind", f"must list each of {', '.join(MESSAGE_KINDS)} exactly once"
        )
    for rule in rules:
        if (rule.anchor == TIME_POINT_ANCHOR) != (rule.kind == MessageKind.OUTCOME):
            raise f.FieldError(f"message '{rule.kind}'", "anchor",
                               f"'{TIME_POINT_ANCHOR}' is for the outcome questions, and theirs")
        if (rule.milestone is not None) != (rule.kind in PLANNED_MESSAGE_KINDS):
            need = "needs" if rule.kind in PLANNED_MESSAGE_KINDS else "must not have"
            raise f.FieldError(f"message '{rule.kind}'", "milestone", f"{need} a milestone")
    return rules


def _budget(doc: Mapping[str, Any]) -> Mapping[str, Mapping[str, int]]:
    budgets = f.table(doc, "file", "segment_budget")
    result: dict[str, Mapping[str, int]] = {}
    for lang, row in budgets.items():
        where = f"[segment_budget.{lang}]"
        if not isinstance(row, Mapping):
            raise f.FieldError("[segment_budget]", lang, "must be a table of kind = segments")
        f.check_fields(row, where, frozenset(TEXT_KINDS), frozenset())
        per_kind: dict[str, int] = {}
        for kind in TEXT_KINDS:
            value = f.required_count(row, where, kind)
            if value < 1:
                raise f.FieldError(where, kind, "must be at least 1 segment")
            per_kind[kind] = value
        result[lang] = MappingProxyType(per_kind)
    if not result:
        raise f.FieldError("[segment_budget]", "en", "at least one language is required")
    return MappingProxyType(result)


def _inr(doc: Mapping[str, Any]) -> tuple[float, str, int]:
    """The procedure-day INR ceiling with its source, and how many days before the procedure
    day an INR may be drawn and still count."""
    where = "[procedure_day]"
    day = f.table(doc, "file", "procedure_day")
    f.check_fields(day, where, frozenset({"inr_max", "inr_source", "inr_window_days"}),
                   _ARRIVAL_FIELDS)
    value = day["inr_max"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise f.FieldError(where, "inr_max", f"must be a positive number, got {value!r}")
    window = f.required_count(day, where, "inr_window_days")
    return float(value), f.text(day, where, "inr_source"), window


_ARRIVAL_FIELDS = frozenset({"arrival_minutes_before", "arrival_max_minutes_before", "revealing_words",
                             "place_max_chars"})


def _arrival(doc: Mapping[str, Any]) -> tuple[timedelta, timedelta, tuple[str, ...], int]:
    """The default arrival lead, the longest one an episode may set, the words a place in a
    default text must not carry, and the characters the place may take."""
    where = "[procedure_day]"
    day = f.table(doc, "file", "procedure_day")
    before = f.required_count(day, where, "arrival_minutes_before") if "arrival_minutes_before" in day else 60
    most = (f.required_count(day, where, "arrival_max_minutes_before")
            if "arrival_max_minutes_before" in day else 240)
    if most < before:
        raise f.FieldError(where, "arrival_max_minutes_before", "must not be less than arrival_minutes_before")
    words = day.get("revealing_words", [])
    if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
        raise f.FieldError(where, "revealing_words", "must be a list of words")
    room = f.required_count(day, where, "place_max_chars") if "place_max_chars" in day else 40
    if room < 1:
        raise f.FieldError(where, "place_max_chars", "must be at least 1")
    return (timedelta(minutes=before), timedelta(minutes=most), tuple(w.strip().casefold() for w in words),
            room)


def _worklist(timing: Mapping[str, Any]) -> tuple[int, int]:
    """Days before a hold's last dose at which its worklist item becomes high, then urgent."""
    high = f.required_count(timing, "[timing]", "hold_high_days")
    urgent = f.required_count(timing, "[timing]", "hold_urgent_days")
    if urgent > high:
        raise f.FieldError("[timing]", "hold_urgent_days", "must not be more than hold_high_days")
    return high, urgent


def _staff_text(doc: Mapping[str, Any]) -> int:
    """The longest one-off text a person may type, in segments (3 when the file says nothing)."""
    if "staff_text" not in doc:
        return 3
    where = "[staff_text]"
    row = f.table(doc, "file", "staff_text")
    f.check_fields(row, where, frozenset({"max_segments", "source"}),
                   frozenset({"identifying_words", "identifying_words_source"}))
    value = f.required_count(row, where, "max_segments")
    if not 1 <= value <= 10:
        raise f.FieldError(where, "max_segments", "must be between 1 and 10 segments")
    f.text(row, where, "source")
    return value


def _identifying_words(doc: Mapping[str, Any]) -> tuple[str, ...]:
    """`[staff_text] identifying_words`: non-empty strings, with their source when given."""
    row = doc.get("staff_text", {})
    words = row.get("identifying_words", [])
    if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
        raise f.FieldError("[staff_text]", "identifying_words", "must be a list of words or phrases")
    if words:
        f.text(row, "[staff_text]", "identifying_words_source")
    return tuple(w.strip() for w in words)


def _required_time(row: Mapping[str, Any], where: str, field: str) -> time:
    value = f.wall_time(row, where, field)
    if value is None:
        raise f.FieldError(where, field, "is required")
    return value


def parse_definition(doc: Mapping[str, Any]) -> PathwayDefinition:
    """Validate a parsed TOML document and build the definition (raises `FieldError`)."""
    f.check_fields(
        doc,
        "file",
        frozenset({"pathway", "timing", "procedure_day", "milestone", "message", "segment_budget"}),
        frozenset({"answers", "staff_text", "time_point"}),
    )
    meta = f.table(doc, "file", "pathway")
    f.check_fields(
        meta, "[pathway]", frozenset({"name", "version"}),
        frozenset({"status", "reviewed_by", "reviewed_on"}),
    )
    timing = f.table(doc, "file", "timing")
    f.check_fields(timing, "[timing]", _TIMING_FIELDS,
                   frozenset({"procedure_end_missing_after_hours", "read_replies_days_after"}))
    minutes = f.required_count(timing, "[timing]", "expected_duration_minutes")
    if minutes < 1:
        raise f.FieldError("[timing]", "expected_duration_minutes", "must be at least 1")
    quiet_start = _required_time(timing, "[timing]", "quiet_start")
    quiet_end = _required_time(timing, "[timing]", "quiet_end")
    if quiet_start >= quiet_end:
        raise f.FieldError("[timing]", "quiet_end", "must be later than quiet_start")
    fu_start = f.required_count(timing, "[timing]", "follow_up_window_start_day")
    fu_end = f.required_count(timing, "[timing]", "follow_up_window_end_day")
    if fu_end < fu_start:
        raise f.FieldError("[timing]", "follow_up_window_end_day", "must be >= the start day")
    milestones = _milestones(doc)
    inr_max, inr_source, inr_window_days = _inr(doc)
    hold_high_days, hold_urgent_days = _worklist(timing)
    answers = _answers(doc)
    arrival_before, arrival_max_before, revealing_words, place_max_chars = _arrival(doc)
    return PathwayDefinition(
        name=f.text(meta, "[pathway]", "name"),
        version=f.text(meta, "[pathway]", "version"),
        milestones=milestones,
        messages=_messages(doc, milestones),
        expected_duration=timedelta(minutes=minutes),
        quiet_start=quiet_start,
        quiet_end=quiet_end,
        follow_up_window_start_day=fu_start,
        follow_up_window_end_day=fu_end,
        pt_window_days=f.required_count(timing, "[timing]", "pt_window_days"),
        segment_budget=_budget(doc),
        inr_max=inr_max,
        inr_source=inr_source,
        inr_window_days=inr_window_days,
        hold_high_days=hold_high_days,
        hold_urgent_days=hold_urgent_days,
        reviewed_by=f.text(meta, "[pathway]", "reviewed_by", ""),
        reviewed_on=f.text(meta, "[pathway]", "reviewed_on", ""),
        end_missing_after=(
            timedelta(hours=f.required_count(timing, "[timing]", "procedure_end_missing_after_hours"))
            if "procedure_end_missing_after_hours" in timing else None
        ),
        read_replies_days_after=(f.required_count(timing, "[timing]", "read_replies_days_after")
                                 if "read_replies_days_after" in timing else 14),
        **answers,
        arrival_before=arrival_before,
        arrival_max_before=arrival_max_before,
        revealing_words=revealing_words,
        place_max_chars=place_max_chars,
        staff_text_max_segments=_staff_text(doc),
        staff_text_identifying_words=_identifying_words(doc),
        time_points=_time_points(doc),
    )


def _time_points(doc: Mapping[str, Any]) -> tuple[TimePoint, ...]:
    """The `[[time_point]]` rows: exactly the codes of TIME_POINTS, in order, each window around its day."""
    if "time_point" not in doc:
        return ()
    items: list[TimePoint] = []
    fields = frozenset({"code", "label", "day", "window_start_day", "window_end_day", "asked_by_text", "source"})
    for index, row in enumerate(f.rows(doc, "file", "time_point")):
        where = f"time_point #{index + 1}"
        f.check_fields(row, where, fields, frozenset({"asks"}))
        code = f.text(row, where, "code")
        where = f"time_point '{code}'"
        day, start, end = (f.signed_int(row, where, name) for name in ("day", "window_start_day", "window_end_day"))
        if day is None or start is None or end is None:
            missing = next(n for n, v in (("day", day), ("window_start_day", start), ("window_end_day", end))
                           if v is None)
            raise f.FieldError(where, missing, "is required")
        if not start <= day <= end:
            raise f.FieldError(where, "day", "must lie inside its window (window_start_day <= day <= window_end_day)")
        by_text = f.flag(row, where, "asked_by_text")
        items.append(TimePoint(code=code, label=f.text(row, where, "label"), day=day, window_start_day=start,
                               window_end_day=end, asked_by_text=by_text, source=f.text(row, where, "source"),
                               asks=_asks(row, where, by_text)))
    if tuple(t.code for t in items) != TIME_POINTS:
        raise f.FieldError("[[time_point]]", "code", f"must list exactly {', '.join(TIME_POINTS)} in order")
    return tuple(items)


def _asks(row: Mapping[str, Any], where: str, by_text: bool) -> tuple[str, ...]:
    """`asks`: the measures asked by text at a time point, in order: required with `asked_by_text`,
    absent without it; each one of ASKED_BY_TEXT, once."""
    if not by_text:
        if "asks" in row:
            raise f.FieldError(where, "asks", "is only for a time point asked by text (asked_by_text = true)")
        return ()
    asks = row.get("asks")
    choices = ", ".join(ASKED_BY_TEXT)
    if not isinstance(asks, list) or not asks or not all(isinstance(a, str) for a in asks):
        raise f.FieldError(where, "asks", f"must list the measures asked by text, in order (from: {choices})")
    for code in asks:
        if code not in ASKED_BY_TEXT:
            raise f.FieldError(where, "asks", f"names {code!r}, which is not asked by text (from: {choices})")
    if len(set(asks)) != len(asks):
        raise f.FieldError(where, "asks", "names a measure twice")
    return tuple(asks)


def _answers(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The `[answers]` table: pain thresholds for the 72-hour check and how long a question stays open."""
    if "answers" not in doc:
        return {}
    where = "[answers]"
    row = f.table(doc, "file", "answers")
    f.check_fields(row, where, frozenset({"pain_high_nprs", "pain_rise_over_baseline", "pain_source",
                                          "answer_window_hours"}), frozenset())
    high = f.required_count(row, where, "pain_high_nprs")
    if not 0 < high <= 10:
        raise f.FieldError(where, "pain_high_nprs", "must be a pain score from 1 to 10")
    rise = f.required_count(row, where, "pain_rise_over_baseline")
    if not 0 < rise <= 10:
        raise f.FieldError(where, "pain_rise_over_baseline", "must be from 1 to 10 points")
    hours = f.required_count(row, where, "answer_window_hours")
    if hours < 1:
        raise f.FieldError(where, "answer_window_hours", "must be at least 1")
    return {"pain_high_nprs": high, "pain_rise_over_baseline": rise, "pain_source": f.text(row, where, "pain_source"),
            "answer_window": timedelta(hours=hours)}


def load_definition(path: Path | None = None) -> PathwayDefinition:
    """Read and validate the pathway file (the shipped one by default)."""
    return f.load_file(path or DEFAULT_DEFINITION, parse_definition, DefinitionError)
