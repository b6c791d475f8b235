"""Which replies only acknowledge a text (answers.toml [acknowledgement]): "ok", "thanks", "👍",
"gracias", their typos and emoji, against replies that say something more and must reach a person
("ok thank you, this is her daughter", "ok but my leg is numb"). The lists are how patients and
caregivers write (shared/docs/mild-pathway.md, "Hearing the patient")."""

from __future__ import annotations

import pytest

from pathway.services.answer_reader import AnswerWords, is_acknowledgement, load_answers

ACKNOWLEDGEMENTS = [
    # English, as sent
    "ok", "Ok", "OK", "ok.", "Ok!", "okay", "Okay!!", "k", "kk", "thanks", "Thanks!", "thank you", "Thank you.",
    "thank u", "thx", "ty", "Thanks so much", "thank you so much!", "many thanks", "got it", "Got it, thanks",
    "ok got it", "ok thanks", "Ok thank you", "OK, thank you!", "will do", "sounds good", "cool", "perfect",
    "alright", "all right thanks", "understood", "noted, thanks", "received", "appreciate it", "Much appreciated!",
    # English typos and stretched letters
    "okk", "okkk", "okey", "oki", "okie", "thanx", "thnx", "tnx", "thankss", "thanksss", "thank yuo", "thankyou",
    # Spanish, with and without accents
    "gracias", "Gracias!", "muchas gracias", "Mil gracias", "ok gracias", "Ok, gracias", "okis", "vale",
    "entendido", "Entendida, gracias", "recibido", "de acuerdo", "perfecto", "Está bien", "esta bien gracias",
    "muy amable", "gracias a usted", "Perfecto, muchas gracias",
    # Spanish typos
    "grasias", "gracais", "grax", "grcs", "graciass", "muchas grasias",
    # Emoji, alone or with words, skin tones and variation selectors
    "👍", "👍🏽", "👍👍", "🙏", "🙏🏻", "👌", "🙂", "😊", "❤️", "ok 👍", "thanks 🙏", "gracias 😊", "Ok gracias 👍🏼",
    "thank you ❤️", "👋",
]

NOT_ACKNOWLEDGEMENTS = [
    # the answer, or part of one (read by the answer reader, never here)
    "7", "ok 7", "thanks, 5", "seven", "siete", "20 min", "much better", "gracias, como un 6", "no pain thanks",
    # caregivers: a person must know who is writing
    "ok thank you, this is her daughter", "thanks this is his wife", "ok soy su hija", "gracias, soy la esposa",
    "ok my mom says thanks", "her son here, thanks",
    # more than an acknowledgement
    "ok but my leg is numb", "ok but it hurts", "thanks but I have a fever", "ok gracias pero me duele mucho",
    "ok what time is it", "ok?", "ok thanks?", "¿ok?", "thanks, who is this", "ok call me", "llamame gracias",
    "ok cancel", "gracias, no voy a ir", "fine", "I'm fine thanks", "muy bien", "good", "yes", "no", "si",
    "not ok", "not good", "no gracias", "ok i guess", "thanks for nothing",
    # emoji that say something
    "😢", "😣", "👎", "🤕", "ok 😢", "thanks 😭", "",
    "   ", "...", "!!",
]


@pytest.mark.parametrize("body", ACKNOWLEDGEMENTS)
def test_only_an_acknowledgement(body: str) -> None:
    assert is_acknowledgement(body), body


@pytest.mark.parametrize("body", NOT_ACKNOWLEDGEMENTS)
def test_more_than_an_acknowledgement(body: str) -> None:
    assert not is_acknowledgement(body), body


def test_the_words_are_data_and_unknown_fields_are_refused() -> None:
    import tomllib

    from pathway.services.answer_reader import ANSWERS_PATH

    doc = tomllib.loads(ANSWERS_PATH.read_text())
    doc["acknowledgement"]["en"] = ["roger that"]
    doc["acknowledgement"]["es"] = []
    doc["acknowledgement"]["emoji"] = []
    words = AnswerWords.from_document(doc)
    assert is_acknowledgement("Roger that!", words)
    assert not is_acknowledgement("ok", words)
    assert is_acknowledgement("ok", load_answers())
    doc["acknowledgement"]["fr"] = ["merci"]
    with pytest.raises(ValueError, match="acknowledgement"):
        AnswerWords.from_document(doc)
