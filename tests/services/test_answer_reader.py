"""The answer reader (issue 11, "Questions with answers"): realistic answers to a pain question
and to a yes/no question, in English and Spanish, with typos, emoji, shorthand and caregivers
answering for the patient. ``None``: not read as one answer (re-asked, then read by a person).

The replies are written the way the clinical reference's "How patients write" describes, and as
patients answer the 0-10 pain scale (MiDAS ENCORE / MOTION's NPRS) by text."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path

import pytest

from pathway.services.answer_reader import (
    ANSWERS_PATH,
    AnswerWords,
    read_change,
    read_minutes,
    read_pain,
    read_yes_no,
)

PAIN = [
    # plain and scaled
    ("7", 7), ("7/10", 7), ("7 / 10", 7), ("8 out of 10", 8), ("a 7", 7), ("about 6", 6), ("about a 6", 6),
    ("its a 4", 4), ("It's a 4 today", 4), ("pain 3", 3), ("my pain is 5", 5), ("Pain is a 2.", 2), ("0", 0),
    ("10", 10), ("10/10", 10), ("  5  ", 5), ("3!", 3), ("5 out of ten", 5),
    # ranges and halves: the higher, the worse whole score
    ("6-7", 7), ("6 - 7", 7), ("6 or 7", 7), ("between 5 and 6", None), ("4 to 5", 5), ("6.5", 7), ("6,5", 7),
    # words, typos, emoji
    ("seven", 7), ("Seven", 7), ("sevn", 7), ("three", 3), ("tree", 3), ("zero", 0), ("ten", 10),
    ("7️⃣", 7), ("🔟", 10), ("\uff15", 5), ("eigth", 8),
    # Spanish
    ("siete", 7), ("siette", 7), ("un 6", 6), ("como un 5", 5), ("dolor 4", 4), ("ocho de 10", 8), ("6 de 10", 6),
    ("mas o menos 5", 5), ("5 o 6", 6), ("cuatro", 4), ("diez", 10), ("ninguno", 0), ("sin dolor", 0),
    ("nueve", 9), ("sinco", 5),
    # no pain
    ("no pain", 0), ("No pain at all", 0), ("none", 0), ("nada", 0), ("no me duele", 0),
    # caregivers
    ("she says about a 6", 6), ("Mom says 5", 5), ("my husband says 8", 8), ("mi mama dice que 7", 7),
    ("mi esposo dice que un 4", 4), ("dad says its a 3 today", 3),
    # more than the answer: read, the rest kept for a person
    ("7, wound a bit red", 7), ("4 but my leg is numb", 4), ("2 feeling good", 2),
    # not one answer
    ("was 8 now 4", None), ("idk", None), ("better", None), ("hurts", None), ("", None), ("?", None),
    ("3 yesterday 6 today", None),
    # common words that are not scores
    ("7 for now", 7), ("I ate, pain 3", 3), ("took my dose, 4", 4),
]


@pytest.mark.parametrize(("body", "expected"), PAIN)
def test_pain_answers_are_read_as_a_person_would(body: str, expected: int | None) -> None:
    answer = read_pain(body)
    assert answer.value == (None if expected is None else Decimal(expected)), answer


def test_what_is_left_of_a_pain_answer_is_kept_for_a_person_to_read() -> None:
    assert read_pain("7, and the wound is a bit red").rest == ("wound", "bit", "red")
    assert read_pain("mi mama dice que 7").rest == ()
    assert read_pain("about a 6 out of 10").rest == ()


YES_NO = [
    # English yes
    ("yes", 1), ("Yes", 1), ("YES", 1), ("yes.", 1), ("Yes!", 1), ("y", 1), ("Y", 1), ("yep", 1), ("yeah", 1),
    ("yup", 1), ("ya", 1), ("yess", 1), ("yesss", 1), ("yea", 1), ("sure", 1), ("I did", 1), ("done", 1),
    ("stopped", 1), ("I stopped it", 1), ("yes I stopped", 1), ("already did", 1), ("👍", 1), ("👍🏽", 1),
    ("✅", 1), ("yes ma'am", 1), ("yes thank you", 1), ("not taking it anymore", 1), ("she did", 1),
    ("yes she stopped it", 1), ("Yes, my wife stopped it", 1), ("yse", None),
    # Spanish yes
    ("si", 1), ("sí", 1), ("Si", 1), ("SI", 1), ("SÍ", 1), ("siii", 1), ("sip", 1), ("claro", 1), ("ya", 1),
    ("ya lo dejé", 1), ("ya lo deje", 1), ("ya la deje", 1), ("ya no la tomo", 1), ("ya no lo tomo", 1),
    ("si ya", 1), ("sí, ya la dejó", 1), ("listo", 1), ("ya no", 1), ("si señor", 1), ("sí gracias", 1),
    ("mi mamá ya la dejó", 1), ("ya no se la doy", 1),
    # English no
    ("no", 0), ("No", 0), ("NO", 0), ("nope", 0), ("nah", 0), ("n", 0), ("not yet", 0), ("Not yet.", 0),
    ("no not yet", 0), ("I haven't", 0), ("i havent", 0), ("I did not", 0), ("didnt", 0), ("still taking it", 0),
    ("I forgot", 0), ("nooo", 0), ("nopee", 0), ("👎", 0), ("she hasnt", 0), ("no she is still taking it", 0),
    # Spanish no
    ("todavía no", 0), ("todavia no", 0), ("aún no", 0), ("aun no", 0), ("no todavia", 0), ("sigo tomandola", 0),
    ("la sigo tomando", 0), ("no la he dejado", 0), ("se me olvidó", 0), ("no, todavía no", 0), ("nop", 0),
    ("todavia se la doy", 0),
    # not one answer
    ("no se", None), ("No sé", None), ("not sure", None), ("idk", None), ("maybe", None), ("?", None),
    ("yes and no", None), ("what medicine?", None), ("", None), ("who is this", None), ("creo que si", None),
]


@pytest.mark.parametrize(("body", "expected"), YES_NO)
def test_yes_no_answers_are_read_as_a_person_would(body: str, expected: int | None) -> None:
    answer = read_yes_no(body)
    assert answer.value == (None if expected is None else Decimal(expected)), answer


MINUTES = [("20 min", 20), ("20 minutes", 20), ("20", 20), ("half an hour", 30), ("1 hr", 60), ("an hour", 60),
           ("1.5 hours", 90), ("media hora", 30), ("una hora", 60), ("unos 15 minutos", 15), ("hora y media", 90),
           ("10 or 20", None), ("not long", None)]


@pytest.mark.parametrize(("body", "expected"), MINUTES)
def test_walking_minutes_are_read(body: str, expected: int | None) -> None:
    answer = read_minutes(body)
    assert answer.value == (None if expected is None else Decimal(expected)), answer


# The global impression of change (issue 12): the question gives "1 much better, 2 better,
# 3 a little better, 4 the same, 5 a little worse, 6 worse, 7 much worse" (and in Spanish).
CHANGE = [
    # the number, as digits or a word, alone or with the scale's words
    ("3", 3), ("  7 ", 7), ("tres", 3), ("six", 6), ("2 better", 2), ("4 the same", 4), ("5, a little worse", 5),
    ("1️⃣", 1), ("Number 2", 2),
    # the scale's words without the number, longest phrase first
    ("better", 2), ("much better", 1), ("a little better", 3), ("Much better thank you!!", 1), ("about the same", 4),
    ("same", 4), ("no change", 4), ("worse", 6), ("a bit worse", 5), ("way worse since last week", 7),
    ("lots better, walking to church again", 1),
    # typos and no accents
    ("beter", 2), ("much beter", 1), ("a littel better", 3), ("wors", 6), ("the samee", 4),
    # Spanish, regional, caregivers
    ("mejor", 2), ("mucho mejor", 1), ("un poco mejor", 3), ("un poquito mejor gracias", 3), ("igual", 4),
    ("igual que antes", 4), ("peor", 6), ("mucho peor", 7), ("mi mamá dice que mejor", 2), ("mejr", 2),
    ("cinco", 5), ("bastante mejor", 1),
    # not guessed: a number and words that disagree, two numbers, out of the scale, doubt, nothing
    ("2 worse", None), ("1 or 2", None), ("3-4", None), ("8", None), ("0", None), ("7/10", None),
    ("not sure", None), ("no se", None), ("not better", None), ("ok", None), ("🙂", None), ("", None),
]


@pytest.mark.parametrize(("body", "expected"), CHANGE)
def test_global_change_answers_are_read_as_a_person_would(body: str, expected: int | None) -> None:
    answer = read_change(body)
    assert answer.value == (None if expected is None else Decimal(expected)), answer


def test_what_is_left_of_a_change_answer_is_kept_for_a_person_to_read() -> None:
    assert read_change("better, walking to church again").rest == ("walking", "church", "again")
    assert read_change("mucho mejor").rest == ()


def test_a_change_phrase_outside_the_scale_is_refused() -> None:
    with ANSWERS_PATH.open("rb") as fh:
        doc = tomllib.load(fh)
    doc["change"]["en"]["terrible"] = 9
    with pytest.raises(ValueError, match="from 1 to 7"):
        AnswerWords.from_document(doc)


def test_a_clinicians_added_phrase_takes_effect(tmp_path: Path) -> None:
    with ANSWERS_PATH.open("rb") as fh:
        doc = tomllib.load(fh)
    assert read_yes_no("simon").value is None  # Mexican slang for yes, not in the shipped list
    doc["yes_no"]["yes"]["es"].append("simón")
    added = AnswerWords.from_document(doc)
    assert read_yes_no("Simón", added).value == 1
    doc["pain"]["zero_phrases"].append("nothing at all")
    assert read_pain("nothing at all", AnswerWords.from_document(doc)).value == 0


def test_a_mistyped_field_in_the_file_is_refused() -> None:
    with ANSWERS_PATH.open("rb") as fh:
        doc = tomllib.load(fh)
    doc["pain"]["fuzy_min_score"] = 80
    with pytest.raises(ValueError, match="fuzy_min_score"):
        AnswerWords.from_document(doc)
    with ANSWERS_PATH.open("rb") as fh:
        doc = tomllib.load(fh)
    doc["pain"]["numbers"]["es"] = doc["pain"]["numbers"]["es"][:10]
    with pytest.raises(ValueError, match="0 to 10"):
        AnswerWords.from_document(doc)


def test_every_code_carries_a_unit_bounds_and_a_source() -> None:
    with ANSWERS_PATH.open("rb") as fh:
        doc = tomllib.load(fh)
    codes = AnswerWords.from_document(doc).codes
    assert set(codes) == {"nprs", "stopped_medicine", "walk_minutes", "stand_minutes", "odi", "zcq_symptom",
                          "global_change"}
    assert all(c.source.startswith("[") and c.unit and c.min < c.max for c in codes.values())
    assert (codes["nprs"].min, codes["nprs"].max) == (0, 10)
    assert (codes["odi"].min, codes["odi"].max, codes["odi"].whole) == (0, 100, True)
    assert (codes["zcq_symptom"].min, codes["zcq_symptom"].max, codes["zcq_symptom"].whole) == (1, 5, False)
    assert (codes["global_change"].min, codes["global_change"].max) == (1, 7)
