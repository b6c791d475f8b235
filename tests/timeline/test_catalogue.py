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
TEXT_NAME = 'text_name = { en = "x", es = "x" }\n'
ROW = 'key = "x"\nname = "x"\n' + TEXT_NAME + 'class = "c"\nsource = "s"\n'


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
        load_catalogue(write(tmp_path, '[[drug]]\nkey = "x"\nname = "x"\n' + TEXT_NAME + 'class = "c"\n'))


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="appears more than once"):
        load_catalogue(write(tmp_path, "[[drug]]\n" + ROW + "[[drug]]\n" + ROW))


def test_unknown_top_level_table_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="'drugs' is not a known field"):
        load_catalogue(write(tmp_path, "[[drugs]]\n" + ROW))


def test_invalid_toml_is_reported_with_the_file_name(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match=r"anticoagulants.toml: not valid TOML"):
        load_catalogue(write(tmp_path, "[[drug]\n"))


# --- issue 10: brand names, misspellings, other ASRA 2018 classes, renal bands, patient terms ---

BRANDS = {
    "Coumadin": "warfarin", "Jantoven": "warfarin", "warfarine": "warfarin", "wafarin": "warfarin",
    "Eliquis": "apixaban", "Xarelto": "rivaroxaban", "xeralto": "rivaroxaban", "Pradaxa": "dabigatran",
    "Savaysa": "edoxaban", "Lixiana": "edoxaban", "Plavix": "clopidogrel", "plavics": "clopidogrel",
    "Effient": "prasugrel", "Brilinta": "ticagrelor", "Pletal": "cilostazol", "Persantine": "dipyridamole",
    "Fragmin": "dalteparin", "Arixtra": "fondaparinux", "Aleve": "naproxen", "Naprosyn": "naproxen",
    "Advil": "ibuprofen", "Motrin": "ibuprofen", "Mobic": "meloxicam", "Celebrex": "celecoxib",
    "Voltaren": "diclofenac", "Toradol": "ketorolac", "Indocin": "indomethacin", "Relafen": "nabumetone",
    "Daypro": "oxaprozin", "Feldene": "piroxicam", "Lodine": "etodolac", "Innohep": "tinzaparin",
    "Zoloft": "ssri", "Cymbalta": "snri", "omega 3": "fish-oil", "Vitamin E": "vitamin-e",
}


@pytest.mark.parametrize(("typed", "key"), sorted(BRANDS.items()))
def test_brand_names_and_misspellings_resolve_to_the_generic_row(catalogue: Catalogue, typed: str, key: str) -> None:
    assert catalogue.get(typed).key == key
    assert catalogue.get(f"  {typed.upper()} ").key == key


@pytest.mark.parametrize("typed", ["Eliquis 5 mg", "eliquis 5mg", "Coumadin 2.5 mg daily", "Plavix 75mg once a day"])
def test_a_trailing_dose_does_not_hide_the_drug(catalogue: Catalogue, typed: str) -> None:
    assert catalogue.get(typed).key in {"apixaban", "warfarin", "clopidogrel"}


@pytest.mark.parametrize("typed", ["Bayer", "Ecotrin", "baby aspirin", "aspirin 81 mg", "Lovenox", "lovanox"])
def test_a_brand_that_does_not_say_the_regimen_is_ambiguous_not_silently_one(
    catalogue: Catalogue, typed: str
) -> None:
    with pytest.raises(AmbiguousDrug) as caught:
        catalogue.find(typed)
    assert caught.value.choices in {("aspirin-primary", "aspirin-secondary"),
                                    ("enoxaparin-prophylactic", "enoxaparin-therapeutic")}


def test_a_combination_product_asks_for_one_hold_per_drug(catalogue: Catalogue) -> None:
    with pytest.raises(AmbiguousDrug, match="add one hold for each of: aspirin-secondary, dipyridamole"):
        catalogue.find("Aggrenox")


def test_text_naming_a_known_drug_among_other_words_is_not_free_text(catalogue: Catalogue) -> None:
    with pytest.raises(AmbiguousDrug, match="names warfarin, aspirin"):
        catalogue.find("warfarin and aspirin")
    assert catalogue.find("Mystery herbal blend") is None


def test_consider_rows_have_no_default_and_show_the_suggestion(catalogue: Catalogue) -> None:
    considered = {d.key for d in catalogue.all() if d.clinician_decides}
    assert considered == {"celecoxib", "ssri", "snri", "fish-oil", "garlic", "ginkgo", "ginseng", "vitamin-e",
                          "dong-quai", "danshen"}
    for key in considered:
        drug = catalogue.get(key)
        assert not drug.has_stop_default and drug.restart_hours is None, key
    assert catalogue.get("ginkgo").suggestion() == "stop 36 h before, restart 24 h after"
    assert "consider stopping" in rule_text(catalogue.get("garlic"))


def test_the_other_classes_asra_2018_names_are_catalogued_with_their_source(catalogue: Catalogue) -> None:
    for key in ("abciximab", "eptifibatide", "tirofiban", "cangrelor", "vorapaxar", "ticlopidine", "tinzaparin",
                "dalteparin", "argatroban", "bivalirudin"):
        drug = catalogue.get(key)
        assert drug.has_stop_default and drug.restart_hours is not None and drug.source, key


def test_every_range_records_both_ends_and_why_the_clinic_uses_its_end(catalogue: Catalogue) -> None:
    ranged = [d for d in catalogue.all() if d.stop_days_range or d.stop_hours_range]
    assert {d.key for d in ranged} >= {"prasugrel", "vorapaxar", "abciximab", "eptifibatide", "tirofiban"}
    for d in ranged:
        low, high = d.stop_days_range or d.stop_hours_range or (0, 0)
        chosen = d.stop_days if d.stop_days_range else d.stop_hours
        assert chosen in (low, high) and d.range_choice.strip(), d.key


def test_dabigatran_follows_its_renal_band_and_the_renal_row_agrees(catalogue: Catalogue) -> None:
    dabigatran = catalogue.get("dabigatran")
    assert dabigatran.renal_dependent
    assert [dabigatran.stop_days_for(c) for c in (None, 90, 50, 49, 20)] == [4, 4, 4, 6, 6]
    assert catalogue.get("dabigatran-renal").stop_days == dabigatran.stop_days_for(30)
    assert "6 days if CrCl < 50 mL/min" in rule_text(dabigatran)


GROUP_OF = {
    "blood thinner": {"warfarin", "acenocoumarol", "dabigatran", "rivaroxaban", "apixaban", "edoxaban",
                      "fondaparinux", "enoxaparin-prophylactic", "dalteparin", "tinzaparin", "heparin-iv",
                      "argatroban", "bivalirudin"},
    "anti-platelet medicine": {"clopidogrel", "prasugrel", "ticagrelor", "cilostazol", "dipyridamole",
                               "aspirin-primary", "aspirin-secondary", "ticlopidine", "vorapaxar", "cangrelor",
                               "abciximab", "eptifibatide", "tirofiban"},
    "anti-inflammatory pain medicine": {"ibuprofen", "naproxen", "meloxicam", "celecoxib"},
}
SPANISH = {"blood thinner": "anticoagulante", "anti-platelet medicine": "antiplaquetario",
           "anti-inflammatory pain medicine": "antiinflamatorio para el dolor"}


@pytest.mark.parametrize("term", sorted(GROUP_OF))
def test_each_class_has_its_plain_patient_term_in_english_and_spanish(catalogue: Catalogue, term: str) -> None:
    for key in GROUP_OF[term]:
        drug = catalogue.get(key)
        assert (drug.patient_term("en"), drug.patient_term("es")) == (term, SPANISH[term]), key


def test_patient_terms_are_private_distinct_and_plain_gsm7(catalogue: Catalogue) -> None:
    ssri = catalogue.get("ssri")
    assert "antidepress" not in ssri.patient_term("en") and "antidepres" not in ssri.patient_term("es")
    groups = {d.group: d for d in catalogue.all()}
    for lang in ("en", "es"):
        words = [d.patient_term(lang) for d in groups.values()] + [catalogue.patient_term(None, lang)]
        assert len(words) == len(set(words)), lang  # no two groups read alike
        assert all(w.isascii() for w in words)
    assert (catalogue.patient_term(None, "en"), catalogue.patient_term(None, "es")) == ("medicine", "medicamento")
    assert catalogue.patient_term("warfarin", "es") == "anticoagulante"
    assert catalogue.get("warfarin").patient_term("fr") == "blood thinner"  # a language without words: English


def test_a_name_claimed_by_two_rows_stops_the_file_naming_both(tmp_path: Path) -> None:
    body = ('[[drug]]\nkey = "a"\nname = "a"\n' + TEXT_NAME + 'class = "c"\nsource = "s"\naliases = ["Brand"]\n'
            '[[drug]]\nkey = "b"\nname = "b"\n' + TEXT_NAME + 'class = "c"\nsource = "s"\naliases = ["brand"]\n')
    with pytest.raises(CatalogueError, match="drug 'b': field 'aliases' 'brand' is already claimed by drug 'a'"):
        load_catalogue(write(tmp_path, body))
    with pytest.raises(CatalogueError, match="'a' is already claimed by drug 'a'"):
        load_catalogue(write(tmp_path, '[[drug]]\nkey = "a"\nname = "a"\n' + TEXT_NAME + 'class = "c"\nsource = "s"\n'
                                       '[[drug]]\nkey = "b"\nname = "b"\n' + TEXT_NAME
                                       + 'class = "c"\nsource = "s"\naliases = ["a"]\n'))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('decision = "consider"\nstop_days = 7\n', "field 'stop_days' cannot be given on a \"consider\" row"),
        ('suggested_stop_days = 7\n', "field 'decision' must be \"consider\""),
        ('decision = "maybe"\n', "field 'decision' must be one of"),
        ("stop_days = 7\nstop_days_range = [5, 10]\n", "field 'range_choice' is required"),
        ('stop_days = 12\nstop_days_range = [5, 10]\nrange_choice = "x"\n', "field 'stop_days' must be given and lie"),
        ("renal_bands = [{ crcl_below = 50, stop_days = 6 }]\n", "field 'renal_bands' needs stop_days"),
        ("stop_days = 4\nrenal_bands = [{ crcl_below = 50, stop_days = 2 }]\n", "cannot shorten the hold"),
        ('group = "nowhere"\n', "field 'group' names no"),
    ],
)
def test_malformed_issue_10_fields_are_refused_naming_row_and_field(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(CatalogueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        load_catalogue(write(tmp_path, "[[drug]]\n" + ROW + extra))


def test_a_renal_row_that_disagrees_with_its_band_is_refused(tmp_path: Path) -> None:
    body = ('[[drug]]\nkey = "d"\nname = "d"\n' + TEXT_NAME + 'class = "c"\nsource = "s"\nstop_days = 4\n'
            "renal_bands = [{ crcl_below = 50, stop_days = 6 }]\n"
            '[[drug]]\nkey = "d-renal"\nname = "d"\n' + TEXT_NAME
            + 'class = "c"\nsource = "s"\nstop_days = 5\nrenal_band_of = "d"\n')
    with pytest.raises(CatalogueError, match="must equal d's renal band below 50 mL/min"):
        load_catalogue(write(tmp_path, body))


def test_with_groups_defined_every_row_must_name_its_group(tmp_path: Path) -> None:
    groups = '[group.x]\nen = "thing"\nes = "cosa"\n'
    with pytest.raises(CatalogueError, match="field 'group' is required"):
        load_catalogue(write(tmp_path, groups + "[[drug]]\n" + ROW))


def test_every_row_has_a_plain_generic_text_name_in_english_and_spanish(catalogue: Catalogue) -> None:
    for drug in catalogue.all():
        assert set(drug.text_names) == {"en", "es"}, drug.key
        for name in drug.text_names.values():
            assert name.strip() and "(" not in name, (drug.key, name)  # no regimen words for a patient


@pytest.mark.parametrize(("key", "en", "es"), [
    ("aspirin-secondary", "aspirin", "aspirina"), ("warfarin", "warfarin", "warfarina"),
    ("apixaban", "apixaban", "apixabán"), ("enoxaparin-prophylactic", "enoxaparin", "enoxaparina"),
    ("dabigatran-renal", "dabigatran", "dabigatrán"), ("clopidogrel", "clopidogrel", "clopidogrel"),
    ("ibuprofen", "ibuprofen", "ibuprofeno"), ("naproxen", "naproxen", "naproxeno"),
    ("dipyridamole", "dipyridamole", "dipiridamol"), ("vitamin-e", "vitamin E", "vitamina E"),
])
def test_text_names_are_the_generic_in_each_language(catalogue: Catalogue, key: str, en: str, es: str) -> None:
    drug = catalogue.get(key)
    assert (drug.text_name("en"), drug.text_name("es")) == (en, es)
    assert catalogue.text_names(key) == {"en": en, "es": es}
    assert catalogue.text_names(None) == {} and catalogue.text_names("turmeric") == {}


@pytest.mark.parametrize(("text_name", "message"), [
    ("", "drug 'x': field 'text_name' is required"),
    ('text_name = { en = "x" }\n', "drug 'x' text_name: field 'es' is required"),
    ('text_name = { en = "x", es = "" }\n', "drug 'x' text_name: field 'es' must not be empty"),
    ('text_name = { en = "x", es = "x", fr = "x" }\n', "drug 'x' text_name: field 'fr' is not a known field"),
    ('text_name = "x"\n', "drug 'x': field 'text_name' must be a table"),
])
def test_a_row_without_a_text_name_in_each_language_stops_the_file_naming_the_row(
    tmp_path: Path, text_name: str, message: str
) -> None:
    row = 'key = "x"\nname = "x"\n' + text_name + 'class = "c"\nsource = "s"\n'
    with pytest.raises(CatalogueError, match=message):
        load_catalogue(write(tmp_path, "[[drug]]\n" + row))
