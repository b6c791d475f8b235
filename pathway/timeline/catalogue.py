"""The blood-thinner catalogue: cited ASRA defaults, loaded from `data/anticoagulants.toml`.

The catalogue only PROPOSES a hold; the numbers live in the data file, with a citation per
row, so a clinician can review and change them without touching code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
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
    "UnknownDrug",
    "load_catalogue",
    "normalise_key",
    "rule_text",
]

DEFAULT_CATALOGUE = DATA_DIR / "anticoagulants.toml"

_KEY = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_REQUIRED = frozenset({"key", "name", "class", "source"})
_OPTIONAL = frozenset(
    {
        "stop_days",
        "stop_hours",
        "stop_days_max",
        "restart_hours",
        "restart_hours_range",
        "inr_required",
        "citation",
        "note",
    }
)
_META_REQUIRED = frozenset({"version", "citation"})
_META_OPTIONAL = frozenset({"title", "status", "reviewed_by", "reviewed_on"})


class CatalogueError(ValueError):
    """The catalogue file is malformed; the message names the row and the field."""


class UnknownDrug(LookupError):
    """`Catalogue.get` was asked for a drug the catalogue has no row for."""


class AmbiguousDrug(LookupError):
    """A plain name (e.g. 'aspirin') has several regimens; the caller must pick one."""

    def __init__(self, name: str, choices: tuple[str, ...]) -> None:
        super().__init__(f"'{name}' has more than one regimen; choose one of: {', '.join(choices)}")
        self.name = name
        self.choices = choices


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

    @property
    def has_stop_default(self) -> bool:
        """False for rows like aspirin-secondary that always need an explicit plan."""
        return self.stop_days is not None or self.stop_hours is not None

    @property
    def secondary_summary(self) -> bool:
        """True for rows seen only in secondary summaries of the guideline (marked * there)."""
        return "secondary summary" in self.source.lower()


def normalise_key(name: str) -> str:
    """Lower-case and hyphenate what a person typed: 'Heparin IV' -> 'heparin-iv'."""
    return re.sub(r"[\s_]+", "-", name.strip().lower())


@dataclass(frozen=True)
class Catalogue:
    """All drug defaults by key, plus the file's version and review record."""

    drugs: Mapping[str, DrugDefault]
    version: str
    citation: str
    reviewed_by: str = ""
    reviewed_on: str = ""

    def variants(self, name: str) -> tuple[str, ...]:
        """Keys that are regimens of a plain name: 'aspirin' -> aspirin-primary, ..."""
        prefix = normalise_key(name) + "-"
        return tuple(sorted(k for k in self.drugs if k.startswith(prefix)))

    def find(self, key: str) -> DrugDefault | None:
        """The row for `key`, or None for a free-text drug with no default.

        A plain name with regimens raises `AmbiguousDrug` instead of returning None: treating
        'aspirin' as "no default" would hide that the catalogue has two different answers.
        """
        wanted = normalise_key(key)
        found = self.drugs.get(wanted)
        if found is not None:
            return found
        choices = self.variants(wanted)
        if choices:
            raise AmbiguousDrug(wanted, choices)
        return None

    def get(self, key: str) -> DrugDefault:
        """The row for `key`; `UnknownDrug` when absent, `AmbiguousDrug` for a plain name."""
        found = self.find(key)
        if found is None:
            raise UnknownDrug(f"'{normalise_key(key)}' is not in the catalogue (no default)")
        return found

    def all(self) -> tuple[DrugDefault, ...]:
        """Every row, in file order."""
        return tuple(self.drugs.values())


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def _stop_phrase(d: DrugDefault) -> str:
    if d.stop_days is not None:
        phrase = f"{_plural(d.stop_days, 'day')} before"
        if d.stop_days_max is not None and d.stop_days_max != d.stop_days:
            phrase += f" (clinician may lengthen to {d.stop_days_max})"
    elif d.stop_hours is not None:
        phrase = f"{d.stop_hours} h before"
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


def _restart_range(row: Mapping[str, Any], where: str) -> tuple[int, int] | None:
    if "restart_hours_range" not in row:
        return None
    value = row["restart_hours_range"]
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)
        or value[0] > value[1]
    ):
        problem = f"must be [low, high] hours, got {value!r}"
        raise f.FieldError(where, "restart_hours_range", problem)
    return (value[0], value[1])


def _drug(row: Mapping[str, Any], index: int, citation: str) -> DrugDefault:
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
    )


def parse_catalogue(doc: Mapping[str, Any]) -> Catalogue:
    """Validate a parsed TOML document and build the catalogue (raises `FieldError`)."""
    f.check_fields(doc, "file", frozenset({"catalogue", "drug"}), frozenset())
    meta = f.table(doc, "file", "catalogue")
    f.check_fields(meta, "[catalogue]", _META_REQUIRED, _META_OPTIONAL)
    citation = f.text(meta, "[catalogue]", "citation")
    drugs: dict[str, DrugDefault] = {}
    for index, row in enumerate(f.rows(doc, "file", "drug")):
        drug = _drug(row, index, citation)
        if drug.key in drugs:
            raise f.FieldError(f"drug '{drug.key}'", "key", "appears more than once")
        drugs[drug.key] = drug
    return Catalogue(
        drugs=MappingProxyType(drugs),
        version=f.text(meta, "[catalogue]", "version"),
        citation=citation,
        reviewed_by=f.text(meta, "[catalogue]", "reviewed_by", ""),
        reviewed_on=f.text(meta, "[catalogue]", "reviewed_on", ""),
    )


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Read and validate the catalogue file (the shipped one by default)."""
    return f.load_file(path or DEFAULT_CATALOGUE, parse_catalogue, CatalogueError)
