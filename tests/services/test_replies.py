from __future__ import annotations

import pytest

from pathway.services.replies import classify


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
