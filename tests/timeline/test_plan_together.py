"""Texts about several holds: each names its own medicine; late signatures catch up until the last-dose day ends."""

from __future__ import annotations

from datetime import UTC, datetime

from pathway.timeline import plan_episode
from pathway.timeline.texts import MedicineName, join_words, medicine_words

EARLY = datetime(2027, 2, 1, 15, 0, tzinfo=UTC)


def test_two_holds_due_the_same_day_get_a_text_each(definition, quiet, make_facts, make_hold) -> None:
    holds = (make_hold(), make_hold(ref="h2", drug_label="ticagrelor", stop_days=7, restart_hours=6))
    plan = plan_episode(definition, make_facts(holds=holds), quiet, now=EARLY)
    lasts = [m for m in plan.messages if m.kind == "last_dose"]
    assert sorted(m.refs for m in lasts) == [("h1",), ("h2",)]
    assert len(plan.message_keys()) == len(plan.messages)


def test_a_single_hold_keeps_its_plan_key(definition, quiet, make_facts, make_hold) -> None:
    plan = plan_episode(definition, make_facts(holds=(make_hold(),)), quiet, now=EARLY)
    (last,) = [m for m in plan.messages if m.kind == "last_dose"]
    assert last.refs == ("h1",) and last.plan_key == "last_dose:h1:20270301T2200Z"


def test_a_hold_signed_after_its_reminder_time_is_texted_on_the_last_dose_day(
    definition, quiet, make_facts, make_hold
) -> None:
    on_the_day = datetime(2027, 3, 2, 14, 0, tzinfo=UTC)  # 09:00 New York, the last-dose day
    facts = make_facts(holds=(make_hold(signed_at=on_the_day),))
    (last,) = [m for m in plan_episode(definition, facts, quiet, now=on_the_day).messages
               if m.kind == "last_dose"]
    assert last.send_at == on_the_day
    # signed the day after: no "last dose" in the past (the go/no-go shows hold_started_late)
    next_day = datetime(2027, 3, 3, 14, 0, tzinfo=UTC)
    facts = make_facts(holds=(make_hold(signed_at=next_day),))
    assert not [m for m in plan_episode(definition, facts, quiet, now=next_day).messages if m.kind == "last_dose"]


TERMS = {"en": "blood thinner", "es": "anticoagulante"}


def test_medicine_words_prefer_the_label_then_the_term_and_name_the_drug_when_detailed() -> None:
    plain, labelled = MedicineName("apixaban", "", TERMS), MedicineName("clopidogrel", "Plavix", TERMS)
    assert medicine_words(plain, "en", False) == "your blood thinner"
    assert medicine_words(plain, "es", False) == "su anticoagulante"
    assert medicine_words(labelled, "es", False) == "Plavix"
    assert medicine_words(plain, "en", True) == "apixaban"
    assert medicine_words(labelled, "en", True) == "Plavix (clopidogrel)"


def test_two_medicines_that_would_read_alike_are_named() -> None:
    a, b = MedicineName("apixaban", "", TERMS), MedicineName("warfarin", "", TERMS)
    assert medicine_words(a, "en", False, others=[b]) == "apixaban"
    assert join_words(["apixaban", "warfarin"], "es") == "apixaban y warfarin"
    assert join_words(["a", "b", "c"], "en") == "a, b and c"


ASPIRIN = {"en": "aspirin", "es": "aspirina"}


def test_detailed_words_use_the_generic_in_the_patients_language_not_the_staff_name() -> None:
    name = MedicineName("aspirin (secondary prevention)", "", TERMS, ASPIRIN)
    assert medicine_words(name, "en", True) == "aspirin"
    assert medicine_words(name, "es", True) == "aspirina"
    labelled = MedicineName("aspirin (secondary prevention)", "Bayer", TERMS, ASPIRIN)
    assert medicine_words(labelled, "es", True) == "Bayer (aspirina)"
    same = MedicineName("aspirin (secondary prevention)", "Aspirina", TERMS, ASPIRIN)
    assert medicine_words(same, "es", True) == "aspirina"  # the label is the name: not said twice
    typed = MedicineName("Turmeric capsules", "", TERMS)  # not in the catalogue: its typed name
    assert medicine_words(typed, "es", True) == "Turmeric capsules"


def test_the_fallback_for_two_alike_medicines_names_the_generic_in_the_patients_language() -> None:
    a = MedicineName("aspirin (primary prevention)", "", TERMS, ASPIRIN)
    b = MedicineName("dabigatran (renal impairment)", "", TERMS, {"en": "dabigatran", "es": "dabigatrán"})
    assert medicine_words(a, "es", False, others=[b]) == "aspirina"
    assert medicine_words(b, "es", False, others=[a]) == "dabigatrán"
    assert medicine_words(b, "en", False, others=[a]) == "dabigatran"
