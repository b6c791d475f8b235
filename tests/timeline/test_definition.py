"""The pathway definition file: what it holds and how strictly it is read."""

from __future__ import annotations

import re
import tomllib
from datetime import time, timedelta
from pathlib import Path
from typing import Any

import pytest

from pathway.resources import DATA_DIR
from pathway.timeline import (
    MESSAGE_KINDS,
    MILESTONE_KINDS,
    DefinitionError,
    PathwayDefinition,
    load_definition,
)
from pathway.timeline.definition import PLANNED_MESSAGE_KINDS
from pathway.timeline.vocabulary import TIME_POINTS


def test_milestones_are_the_eight_kinds_in_pathway_order(definition: PathwayDefinition) -> None:
    assert tuple(m.kind for m in definition.milestones) == (
        "hold_clearance", "last_dose", "pre_procedure", "procedure",
        "restart", "check_72h", "follow_up", "pt_start",
    )
    assert all(m.label and m.actor and m.source for m in definition.milestones)


def test_send_rules_carry_the_documented_times(definition: PathwayDefinition) -> None:
    last = definition.rule("last_dose")
    assert (last.anchor, last.day_offset, last.local_time) == ("last_dose_date", -1, time(17, 0))
    pre = definition.rule("pre_procedure")
    assert (pre.anchor, pre.day_offset, pre.local_time) == ("procedure_date", -1, time(10, 0))
    assert (definition.rule("restart").anchor, definition.rule("restart").offset_hours) == ("restart_at", 0)
    check = definition.rule("check_72h")
    assert (check.anchor, check.offset_hours) == ("procedure_start", 72)
    for kind in ("follow_up", "pt_start"):
        rule = definition.rule(kind)
        assert (rule.day_offset, rule.local_time) == (-1, time(10, 0))
    for kind in ("enrolment", "date_changed", "cancelled"):
        assert definition.rule(kind).immediate


def test_windows_duration_and_quiet_hours(definition: PathwayDefinition) -> None:
    assert (definition.follow_up_window_start_day, definition.follow_up_window_end_day) == (7, 10)
    assert definition.pt_window_days == 14
    assert definition.expected_duration == timedelta(minutes=60)
    quiet = definition.quiet_hours()
    assert (quiet.start, quiet.end) == (time(8, 0), time(20, 0))


def test_procedure_day_inr_ceiling_is_data_with_a_source(definition: PathwayDefinition) -> None:
    assert definition.inr_max == 1.2
    assert "clinician to confirm" in definition.inr_source


def test_inr_ceiling_must_be_positive(tmp_path: Path) -> None:
    doc = shipped()
    doc["procedure_day"]["inr_max"] = 0
    with pytest.raises(DefinitionError, match=r"\[procedure_day\]: field 'inr_max' must be a positive number"):
        load_definition(dump(doc, tmp_path))


def test_every_kind_has_a_segment_budget_in_each_language(definition: PathwayDefinition) -> None:
    assert set(definition.languages()) == {"en", "es"}
    for lang in definition.languages():
        for kind in MESSAGE_KINDS:
            assert definition.max_segments(kind, lang) >= 1


def shipped() -> dict[str, Any]:
    with (DATA_DIR / "mild_pathway.toml").open("rb") as fh:
        return tomllib.load(fh)


def dump(doc: dict[str, Any], tmp_path: Path) -> Path:
    """A tiny TOML writer for the shapes this file uses (tomllib cannot write)."""

    def value(v: Any) -> str:
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return str(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(item) for item in v) + "]"
        return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines: list[str] = []
    for name in ("pathway", "timing", "procedure_day", "staff_text", "answers"):
        if name in doc:
            lines.append(f"[{name}]")
            lines += [f"{k} = {value(v)}" for k, v in doc[name].items()]
    for name in ("milestone", "message", "time_point"):
        for row in doc.get(name, ()):
            lines.append(f"[[{name}]]")
            lines += [f"{k} = {value(v)}" for k, v in row.items()]
    for lang, row in doc["segment_budget"].items():
        lines.append(f"[segment_budget.{lang}]")
        lines += [f"{k} = {value(v)}" for k, v in row.items()]
    for key in set(doc) - {"pathway", "timing", "procedure_day", "milestone", "message", "segment_budget",
                           "staff_text", "answers", "time_point"}:
        lines.append(f"[{key}]")
    path = tmp_path / "mild_pathway.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_round_tripped_shipped_file_loads(tmp_path: Path, definition: PathwayDefinition) -> None:
    assert load_definition(dump(shipped(), tmp_path)) == definition


def test_outcome_time_points_are_read_in_order_with_their_windows(definition: PathwayDefinition) -> None:
    assert tuple(t.code for t in definition.time_points) == TIME_POINTS
    six_weeks = definition.time_point("6w")
    assert (six_weeks.day, six_weeks.window_start_day, six_weeks.window_end_day) == (42, 35, 49)
    assert definition.time_point("baseline").window_start_day == -30
    assert not definition.time_point("visit").asked_by_text
    assert all(t.source for t in definition.time_points)


def test_time_points_must_be_the_known_codes_in_order(tmp_path: Path) -> None:
    doc = shipped()
    doc["time_point"][3], doc["time_point"][4] = doc["time_point"][4], doc["time_point"][3]
    with pytest.raises(DefinitionError, match=r"\[\[time_point\]\]: field 'code' must list exactly baseline, 72h"):
        load_definition(dump(doc, tmp_path))


def test_a_time_point_day_outside_its_window_is_refused(tmp_path: Path) -> None:
    doc = shipped()
    doc["time_point"][3]["day"] = 60
    with pytest.raises(DefinitionError, match=r"time_point '6w': field 'day' must lie inside its window"):
        load_definition(dump(doc, tmp_path))
    doc = shipped()
    del doc["time_point"][4]["window_end_day"]
    with pytest.raises(DefinitionError, match=r"time_point #5: field 'window_end_day' is required"):
        load_definition(dump(doc, tmp_path))


def test_what_each_time_point_asks_by_text_is_data(definition: PathwayDefinition, tmp_path: Path) -> None:
    asks = {t.code: t.asks for t in definition.time_points}
    assert asks["baseline"] == asks["72h"] == ("nprs", "walk_minutes")
    assert asks["visit"] == ()  # entered by staff at the visit
    # The global impression of change from 6 weeks, the first time point a change can be judged.
    assert all(asks[tp] == ("nprs", "walk_minutes", "global_change") for tp in ("6w", "3m", "6m", "12m", "24m"))
    doc = shipped()
    doc["time_point"][3]["asks"] = ["global_change", "nprs"]
    assert load_definition(dump(doc, tmp_path)).time_point("6w").asks == ("global_change", "nprs")
    for bad, says in ((["odi"], "names 'odi', which is not asked by text (from: nprs, walk_minutes, global_change)"),
                      (["nprs", "nprs"], "names a measure twice"),
                      ([], "must list the measures asked by text, in order")):
        doc["time_point"][3]["asks"] = bad
        with pytest.raises(DefinitionError, match=re.escape(f"time_point '6w': field 'asks' {says}")):
            load_definition(dump(doc, tmp_path))
    doc = shipped()
    del doc["time_point"][1]["asks"]
    with pytest.raises(DefinitionError, match=r"time_point '72h': field 'asks' must list the measures"):
        load_definition(dump(doc, tmp_path))
    doc = shipped()
    doc["time_point"][2]["asks"] = ["nprs"]  # the visit is not asked by text
    with pytest.raises(DefinitionError, match=r"time_point 'visit': field 'asks' is only for a time point asked by"):
        load_definition(dump(doc, tmp_path))


def test_the_longest_one_off_text_is_read_from_the_file_and_checked(tmp_path: Path) -> None:
    doc = shipped()
    doc["staff_text"]["max_segments"] = 2
    assert load_definition(dump(doc, tmp_path)).staff_text_max_segments == 2
    doc["staff_text"]["max_segments"] = 0
    with pytest.raises(DefinitionError, match=r"\[staff_text\]: field 'max_segments' must be between 1 and 10"):
        load_definition(dump(doc, tmp_path))


def test_unknown_timing_field_is_refused(tmp_path: Path) -> None:
    doc = shipped()
    doc["timing"]["quiet_stat"] = "08:00"
    with pytest.raises(DefinitionError, match=r"\[timing\]: field 'quiet_stat' is not a known field"):
        load_definition(dump(doc, tmp_path))


def test_negative_window_is_refused(tmp_path: Path) -> None:
    doc = shipped()
    doc["timing"]["pt_window_days"] = -3
    with pytest.raises(DefinitionError, match="'pt_window_days' must not be negative"):
        load_definition(dump(doc, tmp_path))


def test_bad_local_time_is_refused_naming_the_message(tmp_path: Path) -> None:
    doc = shipped()
    doc["message"][1]["local_time"] = "5pm"
    with pytest.raises(DefinitionError, match="message 'last_dose': field 'local_time'"):
        load_definition(dump(doc, tmp_path))


def test_instant_anchor_with_a_wall_time_is_refused(tmp_path: Path) -> None:
    doc = shipped()
    check = next(m for m in doc["message"] if m["kind"] == "check_72h")
    check["local_time"] = "10:00"
    with pytest.raises(DefinitionError, match="message 'check_72h'"):
        load_definition(dump(doc, tmp_path))


def test_quiet_hours_that_wrap_midnight_are_refused(tmp_path: Path) -> None:
    doc = shipped()
    doc["timing"]["quiet_start"] = "21:00"
    with pytest.raises(DefinitionError, match="quiet_end"):
        load_definition(dump(doc, tmp_path))


def test_missing_milestone_kind_is_refused(tmp_path: Path) -> None:
    doc = shipped()
    doc["milestone"] = [m for m in doc["milestone"] if m["kind"] != "check_72h"]
    with pytest.raises(DefinitionError, match="must list exactly"):
        load_definition(dump(doc, tmp_path))


def test_missing_budget_for_a_kind_is_refused(tmp_path: Path) -> None:
    doc = shipped()
    del doc["segment_budget"]["es"]["cancelled"]
    with pytest.raises(DefinitionError, match=r"\[segment_budget.es\]: field 'cancelled' is required"):
        load_definition(dump(doc, tmp_path))


def test_all_kinds_constants_match_the_file(definition: PathwayDefinition) -> None:
    assert {m.kind for m in definition.milestones} == set(MILESTONE_KINDS)
    assert {r.kind for r in definition.messages} == set(MESSAGE_KINDS)


def test_the_pain_thresholds_of_the_72_hour_check_are_read_from_the_file_with_their_source(
        tmp_path: Path, definition: PathwayDefinition) -> None:
    assert (definition.pain_high_nprs, definition.pain_rise_over_baseline) == (8, 3)
    assert "Clinical reference" in definition.pain_source and definition.answer_window == timedelta(hours=48)
    doc = shipped()
    doc["answers"]["pain_high_nprs"] = 11
    with pytest.raises(DefinitionError, match="pain_high_nprs' must be a pain score from 1 to 10"):
        load_definition(dump(doc, tmp_path))
    doc = shipped()
    doc["answers"]["pain_high_nprs"] = 7
    assert load_definition(dump(doc, tmp_path)).pain_high_nprs == 7


def test_outcome_questions_go_at_a_local_time_on_their_time_point_s_day(definition: PathwayDefinition) -> None:
    rule = definition.rule("outcome")
    assert (rule.anchor, rule.local_time, rule.milestone) == ("time_point", time(10, 0), None)
    assert "outcome" not in PLANNED_MESSAGE_KINDS  # asked one after another as answers come, not planned ahead


def test_the_time_point_anchor_needs_a_local_time_and_is_the_outcome_question_s_alone(tmp_path: Path) -> None:
    doc = shipped()
    rule = next(r for r in doc["message"] if r["kind"] == "outcome")
    del rule["local_time"]
    with pytest.raises(DefinitionError, match=r"message 'outcome': field 'local_time' is required with anchor"):
        load_definition(dump(doc, tmp_path))
    doc = shipped()
    rule = next(r for r in doc["message"] if r["kind"] == "outcome")
    rule["day_offset"] = 1
    with pytest.raises(DefinitionError, match=r"field 'day_offset' is not used with anchor 'time_point'"):
        load_definition(dump(doc, tmp_path))
    doc = shipped()
    enrolment = next(r for r in doc["message"] if r["kind"] == "enrolment")
    enrolment.update(anchor="time_point", local_time="10:00")
    with pytest.raises(DefinitionError, match=r"message 'enrolment': field 'anchor'"):
        load_definition(dump(doc, tmp_path))
