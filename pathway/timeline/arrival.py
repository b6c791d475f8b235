"""The day-before text's arrival time and place: pure rules, time passed in.

The clinical reference ("The timeline") puts arrival time, escort and fasting in the text the day
before the procedure. The arrival is the episode's own `arrival_at` when a person set one, else
`[procedure_day] arrival_minutes_before` the procedure (data/mild_pathway.toml). The place is the
facility's name and its address line; neither may tell a reader of the patient's phone what the
visit is for unless the patient chose detailed texts (`[procedure_day] revealing_words`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from datetime import datetime, timedelta

from pathway.timeline.localtime import UTC, require_aware

__all__ = [
    "FACILITY_NAME_TEXT_MAX",
    "arrival_problem",
    "effective_arrival",
    "place_words",
    "revealing_word",
]

# The longest facility name a text carries (the address line's own limit is its field's, 60):
# with a 60-character address line the day-before text stays within its segment budget
# (tests/timeline/test_texts.py). A longer name is kept for staff and left out of the text.
FACILITY_NAME_TEXT_MAX = 60


def effective_arrival(procedure_at: datetime, arrival_at: datetime | None, default_before: timedelta) -> datetime:
    """When the patient is asked to arrive: the episode's own time, else the pathway's lead."""
    require_aware(procedure_at, "procedure_at")
    if arrival_at is not None:
        return require_aware(arrival_at, "arrival_at").astimezone(UTC)
    # In UTC: aware arithmetic in one zone is wall-clock arithmetic, wrong across a DST change.
    return procedure_at.astimezone(UTC) - default_before


def arrival_problem(procedure_at: datetime, arrival_at: datetime, most_before: timedelta) -> str | None:
    """What is wrong with an episode's own arrival time, in words for the 422; None if fine.

    It must come before the procedure's start, and not more than `most_before` ahead of it (a
    wrong day or AM/PM is far likelier than a real four-hour wait)."""
    require_aware(arrival_at, "arrival_at")
    lead = procedure_at.astimezone(UTC) - arrival_at.astimezone(UTC)  # real time, not wall time
    if lead <= timedelta(0):
        return "must be before the procedure's start; enter when the patient should arrive"
    if lead > most_before:
        minutes = int(most_before.total_seconds() // 60)
        return (f"is more than {minutes} minutes before the procedure; check the day and AM/PM, "
                f"or leave it empty for the usual arrival time")
    return None


def _fold(text: str) -> str:
    """Casefolded, without accents: 'Neurocirugía' reads as 'neurocirugia'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def revealing_word(text: str, words: Collection[str]) -> str | None:
    """The first of `words` that `text` carries as a whole word (case and accents ignored)."""
    folded = _fold(text)
    for word in words:
        if re.search(rf"(?<![^\W_]){re.escape(_fold(word))}(?![^\W_])", folded):
            return word
    return None


def place_words(facility: str, address: str, words: Collection[str], *, detailed: bool) -> str:
    """The place a text names: 'Riverside Surgery Center, 1200 N Main St', or part or none of it.

    In a default text a part that carries a revealing word is left out (the address line is
    refused at entry, but a patient may later turn detailed texts off), and so is a facility name
    longer than FACILITY_NAME_TEXT_MAX."""
    parts = []
    name, line = facility.strip(), address.strip()
    if name and len(name) <= FACILITY_NAME_TEXT_MAX and (detailed or revealing_word(name, words) is None):
        parts.append(name)
    if line and (detailed or revealing_word(line, words) is None):
        parts.append(line)
    return ", ".join(parts)
