"""The day-before text's arrival time and place: pure rules, time passed in.

The clinical reference ("The timeline") puts arrival time, escort and fasting in the text the day
before the procedure. The arrival is the episode's own `arrival_at` when a person set one, else
`[procedure_day] arrival_minutes_before` the procedure (data/mild_pathway.toml). The place is the
facility's name and its address line; neither may tell a reader of the patient's phone what the
visit is for unless the patient chose detailed texts (`[procedure_day] revealing_words`), and
together they must fit the room the default English text has for a place in one segment
(`[procedure_day] place_max_chars`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from datetime import datetime, timedelta

from pathway.timeline.localtime import UTC, require_aware

__all__ = [
    "NAME_REVEALS",
    "NAME_TOO_LONG",
    "address_problem",
    "arrival_problem",
    "effective_arrival",
    "name_left_out",
    "place_words",
    "revealing_word",
]

# Why a facility's name is not in the day-before text (`name_left_out`).
NAME_REVEALS = "reveals"
NAME_TOO_LONG = "too_long"


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


def _parts(facility: str, address: str, words: Collection[str], *, detailed: bool,
           max_chars: int | None) -> tuple[str, str, str | None]:
    """The name and address line a text may carry ("" for one it may not), and why the name is out."""
    name, line = facility.strip(), address.strip()

    def fits(text: str) -> bool:
        return max_chars is None or len(text) <= max_chars

    if line and not (fits(line) and (detailed or revealing_word(line, words) is None)):
        line = ""  # refused at entry; kept only by older data or detailed texts turned off later
    why: str | None = None
    if name and not detailed and revealing_word(name, words) is not None:
        why = NAME_REVEALS
    elif name and not fits(f"{name}, {line}" if line else name):
        why = NAME_TOO_LONG
    return ("" if why else name), line, why


def place_words(facility: str, address: str, words: Collection[str], *, detailed: bool,
                max_chars: int | None = None) -> str:
    """The place a text names: 'Riverside Surgery Center, 1200 N Main St', or part or none of it.

    In a default text a part that carries a revealing word is left out (the address line is
    refused at entry, but a patient may later turn detailed texts off). The whole place must fit
    `max_chars` (the room the day-before text has for it in one segment): a name that does not
    fit beside the address line is left out and the text gives the address line alone."""
    name, line, _ = _parts(facility, address, words, detailed=detailed, max_chars=max_chars)
    return ", ".join(part for part in (name, line) if part)


def name_left_out(facility: str, address: str, words: Collection[str], *, detailed: bool,
                  max_chars: int | None = None) -> str | None:
    """Why the facility's name is not in the day-before text: NAME_REVEALS, NAME_TOO_LONG, or None."""
    return _parts(facility, address, words, detailed=detailed, max_chars=max_chars)[2]


def address_problem(facility: str, address: str, words: Collection[str], *, detailed: bool,
                    max_chars: int) -> str | None:
    """What is wrong with an address line being entered, in words for the 422; None if fine.

    It must not tell a reader of the patient's phone what the visit is for (unless detailed
    texts), and must fit the text beside the facility's name: the two take at most `max_chars`
    characters together ("name, address"). A name that can never fit (longer than the room, or
    one the text leaves out because it reveals) does not count: the text then gives the address
    line alone, which must fit by itself."""
    line = address.strip()
    if not line:
        return None
    word = None if detailed else revealing_word(line, words)
    if word is not None:
        return (f"contains \"{word}\", which tells whoever reads the patient's phone what the visit is for; give the "
                "street address without it (the patient did not choose detailed texts)")
    name = facility.strip()
    if name and (len(name) > max_chars or (not detailed and revealing_word(name, words) is not None)):
        name = ""
    if name and len(f"{name}, {line}") > max_chars:
        return (f"does not fit the day-before text beside the facility's name: the name and address line may take "
                f"{max_chars} characters together there (\"{name}, {line}\" is {len(name) + 2 + len(line)}); "
                f"shorten the address line or the facility's name")
    if len(line) > max_chars:
        return (f"is {len(line)} characters; the day-before text has room for {max_chars}: shorten the address line")
    return None
