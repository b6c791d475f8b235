"""The day-before text's arrival time and place (issue 11): pure rules, time passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pathway.timeline import PathwayDefinition, TemplateSet, plan_episode, text_context
from pathway.timeline.arrival import (
    NAME_REVEALS,
    NAME_TOO_LONG,
    address_problem,
    arrival_problem,
    effective_arrival,
    name_left_out,
    place_words,
    revealing_word,
)
from pathway.timeline.definition import DefinitionError, load_definition
from pathway.timeline.quiet import QuietHours
from tests.timeline.conftest import FactsBuilder

NY = ZoneInfo("America/New_York")
NOW = datetime(2027, 2, 1, 15, 0, tzinfo=UTC)


def test_the_default_lead_and_its_limit_come_from_the_pathway_file(definition: PathwayDefinition) -> None:
    assert definition.arrival_before == timedelta(minutes=60)
    assert definition.arrival_max_before == timedelta(minutes=240)
    assert {"spine", "pain", "mild", "columna", "dolor"} <= set(definition.revealing_words)
    assert definition.place_max_chars == 40  # derived from the template in tests/timeline/test_texts.py


def test_the_default_arrival_is_an_hour_of_real_time_before_even_across_the_spring_forward_gap() -> None:
    # 03:30 EDT on Sunday 14 March 2027: an hour before is 01:30 EST (02:00-03:00 never happens).
    procedure = datetime(2027, 3, 14, 3, 30, tzinfo=NY)
    arrival = effective_arrival(procedure, None, timedelta(minutes=60))
    assert arrival.astimezone(NY).strftime("%H:%M %Z") == "01:30 EST"
    context = text_context({"arrival_at": arrival.isoformat()}, lang="en", tz=NY, clinic_name="C", clinic_phone="1")
    assert context["arrival_when"] == "Sun Mar 14 by 1:30 AM"
    own = datetime(2027, 3, 14, 1, 0, tzinfo=NY)
    assert effective_arrival(procedure, own, timedelta(minutes=60)) == own


def test_an_arrival_is_checked_in_real_time_before_the_procedure() -> None:
    procedure = datetime(2027, 11, 7, 3, 0, tzinfo=NY)  # fall back: 01:00-02:00 happens twice
    most = timedelta(minutes=240)
    assert arrival_problem(procedure, procedure, most) is not None
    assert "before the procedure" in (arrival_problem(procedure, procedure + timedelta(minutes=1), most) or "")
    # 23:00 the evening before is 5 real hours earlier (the repeated hour counts): too early.
    evening = datetime(2027, 11, 6, 23, 0, tzinfo=NY)
    assert procedure.astimezone(UTC) - evening.astimezone(UTC) == timedelta(hours=5)
    assert "more than 240 minutes" in (arrival_problem(procedure, evening, most) or "")
    assert arrival_problem(procedure, datetime(2027, 11, 7, 0, 0, tzinfo=NY), most) is None  # 4 real hours


@pytest.mark.parametrize(("text", "word"), [
    ("200 Spine Way", "spine"), ("PAIN clinic", "pain"), ("MILD suite", "mild"), ("Edificio de Neurocirugía",
                                                                                 "neurocirugia"),
    ("Centro de dolor", "dolor"), ("Spinal unit, 3rd fl", "spinal"),
    ("40 Painter St", None), ("Mildred Ave", None), ("1200 N Main St, Suite 300", None), ("Backbay Rd", None),
])
def test_revealing_words_are_whole_words_ignoring_case_and_accents(
        definition: PathwayDefinition, text: str, word: str | None) -> None:
    assert revealing_word(text, definition.revealing_words) == word


def test_the_place_leaves_out_what_reveals_unless_detailed_and_a_name_too_long_for_a_text(
        definition: PathwayDefinition) -> None:
    words = definition.revealing_words
    assert place_words("Riverside Surgery Center", "9 Elm St", words, detailed=False) == \
        "Riverside Surgery Center, 9 Elm St"
    assert place_words("Northside Spine Center", "9 Elm St", words, detailed=False) == "9 Elm St"
    assert place_words("Northside Spine Center", "9 Elm St", words, detailed=True) == \
        "Northside Spine Center, 9 Elm St"
    assert place_words("", "", words, detailed=False) == ""


def test_the_place_fits_its_room_leaving_out_the_name_first(definition: PathwayDefinition) -> None:
    words, room = definition.revealing_words, 40
    # 24 + 2 + 14 = 40: both fit.
    assert place_words("Riverside Surgery Center", "1200 N Main St", words, detailed=False, max_chars=room) == \
        "Riverside Surgery Center, 1200 N Main St"
    assert name_left_out("Riverside Surgery Center", "1200 N Main St", words, detailed=False, max_chars=room) is None
    # One more character: the name is left out and the address line says where to go.
    assert place_words("Riverside Surgery Center", "1200 N Main St.", words, detailed=False, max_chars=room) == \
        "1200 N Main St."
    assert name_left_out("Riverside Surgery Center", "1200 N Main St.", words, detailed=False,
                         max_chars=room) == NAME_TOO_LONG
    # Without an address line the name alone must fit; a longer one gives no place at all.
    assert place_words("x" * 40, "", words, detailed=True, max_chars=room) == "x" * 40
    assert place_words("x" * 41, "", words, detailed=True, max_chars=room) == ""
    assert name_left_out("x" * 41, "", words, detailed=True, max_chars=room) == NAME_TOO_LONG
    # An address line too long for the text (older data) is left out; the name is kept if it fits.
    assert place_words("Riverside", "x" * 41, words, detailed=False, max_chars=room) == "Riverside"
    # A revealing name is left out for what it says, whatever its length.
    assert name_left_out("Northside Spine Center", "9 Elm St", words, detailed=False, max_chars=room) == NAME_REVEALS
    assert name_left_out("", "9 Elm St", words, detailed=False, max_chars=room) is None


def test_an_address_line_must_fit_beside_the_name_or_alone_when_the_name_never_fits(
        definition: PathwayDefinition) -> None:
    words, room = definition.revealing_words, 40
    assert address_problem("Riverside Surgery Center", "1200 N Main St", words, detailed=False, max_chars=room) is None
    problem = address_problem("Riverside Surgery Center", "1200 N Main St, Suite 300", words, detailed=False,
                              max_chars=room)
    assert problem is not None and "40 characters together" in problem and "is 51" in problem
    assert "shorten" in problem
    # A name the text never carries (it reveals, or is over the room alone) does not count.
    assert address_problem("Northside Spine Center", "1200 N Main St, Suite 300", words, detailed=False,
                           max_chars=room) is None
    assert address_problem("x" * 41, "1200 N Main St, Suite 300", words, detailed=False, max_chars=room) is None
    alone = address_problem("", "12345 N Martin Luther King Jr Blvd, Ste 12", words, detailed=False, max_chars=room)
    assert alone is not None and "room for 40" in alone
    assert "tells whoever reads" in (address_problem("", "200 Spine Way", words, detailed=False, max_chars=room) or "")
    assert address_problem("", "200 Spine Way", words, detailed=True, max_chars=room) is None


def test_the_place_room_must_be_a_positive_count(tmp_path: Path) -> None:
    from pathway.timeline.definition import DEFAULT_DEFINITION

    path = tmp_path / "mild_pathway.toml"
    path.write_text(DEFAULT_DEFINITION.read_text(encoding="utf-8").replace("place_max_chars = 40",
                                                                          "place_max_chars = 0"), encoding="utf-8")
    with pytest.raises(DefinitionError, match="place_max_chars"):
        load_definition(path)


def test_the_planner_gives_the_day_before_text_its_arrival_and_place(
        definition: PathwayDefinition, quiet: QuietHours, make_facts: FactsBuilder, templates: TemplateSet) -> None:
    facts = make_facts(facility="Riverside Surgery Center", facility_address="9 Elm St")
    (text,) = [m for m in plan_episode(definition, facts, quiet, now=NOW).messages if m.kind == "pre_procedure"]
    assert text.context["arrival_at"] == "2027-03-10T12:00:00+00:00"  # 07:00 EST
    own = make_facts(arrival_at=datetime(2027, 3, 10, 6, 15, tzinfo=NY))
    (later,) = [m for m in plan_episode(definition, own, quiet, now=NOW).messages if m.kind == "pre_procedure"]
    assert later.context["arrival_at"] == "2027-03-10T11:15:00+00:00"
    assert later.plan_key == text.plan_key  # the same text, re-worded, not a new one
    others = [m for m in plan_episode(definition, facts, quiet, now=NOW).messages if m.kind != "pre_procedure"]
    assert all("arrival_at" not in m.context for m in others)


def test_arrival_settings_that_contradict_each_other_are_refused(tmp_path: Path) -> None:
    from pathway.timeline.definition import DEFAULT_DEFINITION

    source = DEFAULT_DEFINITION.read_text(encoding="utf-8")
    bad = source.replace("arrival_max_minutes_before = 240", "arrival_max_minutes_before = 30")
    path = tmp_path / "mild_pathway.toml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(DefinitionError, match="arrival_max_minutes_before"):
        load_definition(path)
    path.write_text(source.replace('"mild", "spine"', '"mild", 7'), encoding="utf-8")
    with pytest.raises(DefinitionError, match="revealing_words"):
        load_definition(path)
