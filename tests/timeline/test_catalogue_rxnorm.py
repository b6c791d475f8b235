"""The catalogue's RxNorm ingredient codes (issue 14, FHIR export): digits, cited, never guessed."""

from __future__ import annotations

import tomllib

import pytest

from pathway.timeline.catalogue import DEFAULT_CATALOGUE, CatalogueError, load_catalogue


def test_each_present_code_is_a_digit_string_and_regimens_of_one_drug_share_it() -> None:
    catalogue = load_catalogue()
    coded = [d for d in catalogue.all() if d.rxcui]
    assert len(coded) >= 25
    for drug in coded:
        assert drug.rxcui.isascii() and drug.rxcui.isdigit(), drug.key
    assert catalogue.get("warfarin").rxcui == "11289"
    assert catalogue.get("aspirin-primary").rxcui == catalogue.get("aspirin-secondary").rxcui == "1191"
    assert catalogue.get("dabigatran").rxcui == catalogue.get("dabigatran-renal").rxcui
    # One code, one ingredient: rows sharing a code share the patient's generic name.
    by_code: dict[str, set[str]] = {}
    for drug in coded:
        by_code.setdefault(drug.rxcui, set()).add(drug.text_name("en"))
    assert all(len(names) == 1 for names in by_code.values()), by_code


def test_the_file_cites_rxnorm_and_a_row_without_a_code_says_why() -> None:
    text = DEFAULT_CATALOGUE.read_text(encoding="utf-8")
    assert "RxNorm" in text and "rxnav.nlm.nih.gov" in text
    doc = tomllib.loads(text)
    uncoded = [row["key"] for row in doc["drug"] if "rxcui" not in row]
    blocks = text.split("[[drug]]\n")[1:]
    for key in uncoded:
        (block,) = [b for b in blocks if b.startswith(f'key = "{key}"\n')]
        assert "# rxcui:" in block, f"{key} has no rxcui and no comment saying why"


@pytest.mark.parametrize("bad", ["12a4", "", " 11289", "\uff11\uff11\uff12\uff18\uff19", 11289])
def test_a_code_that_is_not_digits_stops_the_file_loading_naming_the_row(tmp_path, bad) -> None:  # type: ignore[no-untyped-def]
    text = DEFAULT_CATALOGUE.read_text(encoding="utf-8")
    value = f'"{bad}"' if isinstance(bad, str) else str(bad)
    broken = text.replace('rxcui = "11289"', f"rxcui = {value}", 1)
    assert broken != text
    path = tmp_path / "catalogue.toml"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"warfarin.*rxcui"):
        load_catalogue(path)
