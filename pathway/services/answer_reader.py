"""Reading a patient's answer to a question text: a pain score 0-10, yes or no, minutes, or a
global impression of change 1-7.
Pure: no database. Every word lives in ``pathway/data/answers.toml`` (clinician-editable, cited).

The reply is folded as the red-flag reader folds it (``reply_reader.fold``: case, accents and
apostrophes dropped), keycap and other digit emoji become digits, and it is cut into words. An
answer is read only when the reply gives ONE answer: two different pain scores ("was 8 now 4")
or both yes and no are not guessed. What is left once the answer and the filler words are taken
out (``Answer.rest``) is for a person to read.
"""

from __future__ import annotations

import math
import re
import tomllib
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process

from pathway.resources import DATA_DIR
from pathway.services.reply_reader import fold

ANSWERS_PATH = DATA_DIR / "answers.toml"

# The kinds of answer a question may expect.
PAIN = "pain_0_10"
YES_NO = "yes_no"
MINUTES = "minutes"
CHANGE = "change_1_7"
ANSWER_KINDS = (PAIN, YES_NO, MINUTES, CHANGE)

_EMOJI_NUMBERS = {"\U0001f51f": "10"}  # the keycap ten; keycap 0-9 fold to their digit
_TOKEN = re.compile(r"\d+(?:[.,]\d+)?|[a-z]+|[^\sa-z\d]")
_LOINC = re.compile(r"[0-9]{1,7}-[0-9]")  # a LOINC code: digits, a hyphen and its check digit


@dataclass(frozen=True)
class Code:
    """What an observation of one code may hold (answers.toml [codes.<code>])."""

    code: str
    label: str
    unit: str
    min: Decimal
    max: Decimal
    whole: bool
    source: str
    loinc: str = ""  # the LOINC code (FHIR export), "" when none is known

    def check(self, value: Decimal) -> str | None:
        """Why ``value`` cannot be stored for this code, or None."""
        if not value.is_finite():
            return "must be a number"
        if self.whole and value != value.to_integral_value():
            return f"must be a whole number from {self.min} to {self.max}"
        if not self.min <= value <= self.max:
            return f"must be from {self.min} to {self.max} ({self.unit})"
        return None


@dataclass(frozen=True)
class Answer:
    """What a reply answers. ``value`` is None when it could not be read as one answer."""

    value: Decimal | None
    rest: tuple[str, ...] = ()  # the words that are neither the answer nor filler
    why: str = ""  # when not read: why (two scores, yes and no...)

    @property
    def read(self) -> bool:
        return self.value is not None


@dataclass
class AnswerWords:
    """answers.toml, compiled. Build with :func:`load_answers` (cached) or ``from_document``."""

    codes: dict[str, Code]
    numbers: dict[str, int]  # "seven" / "siete" / "sinco" -> the score
    spelled: tuple[str, ...]  # the number words a typo may stand for (not the other spellings)
    number_fuzzy: tuple[int, int]  # (min score, min length)
    range_words: frozenset[str]
    scale: list[tuple[str, ...]]
    zero: list[tuple[str, ...]]
    yes: list[tuple[str, ...]]
    no: list[tuple[str, ...]]
    unsure: list[tuple[str, ...]]
    yes_no_fuzzy: tuple[int, int]
    minute_words: frozenset[str]
    hour_words: frozenset[str]
    minute_phrases: list[tuple[tuple[str, ...], int]]
    filler: frozenset[str]
    change_phrases: list[tuple[tuple[str, ...], int]] = field(default_factory=list)
    change_unsure: list[tuple[str, ...]] = field(default_factory=list)
    change_fuzzy: tuple[int, int] = (80, 4)
    acknowledgements: list[tuple[str, ...]] = field(default_factory=list)
    acknowledgement_words: tuple[str, ...] = ()  # the one-word acknowledgements a typo may stand for
    acknowledgement_fuzzy: tuple[int, int] = (85, 5)

    @classmethod
    def from_document(cls, doc: Mapping[str, Any], name: str = "answers.toml") -> AnswerWords:
        _only(doc, {"version", "reviewed_by", "codes", "pain", "yes_no", "minutes", "change", "filler",
                    "acknowledgement"}, name)
        codes = {}
        for code, row in doc["codes"].items():
            _only(row, {"label", "unit", "min", "max", "whole", "source", "loinc"}, f"{name} [codes.{code}]")
            loinc = row.get("loinc", "")
            if not (isinstance(loinc, str) and (loinc == "" or _LOINC.fullmatch(loinc))):
                raise ValueError(f"{name} [codes.{code}] loinc: must be a LOINC code such as \"72514-3\"")
            codes[code] = Code(code, str(row["label"]), str(row["unit"]), Decimal(str(row["min"])),
                               Decimal(str(row["max"])), bool(row["whole"]), str(row["source"]), loinc)
        pain = doc["pain"]
        _only(pain, {"fuzzy_min_score", "fuzzy_min_length", "range_words", "scale_words", "zero_phrases",
                     "numbers", "also"}, f"{name} [pain]")
        numbers: dict[str, int] = {}
        for code, spelled in pain["numbers"].items():
            if len(spelled) != 11:
                raise ValueError(f"{name} [pain.numbers.{code}]: give the words for 0 to 10, in order")
            for n, word in enumerate(spelled):
                numbers[fold(word)] = n
        spelled_words = tuple(numbers)
        for word, n in pain.get("also", {}).items():
            if not 0 <= int(n) <= 10:
                raise ValueError(f"{name} [pain.also]: {word} must be a score from 0 to 10")
            numbers[fold(word)] = int(n)
        yn = doc["yes_no"]
        _only(yn, {"fuzzy_min_score", "fuzzy_min_length", "yes", "no", "unsure"}, f"{name} [yes_no]")
        mins = doc["minutes"]
        _only(mins, {"minute_words", "hour_words", "phrases"}, f"{name} [minutes]")
        change = doc.get("change", {})
        _only(change, {"fuzzy_min_score", "fuzzy_min_length", "unsure", "en", "es"}, f"{name} [change]")
        ack = doc.get("acknowledgement", {})
        _only(ack, {"fuzzy_min_score", "fuzzy_min_length", "en", "es", "emoji"}, f"{name} [acknowledgement]")
        acknowledgements = _phrases([p for key in ("en", "es", "emoji") for p in ack.get(key, [])])
        change_phrases: dict[tuple[str, ...], int] = {}
        for lang in ("en", "es"):
            for phrase, value in change.get(lang, {}).items():
                if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 7:
                    raise ValueError(f"{name} [change.{lang}] {phrase!r}: must be a whole number from 1 to 7")
                change_phrases[tuple(words(phrase))] = value
        return cls(
            codes=codes,
            numbers=numbers,
            spelled=spelled_words,
            number_fuzzy=(int(pain["fuzzy_min_score"]), int(pain["fuzzy_min_length"])),
            range_words=frozenset(fold(w) for w in pain["range_words"]),
            scale=_phrases(pain["scale_words"]),
            zero=_phrases(pain["zero_phrases"]),
            yes=_phrases([p for ps in yn["yes"].values() for p in ps]),
            no=_phrases([p for ps in yn["no"].values() for p in ps]),
            unsure=_phrases([p for ps in yn["unsure"].values() for p in ps]),
            yes_no_fuzzy=(int(yn["fuzzy_min_score"]), int(yn["fuzzy_min_length"])),
            minute_words=frozenset(fold(w) for w in mins["minute_words"]),
            hour_words=frozenset(fold(w) for w in mins["hour_words"]),
            minute_phrases=sorted(((tuple(words(p)), int(v)) for p, v in mins["phrases"].items()),
                                  key=lambda pv: -len(pv[0])),
            filler=frozenset(w for ws in doc["filler"].values() for p in ws for w in words(p)),
            change_phrases=sorted(change_phrases.items(), key=lambda pv: (-len(pv[0]), pv[0])),
            change_unsure=_phrases(change.get("unsure", [])),
            change_fuzzy=(int(change.get("fuzzy_min_score", 80)), int(change.get("fuzzy_min_length", 4))),
            acknowledgements=acknowledgements,
            acknowledgement_words=tuple(sorted({w for p in acknowledgements for w in p if w.isalpha()})),
            acknowledgement_fuzzy=(int(ack.get("fuzzy_min_score", 85)), int(ack.get("fuzzy_min_length", 5))),
        )


def _only(table: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = set(table) - known
    if unknown:
        raise ValueError(f"{where}: unknown fields {sorted(unknown)}")


def _phrases(items: Sequence[str]) -> list[tuple[str, ...]]:
    """Phrases as word tuples, longest first (the longest match wins)."""
    out = {tuple(words(p)) for p in items}
    return sorted((p for p in out if p), key=lambda p: (-len(p), p))


@lru_cache(maxsize=4)
def load_answers(path: Path = ANSWERS_PATH) -> AnswerWords:
    with path.open("rb") as fh:
        return AnswerWords.from_document(tomllib.load(fh), path.name)


def words(text: str) -> list[str]:
    """Folded words, numbers and single symbols; digit emoji become their digits."""
    for emoji, digits in _EMOJI_NUMBERS.items():
        text = text.replace(emoji, f" {digits} ")
    folded = fold(unicodedata.normalize("NFKC", text))  # fullwidth digits, keycaps ("7\ufe0f\u20e3" -> "7")
    return [t for t in _TOKEN.findall(folded) if not t.isspace()]


def _collapse(word: str) -> str:
    """A repeated letter forgiven: "yesss" -> "yes", "nooo" -> "no", "siii" -> "si"."""
    return re.sub(r"(.)\1+", r"\1", word)


def _spans(phrases: Sequence[tuple[str, ...]], ws: Sequence[str]) -> list[tuple[int, int]]:
    """Where phrases occur, longest first, never overlapping an earlier (longer) one."""
    taken: set[int] = set()
    found = []
    for p in phrases:
        n = len(p)
        for i in range(len(ws) - n + 1):
            if tuple(ws[i:i + n]) == p and not taken.intersection(range(i, i + n)):
                taken.update(range(i, i + n))
                found.append((i, i + n))
    return found


def _rest(ws: Sequence[str], used: set[int], aw: AnswerWords) -> tuple[str, ...]:
    return tuple(w for i, w in enumerate(ws) if i not in used and w not in aw.filler and w.isalnum())


# ------------------------------------------------------------------------------------- pain 0-10


def _number(word: str, aw: AnswerWords) -> float | None:
    if word[0].isdigit():
        try:
            return float(word.replace(",", "."))
        except ValueError:
            return None
    if word in aw.numbers:
        return aw.numbers[word]
    score, length = aw.number_fuzzy
    if len(word) >= length and word.isalpha():  # only number words as long: "dose" is not "dos"
        best = process.extractOne(word, [n for n in aw.spelled if len(n) >= length], scorer=fuzz.ratio,
                                  score_cutoff=score)
        if best is not None and best[0][0] == word[0]:
            return aw.numbers[best[0]]
    return None


def read_pain(body: str, aw: AnswerWords | None = None) -> Answer:
    """A pain score 0-10: "7", "7/10", "a 7", "about 6", "6-7" (the higher), "siete", "7️⃣"."""
    aw = aw or load_answers()
    ws = words(body)
    used: set[int] = set()
    # "out of 10" / "de 10" / "/10" after a score: the scale, not a score.
    for s, e in _spans(aw.scale, ws):
        used.update(range(s, e))
    for i in range(len(ws) - 1):
        if ws[i] == "/" and i + 1 < len(ws) and ws[i + 1] == "10":
            used.update((i, i + 1))
    values: list[tuple[int, float]] = []
    for i, w in enumerate(ws):
        if i in used:
            continue
        n = _number(w, aw)
        if n is not None:
            values.append((i, n))
    # Ranges: "6-7", "6 to 7", "6 o 7": the higher.
    scores: list[float] = []
    k = 0
    while k < len(values):
        i, n = values[k]
        if k + 1 < len(values):
            j, m = values[k + 1]
            if j == i + 2 and ws[i + 1] in aw.range_words and 0 <= n <= 10 and 0 <= m <= 10:
                scores.append(max(n, m))
                used.update((i, i + 1, j))
                k += 2
                continue
        if 0 <= n <= 10:
            scores.append(n)
            used.add(i)
        k += 1
    distinct = sorted(set(scores))
    if not distinct:
        zero = _spans(aw.zero, ws)
        if zero:
            for s, e in zero:
                used.update(range(s, e))
            return Answer(Decimal(0), _rest(ws, used, aw))
        return Answer(None, _rest(ws, used, aw), "no pain score from 0 to 10")
    if len(distinct) > 1:
        return Answer(None, _rest(ws, used, aw), "more than one pain score")
    # A half score ("6.5") is given the worse whole score, as a range is.
    return Answer(Decimal(math.ceil(distinct[0])), _rest(ws, used, aw))


# ------------------------------------------------------------------------------------- yes / no


def _as_listed(ws: Sequence[str], known: Collection[str], fuzzy: tuple[int, int],
               candidates: Sequence[str]) -> list[str]:
    """Each word as a list spells it: a repeated letter forgiven ("yesss", "okkk"), a near typo of
    a long enough word (`fuzzy` = (min score, min length)) among `candidates`, same first letter."""
    score, length = fuzzy
    out = []
    for w in ws:
        if w in known or not w.isalpha():
            out.append(w)
            continue
        collapsed = _collapse(w)
        if collapsed in known:
            out.append(collapsed)
            continue
        if len(w) >= length:
            best = process.extractOne(w, candidates, scorer=fuzz.ratio, score_cutoff=score)
            if best is not None and best[0][0] == w[0]:
                out.append(best[0])
                continue
        out.append(w)
    return out


def _yes_no_words(ws: Sequence[str], aw: AnswerWords) -> list[str]:
    """Each word as the lists spell it: a repeated letter forgiven, a near typo of a one-word answer."""
    singles = sorted({p[0] for p in (*aw.yes, *aw.no) if len(p) == 1 and p[0].isalpha()})
    return _as_listed(ws, singles, aw.yes_no_fuzzy, singles)


_UNSURE = 2


def read_yes_no(body: str, aw: AnswerWords | None = None) -> Answer:
    """Yes (1) or no (0), in English or Spanish: "yep", "sí", "ya lo dejé", "nope", "todavía no"."""
    aw = aw or load_answers()
    ws = _yes_no_words(words(body), aw)
    tagged = sorted([(s, e, 1) for s, e in _spans(aw.yes, ws)] + [(s, e, 0) for s, e in _spans(aw.no, ws)]
                    + [(s, e, _UNSURE) for s, e in _spans(aw.unsure, ws)], key=lambda t: (-(t[1] - t[0]), t[0]))
    taken: set[int] = set()
    found = set()
    for s, e, v in tagged:  # the longest phrase wins where a yes and a no overlap
        if taken.intersection(range(s, e)):
            continue
        taken.update(range(s, e))
        found.add(v)
    if len(found) != 1 or _UNSURE in found:
        why = "unsure" if _UNSURE in found else "both yes and no" if found else "no yes or no"
        return Answer(None, _rest(ws, taken, aw), why)
    return Answer(Decimal(found.pop()), _rest(ws, taken, aw))


# ------------------------------------------------------------------------------------- minutes


def read_minutes(body: str, aw: AnswerWords | None = None) -> Answer:
    """Minutes: "20 min", "1 hr", "1.5 hours", "half an hour", "media hora", "20"."""
    aw = aw or load_answers()
    ws = words(body)
    used: set[int] = set()
    found: list[float] = []
    for phrase, value in aw.minute_phrases:
        for s, e in _spans([phrase], ws):
            if not used.intersection(range(s, e)):
                used.update(range(s, e))
                found.append(value)
    for i, w in enumerate(ws):
        if i in used:
            continue
        n = _number(w, aw) if w[0].isdigit() or w in aw.numbers else None
        if n is None:
            continue
        unit = ws[i + 1] if i + 1 < len(ws) else ""
        used.add(i)
        if unit in aw.hour_words:
            used.add(i + 1)
            found.append(n * 60)
        else:
            if unit in aw.minute_words:
                used.add(i + 1)
            found.append(n)
    distinct = sorted(set(found))
    if len(distinct) != 1:
        return Answer(None, _rest(ws, used, aw), "more than one time" if distinct else "no time")
    return Answer(Decimal(round(distinct[0])), _rest(ws, used, aw))


# ------------------------------------------------------------------------------ change 1-7


def _change_words(ws: Sequence[str], aw: AnswerWords) -> list[str]:
    """Each word as the scale spells it: a near typo of one of its words ("beter", "wors", "mejr")."""
    known = sorted({w for p, _ in aw.change_phrases for w in p if w.isalpha() and len(w) > 2})
    score, length = aw.change_fuzzy
    out = []
    for w in ws:
        if w in known or not w.isalpha() or len(w) < length or w in aw.numbers or w in aw.filler:
            out.append(w)
            continue
        best = process.extractOne(w, known, scorer=fuzz.ratio, score_cutoff=score)
        out.append(best[0] if best is not None and best[0][0] == w[0] else w)
    return out


def read_change(body: str, aw: AnswerWords | None = None) -> Answer:
    """A global impression of change from 1 (much better) to 7 (much worse): "3", "tres",
    "a little better", "mucho peor", "2 better"; a number and words that disagree are not guessed."""
    aw = aw or load_answers()
    ws = _change_words(words(body), aw)
    used: set[int] = set()
    unsure = _spans(aw.change_unsure, ws)
    for s, e in unsure:
        used.update(range(s, e))
    found: list[float] = []
    phrases = [p for p, _ in aw.change_phrases]
    values = dict(aw.change_phrases)
    for s, e in _spans(phrases, ws):
        if used.intersection(range(s, e)):
            continue
        used.update(range(s, e))
        found.append(values[tuple(ws[s:e])])
    for i, w in enumerate(ws):
        if i in used or not (w[0].isdigit() or w in aw.numbers):
            continue
        n = _number(w, aw)
        if n is not None:
            used.add(i)
            found.append(n)
    if unsure:
        return Answer(None, _rest(ws, used, aw), "unsure")
    distinct = sorted(set(found))
    if not distinct:
        return Answer(None, _rest(ws, used, aw), "no number from 1 to 7")
    if len(distinct) > 1:
        return Answer(None, _rest(ws, used, aw), "more than one answer")
    value = distinct[0]
    if value != int(value) or not 1 <= value <= 7:
        return Answer(None, _rest(ws, used, aw), "not a number from 1 to 7")
    return Answer(Decimal(int(value)), _rest(ws, used, aw))


# ---------------------------------------------------------------------- only an acknowledgement

# What an emoji carries beyond itself: skin tones, the emoji variation selector, the zero-width joiner.
_EMOJI_MARKS = re.compile("[\U0001F3FB-\U0001F3FF\uFE0F\uFE0E\u200D]")


def _acknowledgement_words(ws: Sequence[str], aw: AnswerWords) -> list[str]:
    """Each word as the list spells it: a repeated letter forgiven ("okkk", "thanksss"), a near
    typo of a long enough word ("thnaks", "gracais")."""
    length = aw.acknowledgement_fuzzy[1]
    return _as_listed(ws, frozenset(aw.acknowledgement_words), aw.acknowledgement_fuzzy,
                      [k for k in aw.acknowledgement_words if len(k) >= length])


def is_acknowledgement(body: str, aw: AnswerWords | None = None) -> bool:
    """Whether a reply only acknowledges a text ("ok", "thanks!", "👍", "ok gracias"): every word
    and emoji in it is one of answers.toml's [acknowledgement], the rest punctuation. One other
    word ("ok but my leg is numb", "thanks, this is her daughter") and it is not."""
    aw = aw or load_answers()
    ws = _acknowledgement_words(words(_EMOJI_MARKS.sub("", body)), aw)
    if not ws:
        return False
    covered: set[int] = set()
    for s, e in _spans(aw.acknowledgements, ws):
        covered.update(range(s, e))
    found = False
    for i, w in enumerate(ws):
        if i in covered:
            found = True
        elif w.isalnum() or w in "?¿" or unicodedata.category(w[0]).startswith("S"):
            return False  # a word, a number, a question or another emoji: more than an acknowledgement
    return found


READERS = {PAIN: read_pain, YES_NO: read_yes_no, MINUTES: read_minutes, CHANGE: read_change}


def read_answer(kind: str, body: str, aw: AnswerWords | None = None) -> Answer:
    """Read ``body`` as an answer of ``kind`` (pain_0_10 | yes_no | minutes | change_1_7)."""
    return READERS[kind](body, aw)
