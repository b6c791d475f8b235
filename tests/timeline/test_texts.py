"""SMS templates, phrases and GSM-7 / UCS-2 segment counting."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pathway.timeline import (
    TEXT_KINDS,
    Catalogue,
    PathwayDefinition,
    SegmentInfo,
    TemplateError,
    TemplateSet,
    format_date,
    format_time,
    segments,
    text_context,
)

UTC = UTC
NY = ZoneInfo("America/New_York")
LANGS = ("en", "es")
# Worst case for length: a Saturday in September (longest Spanish month; "sáb" forces UCS-2),
# 12:30 PM, the longest clinic name we budget for (30 characters) and detailed texts.
WORST_INSTANT = "2027-09-25T16:30:00+00:00"
LONG_CLINIC = "St. Mary's Interventional Pain"
PHONE = "(555) 555-0123"
FORBIDDEN = ("mild", "stenosis", "decompression", "spine", "blood thinner", "anticoagulante")


def worst_facts(drug_label: str) -> dict[str, str]:
    facts = {"drug_label": drug_label, "hold_ref": "h1", "last_dose_date": "2027-09-25"}
    for name in ("procedure_at", "restart_at", "follow_up_at", "pt_start_at", "last_dose_at"):
        facts[name] = WORST_INSTANT
    return facts


def longest_drug_name(catalogue: Catalogue) -> str:
    return max((d.name for d in catalogue.all()), key=len)


def test_there_is_a_template_for_every_kind_and_language(templates: TemplateSet) -> None:
    assert set(templates.keys()) == {(k, lang) for k in TEXT_KINDS for lang in LANGS}


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("kind", TEXT_KINDS)
@pytest.mark.parametrize("detailed", [False, True])
def test_every_template_renders_within_its_segment_budget(
    templates: TemplateSet, definition: PathwayDefinition, catalogue: Catalogue,
    kind: str, lang: str, detailed: bool,
) -> None:
    facts = worst_facts(longest_drug_name(catalogue))
    context = text_context(facts, lang=lang, tz=NY, clinic_name=LONG_CLINIC, clinic_phone=PHONE,
                           detailed=detailed)
    body = templates.render(kind, lang, context)
    assert "$" not in body and body == body.strip()
    assert LONG_CLINIC in body
    assert segments(body).segments <= definition.max_segments(kind, lang), body


@pytest.mark.parametrize("kind", [k for k in TEXT_KINDS if k != "check_72h"])
def test_default_english_texts_with_a_typical_clinic_fit_one_segment(templates: TemplateSet, kind: str) -> None:
    context = text_context(worst_facts("clopidogrel"), lang="en", tz=NY,
                           clinic_name="Lakeside Pain Clinic", clinic_phone=PHONE)
    info = segments(templates.render(kind, "en", context))
    assert (info.encoding, info.segments) == ("GSM-7", 1)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("kind", TEXT_KINDS)
def test_template_text_names_no_drug_diagnosis_or_procedure(
    templates: TemplateSet, catalogue: Catalogue, kind: str, lang: str
) -> None:
    source = templates.source(kind, lang).lower()
    assert "$clinic_name" in source
    for word in FORBIDDEN:
        assert word not in source, word
    for drug in catalogue.all():
        generic = drug.key.split("-")[0]
        assert not re.search(rf"\b{generic}\b", source), generic


@pytest.mark.parametrize("kind", TEXT_KINDS)
def test_english_templates_are_plain_gsm7_with_straight_quotes(templates: TemplateSet, kind: str) -> None:
    source = templates.source(kind, "en")
    assert segments(source).encoding == "GSM-7"
    assert not set(source) & set("\u2018\u2019\u201c\u201d")


def test_enrolment_carries_the_opt_out_wording(templates: TemplateSet) -> None:
    assert "Reply STOP to opt out, HELP for help." in templates.source("enrolment", "en")
    spanish = templates.source("enrolment", "es")
    assert "STOP" in spanish and "HELP" in spanish


@pytest.mark.parametrize("lang", LANGS)
def test_72h_check_lists_the_red_flags_and_911(templates: TemplateSet, lang: str) -> None:
    source = templates.source("check_72h", lang).lower()
    assert "911" in source and "$clinic_phone" in source
    words = {
        "en": ("fever", "redness", "drainage", "bleeding", "weakness", "numbness", "bladder", "bowel"),
        "es": (
            "fiebre",
            "enrojecimiento",
            "supuración",
            "sangrado",
            "debilidad",
            "entumecimiento",
            "orinar",
            "evacuar",
        ),
    }[lang]
    for word in words:
        assert word in source, word


@pytest.mark.parametrize(
    "kind", ["last_dose", "pre_procedure", "restart", "check_72h", "follow_up", "pt_start", "date_changed", "cancelled"]
)
@pytest.mark.parametrize("lang", LANGS)
def test_texts_that_help_give_the_clinic_phone(templates: TemplateSet, kind: str, lang: str) -> None:
    assert "$clinic_phone" in templates.source(kind, lang)


def test_minimum_necessary_by_default_and_drug_name_only_when_detailed(templates: TemplateSet) -> None:
    facts = {"drug_label": "clopidogrel", "last_dose_date": "2027-03-02", "procedure_at": "2027-03-10T13:00:00+00:00"}
    plain = text_context(facts, lang="en", tz=NY, clinic_name="Lakeside", clinic_phone=PHONE)
    detailed = text_context(facts, lang="en", tz=NY, clinic_name="Lakeside", clinic_phone=PHONE, detailed=True)
    assert (plain["drug"], plain["procedure"]) == ("your blood thinner", "your procedure")
    assert (detailed["drug"], detailed["procedure"]) == ("clopidogrel", "your MILD procedure")
    assert "clopidogrel" not in templates.render("last_dose", "en", plain)
    assert "clopidogrel" in templates.render("last_dose", "en", detailed)
    es = text_context(facts, lang="es", tz=NY, clinic_name="Lakeside", clinic_phone=PHONE)
    assert (es["drug"], es["procedure"]) == ("su anticoagulante", "su procedimiento")


def test_rendered_last_dose_reads_naturally() -> None:
    templates = TemplateSet.load()
    context = text_context({"last_dose_date": "2027-03-02"}, lang="en", tz=NY,
                           clinic_name="Lakeside Pain Clinic", clinic_phone="555-201-4477")
    assert templates.render("last_dose", "en", context) == (
        "Lakeside Pain Clinic: Take your last dose of your blood thinner on Tue Mar 2, then stop "
        "until we say to restart. Questions? 555-201-4477"
    )


def test_hour_based_last_dose_says_by_what_time() -> None:
    facts = {"last_dose_date": "2027-03-09", "last_dose_at": "2027-03-10T01:00:00+00:00"}
    en = text_context(facts, lang="en", tz=NY, clinic_name="C", clinic_phone="1")
    es = text_context(facts, lang="es", tz=NY, clinic_name="C", clinic_phone="1")
    assert en["last_dose_when"] == "Tue Mar 9 by 8:00 PM"
    assert es["last_dose_when"] == "mar 9 de marzo antes de las 20:00"


def test_instants_are_shown_in_the_patients_zone() -> None:
    facts = {"restart_at": "2027-03-11T14:00:00+00:00"}
    ctx = text_context(facts, lang="en", tz=ZoneInfo("America/Los_Angeles"), clinic_name="C", clinic_phone="1")
    assert (ctx["restart_date"], ctx["restart_time"], ctx["restart_when"]) == (
        "Thu Mar 11",
        "6:00 AM",
        "Thu Mar 11 at 6:00 AM",
    )


@pytest.mark.parametrize(
    ("day", "lang", "expected"),
    [
        (date(2027, 3, 2), "en", "Tue Mar 2"),
        (date(2027, 3, 2), "es", "mar 2 de marzo"),
        (date(2027, 9, 25), "es", "sáb 25 de septiembre"),
        (date(2027, 3, 10), "es", "mié 10 de marzo"),
    ],
)
def test_dates_are_phrased_per_language(day: date, lang: str, expected: str) -> None:
    assert format_date(day, lang) == expected


@pytest.mark.parametrize(
    ("t", "en", "es"),
    [
        (time(17, 0), "5:00 PM", "17:00"),
        (time(0, 5), "12:05 AM", "0:05"),
        (time(12, 0), "12:00 PM", "12:00"),
        (time(9, 30), "9:30 AM", "9:30"),
    ],
)
def test_times_are_phrased_per_language(t: time, en: str, es: str) -> None:
    assert (format_time(t, "en"), format_time(t, "es")) == (en, es)


def test_spanish_one_oclock_takes_the_singular_article() -> None:
    ctx = text_context({"restart_at": "2027-03-11T06:00:00+00:00"}, lang="es", tz=NY, clinic_name="C", clinic_phone="1")
    assert ctx["restart_when"] == "jue 11 de marzo a la 1:00"


def test_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="no phrases for language 'fr'"):
        text_context({}, lang="fr", tz=NY, clinic_name="C", clinic_phone="1")


def test_missing_variable_is_an_error_not_a_blank(templates: TemplateSet) -> None:
    with pytest.raises(TemplateError, match=r"last_dose.en: no value for \$"):
        templates.render("last_dose", "en", {"clinic_name": "C"})


def test_missing_template_is_an_error(templates: TemplateSet) -> None:
    with pytest.raises(TemplateError, match="no template for 'last_dose' in 'fr'"):
        templates.render("last_dose", "fr", {})


def test_templates_load_from_a_given_folder_and_trim_whitespace(tmp_path: Path) -> None:
    (tmp_path / "hello.en.txt").write_text("\n  $clinic_name: hi  \n\n", encoding="utf-8")
    templates = TemplateSet.load(tmp_path)
    assert templates.render("hello", "en", {"clinic_name": "C"}) == "C: hi"


def test_badly_named_template_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "hello.txt").write_text("hi", encoding="utf-8")
    with pytest.raises(TemplateError, match=r"<kind>.<lang>.txt"):
        TemplateSet.load(tmp_path)


def test_malformed_placeholder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "hello.en.txt").write_text("costs $5", encoding="utf-8")
    with pytest.raises(TemplateError, match="malformed"):
        TemplateSet.load(tmp_path)


# --- segment counting against known examples -----------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("", SegmentInfo("GSM-7", 0, 1)),
        ("a" * 160, SegmentInfo("GSM-7", 160, 1)),
        ("a" * 161, SegmentInfo("GSM-7", 161, 2)),
        ("a" * 306, SegmentInfo("GSM-7", 306, 2)),
        ("a" * 307, SegmentInfo("GSM-7", 307, 3)),
        ("{" * 80, SegmentInfo("GSM-7", 160, 1)),
        ("€" * 81, SegmentInfo("GSM-7", 162, 2)),
        ("[]~^|\\{}€", SegmentInfo("GSM-7", 18, 1)),
        ("@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà", SegmentInfo("GSM-7", 42, 1)),
        ("¡Señor! ¿Qué?", SegmentInfo("GSM-7", 13, 1)),  # é, ñ, ¿, ¡ are in GSM-7
        ("¿Cómo está?", SegmentInfo("UCS-2", 11, 1)),  # ó and á are not
        ("á" * 70, SegmentInfo("UCS-2", 70, 1)),
        ("á" * 71, SegmentInfo("UCS-2", 71, 2)),
        ("á" * 134, SegmentInfo("UCS-2", 134, 2)),
        ("á" * 135, SegmentInfo("UCS-2", 135, 3)),
        ("😀", SegmentInfo("UCS-2", 2, 1)),
        ("😀" * 35, SegmentInfo("UCS-2", 70, 1)),
        ("It\u2019s", SegmentInfo("UCS-2", 4, 1)),  # a curly apostrophe forces UCS-2
        ("ç", SegmentInfo("UCS-2", 1, 1)),  # only capital Ç is in the basic set
    ],
)
def test_segment_counting_matches_known_examples(body: str, expected: SegmentInfo) -> None:
    assert segments(body) == expected


def test_an_escape_pair_is_never_split_across_parts() -> None:
    body = "a" * 152 + "{" + "a" * 152  # 306 septets, but "{" cannot straddle parts 1 and 2
    assert segments(body) == SegmentInfo("GSM-7", 306, 3)


def test_a_surrogate_pair_is_never_split_across_parts() -> None:
    body = "á" * 66 + "😀" + "á" * 66  # 134 units, but the emoji cannot straddle parts
    assert segments(body) == SegmentInfo("UCS-2", 134, 3)


def test_newlines_are_gsm7() -> None:
    assert segments("a\nb\r").encoding == "GSM-7"


def test_spanish_saturday_forces_ucs2() -> None:
    assert segments(format_date(date(2027, 9, 25), "es")).encoding == "UCS-2"
    assert segments(format_date(datetime(2027, 9, 29).date(), "es")).encoding == "GSM-7"
