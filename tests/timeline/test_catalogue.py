"""The anticoagulant catalogue: lookups, ambiguity, validation, and the rule line."""

from __future__ import annotations

from pathlib import Path

import pytest

from pathway.timeline import (
    AmbiguousDrug,
    Catalogue,
    CatalogueError,
    UnknownDrug,
    load_catalogue,
    rule_text,
)

NSAIDS = {
    "ibuprofen": 1, "diclofenac": 1, "ketorolac": 1, "etodolac": 2, "indomethacin": 2,
    "naproxen": 4, "meloxicam": 4, "nabumetone": 6, "oxaprozin": 10, "piroxicam": 10,
}
STARRED = {
    "clopidogrel", "prasugrel", "ticagrelor", "dabigatran", "dabigatran-renal",
    "rivaroxaban", "apixaban", "edoxaban", "fondaparinux",
    # issue 10: rows added from secondary summaries, each to confirm against the full text
    "ticlopidine", "cangrelor", "vorapaxar", "abciximab", "eptifibatide", "tirofiban", "tinzaparin",
    "argatroban", "bivalirudin", "celecoxib", "ssri", "snri", "fish-oil", "garlic", "ginkgo", "ginseng",
    "vitamin-e", "dong-quai", "danshen",
}


@pytest.mark.parametrize(("key", "days"), sorted(NSAIDS.items()))
def test_each_nsaid_has_its_own_row(catalogue: Catalogue, key: str, days: int) -> None:
    drug = catalogue.get(key)
    assert (drug.drug_class, drug.stop_days, drug.restart_hours) == ("NSAID", days, 24)


@pytest.mark.parametrize("plain", ["aspirin", "enoxaparin", "heparin", "Aspirin ", "HEPARIN"])
def test_plain_name_with_regimens_is_ambiguous_and_lists_them(catalogue: Catalogue, plain: str) -> None:
    with pytest.raises(AmbiguousDrug) as caught:
        catalogue.get(plain)
    assert len(caught.value.choices) == 2
    for choice in caught.value.choices:
        assert choice in str(caught.value)


def test_find_does_not_quietly_treat_a_plain_name_as_free_text(catalogue: Catalogue) -> None:
    with pytest.raises(AmbiguousDrug, match="aspirin-primary, aspirin-secondary"):
        catalogue.find("aspirin")


def test_dabigatran_plain_is_the_normal_renal_function_row(catalogue: Catalogue) -> None:
    assert catalogue.get("dabigatran").stop_days == 4
    assert catalogue.get("dabigatran-renal").stop_days == 6


def test_unknown_drug_is_free_text_with_no_default(catalogue: Catalogue) -> None:
    # (was "fish oil", which issue 10 added to the catalogue as a "consider stopping" row)
    assert catalogue.find("metformin") is None
    with pytest.raises(UnknownDrug, match="no default"):
        catalogue.get("metformin")


def test_lookup_forgives_case_and_spaces(catalogue: Catalogue) -> None:
    assert catalogue.get("Heparin IV").key == "heparin-iv"


def test_every_row_is_cited_and_starred_rows_say_secondary_summary(catalogue: Catalogue) -> None:
    for drug in catalogue.all():
        assert "Reg Anesth Pain Med 2018;43:225-262" in drug.source
        assert drug.secondary_summary == (drug.key in STARRED), drug.key


def test_ranges_default_to_the_upper_bound(catalogue: Catalogue) -> None:
    for drug in catalogue.all():
        if drug.restart_hours_range is not None:
            assert drug.restart_hours == drug.restart_hours_range[1], drug.key
    assert catalogue.get("heparin-sc").restart_hours_range == (6, 8)


def test_inr_is_required_only_for_vitamin_k_antagonists(catalogue: Catalogue) -> None:
    assert {d.key for d in catalogue.all() if d.inr_required} == {"warfarin", "acenocoumarol"}


def test_prasugrel_may_be_lengthened_to_ten_days(catalogue: Catalogue) -> None:
    drug = catalogue.get("prasugrel")
    assert (drug.stop_days, drug.stop_days_max) == (7, 10)


def test_aspirin_for_secondary_prevention_has_no_default_hold(catalogue: Catalogue) -> None:
    drug = catalogue.get("aspirin-secondary")
    assert not drug.has_stop_default
    assert drug.restart_hours == 24


def test_rule_text_names_interval_restart_and_source(catalogue: Catalogue) -> None:
    assert rule_text(catalogue.get("clopidogrel")) == (
        "clopidogrel: 7 days before, restart 24 h after; ASRA 2018 high-risk (secondary summary)"
    )
    assert rule_text(catalogue.get("ibuprofen")) == (
        "ibuprofen: 1 day before, restart 24 h after; ASRA 2018 high-risk"
    )
    assert rule_text(catalogue.get("enoxaparin-prophylactic")) == (
        "enoxaparin (prophylactic dose): 12 h before, restart 24 h after (range 12-24 h); "
        "ASRA 2018 high-risk"
    )
    assert "normal INR" in rule_text(catalogue.get("warfarin"))
    assert "no default" in rule_text(catalogue.get("aspirin-secondary"))


def test_catalogue_records_its_version(catalogue: Catalogue) -> None:
    assert catalogue.version


HEADER = '[catalogue]\nversion = "t"\ncitation = "ASRA 2018 high-risk"\n'
ROW = 'key = "x"\nname = "x"\nclass = "c"\nsource = "s"\n'


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "anticoagulants.toml"
    path.write_text(HEADER + body, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("stop_day = 7\n", "drug 'x': field 'stop_day' is not a known field"),
        ("stop_days = 2\nstop_hours = 12\n", "drug 'x': field 'stop_hours' cannot be given together"),
        ("stop_days = -1\n", "drug 'x': field 'stop_days' must not be negative"),
        ("restart_hours = -2\n", "drug 'x': field 'restart_hours' must not be negative"),
        ("stop_days = true\n", "drug 'x': field 'stop_days' must be a whole number"),
        ("restart_hours = 30\nrestart_hours_range = [12, 24]\n", "field 'restart_hours' must lie inside"),
        ("restart_hours_range = [24, 12]\nrestart_hours = 12\n", "field 'restart_hours_range'"),
        ("stop_days_max = 10\n", "field 'stop_days_max' needs stop_days"),
    ],
)
def test_malformed_rows_are_refused_naming_row_and_field(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(CatalogueError, match=message.replace("(", r"\(")):
        load_catalogue(write(tmp_path, "[[drug]]\n" + ROW + extra))


def test_missing_required_field_is_named(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="field 'source' is required"):
        load_catalogue(write(tmp_path, '[[drug]]\nkey = "x"\nname = "x"\nclass = "c"\n'))


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="appears more than once"):
        load_catalogue(write(tmp_path, "[[drug]]\n" + ROW + "[[drug]]\n" + ROW))


def test_unknown_top_level_table_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="'drugs' is not a known field"):
        load_catalogue(write(tmp_path, "[[drugs]]\n" + ROW))


def test_invalid_toml_is_reported_with_the_file_name(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match=r"anticoagulants.toml: not valid TOML"):
        load_catalogue(write(tmp_path, "[[drug]\n"))
