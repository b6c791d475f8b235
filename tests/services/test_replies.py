from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from pathway.services.replies import classify
from pathway.services.reply_reader import LEXICON_PATH, Lexicon, load_lexicon, read_reply


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("STOP", "stop"), ("stop.", "stop"), ("Unsubscribe", "stop"), (" opt out ", "stop"), ("QUIT", "stop"),
        ("START", "start"), ("unstop", "start"), ("Yes", "start"),
        ("HELP", "help"), ("info", "help"), ("Ayuda", "help"),
        ("I have a fever", "red_flag"), ("the wound is RED and draining", "red_flag"),
        ("my leg feels numb", "red_flag"), ("some bleeding on the bandage", "red_flag"),
        ("can't feel my groin", "red_flag"), ("trouble with my bladder", "red_flag"),
        ("Tengo fiebre", "red_flag"), ("la herida está hinchada", "red_flag"), ("no siento la pierna", "red_flag"),
        ("please don't text me", "stop_request"), ("Please don\u2019t text me again", "stop_request"),
        ("no me envíen más mensajes", "stop_request"),
        ("feeling much better, walked 20 minutes", "text"), ("I'm tired but ok", "text"),
        ("stop texting my wife's phone", "stop_request"),
        ("I will stop by tomorrow", "text"),
    ],
)
def test_replies_are_classified_as_a_person_would(body: str, expected: str) -> None:
    assert classify(body) == expected


@pytest.mark.parametrize(
    ("body", "group"),
    [  # issue 11: what the previous reader missed
        ("bowels", "bladder_bowel"), ("cant pee", "bladder_bowel"), ("fevr", "fever"), ("infected", "wound"),
        ("bloody", "bleeding"), ("weaker", "weakness"), ("pins and needles", "numbness"),
        ("estoy sangrando", "bleeding"), ("supurando", "wound"), ("calentura", "fever"),
        ("tengo calentura", "fever"), ("cant feel my legs", "numbness"),
    ],
)
def test_the_replies_the_old_reader_missed_are_red_flags_of_their_group(body: str, group: str) -> None:
    reading = read_reply(body)
    assert reading.kind == "red_flag" and group in reading.groups


def test_a_reply_is_read_in_both_languages_and_says_which_list_matched() -> None:
    spanish = read_reply("my mom tiene calentura")
    assert spanish.groups == ("fever",) and {h.language for h in spanish.hits} == {"es"}
    english = read_reply("se cayó, she fell")
    assert english.groups == ("fall",) and {h.language for h in english.hits} == {"en", "es"}
    mixed = read_reply("tiene calentura and she fell")
    assert mixed.groups == ("fever", "fall")  # in the order of the text, whichever list matched


def test_the_reading_names_each_group_the_phrase_the_words_and_how_loosely_they_matched() -> None:
    reading = read_reply("Fevr since last night and the bandage is bloody 🩸")
    assert reading.groups == ("fever", "bleeding")
    fever = next(h for h in reading.hits if h.group == "fever")
    assert (fever.phrase, fever.words, fever.how) == ("fever", "fevr", "fuzzy")
    assert {h.how for h in reading.hits if h.group == "bleeding"} <= {"exact", "stem"}


@pytest.mark.parametrize(
    ("body", "flagged"),
    [
        ("no fever, just sore", False), ("No fever no chills", False), ("I dont have a fever", False),
        ("sin fiebre ni escalofrios", False), ("ya no sangra", False), ("no tengo calentura", False),
        ("pain is not bad", False), ("no fever but my leg is numb", True),
        ("not sure if this is a fever", True), ("no se si es fiebre", True),
        ("no he podido orinar", True), ("no puedo hacer pipi", True), ("I havent peed since yesterday", True),
        ("no siento las piernas", True), ("I fell asleep early", False), ("blood pressure pill question", False),
        ("the bleeding stopped yesterday", True),
    ],
)
def test_negation_cancels_a_red_flag_only_within_its_scope_and_never_doubt_or_inability(body: str,
                                                                                        flagged: bool) -> None:
    reading = read_reply(body)
    assert reading.red_flag is flagged, reading


def test_a_denied_red_flag_is_kept_in_the_reading_for_the_person_who_reads_it() -> None:
    reading = read_reply("no fever, just sore")
    assert reading.kind == "text" and [h.group for h in reading.negated] == ["fever"]


def test_a_reply_about_the_body_with_nothing_reassuring_is_a_possible_red_flag() -> None:
    assert read_reply("my foot slaps the ground when i walk").groups == ("unclear",)
    assert read_reply("my back feels better than in years").kind == "text"
    assert read_reply("can I sleep on my back?").kind == "text"


def _document() -> dict[str, Any]:
    return tomllib.loads(LEXICON_PATH.read_text(encoding="utf-8"))


def _with_phrase(path: Path, marker: str, phrase: str) -> Path:
    text = LEXICON_PATH.read_text(encoding="utf-8")
    assert text.count(marker) == 1
    path.write_text(text.replace(marker, f'{marker}"{phrase}", '), encoding="utf-8")
    return path


def test_a_phrase_a_clinician_adds_to_replies_toml_takes_effect(tmp_path: Path) -> None:
    body = "I feel lightheaded when I get up"
    assert read_reply(body).kind == "text"
    edited = load_lexicon(_with_phrase(tmp_path / "replies.toml", 'fall = ["fell", ', "lightheaded"))
    reading = read_reply(body, edited)
    assert reading.groups == ("fall",) and reading.hits[0].phrase == "lightheaded"
    assert classify(body, edited) == "red_flag"
    # and in Spanish, with its stems: "desvanecido" covers "desvanecida"
    es = load_lexicon(_with_phrase(tmp_path / "es.toml", 'fall = ["me cai", ', "desvanecido"))
    assert read_reply("ando como desvanecida", es).groups == ("fall",)


def test_the_reader_settings_in_replies_toml_take_effect() -> None:
    strict = _document()
    strict["reader"]["fuzzy_min_score"] = 100
    assert not read_reply("fevr", Lexicon.from_document(strict)).red_flag
    wide = _document()
    wide["reader"]["negation_window"] = 0
    assert read_reply("no fever", Lexicon.from_document(wide)).red_flag


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["reader"].update(fuzzy_threshold=80), "unknown fields"),
        (lambda d: d["red_flags"]["en"].update(headache=["headache"]), "unknown groups"),
        (lambda d: d["negation"].pop("es"), "give the languages"),
        (lambda d: d["red_flags"]["en"]["fall"].append("dizzy ~ "), "side of '~'"),
        (lambda d: d.update(red_flag=[]), "unknown fields"),
    ],
)
def test_a_mistake_in_replies_toml_is_an_error_that_says_where(change: Any, message: str) -> None:
    doc = _document()
    change(doc)
    with pytest.raises(ValueError, match=message):
        Lexicon.from_document(doc)
