"""answers.toml's LOINC codes (issue 14, FHIR export): the shape of a LOINC code, cited, never guessed."""

from __future__ import annotations

import tomllib

import pytest

from pathway.services.answer_reader import ANSWERS_PATH, AnswerWords, load_answers


def test_pain_carries_its_loinc_code_and_the_file_cites_loinc() -> None:
    codes = load_answers().codes
    assert codes["nprs"].loinc == "72514-3"
    assert all(c.loinc == "" or c.loinc.split("-")[0].isdigit() for c in codes.values())
    text = ANSWERS_PATH.read_text(encoding="utf-8")
    assert "https://loinc.org/72514-3" in text
    for name, code in codes.items():
        if not code.loinc:
            block = text.split(f"[codes.{name}]", 1)[1].split("\n[", 1)[0]
            assert "# loinc:" in block, f"{name} has no loinc and no comment saying why"


@pytest.mark.parametrize("bad", ["72514", "72514-33", "LP1234-5", 725143])
def test_a_malformed_loinc_code_stops_the_file_loading_naming_the_code(bad: object) -> None:
    doc = tomllib.loads(ANSWERS_PATH.read_text(encoding="utf-8"))
    doc["codes"]["nprs"]["loinc"] = bad
    with pytest.raises(ValueError, match=r"\[codes\.nprs\] loinc"):
        AnswerWords.from_document(doc)
