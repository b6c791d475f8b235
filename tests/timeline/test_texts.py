"""SMS templates, phrases and GSM-7 / UCS-2 segment counting."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pathway.timeline import (
    NOTICE_KINDS,
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
from pathway.timeline.arrival import place_words
from pathway.timeline.definition import load_definition
from pathway.timeline.texts import MedicineName, join_words, medicine_words

UTC = UTC
NY = ZoneInfo("America/New_York")
LANGS = ("en", "es")
# The worst case for length, built from the data: the longest date phrase for every weekday
# (from the phrase tables), the longest time, and the longest names the catalogue gives its
# medicines. The clinic name is 24 characters (the longest we budget for), in plain letters for
# English and with accents for Spanish, which is then counted as UCS-2 whatever the template says.
CLINIC = {"en": "Northside Pain Institute", "es": "Clínica San José del Río"}
PHONE = "(555) 555-0123"
TYPICAL_CLINIC = "Lakeside Pain Clinic"
FORBIDDEN = ("mild", "stenosis", "decompression", "spine", "blood thinner", "anticoagulante")
# Instants a planned text's facts carry (pathway.timeline.plan), each given the worst instant.
INSTANT_FACTS = ("procedure_at", "restart_at", "follow_up_at", "pt_start_at", "last_dose_at", "arrival_at")
# The longest place the day-before text may name: a facility name and an address line that take
# `[procedure_day] place_max_chars` together ("name, address"; pathway.timeline.arrival).
PLACE_MAX = load_definition().place_max_chars
ADDRESS = "12345 N Martin Luther King Jr Blvd, Suite 1200"[: PLACE_MAX // 2]
FACILITY = "Saint Christopher's Ambulatory Surgery & Endoscopy Center"[: PLACE_MAX - 2 - len(ADDRESS)]
# The longest patient label a hold takes (PatientLabel, 40 characters), three different ones.
LABELS = tuple(f"the small round white pill number {n}".ljust(40, ".") for n in (1, 2, 3))
# Kinds whose English text may take two segments in the worst case, and why (mild_pathway.toml):
# the 72-hour check names every red flag; the global-change question spells out its 1-7 scale.
TWO_SEGMENTS_EN = {("check_72h", ""), ("outcome", "global_change")}


def test_the_worst_case_clinic_names_are_24_characters_and_only_spanish_needs_ucs2() -> None:
    assert {len(name) for name in CLINIC.values()} == {24}
    assert segments(CLINIC["en"]).encoding == "GSM-7" and segments(CLINIC["es"]).encoding == "UCS-2"


def worst_instants(lang: str) -> list[datetime]:
    """For each weekday, its longest date phrase at the longest time of day, in New York.

    One per weekday rather than one overall: the longest Spanish date ("miércoles 29 de
    septiembre") is GSM-7, a shorter one ("sábado 25 de septiembre") is not."""
    days = [date(2027, 1, 1) + timedelta(days=n) for n in range(2 * 366)]
    clock = max((time(h, m) for h in range(24) for m in range(60)), key=lambda t: len(format_time(t, lang)))
    out = []
    for weekday in range(7):
        day = max((d for d in days if d.weekday() == weekday), key=lambda d: len(format_date(d, lang)))
        out.append(datetime.combine(day, clock, NY))
    return out


def medicine_names(catalogue: Catalogue) -> list[MedicineName]:
    return [MedicineName(d.name, "", {lang: d.patient_term(lang) for lang in LANGS}, d.text_names)
            for d in catalogue.all()]


def worst_medicines(catalogue: Catalogue, lang: str, detailed: bool, count: int, labels: bool = False) -> str:
    """`count` medicines named the longest ways the catalogue allows, joined as a text joins them
    (the plain group terms by default, the drugs' text names in `lang` for detailed texts; all
    different, so the naming rule never swaps one for a drug name). With `labels`, each carries
    the longest patient label a hold takes, and detailed texts add the longest drug names."""
    if labels:
        names = sorted(medicine_names(catalogue), key=lambda m: (-len(m.name_in(lang)), m.drug_name))[:count]
        labelled = [MedicineName(m.drug_name, label, m.term, m.text_name)
                    for m, label in zip(names, LABELS[:count], strict=True)]
        return join_words([medicine_words(m, lang, detailed) for m in labelled], lang)
    words = {medicine_words(name, lang, detailed) for name in medicine_names(catalogue)}
    longest = sorted(words, key=lambda w: (-len(w), w))[:count]
    assert len(longest) == count
    return join_words(longest, lang)


def render_worst(
    templates: TemplateSet, catalogue: Catalogue, kind: str, lang: str, variant: str, *,
    detailed: bool, medicines: int, clinic: str | None = None, labels: bool = False,
) -> tuple[str, SegmentInfo]:
    """The body that takes the most segments over every weekday's worst date."""
    found: tuple[str, SegmentInfo] | None = None
    for local in worst_instants(lang):
        facts = {name: local.isoformat() for name in INSTANT_FACTS}
        facts |= {"last_dose_date": local.date().isoformat(), "facility": FACILITY, "facility_address": ADDRESS}
        context = text_context(facts, lang=lang, tz=NY, clinic_name=clinic or CLINIC[lang], clinic_phone=PHONE,
                               detailed=detailed, place_max=PLACE_MAX)
        if "drug" in templates.variables(kind, lang, variant):
            context["drug"] = worst_medicines(catalogue, lang, detailed, medicines, labels)
        body = templates.render(kind, lang, context, variant)
        info = segments(body)
        if found is None or (info.segments, info.units) > (found[1].segments, found[1].units):
            found = (body, info)
    assert found is not None
    return found


ALL_TEMPLATES = TemplateSet.load().names()


def test_there_is_a_template_for_every_kind_and_language(templates: TemplateSet) -> None:
    assert set(templates.keys()) == {(k, lang) for k in TEXT_KINDS for lang in LANGS}


@pytest.mark.parametrize(("kind", "lang", "variant"), ALL_TEMPLATES)
@pytest.mark.parametrize("detailed", [False, True])
@pytest.mark.parametrize("medicines", [1, 2, 3])
@pytest.mark.parametrize("labels", [False, True], ids=["terms", "labels"])
def test_every_template_renders_within_its_segment_budget_in_the_worst_case(
    templates: TemplateSet, definition: PathwayDefinition, catalogue: Catalogue,
    kind: str, lang: str, variant: str, detailed: bool, medicines: int, labels: bool,
) -> None:
    body, info = render_worst(templates, catalogue, kind, lang, variant, detailed=detailed, medicines=medicines,
                              labels=labels)
    assert "$" not in body and body == body.strip()
    assert CLINIC[lang] in body
    if lang == "es":
        assert info.encoding == "UCS-2"  # the budget is counted the expensive way
    assert info.segments <= definition.max_segments(kind, lang), (info, body)


@pytest.mark.parametrize("lang", LANGS)
def test_the_worst_case_detailed_names_are_the_longest_text_names_in_the_language(
    catalogue: Catalogue, lang: str
) -> None:
    longest = sorted((d.text_name(lang) for d in catalogue.all()), key=lambda w: (-len(w), w))[0]
    assert worst_medicines(catalogue, lang, True, 1) == longest
    assert not any(d.name in worst_medicines(catalogue, lang, True, 3) for d in catalogue.all() if "(" in d.name)


@pytest.mark.parametrize(("kind", "variant"), [(k, v) for k, lang, v in ALL_TEMPLATES if lang == "en"])
@pytest.mark.parametrize("labels", [False, True], ids=["terms", "labels"])
def test_default_english_texts_naming_one_medicine_fit_one_segment_and_the_72h_check_two(
    templates: TemplateSet, catalogue: Catalogue, kind: str, variant: str, labels: bool
) -> None:
    body, info = render_worst(templates, catalogue, kind, "en", variant, detailed=False, medicines=1, labels=labels)
    assert info.encoding == "GSM-7"
    assert info.segments <= (2 if (kind, variant) in TWO_SEGMENTS_EN else 1), (info, body)


def test_the_worst_case_place_is_the_most_a_text_names() -> None:
    assert len(FACILITY) + 2 + len(ADDRESS) == PLACE_MAX
    assert place_words(FACILITY, ADDRESS, (), detailed=False, max_chars=PLACE_MAX) == f"{FACILITY}, {ADDRESS}"


def test_the_place_room_in_the_data_is_what_the_english_template_leaves_in_one_segment(
        templates: TemplateSet, definition: PathwayDefinition, catalogue: Catalogue) -> None:
    """`[procedure_day] place_max_chars` is derived here from the template and the worst case (a
    24-character clinic name, the longest date and time, the phone), so the two cannot drift."""
    longest = 0
    for detailed in (False, True):
        for local in worst_instants("en"):
            facts = {name: local.isoformat() for name in INSTANT_FACTS} | {"facility_address": "x"}
            context = text_context(facts, lang="en", tz=NY, clinic_name=CLINIC["en"], clinic_phone=PHONE,
                                   detailed=detailed)
            body = templates.render("pre_procedure", "en", context, "place")
            assert segments(body).encoding == "GSM-7"
            longest = max(longest, segments(body).units - 1)
    assert definition.place_max_chars == 160 - longest
    assert definition.max_segments("pre_procedure", "en") == 1


def test_the_day_before_text_with_a_typical_place_fits_one_english_segment(templates: TemplateSet) -> None:
    facts = {"procedure_at": "2027-09-29T16:45:00+00:00", "arrival_at": "2027-09-29T15:45:00+00:00",
             "facility": "Riverside Surgery Center", "facility_address": "1200 N Main St"}
    context = text_context(facts, lang="en", tz=NY, clinic_name=CLINIC["en"], clinic_phone=PHONE,
                           place_max=PLACE_MAX)
    body = templates.render("pre_procedure", "en", context, "place")
    assert body == ("Northside Pain Institute: Arrive Wed Sep 29 by 11:45 AM at Riverside Surgery Center, "
                    "1200 N Main St. Bring a driver. Eat/drink only as told. Call (555) 555-0123")
    assert segments(body).segments == 1
    assert segments(templates.render("pre_procedure", "en", context)).segments == 1
    # A suite number does not fit beside this name: the text gives the address line alone.
    longer = text_context(facts | {"facility_address": "1200 N Main St, Suite 300"}, lang="en", tz=NY,
                          clinic_name=CLINIC["en"], clinic_phone=PHONE, place_max=PLACE_MAX)
    assert longer["facility_place"] == "1200 N Main St, Suite 300"


def test_typed_words_keep_an_english_text_in_gsm7_and_a_spanish_one_keeps_its_accents(
    templates: TemplateSet,
) -> None:
    # A place and a label as staff type them: accents GSM-7 lacks, curly quotes, a bracket. Any one
    # of them would send the English text as UCS-2 (70 characters a segment): three, not one.
    facts = {"procedure_at": "2027-09-29T16:45:00+00:00", "arrival_at": "2027-09-29T15:45:00+00:00",
             "facility": "Clínica Peñón",
             "facility_address": "12 Calle Ñúñez [B]"}
    en = templates.render("pre_procedure", "en", text_context(facts, lang="en", tz=NY, clinic_name=CLINIC["en"],
                                                              clinic_phone=PHONE, place_max=PLACE_MAX), "place")
    assert "at Clinica Peñon, 12 Calle Ñuñez (B)." in en
    assert segments(en) == SegmentInfo("GSM-7", len(en), 1)
    label = {"drug_label": "Ana\u2019s \u201cblue\u201d pill \u2013 am"}
    body = templates.render("last_dose", "en", text_context(
        {"last_dose_date": "2027-09-27"} | label, lang="en", tz=NY, clinic_name=CLINIC["en"], clinic_phone=PHONE,
        detailed=True))
    assert "Ana's \"blue\" pill - am" in body and segments(body).encoding == "GSM-7"
    es = templates.render("pre_procedure", "es", text_context(facts, lang="es", tz=NY, clinic_name=CLINIC["es"],
                                                              clinic_phone=PHONE, place_max=PLACE_MAX), "place")
    assert "Clínica Peñón, 12 Calle Ñúñez [B]" in es


def test_every_notice_has_a_variant_naming_medicines_in_every_language(templates: TemplateSet) -> None:
    for kind in NOTICE_KINDS:
        for lang in LANGS:
            assert templates.variants(kind, lang)[:2] == ("", "medicines")
            for variant in templates.variants(kind, lang)[1:]:
                assert "drug" in templates.variables(kind, lang, variant)
            assert "drug" not in templates.variables(kind, lang)  # the plain one names none


def test_a_date_change_after_a_stop_has_its_own_wording_that_never_says_when_to_stop(
        templates: TemplateSet) -> None:
    for lang, restart in (("en", "Restart $drug only as told"), ("es", "Retome $drug solo como le indiquen")):
        source = templates.source("date_changed", lang, "stopped")
        assert restart in source
        assert "stop" not in source.lower() and "dejar de" not in source


def test_the_spanish_72h_check_avoids_accents_gsm7_lacks_so_it_costs_half() -> None:
    # Six UCS-2 segments with an accented clinic name; three GSM-7 ones with a plain one.
    body = TemplateSet.load().render("check_72h", "es", {"clinic_name": CLINIC["en"], "clinic_phone": PHONE})
    assert segments(body).encoding == "GSM-7"


@pytest.mark.parametrize(("kind", "lang", "variant"), ALL_TEMPLATES)
def test_template_text_names_no_drug_diagnosis_or_procedure(
    templates: TemplateSet, catalogue: Catalogue, kind: str, lang: str, variant: str
) -> None:
    source = templates.source(kind, lang, variant).lower()
    assert "$clinic_name" in source
    for word in FORBIDDEN:
        assert word not in source, word
    for drug in catalogue.all():
        generic = drug.key.split("-")[0]
        assert not re.search(rf"\b{generic}\b", source), generic


@pytest.mark.parametrize(("kind", "variant"), [(k, v) for k, lang, v in ALL_TEMPLATES if lang == "en"])
def test_english_templates_are_plain_gsm7_with_straight_quotes(templates: TemplateSet, kind: str, variant: str) -> None:
    source = templates.source(kind, "en", variant)
    assert segments(source).encoding == "GSM-7"
    assert not set(source) & set("\u2018\u2019\u201c\u201d")


def test_enrolment_carries_the_opt_out_wording(templates: TemplateSet) -> None:
    assert "Reply STOP to opt out, HELP for help." in templates.source("enrolment", "en")
    spanish = templates.source("enrolment", "es")
    assert "STOP" in spanish and "HELP" in spanish


# One phrase per red flag of the clinical reference ("Red flags after the procedure"), in order.
RED_FLAGS = {
    "en": ("fever", "a red or leaking wound", "bleeding", "new leg weakness or numbness",
           "groin or saddle numbness", "new trouble controlling bladder or bowel", "severe or much worse pain",
           "chest pain", "trouble breathing", "a fall"),
    "es": ("fiebre", "herida roja o que supura", "sangrado", "debilidad o entumecimiento nuevos en las piernas",
           "entumecimiento en la ingle o entre las piernas", "problemas nuevos para controlar la orina o las heces",
           "dolor fuerte o mucho peor", "dolor en el pecho", "falta de aire", "si se cae"),
}


@pytest.mark.parametrize("lang", LANGS)
def test_72h_check_names_every_red_flag_of_the_reference_and_911(templates: TemplateSet, lang: str) -> None:
    source = templates.source("check_72h", lang)
    assert "911" in source and "$clinic_phone" in source
    for phrase in RED_FLAGS[lang]:
        assert phrase in source, phrase


@pytest.mark.parametrize(
    ("kind", "lang", "variant"),
    [t for t in ALL_TEMPLATES if t[0] in ("last_dose", "pre_procedure", "restart", "check_72h", "follow_up",
                                          "pt_start", "date_changed", "cancelled", "help", "red_flag")],
)
def test_texts_that_help_give_the_clinic_phone(templates: TemplateSet, kind: str, lang: str, variant: str) -> None:
    assert "$clinic_phone" in templates.source(kind, lang, variant)


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
        "Lakeside Pain Clinic: Take the last dose of your blood thinner on Tue Mar 2. Restart only "
        "when told. Call 555-201-4477"
    )


def test_hour_based_last_dose_says_by_what_time() -> None:
    facts = {"last_dose_date": "2027-03-09", "last_dose_at": "2027-03-10T01:00:00+00:00"}
    en = text_context(facts, lang="en", tz=NY, clinic_name="C", clinic_phone="1")
    es = text_context(facts, lang="es", tz=NY, clinic_name="C", clinic_phone="1")
    assert en["last_dose_when"] == "Tue Mar 9 by 8:00 PM"
    assert es["last_dose_when"] == "martes 9 de marzo antes de las 20:00"


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
        (date(2027, 3, 2), "es", "martes 2 de marzo"),
        (date(2027, 9, 25), "es", "sábado 25 de septiembre"),
        (date(2027, 3, 10), "es", "miércoles 10 de marzo"),
        (date(2027, 3, 14), "es", "domingo 14 de marzo"),
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
    assert ctx["restart_when"] == "jueves 11 de marzo a la 1:00"


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


def test_a_variant_renders_beside_its_plain_template(tmp_path: Path) -> None:
    (tmp_path / "hello.en.txt").write_text("$clinic_name: hi", encoding="utf-8")
    (tmp_path / "hello.medicines.en.txt").write_text("$clinic_name: hi, $drug", encoding="utf-8")
    templates = TemplateSet.load(tmp_path)
    assert templates.keys() == (("hello", "en"),)
    assert templates.names() == (("hello", "en", ""), ("hello", "en", "medicines"))
    assert templates.variants("hello", "en") == ("", "medicines")
    assert templates.render("hello", "en", {"clinic_name": "C", "drug": "D"}, "medicines") == "C: hi, D"
    with pytest.raises(TemplateError, match=r"hello.medicines.en: no value for \$drug"):
        templates.render("hello", "en", {"clinic_name": "C"}, "medicines")
    with pytest.raises(TemplateError, match="no template for 'hello' \\(variant 'other'\\) in 'en'"):
        templates.render("hello", "en", {"clinic_name": "C"}, "other")


def test_a_variant_without_its_plain_template_is_refused(tmp_path: Path) -> None:
    (tmp_path / "hello.medicines.en.txt").write_text("hi $drug", encoding="utf-8")
    with pytest.raises(TemplateError, match=r"no plain hello.en.txt beside it"):
        TemplateSet.load(tmp_path)


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


def test_spanish_texts_keep_the_reviewed_wording(templates: TemplateSet) -> None:
    """Issue 11's Spanish review: 'mensajes de texto', the cancellation agreeing with
    'su procedimiento' (masculine), a date change that says the date changed, STOP worded so it
    cannot be read as cancelling the procedure, and no English 'textos'."""
    assert "mensajes de texto" in templates.source("enrolment", "es")
    for variant in templates.variants("cancelled", "es"):
        assert "$procedure del $procedure_date está cancelado" in templates.source("cancelled", "es", variant)
    for variant in templates.variants("date_changed", "es"):
        assert "cambiamos la fecha de $procedure al $procedure_when" in templates.source("date_changed", "es", variant)
    for kind, lang, variant in templates.names():
        source = templates.source(kind, lang, variant)
        if lang == "es":
            assert "STOP para cancelar" not in source and "textos" not in source, kind


@pytest.mark.parametrize(("lang", "asks"), [("en", ("Pain 0-10?", "Any problems?", "Reply.")),
                                            ("es", ("¿Su dolor del 0 al 10?", "¿Tiene problemas?", "Responda."))])
def test_72h_check_asks_for_a_pain_score_from_0_to_10_and_any_problems(templates: TemplateSet, lang: str,
                                                                        asks: tuple[str, ...]) -> None:
    source = templates.source("check_72h", lang)
    for words in asks:
        assert words in source, words
    # ... before the red flags, so the question is read first.
    assert source.index(asks[0]) < source.index(RED_FLAGS[lang][0])
@pytest.mark.parametrize("lang", LANGS)
def test_the_day_before_text_always_gives_the_arrival_and_its_place_variant_the_place(
        templates: TemplateSet, lang: str) -> None:
    assert templates.variants("pre_procedure", lang) == ("", "place")
    for variant in ("", "place"):
        names = set(templates.variables("pre_procedure", lang, variant))
        assert {"arrival_when", "clinic_phone"} <= names
        assert ("facility_place" in names) == (variant == "place")
        # The English text with a place says "Arrive <when> at <place>": the room "for your
        # procedure" took goes to the place, so the text stays one segment.
        assert ("procedure" in names) == (lang == "es" or variant == "")
    source = templates.source("pre_procedure", lang, "place")
    for words in {"en": ("Bring a driver", "Eat/drink only as told", "Call"),
                  "es": ("Venga con quien le lleve a casa", "indicaciones de ayuno", "Dudas")}[lang]:
        assert words in source, words


def test_spanish_agreement_cancelado_holds_for_every_way_a_text_names_the_procedure() -> None:
    """'está cancelado' agrees with 'procedimiento' (masculine): every Spanish phrase for the
    procedure, plain or detailed, must keep that noun, or the template needs 'cancelada'."""
    for detailed in (False, True):
        phrase = text_context({}, lang="es", tz=NY, clinic_name="C", clinic_phone="1", detailed=detailed)["procedure"]
        assert phrase.startswith("su procedimiento"), phrase


def test_the_spanish_day_before_text_reads_as_written(templates: TemplateSet) -> None:
    facts = {"procedure_at": "2027-03-02T14:00:00+00:00", "arrival_at": "2027-03-02T13:00:00+00:00",
             "facility": "Centro Quirúrgico Riverside", "facility_address": "1200 N Main St"}
    context = text_context(facts, lang="es", tz=NY, clinic_name="Clínica del Valle", clinic_phone=PHONE)
    assert templates.render("pre_procedure", "es", context, "place") == (
        "Clínica del Valle: llegue el martes 2 de marzo antes de las 8:00 para su procedimiento en Centro "
        "Quirúrgico Riverside, 1200 N Main St. Venga con quien le lleve a casa y siga las indicaciones de ayuno. "
        "Dudas: (555) 555-0123")
