"""The blood-thinner catalogue: cited ASRA defaults, loaded from `data/anticoagulants.toml`.

The catalogue only PROPOSES a hold; the numbers live in the data file, with a citation per
row, so a clinician can review and change them without touching code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pathway.resources import DATA_DIR
from pathway.timeline import _fields as f

__all__ = [
    "AmbiguousDrug",
    "Catalogue",
    "CatalogueError",
    "DrugDefault",
    "PatientTerm",
    "RenalBand",
    "UnknownDrug",
    "default_catalogue",
    "load_catalogue",
    "normalise_key",
    "rule_text",
]

DEFAULT_CATALOGUE = DATA_DIR / "anticoagulants.toml"

_KEY = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_REQUIRED = frozenset({"key", "name", "text_name", "class", "source"})
_OPTIONAL = frozenset(
    {
        "stop_days",
        "stop_hours",
        "stop_days_max",
        "stop_days_range",
        "stop_hours_range",
        "range_choice",
        "restart_hours",
        "restart_hours_range",
        "renal_bands",
        "renal_band_of",
        "inr_required",
        "decision",
        "suggested_stop_days",
        "suggested_stop_hours",
        "suggested_restart_hours",
        "aliases",
        "group",
        "citation",
        "note",
        "rxcui",
    }
)
_META_REQUIRED = frozenset({"version", "citation"})
_META_OPTIONAL = frozenset({"title", "status", "reviewed_by", "reviewed_on"})
_TOP_REQUIRED = frozenset({"catalogue", "drug"})
_TOP_OPTIONAL = frozenset({"group", "plain_name", "combination"})
_DECISIONS = ("default", "consider")
_LANGUAGES = ("en", "es")
# The neutral term for a drug the catalogue does not know ("your medicine"); data may override.
FREE_TEXT_GROUP = "free-text"
# Words that may follow a drug's name without changing which drug it is: "Eliquis 5 mg twice
# daily" is apixaban. Anything else after the name ("warfarin and aspirin") is not guessed at.
_DOSE_WORD = re.compile(
    r"^(\d+([.,]\d+)?(mg|mcg|g|iu|u|units?|ml)?|mg|mcg|g|iu|units?|ml|tabs?|tablets?|caps?|capsules?"
    r"|daily|once|twice|a|per|day|bid|tid|qd|od|qhs|prn|er|xr|sr|ec|dr|x|at|night|morning)$"
)


class CatalogueError(ValueError):
    """The catalogue file is malformed; the message names the row and the field."""


class UnknownDrug(LookupError):
    """`Catalogue.get` was asked for a drug the catalogue has no row for."""


class AmbiguousDrug(LookupError):
    """A name that stands for several rows; the caller must pick one (or one hold per row).

    'aspirin' (or 'Bayer', 'baby aspirin') has two regimens; 'Aggrenox' is two drugs in one
    capsule; 'warfarin and aspirin' names two drugs in one box.
    """

    def __init__(self, name: str, choices: tuple[str, ...], message: str | None = None) -> None:
        super().__init__(message or f"'{name}' has more than one regimen; choose one of: {', '.join(choices)}")
        self.name = name
        self.choices = choices


@dataclass(frozen=True)
class PatientTerm:
    """What a patient's text calls a drug of one group when no label was recorded."""

    group: str
    words: Mapping[str, str]  # language -> plain words, e.g. {"en": "blood thinner", ...}

    def text(self, lang: str) -> str:
        """The words in `lang`, or in English for a language the data does not cover."""
        return self.words.get(lang) or self.words["en"]


_NEUTRAL = PatientTerm(FREE_TEXT_GROUP, MappingProxyType({"en": "medicine", "es": "medicamento"}))


@dataclass(frozen=True)
class RenalBand:
    """Below `crcl_below` mL/min the hold is `stop_days` (longer: less is cleared)."""

    crcl_below: int
    stop_days: int


@dataclass(frozen=True)
class DrugDefault:
    """One catalogue row: the default hold for one drug (or one regimen of a drug)."""

    key: str
    name: str
    drug_class: str
    stop_days: int | None
    stop_hours: int | None
    stop_days_max: int | None
    restart_hours: int | None
    restart_hours_range: tuple[int, int] | None
    inr_required: bool
    source: str
    citation: str
    note: str = ""
    group: str = FREE_TEXT_GROUP
    aliases: tuple[str, ...] = ()
    decision: str = "default"
    stop_days_range: tuple[int, int] | None = None
    stop_hours_range: tuple[int, int] | None = None
    range_choice: str = ""
    suggested_stop_days: int | None = None
    suggested_stop_hours: int | None = None
    suggested_restart_hours: int | None = None
    renal_bands: tuple[RenalBand, ...] = ()
    renal_band_of: str = ""
    term: PatientTerm = _NEUTRAL
    # language -> the plain generic name a patient reads ("aspirin" / "aspirina"); see text_name()
    text_names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    rxcui: str = ""  # RxNorm ingredient code ("11289" for warfarin); "" when the row has none

    def text_name(self, lang: str) -> str:
        """The generic name a patient's text uses in `lang` (no regimen words): "apixabán".

        English for a language the data does not cover; the staff name if the row has none.
        """
        return self.text_names.get(lang) or self.text_names.get("en") or self.name

    @property
    def has_stop_default(self) -> bool:
        """False for rows like aspirin-secondary that always need an explicit plan."""
        return self.stop_days is not None or self.stop_hours is not None

    @property
    def secondary_summary(self) -> bool:
        """True for rows seen only in secondary summaries of the guideline (marked * there)."""
        return "secondary summary" in self.source.lower()

    @property
    def clinician_decides(self) -> bool:
        """A "consider stopping" row: no default at all; the clinician enters the plan."""
        return self.decision == "consider"

    @property
    def renal_dependent(self) -> bool:
        """True when the interval follows the patient's creatinine clearance (dabigatran)."""
        return bool(self.renal_bands)

    def stop_days_for(self, crcl_ml_min: int | None) -> int | None:
        """The day-based hold for a creatinine clearance; None means normal renal function."""
        if crcl_ml_min is None or not self.renal_bands:
            return self.stop_days
        for band in sorted(self.renal_bands, key=lambda b: b.crcl_below):
            if crcl_ml_min < band.crcl_below:
                return band.stop_days
        return self.stop_days

    def patient_term(self, lang: str) -> str:
        """Plain words for this drug's group in a patient's text ("blood thinner").

        Without the possessive: the text writes "your {term}" / "su {term}".
        """
        return self.term.text(lang)

    def suggestion(self) -> str:
        """For "consider" rows, the guideline's suggested interval as words for staff."""
        parts = []
        if self.suggested_stop_days is not None:
            parts.append(f"stop {_plural(self.suggested_stop_days, 'day')} before")
        elif self.suggested_stop_hours is not None:
            parts.append(f"stop {self.suggested_stop_hours} h before")
        if self.suggested_restart_hours is not None:
            parts.append(f"restart {self.suggested_restart_hours} h after")
        return ", ".join(parts)


def normalise_key(name: str) -> str:
    """Lower-case and hyphenate what a person typed: 'Heparin IV' -> 'heparin-iv'."""
    return re.sub(r"[\s_]+", "-", name.strip().lower())


def _words(name: str) -> list[str]:
    return [w for w in re.split(r"[^a-z0-9.,]+", name.strip().lower()) if w]


@dataclass(frozen=True)
class Catalogue:
    """All drug defaults by key, plus the file's version and review record."""

    drugs: Mapping[str, DrugDefault]
    version: str
    citation: str
    reviewed_by: str = ""
    reviewed_on: str = ""
    # normalised alias -> key; plain (ambiguous) name -> its regimens; combination -> parts
    aliases: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    plain_names: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    combinations: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    terms: Mapping[str, PatientTerm] = field(default_factory=lambda: MappingProxyType({}))

    def variants(self, name: str) -> tuple[str, ...]:
        """Keys that are regimens of a plain name: 'aspirin' -> aspirin-primary, ..."""
        wanted = normalise_key(name)
        if wanted in self.plain_names:
            return self.plain_names[wanted]
        prefix = wanted + "-"
        return tuple(sorted(k for k in self.drugs if k.startswith(prefix)))

    def _exact(self, wanted: str) -> DrugDefault | None:
        """A key or an alias, or AmbiguousDrug for a plain name or a combination."""
        found = self.drugs.get(wanted)
        if found is not None:
            return found
        key = self.aliases.get(wanted)
        if key is not None:
            return self.drugs[key]
        if wanted in self.combinations:
            parts = self.combinations[wanted]
            raise AmbiguousDrug(wanted, parts, f"'{wanted}' contains more than one drug; add one hold for "
                                               f"each of: {', '.join(parts)}")
        choices = self.variants(wanted)
        if choices:
            if wanted in self.plain_names and not any(c.startswith(wanted + "-") for c in choices):
                plain = choices[0].split("-")[0]  # a brand of a plain name: say which drug it is
                raise AmbiguousDrug(wanted, choices, f"'{wanted.replace('-', ' ')}' is {plain}, which has more "
                                                     f"than one regimen; choose one of: {', '.join(choices)}")
            raise AmbiguousDrug(wanted, choices)
        return None

    def find(self, key: str) -> DrugDefault | None:
        """The row for a key, a brand name or a common misspelling, or None for a free-text drug.

        Case, surrounding spaces and a trailing dose ("Eliquis 5 mg twice daily") are forgiven.
        A plain name with regimens raises `AmbiguousDrug` instead of returning None: treating
        'aspirin' as "no default" would hide that the catalogue has two different answers. So
        does text that names a known drug among other words ("warfarin and aspirin"): a known
        drug must never fall to free text, and guessing which one is meant is not safe.
        """
        wanted = normalise_key(key)
        found = self._exact(wanted)
        if found is not None:
            return found
        words = _words(key)
        for end in range(len(words) - 1, 0, -1):
            if all(_DOSE_WORD.match(w) for w in words[end:]):
                found = self._exact("-".join(words[:end]))
                if found is not None:
                    return found
        mentioned = self._mentioned(words)
        if mentioned:
            raise AmbiguousDrug(wanted, mentioned, f"'{key.strip()}' names {', '.join(mentioned)}; enter each "
                                                   "medicine as its own hold, by its name")
        return None

    def _mentioned(self, words: list[str]) -> tuple[str, ...]:
        """Known names (keys, aliases, plain names) found as whole words inside free text."""
        known = set(self.drugs) | set(self.aliases) | set(self.plain_names) | set(self.combinations)
        hits: list[str] = []
        for size in (3, 2, 1):
            for start in range(len(words) - size + 1):
                name = "-".join(words[start:start + size])
                if name in known:
                    target = self.aliases.get(name, name)
                    if target not in hits:
                        hits.append(target)
        return tuple(hits)

    def get(self, key: str) -> DrugDefault:
        """The row for `key`; `UnknownDrug` when absent, `AmbiguousDrug` for a plain name."""
        found = self.find(key)
        if found is None:
            raise UnknownDrug(f"'{normalise_key(key)}' is not in the catalogue (no default)")
        return found

    def all(self) -> tuple[DrugDefault, ...]:
        """Every row, in file order."""
        return tuple(self.drugs.values())

    def patient_term(self, key: str | None, lang: str) -> str:
        """The plain words for a hold's drug by its stored key; neutral for free text."""
        drug = self.drugs.get(key) if key else None
        if drug is not None:
            return drug.patient_term(lang)
        return self.terms.get(FREE_TEXT_GROUP, _NEUTRAL).text(lang)

    def text_names(self, key: str | None) -> Mapping[str, str]:
        """A hold's drug's patient-facing names by language; empty for a free-text drug."""
        drug = self.drugs.get(key) if key else None
        return drug.text_names if drug is not None else MappingProxyType({})


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def _stop_phrase(d: DrugDefault) -> str:
    if d.stop_days is not None:
        phrase = f"{_plural(d.stop_days, 'day')} before"
        if d.stop_days_max is not None and d.stop_days_max != d.stop_days:
            phrase += f" (clinician may lengthen to {d.stop_days_max})"
        for band in d.renal_bands:
            phrase += f" ({_plural(band.stop_days, 'day')} if CrCl < {band.crcl_below} mL/min)"
    elif d.stop_hours is not None:
        phrase = f"{d.stop_hours} h before"
    elif d.clinician_decides:
        phrase = "consider stopping: the clinician decides and enters the plan"
        if d.suggestion():
            phrase += f" (guideline suggests: {d.suggestion()})"
        return phrase
    else:
        phrase = "no default hold, explicit plan needed"
    if d.inr_required:
        phrase += " and a normal INR"
    return phrase


def _restart_phrase(d: DrugDefault) -> str:
    if d.restart_hours is None:
        return "restart per clinician"
    phrase = f"restart {d.restart_hours} h after"
    if d.restart_hours_range is not None:
        low, high = d.restart_hours_range
        phrase += f" (range {low}-{high} h)"
    return phrase


def rule_text(d: DrugDefault) -> str:
    """One line for the timeline saying which rule produced the dates, and from where.

    e.g. "clopidogrel: 7 days before, restart 24 h after; ASRA 2018 high-risk (secondary
    summary)".
    """
    suffix = " (secondary summary)" if d.secondary_summary else ""
    return f"{d.name}: {_stop_phrase(d)}, {_restart_phrase(d)}; {d.citation}{suffix}"


def _range(row: Mapping[str, Any], where: str, name: str, unit: str) -> tuple[int, int] | None:
    if name not in row:
        return None
    value = row[name]
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)
        or value[0] > value[1]
    ):
        problem = f"must be [low, high] {unit}, got {value!r}"
        raise f.FieldError(where, name, problem)
    return (value[0], value[1])


def _restart_range(row: Mapping[str, Any], where: str) -> tuple[int, int] | None:
    return _range(row, where, "restart_hours_range", "hours")


def _renal_bands(row: Mapping[str, Any], where: str, stop_days: int | None) -> tuple[RenalBand, ...]:
    if "renal_bands" not in row:
        return ()
    value = row["renal_bands"]
    if stop_days is None:
        raise f.FieldError(where, "renal_bands", "needs stop_days (the hold with normal renal function)")
    if not isinstance(value, list) or not value:
        raise f.FieldError(where, "renal_bands", "must be a list of {crcl_below, stop_days}")
    bands: list[RenalBand] = []
    for item in value:
        if not isinstance(item, Mapping):
            raise f.FieldError(where, "renal_bands", "must be a list of {crcl_below, stop_days}")
        f.check_fields(item, f"{where} renal band", frozenset({"crcl_below", "stop_days"}), frozenset())
        band = RenalBand(f.required_count(item, f"{where} renal band", "crcl_below"),
                         f.required_count(item, f"{where} renal band", "stop_days"))
        if band.stop_days < stop_days:
            raise f.FieldError(where, "renal_bands", "a lower clearance cannot shorten the hold")
        bands.append(band)
    if len({b.crcl_below for b in bands}) != len(bands):
        raise f.FieldError(where, "renal_bands", "gives the same crcl_below twice")
    return tuple(bands)


def _aliases(row: Mapping[str, Any], where: str, name: str = "aliases") -> tuple[str, ...]:
    if name not in row:
        return ()
    value = row[name]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise f.FieldError(where, name, "must be a list of names")
    return tuple(normalise_key(v) for v in value)


def _text_names(row: Mapping[str, Any], where: str) -> Mapping[str, str]:
    """`text_name = { en = "aspirin", es = "aspirina" }`: every language, plain words."""
    value = row["text_name"]
    if not isinstance(value, Mapping):
        raise f.FieldError(where, "text_name", 'must be a table { en = "...", es = "..." }: the generic name '
                                               "a patient reads in each language")
    f.check_fields(value, f"{where} text_name", frozenset(_LANGUAGES), frozenset())
    return MappingProxyType({lang: f.text(value, f"{where} text_name", lang) for lang in _LANGUAGES})


def _rxcui(row: Mapping[str, Any], where: str) -> str:
    code = f.text(row, where, "rxcui", "")
    if "rxcui" in row and not (code.isascii() and code.isdigit()):
        raise f.FieldError(where, "rxcui", "must be an RxNorm code: digits only, as a string (\"11289\")")
    return code


def _drug(row: Mapping[str, Any], index: int, citation: str, terms: Mapping[str, PatientTerm]) -> DrugDefault:
    where = f"drug #{index + 1}"
    if isinstance(row.get("key"), str):
        where = f"drug '{row['key']}'"
    f.check_fields(row, where, _REQUIRED, _OPTIONAL)
    key = f.text(row, where, "key")
    if not _KEY.match(key):
        raise f.FieldError(where, "key", "must be lowercase letters, digits and hyphens")
    stop_days = f.count(row, where, "stop_days")
    stop_hours = f.count(row, where, "stop_hours")
    if stop_days is not None and stop_hours is not None:
        raise f.FieldError(where, "stop_hours", "cannot be given together with stop_days")
    stop_days_max = f.count(row, where, "stop_days_max")
    if stop_days_max is not None and (stop_days is None or stop_days_max < stop_days):
        raise f.FieldError(where, "stop_days_max", "needs stop_days and must be >= it")
    restart_hours = f.count(row, where, "restart_hours")
    restart_range = _restart_range(row, where)
    if restart_range is not None and not (
        restart_hours is not None and restart_range[0] <= restart_hours <= restart_range[1]
    ):
        raise f.FieldError(where, "restart_hours", "must lie inside restart_hours_range")
    days_range = _range(row, where, "stop_days_range", "days")
    hours_range = _range(row, where, "stop_hours_range", "hours")
    for name, rng, value in (("stop_days", days_range, stop_days), ("stop_hours", hours_range, stop_hours)):
        if rng is not None and not (value is not None and rng[0] <= value <= rng[1]):
            raise f.FieldError(where, name, f"must be given and lie inside {name}_range")
    range_choice = f.text(row, where, "range_choice", "")
    if (days_range or hours_range or stop_days_max is not None) and not range_choice.strip():
        raise f.FieldError(where, "range_choice", "is required with a range: say which end the clinic uses and why")
    decision = f.text(row, where, "decision", "default")
    if decision not in _DECISIONS:
        raise f.FieldError(where, "decision", f"must be one of {', '.join(_DECISIONS)}")
    suggested = {n: f.count(row, where, n) for n in
                 ("suggested_stop_days", "suggested_stop_hours", "suggested_restart_hours")}
    if decision == "consider":
        for name in ("stop_days", "stop_hours", "restart_hours", "stop_days_max"):
            if name in row:
                raise f.FieldError(where, name, "cannot be given on a \"consider\" row: it has no default; "
                                                "use suggested_stop_days / suggested_stop_hours / "
                                                "suggested_restart_hours")
    elif any(v is not None for v in suggested.values()):
        raise f.FieldError(where, "decision", 'must be "consider" for a row with suggested intervals')
    if "group" not in row and len(terms) > 1:
        raise f.FieldError(where, "group", "is required: it gives the patient's texts their plain words")
    group = f.text(row, where, "group", FREE_TEXT_GROUP)
    if group not in terms:
        raise f.FieldError(where, "group", f"names no [group.{group}] table")
    return DrugDefault(
        key=key,
        name=f.text(row, where, "name"),
        drug_class=f.text(row, where, "class"),
        stop_days=stop_days,
        stop_hours=stop_hours,
        stop_days_max=stop_days_max,
        restart_hours=restart_hours,
        restart_hours_range=restart_range,
        inr_required=f.flag(row, where, "inr_required"),
        source=f.text(row, where, "source"),
        citation=f.text(row, where, "citation", citation),
        note=f.text(row, where, "note", ""),
        group=group,
        aliases=_aliases(row, where),
        decision=decision,
        stop_days_range=days_range,
        stop_hours_range=hours_range,
        range_choice=range_choice,
        suggested_stop_days=suggested["suggested_stop_days"],
        suggested_stop_hours=suggested["suggested_stop_hours"],
        suggested_restart_hours=suggested["suggested_restart_hours"],
        renal_bands=_renal_bands(row, where, stop_days),
        renal_band_of=f.text(row, where, "renal_band_of", ""),
        term=terms[group],
        text_names=_text_names(row, where),
        rxcui=_rxcui(row, where),
    )


def _terms(doc: Mapping[str, Any]) -> dict[str, PatientTerm]:
    terms: dict[str, PatientTerm] = {FREE_TEXT_GROUP: _NEUTRAL}
    groups = doc.get("group", {})
    if not isinstance(groups, Mapping):
        raise f.FieldError("file", "group", "must be [group.<name>] tables")
    for name, table in groups.items():
        where = f"[group.{name}]"
        if not isinstance(table, Mapping):
            raise f.FieldError("file", "group", f"{name} must be a table")
        f.check_fields(table, where, frozenset(_LANGUAGES), frozenset({"why"}))
        words = {lang: f.text(table, where, lang) for lang in _LANGUAGES}
        terms[name] = PatientTerm(name, MappingProxyType(words))
    return terms


def _claim(owners: dict[str, str], name: str, owner: str) -> None:
    """Each name a person may type belongs to one row: two claims are a load-time error."""
    if name in owners and owners[name] != owner:
        raise f.FieldError(owner, "aliases", f"'{name}' is already claimed by {owners[name]}")
    owners[name] = owner


def _name_lists(doc: Mapping[str, Any], table: str, field_name: str) -> dict[str, tuple[str, ...]]:
    """[[plain_name]] / [[combination]] rows: a name and the rows it stands for."""
    if table not in doc:
        return {}
    value = doc[table]
    if not isinstance(value, list):
        raise f.FieldError("file", table, f"must be a list of [[{table}]] tables")
    found: dict[str, tuple[str, ...]] = {}
    for index, item in enumerate(value):
        where = f"{table} #{index + 1}"
        if not isinstance(item, Mapping):
            raise f.FieldError("file", table, f"must hold only [[{table}]] tables")
        f.check_fields(item, where, frozenset({"name", field_name}), frozenset({"aliases", "note"}))
        name = normalise_key(f.text(item, where, "name"))
        targets = _aliases(item, where, field_name)
        if len(targets) < 2:
            raise f.FieldError(where, field_name, "must list at least two catalogue keys")
        found[name] = targets
        for alias in _aliases(item, where):
            found[alias] = targets
    return found


def parse_catalogue(doc: Mapping[str, Any]) -> Catalogue:
    """Validate a parsed TOML document and build the catalogue (raises `FieldError`)."""
    f.check_fields(doc, "file", _TOP_REQUIRED, _TOP_OPTIONAL)
    meta = f.table(doc, "file", "catalogue")
    f.check_fields(meta, "[catalogue]", _META_REQUIRED, _META_OPTIONAL)
    citation = f.text(meta, "[catalogue]", "citation")
    terms = _terms(doc)
    drugs: dict[str, DrugDefault] = {}
    owners: dict[str, str] = {}
    aliases: dict[str, str] = {}
    for index, row in enumerate(f.rows(doc, "file", "drug")):
        drug = _drug(row, index, citation, terms)
        if drug.key in drugs:
            raise f.FieldError(f"drug '{drug.key}'", "key", "appears more than once")
        drugs[drug.key] = drug
        _claim(owners, drug.key, f"drug '{drug.key}'")
        for alias in drug.aliases:
            _claim(owners, alias, f"drug '{drug.key}'")
            aliases[alias] = drug.key
    plain = _name_lists(doc, "plain_name", "variants")
    combos = _name_lists(doc, "combination", "parts")
    for names, kind in ((plain, "plain_name"), (combos, "combination")):
        for name, targets in names.items():
            _claim(owners, name, f"{kind} '{name}'")
            for target in targets:
                if target not in drugs:
                    raise f.FieldError(f"{kind} '{name}'", "variants" if kind == "plain_name" else "parts",
                                       f"names '{target}', which has no [[drug]] row")
    for drug in drugs.values():
        if drug.renal_band_of:
            base = drugs.get(drug.renal_band_of)
            if base is None or not base.renal_bands:
                raise f.FieldError(f"drug '{drug.key}'", "renal_band_of", "must name a row with renal_bands")
            impaired = max(base.renal_bands, key=lambda b: b.crcl_below)
            if drug.stop_days != impaired.stop_days:
                raise f.FieldError(f"drug '{drug.key}'", "stop_days",
                                   f"must equal {base.key}'s renal band below {impaired.crcl_below} mL/min "
                                   f"({impaired.stop_days} days)")
    return Catalogue(
        drugs=MappingProxyType(drugs),
        version=f.text(meta, "[catalogue]", "version"),
        citation=citation,
        reviewed_by=f.text(meta, "[catalogue]", "reviewed_by", ""),
        reviewed_on=f.text(meta, "[catalogue]", "reviewed_on", ""),
        aliases=MappingProxyType(aliases),
        plain_names=MappingProxyType(plain),
        combinations=MappingProxyType(combos),
        terms=MappingProxyType(terms),
    )


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Read and validate the catalogue file (the shipped one by default)."""
    return f.load_file(path or DEFAULT_CATALOGUE, parse_catalogue, CatalogueError)


@cache
def default_catalogue() -> Catalogue:
    """The shipped catalogue, read once per process (for answers that have no rules at hand)."""
    return load_catalogue()
