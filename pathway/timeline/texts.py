"""Patient texts: template rendering, the phrases that fill them, and SMS segment counting.

Stdlib only, so the planner's tests can render and measure every text without a transport.
Templates are `templates/sms/<kind>.<lang>.txt`, one `string.Template` each; a missing
variable is an error (a blank where a date should be is worse than no text).
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from types import MappingProxyType
from zoneinfo import ZoneInfo

from pathway.resources import sms_templates_dir
from pathway.timeline.arrival import place_words
from pathway.timeline.localtime import to_local
from pathway.timeline.vocabulary import Language

__all__ = [
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "MedicineName",
    "SegmentInfo",
    "TemplateError",
    "TemplateSet",
    "format_date",
    "format_time",
    "format_when",
    "gsm_plain",
    "join_words",
    "medicine_words",
    "plural",
    "segments",
    "text_context",
]

# --- GSM 03.38 ---------------------------------------------------------------------------
# The default alphabet (3GPP TS 23.038 section 6.2.1), in code-point order 0x00-0x7F, with the
# escape 0x1B left out: it is not a character, it introduces the extension table.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table (6.2.1.1): each costs two septets, escape + code.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

# What typed words (a medicine's label, a facility's name or address) become in a text whose
# template is written in GSM-7: one character outside the alphabet would send the whole text as
# UCS-2, 70 characters a segment, so a one-segment text would take three. Letters lose the accents
# the alphabet lacks ("Clínica" -> "Clinica"); quotes, dashes and the extension table's characters
# (two septets each) become their plain look-alikes; anything else is left out.
_GSM_PLAIN = {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-",
              "\u2026": "...", "\u00a0": " ", "[": "(", "]": ")", "{": "(", "}": ")", "~": "-", "|": "/",
              "\\": "/", "^": "", "\f": " ", "\u20ac": "EUR"}


# The languages whose texts are budgeted as GSM-7 (`[segments]` in mild_pathway.toml): English.
# Spanish needs accents GSM-7 lacks ("sábado"), is budgeted as UCS-2, and keeps every accent.
GSM7_LANGUAGES = frozenset({Language.EN.value})


def gsm_plain(text: str) -> str:
    """`text` in the GSM-7 default alphabet only, as close to the original as the alphabet allows."""
    out = []
    for ch in text:
        if ch in _GSM_PLAIN:
            out.append(_GSM_PLAIN[ch])
        elif ch in GSM7_BASIC:
            out.append(ch)
        else:
            out.extend(c for c in unicodedata.normalize("NFKD", ch) if c in GSM7_BASIC)
    return "".join(out)


_SINGLE = {"GSM-7": 160, "UCS-2": 70}
_PART = {"GSM-7": 153, "UCS-2": 67}


class TemplateError(ValueError):
    """A template is missing, malformed, or was rendered without one of its variables."""


@dataclass(frozen=True)
class SegmentInfo:
    """How a body travels: its encoding, its length in encoding units, and the parts."""

    encoding: str
    units: int
    segments: int


def _gsm_cost(ch: str) -> int | None:
    if ch in GSM7_BASIC:
        return 1
    if ch in GSM7_EXTENSION:
        return 2
    return None


def _costs(body: str) -> tuple[str, list[int]]:
    """Per-character unit costs: septets if every character is GSM-7, else UTF-16 units."""
    gsm = [_gsm_cost(ch) for ch in body]
    if all(c is not None for c in gsm):
        return "GSM-7", [c for c in gsm if c is not None]
    return "UCS-2", [len(ch.encode("utf-16-le")) // 2 for ch in body]


def _parts(costs: list[int], capacity: int) -> int:
    """Pack characters into parts without splitting one (an escape pair or a surrogate pair)."""
    parts, used = 1, 0
    for cost in costs:
        if used + cost > capacity:
            parts, used = parts + 1, 0
        used += cost
    return parts


def segments(body: str) -> SegmentInfo:
    """Encoding, units and segment count of an SMS body, as a carrier would send it.

    GSM-7 when every character is in the default alphabet or its extension table (extension
    characters count two septets); otherwise UCS-2, counted in UTF-16 code units (so an emoji
    counts two). One segment holds 160 septets / 70 units; split messages carry a header and
    hold 153 / 67 per part, and a character is never split across parts.
    """
    encoding, costs = _costs(body)
    units = sum(costs)
    if units <= _SINGLE[encoding]:
        return SegmentInfo(encoding, units, 1)
    return SegmentInfo(encoding, units, _parts(costs, _PART[encoding]))


# --- Phrases -----------------------------------------------------------------------------
# Small tables instead of the locale module: locales differ by machine, texts must not.

_WEEKDAYS: dict[str, tuple[str, ...]] = {
    Language.EN: ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    # Spanish writes the weekday out ("martes 2 de marzo"): "mar" is also "marzo" and "sea".
    Language.ES: ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
}
_MONTHS: dict[str, tuple[str, ...]] = {
    Language.EN: ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    Language.ES: (
        "enero", "febrero", "marzo", "abril", "mayo", "junio",
        "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre",
    ),
}
# Minimum necessary: generic words unless the patient chose detailed texts.
_PHRASES: dict[str, dict[str, str]] = {
    Language.EN: {
        "drug": "your blood thinner",
        "procedure": "your procedure",
        "procedure_detailed": "your MILD procedure",
    },
    Language.ES: {
        "drug": "su anticoagulante",
        "procedure": "su procedimiento",
        "procedure_detailed": "su procedimiento MILD",
    },
}
_POSSESSIVE: dict[str, str] = {Language.EN: "your", Language.ES: "su"}
_AND: dict[str, str] = {Language.EN: "and", Language.ES: "y"}


@dataclass(frozen=True)
class MedicineName:
    """What a text may call one held medicine: its drug name (the staff name, which tells rows
    apart), the patient's own word for it (`patient_label`, "" when none was recorded), its
    catalogue group's plain term per language, and its plain generic name per language
    (`text_name`: "aspirin" / "aspirina"; empty for a free-text drug, which keeps its typed name)."""

    drug_name: str
    patient_label: str
    term: Mapping[str, str]
    text_name: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def term_in(self, lang: str) -> str:
        return self.term.get(lang) or self.term.get(Language.EN) or "medicine"

    def name_in(self, lang: str) -> str:
        """The drug's name as a patient reads it in `lang`: the generic, never the staff name
        ("aspirin (secondary prevention)"); the typed name for a drug the catalogue does not know."""
        return self.text_name.get(lang) or self.text_name.get(Language.EN) or self.drug_name


def _words(name: MedicineName, lang: str, detailed: bool) -> str:
    label = name.patient_label.strip()
    drug = name.name_in(lang)
    if detailed:
        # The patient chose detailed texts: the drug's name, with their own word when it differs.
        if label and label.casefold() != drug.casefold():
            return f"{label} ({drug})"
        return drug
    if label:
        return label  # the patient's own word: no possessive ("Plavix", "the small white pill")
    return f"{_POSSESSIVE[lang]} {name.term_in(lang)}"


def medicine_words(
    name: MedicineName, lang: str, detailed: bool, *, others: Sequence[MedicineName] = ()
) -> str:
    """THE one place that decides how a text names a held medicine. Every text about a hold
    (last dose, restart, date change, cancellation) must call it.

    - The patient's label when recorded ("Plavix"): the word they use, so they cannot mistake it.
    - Otherwise, with detailed texts (the patient chose them): the drug's plain generic name in
      the patient's language ("apixabán"), never the staff name with its regimen.
    - Otherwise the catalogue group's plain term: "your blood thinner", "su antiplaquetario".

    `others` are the episode's other held medicines. If this one's words would read the same as
    a DIFFERENT medicine's (two anti-inflammatories, two blood thinners, no labels), the drug
    name (the generic in the patient's language) is used instead, even in default texts: a
    patient told twice to stop "your blood thinner" cannot know which pill is meant, and
    stopping the wrong one (or neither) risks a spinal hematoma or a clot, which outweighs
    keeping a drug name off the phone. Refusing such an episode was considered and rejected:
    scheduling must not fail for a missing nicety, and the coordinator can record a
    `patient_label` at any time to replace the drug name. Two holds whose generic names are the
    same (aspirin for primary and for secondary prevention) are one medicine to a patient: an
    episode holds at most one of them (services.episodes refuses the second).
    """
    _check_lang(lang)
    words = _words(name, lang, detailed)
    for other in others:
        same_drug = other.drug_name.casefold() == name.drug_name.casefold()
        if not same_drug and _words(other, lang, detailed).casefold() == words.casefold():
            drug = name.name_in(lang)
            return drug if not name.patient_label else f"{name.patient_label} ({drug})"
    return words


def plural(n: int, one: str, many: str) -> str:
    """A count with its word in the right number: plural(1, "day", "days") -> "1 day",
    plural(2, "día", "días") -> "2 días". English and Spanish both take the singular for
    exactly one (and only one), so the caller passes the two words of its own language."""
    return f"{n} {one if n == 1 else many}"


def join_words(items: Sequence[str], lang: str) -> str:
    """'A', 'A and B', 'A, B and C' (Spanish 'y'): medicines named in one text."""
    _check_lang(lang)
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {_AND[lang]} {items[-1]}"


# Instants that are deadlines ("take it by 8:00 PM") rather than appointments ("at 8:00 PM").
_DEADLINES = frozenset({"last_dose", "arrival"})


def _check_lang(lang: str) -> None:
    if lang not in _PHRASES:
        raise ValueError(f"no phrases for language {lang!r}; known: {', '.join(sorted(_PHRASES))}")


def format_date(day: date, lang: str) -> str:
    """'Tue Mar 2' in English, 'martes 2 de marzo' in Spanish."""
    _check_lang(lang)
    weekday = _WEEKDAYS[lang][day.weekday()]
    month = _MONTHS[lang][day.month - 1]
    if lang == Language.ES:
        return f"{weekday} {day.day} de {month}"
    return f"{weekday} {month} {day.day}"


def format_time(t: time, lang: str) -> str:
    """'5:00 PM' in English, '17:00' in Spanish."""
    _check_lang(lang)
    if lang == Language.ES:
        return f"{t.hour}:{t.minute:02d}"
    hour = t.hour % 12 or 12
    return f"{hour}:{t.minute:02d} {'AM' if t.hour < 12 else 'PM'}"


def format_when(local: datetime, lang: str, *, deadline: bool = False) -> str:
    """A local date and time as one phrase: 'Tue Mar 2 at 5:00 PM' / 'martes 2 de marzo a las 17:00'.

    `deadline` says "by"/"antes de" instead of "at"/"a". Spanish uses the singular article
    for one o'clock ("a la 1:00").
    """
    day, clock = format_date(local.date(), lang), format_time(local.time(), lang)
    if lang == Language.ES:
        article = "la" if local.hour == 1 else "las"
        joint = f"antes de {article}" if deadline else f"a {article}"
        return f"{day} {joint} {clock}"
    return f"{day} {'by' if deadline else 'at'} {clock}"


def _instant_phrases(name: str, value: str, lang: str, tz: ZoneInfo) -> dict[str, str]:
    """`<base>_date`, `<base>_time` and `<base>_when` for a fact `<base>_at` (ISO instant)."""
    base = name[: -len("_at")]
    local = to_local(datetime.fromisoformat(value), tz)
    return {
        f"{base}_date": format_date(local.date(), lang),
        f"{base}_time": format_time(local.time(), lang),
        f"{base}_when": format_when(local, lang, deadline=base in _DEADLINES),
    }


def text_context(
    facts: Mapping[str, str],
    *,
    lang: str,
    tz: ZoneInfo,
    clinic_name: str,
    clinic_phone: str,
    detailed: bool = False,
    revealing: Collection[str] = (),
    place_max: int | None = None,
) -> dict[str, str]:
    """Template variables for one text, from a planned message's facts.

    Facts ending in `_at` (ISO instants) give `<base>_date`, `<base>_time`, `<base>_when` in
    the patient's zone; facts ending in `_date` (ISO dates) give a date phrase under the same
    name and `<base>_when`. `$drug` and `$procedure` stay generic unless `detailed` (the
    patient chose detailed texts), so a text read over someone's shoulder says little. The facts
    `facility` and `facility_address` give `$facility_place`, without a part that carries one of
    the `revealing` words unless `detailed`, within `place_max` characters (`timeline.arrival.place_words`).
    """
    _check_lang(lang)
    phrases = _PHRASES[lang]
    drug_label = facts.get("drug_label", "")
    context = {
        "clinic_name": clinic_name,
        "clinic_phone": clinic_phone,
        "drug": drug_label if detailed and drug_label else phrases["drug"],
        "procedure": phrases["procedure_detailed" if detailed else "procedure"],
    }
    for name, value in facts.items():
        if name.endswith("_date"):
            phrase = format_date(date.fromisoformat(value), lang)
            context[name] = phrase
            context.setdefault(name[: -len("_date")] + "_when", phrase)
    for name, value in facts.items():
        if name.endswith("_at"):
            context.update(_instant_phrases(name, value, lang, tz))
    if "facility" in facts or "facility_address" in facts:
        context["facility_place"] = place_words(facts.get("facility", ""), facts.get("facility_address", ""),
                                                revealing, detailed=detailed, max_chars=place_max)
    return context


# --- Templates ---------------------------------------------------------------------------

# `<kind>.<lang>.txt`, or `<kind>.<variant>.<lang>.txt` for the same kind of text worded for a
# case the plain template does not cover (a date-change notice that names medicines). The
# message's kind is the same either way; only the words differ.
_TEMPLATE_NAME = re.compile(r"^(?P<kind>[a-z0-9_]+)(?:\.(?P<variant>[a-z0-9_]+))?\.(?P<lang>[a-z]{2})\.txt$")


@dataclass(frozen=True)
class TemplateSet:
    """Every SMS template, keyed by (kind, language, variant); the plain template's variant is ""."""

    templates: Mapping[tuple[str, str, str], string.Template]

    @classmethod
    def load(cls, directory: Path | None = None) -> TemplateSet:
        """Read `<kind>[.<variant>].<lang>.txt` files; a badly named file or placeholder is an
        error, and so is a variant without its plain template."""
        folder = directory or sms_templates_dir()
        found: dict[tuple[str, str, str], string.Template] = {}
        for path in sorted(folder.glob("*.txt")):
            match = _TEMPLATE_NAME.match(path.name)
            if match is None:
                raise TemplateError(f"{path.name}: template files are named <kind>.<lang>.txt "
                                    "or <kind>.<variant>.<lang>.txt")
            template = string.Template(path.read_text(encoding="utf-8").strip())
            if not template.is_valid():
                raise TemplateError(f"{path.name}: has a malformed $placeholder")
            found[(match["kind"], match["lang"], match["variant"] or "")] = template
        if not found:
            raise TemplateError(f"no SMS templates in {folder}")
        for kind, lang, variant in found:
            if (kind, lang, "") not in found:
                raise TemplateError(f"{kind}.{variant}.{lang}.txt: no plain {kind}.{lang}.txt beside it")
        return cls(MappingProxyType(found))

    def keys(self) -> tuple[tuple[str, str], ...]:
        """All (kind, language) pairs, sorted."""
        return tuple(sorted({(kind, lang) for kind, lang, _ in self.templates}))

    def names(self) -> tuple[tuple[str, str, str], ...]:
        """Every (kind, language, variant), sorted: what a test renders to check them all."""
        return tuple(sorted(self.templates))

    def variants(self, kind: str, lang: str) -> tuple[str, ...]:
        """The variants of a kind in a language, the plain one ("") first."""
        return tuple(sorted(v for k, la, v in self.templates if (k, la) == (kind, lang)))

    def source(self, kind: str, lang: str, variant: str = "") -> str:
        """The raw template text (for tests and previews)."""
        return self._template(kind, lang, variant).template

    def variables(self, kind: str, lang: str, variant: str = "") -> tuple[str, ...]:
        """The $names a template uses."""
        return tuple(self._template(kind, lang, variant).get_identifiers())

    def render(self, kind: str, lang: str, context: Mapping[str, str], variant: str = "") -> str:
        """The text body; every variable the template uses must be in `context`."""
        name = f"{kind}.{variant}" if variant else kind
        template = self._template(kind, lang, variant)
        if lang in GSM7_LANGUAGES and all(ch in GSM7_BASIC for ch in template.template):
            # Keep an English text in GSM-7, whatever staff typed into its values.
            context = {key: gsm_plain(value) for key, value in context.items()}
        try:
            body = template.substitute(context)
        except KeyError as exc:
            raise TemplateError(f"{name}.{lang}: no value for ${exc.args[0]}") from None
        return body.strip()

    def _template(self, kind: str, lang: str, variant: str = "") -> string.Template:
        try:
            return self.templates[(kind, lang, variant)]
        except KeyError:
            what = f"{kind!r} (variant {variant!r})" if variant else repr(kind)
            raise TemplateError(f"no template for {what} in {lang!r}") from None
