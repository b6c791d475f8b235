"""Reading a patient's text: keywords, red flags and free-text wishes to stop. Pure: no database.

Every word list, the negation cues and the typo tolerance live in ``pathway/data/replies.toml``
(clinician-editable, cited). A reply is read in every language of that file, whatever the
patient's own language, because a Spanish speaker's daughter may answer in English.

How a red flag is found, step by step:

1. The text is folded: lower case, accents and apostrophes dropped ("Can't" -> "cant",
   "Sangró" -> "sangro"), and cut into words, numbers ("9/10", "100.4") and emoji.
2. Each word is compared with each phrase word of the file: the same word, the same Snowball
   stem in the phrase's language ("sangrando" ~ "sangre", "bowels" ~ "bowel"), or, for words of
   ``fuzzy_min_length`` letters or more, a RapidFuzz ratio of at least ``fuzzy_min_score``
   ("fevr" ~ "fever").
3. A phrase matches where its words follow each other in the text; a phrase "A ~ B" matches where
   A and B both occur within ``near_window`` words of each other in one sentence ("leg ~ heavy"
   finds "my right leg feels heavy"; "dolor ~ fuerte" finds "un dolor bien fuerte").
4. A match is dropped when it lies inside a "not a red flag" phrase ("blood pressure", "fell
   asleep"), and counts as negated when a negation cue ("no", "not", "sin", "ni") stands within
   ``negation_window`` words before it with no scope end between ("no fever, just sore"). A cue
   inside an exception phrase negates nothing: uncertainty ("not sure", "no se si") and inability
   ("no he podido orinar") are red flags, not their denial.
5. Any match left flags the reply; the result names each group, the phrase and the words.
6. The safety net: a reply with no match (and no denied one) that speaks of the body ("my foot
   slaps the ground when i walk") with no word of reassurance and no question is flagged under
   the group "unclear": reading it costs a person a minute, missing it may cost a patient more.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import snowballstemmer  # type: ignore[import-untyped]
from rapidfuzz import fuzz, process

from pathway.resources import DATA_DIR

LEXICON_PATH = DATA_DIR / "replies.toml"
# The Snowball algorithm for each language code the file may use.
STEMMERS = {"en": "english", "es": "spanish"}

_DROPPED = {"Mn", "Me", "Cf", "Sk"}  # combining accents, variation selectors, skin-tone modifiers
_TOKEN = re.compile(r"\d+(?:[.,]\d+)?(?:/\d+)?|[a-z]+|[^\sa-z\d]")
_SCOPE_PUNCTUATION = frozenset(".,;:!?()\n")
_SENTENCE_ENDS = frozenset(".;!?")


def fold(text: str) -> str:
    """Lower case, accents, apostrophes and emoji modifiers removed: "Can't" -> "cant", "Fiébre" -> "fiebre"."""
    text = re.sub(r"['\u2019\u2018`\u00b4]", "", text)
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if unicodedata.category(c) not in _DROPPED)


def tokens(text: str) -> list[str]:
    """Folded words, numbers (with a "/10" kept on) and single symbols such as emoji and commas."""
    return [t for t in _TOKEN.findall(fold(text)) if not t.isspace()]


# ------------------------------------------------------------------------------------------ result


@dataclass(frozen=True)
class FlagHit:
    """One red-flag phrase found in a reply."""

    group: str  # fever, wound, bleeding, ... (the groups of replies.toml)
    language: str  # the word list it came from, not necessarily the patient's language
    phrase: str  # the phrase as written in replies.toml (folded)
    words: str  # the words of the reply that matched it (folded)
    how: str  # "exact" | "stem" | "fuzzy": the loosest comparison any of its words needed
    negated: bool = False
    at: int = 0  # where it starts, counted in the reply's words (folded tokens)


@dataclass(frozen=True)
class Reading:
    """What a reply says: its kind and, for red flags, which groups matched and why."""

    kind: str  # stop | start | help | red_flag | stop_request | text
    hits: tuple[FlagHit, ...] = ()  # red-flag matches that stand (not negated)
    negated: tuple[FlagHit, ...] = ()  # red-flag matches a negation cancelled ("no fever")

    @property
    def red_flag(self) -> bool:
        return bool(self.hits)

    @property
    def groups(self) -> tuple[str, ...]:
        """The red-flag groups found, each once, in the order of the text."""
        return tuple(dict.fromkeys(h.group for h in self.hits))


# ----------------------------------------------------------------------------------------- lexicon


@dataclass(frozen=True)
class _Phrase:
    group: str
    language: str
    text: str
    words: tuple[str, ...]
    near: tuple[str, ...] = ()  # "leg ~ heavy": these words within near_window words of `words`, either side


def _phrase(group: str, code: str, text: str) -> _Phrase:
    if "~" in text:
        first, _, second = text.partition("~")
        return _Phrase(group, code, fold(text), tuple(tokens(first)), tuple(tokens(second)))
    return _Phrase(group, code, fold(text), tuple(tokens(text)))


Index = dict[str, list[tuple[str, ...]]]  # first word -> the phrases starting with it


def _index(phrases: Iterable[str]) -> Index:
    out: Index = {}
    for p in phrases:
        words = tuple(tokens(p))
        if words:
            out.setdefault(words[0], []).append(words)
    return out


@dataclass
class _Language:
    """The compiled word lists of one language."""

    code: str
    stem: Any  # snowballstemmer's stemmer (untyped)
    red_flags: list[_Phrase]
    not_red_flags: Index
    stop_requests: Index
    cues: frozenset[str]
    cue_exceptions: Index
    body: Index
    not_a_report: Index
    scope_ends: frozenset[str]
    stems: dict[str, set[str]] = field(default_factory=dict)  # stem -> phrase words with that stem
    fuzzy_words: list[str] = field(default_factory=list)  # phrase words long enough for fuzzy matching
    by_first: dict[str, list[_Phrase]] = field(default_factory=dict)


@dataclass
class Lexicon:
    """replies.toml, compiled. Build with load_lexicon (cached) or Lexicon.from_document."""

    opt_out: frozenset[str]
    opt_in: frozenset[str]
    help: frozenset[str]
    groups: tuple[str, ...]
    languages: dict[str, _Language]
    fuzzy_min_score: float
    fuzzy_min_length: int
    negation_window: int
    near_window: int
    stem_min_length: int
    fuzzy_same_first_letter: bool
    _seen: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)

    @cached_property
    def negation_cues(self) -> frozenset[str]:
        """Cues of every language: a Spanish "no" negates in an English sentence too."""
        return frozenset().union(*(lang.cues for lang in self.languages.values()))

    @cached_property
    def scope_ends(self) -> frozenset[str]:
        return frozenset().union(*(lang.scope_ends for lang in self.languages.values()))

    @classmethod
    def from_document(cls, doc: Mapping[str, Any], name: str = "replies.toml") -> Lexicon:
        _only(doc, {"version", "reviewed_by", "keywords", "reader", "red_flag_groups", "negation", "red_flags",
                    "not_red_flags", "unclear", "stop_requests"}, name)
        kw = doc["keywords"]
        _only(kw, {"opt_out", "opt_in", "help"}, f"{name} [keywords]")
        reader = doc["reader"]
        _only(reader, {"fuzzy_min_score", "fuzzy_min_length", "negation_window", "near_window",
                      "stem_min_length", "fuzzy_same_first_letter"}, f"{name} [reader]")
        groups = tuple(doc["red_flag_groups"])
        codes = set(doc["red_flags"])
        if not codes <= set(STEMMERS):
            raise ValueError(f"{name}: no stemmer for the languages {sorted(codes - set(STEMMERS))}")
        for table in ("negation", "not_red_flags", "stop_requests", "unclear"):
            if set(doc[table]) != codes:
                raise ValueError(f"{name} [{table}]: give the languages {sorted(codes)}, as [red_flags] does")
        languages = {}
        for code in sorted(codes):
            flags = doc["red_flags"][code]
            unknown = set(flags) - set(groups)
            if unknown:
                raise ValueError(f"{name} [red_flags.{code}]: unknown groups {sorted(unknown)}; "
                                 f"red_flag_groups lists {list(groups)}")
            neg = doc["negation"][code]
            _only(neg, {"cues", "cue_exceptions", "scope_ends"}, f"{name} [negation.{code}]")
            net = doc["unclear"][code]
            _only(net, {"body", "not_a_report"}, f"{name} [unclear.{code}]")
            lang = _Language(
                code=code,
                stem=snowballstemmer.stemmer(STEMMERS[code]),
                red_flags=[_phrase(g, code, p) for g in groups for p in flags.get(g, [])],
                not_red_flags=_index(doc["not_red_flags"][code]),
                stop_requests=_index(doc["stop_requests"][code]),
                cues=frozenset(fold(c) for c in neg["cues"]),
                cue_exceptions=_index(neg["cue_exceptions"]),
                scope_ends=frozenset(fold(w) for w in neg["scope_ends"]),
                body=_index(net["body"]),
                not_a_report=_index(net["not_a_report"]),
            )
            for ph in lang.red_flags:
                if not ph.words or ("~" in ph.text and not ph.near):
                    raise ValueError(f"{name} [red_flags.{code}.{ph.group}]: an empty phrase or side of '~' "
                                     f"in {ph.text!r}")
                lang.by_first.setdefault(ph.words[0], []).append(ph)
            vocabulary = {w for ph in lang.red_flags for w in (*ph.words, *ph.near)}
            indexes = (lang.not_red_flags, lang.stop_requests, lang.cue_exceptions, lang.body, lang.not_a_report)
            vocabulary |= {w for index in indexes for seqs in index.values() for seq in seqs for w in seq}
            for w in vocabulary:
                lang.stems.setdefault(lang.stem.stemWord(w), set()).add(w)
            shortest = int(reader["fuzzy_min_length"])
            lang.fuzzy_words = sorted(w for w in vocabulary if len(w) >= shortest and w.isalpha())
            languages[code] = lang
        return cls(
            opt_out=frozenset(k.upper() for k in kw["opt_out"]),
            opt_in=frozenset(k.upper() for k in kw["opt_in"]),
            help=frozenset(k.upper() for k in kw["help"]),
            groups=groups,
            languages=languages,
            fuzzy_min_score=float(reader["fuzzy_min_score"]),
            fuzzy_min_length=int(reader["fuzzy_min_length"]),
            negation_window=int(reader["negation_window"]),
            near_window=int(reader["near_window"]),
            stem_min_length=int(reader["stem_min_length"]),
            fuzzy_same_first_letter=bool(reader["fuzzy_same_first_letter"]),
        )

    def _word_matches(self, lang: _Language, word: str) -> dict[str, str]:
        """The phrase words this reply word stands for in ``lang``, and how: exact, stem or fuzzy."""
        key = (lang.code, word)
        found = self._seen.get(key)
        if found is not None:
            return found
        found = {}
        if word.isalpha():
            # A typo may drop a letter ("fevr"), so the reply's word may be one letter shorter.
            if len(word) >= self.fuzzy_min_length - 1:
                for candidate, _score, _i in process.extract(word, lang.fuzzy_words, scorer=fuzz.ratio,
                                                             score_cutoff=self.fuzzy_min_score, limit=None):
                    # Typos seldom touch the first letter; "high" is not "thigh", nor "pill" "spill".
                    if candidate[0] == word[0] or not self.fuzzy_same_first_letter:
                        found[candidate] = "fuzzy"
            stem = lang.stem.stemWord(word)
            if len(stem) >= self.stem_min_length:  # "more" and "morado" share only "mor"
                for candidate in lang.stems.get(stem, ()):
                    found[candidate] = "stem"
        found[word] = "exact"
        if len(self._seen) < 50_000:
            self._seen[key] = found
        return found


def _only(table: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = set(table) - known
    if unknown:
        raise ValueError(f"{where}: unknown fields {sorted(unknown)}")


@lru_cache(maxsize=4)
def load_lexicon(path: Path = LEXICON_PATH) -> Lexicon:
    with path.open("rb") as fh:
        return Lexicon.from_document(tomllib.load(fh), path.name)


# ----------------------------------------------------------------------------------------- reading

_LOOSENESS = {"exact": 0, "stem": 1, "fuzzy": 2}


def _find(index: Index, matches: Sequence[Mapping[str, str]]) -> list[tuple[int, int]]:
    """Spans (start, end) where a phrase of ``index`` occurs, given what each reply word matched."""
    spans = []
    for i, m in enumerate(matches):
        for first in m:
            spans += [(i, i + len(p)) for p in index.get(first, ()) if _at(p, matches, i)]
    return spans


def _red_flag_hits(lex: Lexicon, lang: _Language, words: Sequence[str], matches: Sequence[Mapping[str, str]],
                   ignored: Sequence[tuple[int, int]]) -> list[FlagHit]:
    exceptions = {i for s, e in _find(lang.cue_exceptions, matches) for i in range(s, e)}
    best: dict[tuple[str, int, int], FlagHit] = {}
    for i, m in enumerate(matches):
        for first in m:
            for ph in lang.by_first.get(first, ()):
                n = len(ph.words)
                if not _at(ph.words, matches, i):
                    continue
                start, end = i, i + n
                hows = [matches[i + k][ph.words[k]] for k in range(n)]
                if ph.near:
                    other = _near(lex, ph.near, words, matches, i, i + n)
                    if other is None:
                        continue
                    start, end = min(i, other), max(i + n, other + len(ph.near))
                    hows += [matches[other + k][ph.near[k]] for k in range(len(ph.near))]
                if any(s <= start and end <= e for s, e in ignored):
                    continue
                how = max(hows, key=_LOOSENESS.__getitem__)
                key = (ph.group, start, end)  # one hit per group and span: the closest phrase
                if key in best and _LOOSENESS[best[key].how] <= _LOOSENESS[how]:
                    continue
                negated = _negated(lex, words, start, exceptions) or (
                    bool(ph.near) and any(w in lex.negation_cues and k not in exceptions
                                          for k, w in enumerate(words[start:end], start)))  # "pain is not bad"
                best[key] = FlagHit(ph.group, lang.code, ph.text, " ".join(words[start:end]), how, negated=negated,
                                    at=start)
    return list(best.values())


def _at(phrase: Sequence[str], matches: Sequence[Mapping[str, str]], i: int) -> bool:
    """Whether the words of ``phrase`` follow each other from word ``i`` of the reply."""
    return i + len(phrase) <= len(matches) and all(phrase[k] in matches[i + k] for k in range(len(phrase)))


def _near(lex: Lexicon, phrase: Sequence[str], words: Sequence[str], matches: Sequence[Mapping[str, str]],
          start: int, end: int) -> int | None:
    """Where ``phrase`` starts within near_window words of [start, end), in the same sentence; else None."""
    n = len(phrase)
    for j in range(max(0, start - lex.near_window - n), min(len(words) - n, end + lex.near_window) + 1):
        if j + n > start and j < end:  # overlaps the first part
            continue
        if not _at(phrase, matches, j):
            continue
        gap = words[j + n:start] if j < start else words[end:j]
        if len(gap) <= lex.near_window and not _SENTENCE_ENDS.intersection(gap):
            return j
    return None


def _negated(lex: Lexicon, words: Sequence[str], start: int, exceptions: set[int]) -> bool:
    """A negation cue of any language within the window before ``start``, with no scope end between."""
    cues, ends = lex.negation_cues, lex.scope_ends
    for j in range(start - 1, max(-1, start - 1 - lex.negation_window), -1):
        w = words[j]
        if w in _SCOPE_PUNCTUATION or w in ends:
            return False
        if w in cues and j not in exceptions:
            return True
    return False


UNCLEAR = "unclear"


def _unclear(lex: Lexicon, words: Sequence[str], matched: Mapping[str, Sequence[Mapping[str, str]]]
             ) -> FlagHit | None:
    """The safety net: a reply that speaks of the body ("my foot slaps the ground") and has no
    word of reassurance, no question and no denial is read as a possible red flag."""
    for lang in lex.languages.values():
        if _find(lang.not_a_report, matched[lang.code]):
            return None
    for lang in lex.languages.values():
        found = _find(lang.body, matched[lang.code])
        if found:
            start, end = found[0]
            return FlagHit(UNCLEAR, lang.code, " ".join(words[start:end]), " ".join(words[start:end]), "exact",
                           at=start)
    return None


def read_reply(body: str, lexicon: Lexicon | None = None) -> Reading:
    """Read one text in every language of the lexicon. Keywords first (the whole message, as
    carriers read them), then red flags, then free-text wishes to stop."""
    lex = lexicon or load_lexicon()
    keyword = re.sub(r"[^A-Z]", "", body.upper())
    if keyword in lex.opt_out:
        return Reading("stop")
    if keyword in lex.opt_in:
        return Reading("start")
    if keyword in lex.help:
        return Reading("help")
    words = tokens(body)
    # "en ingles" is not the groin, whichever language's list the match came from.
    matched = {code: [lex._word_matches(lang, w) for w in words] for code, lang in lex.languages.items()}
    ignored = [span for lang in lex.languages.values() for span in _find(lang.not_red_flags, matched[lang.code])]
    hits: list[FlagHit] = []
    for lang in lex.languages.values():
        hits += _red_flag_hits(lex, lang, words, matched[lang.code], ignored)
    hits.sort(key=lambda h: h.at)
    standing = tuple(h for h in hits if not h.negated)
    negated = tuple(h for h in hits if h.negated)
    if standing:
        return Reading("red_flag", standing, negated)
    if not negated and UNCLEAR in lex.groups:
        unclear = _unclear(lex, words, matched)
        if unclear is not None:
            return Reading("red_flag", (unclear,), negated)
    if any(_find(lang.stop_requests, matched[lang.code]) for lang in lex.languages.values()):
        return Reading("stop_request", (), negated)
    return Reading("text", (), negated)
