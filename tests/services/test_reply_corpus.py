"""The reply reader against the labelled corpus (tests/services/corpus): the targets of issue 11.

bench/replies.py prints the same figures per portion, language and red-flag group.
"""

from __future__ import annotations

import pytest

from pathway.services.reply_reader import load_lexicon
from tests.services.corpus import HELD_OUT, MAX_FALSE_ALARMS, MIN_RECALL, PORTIONS, load, score

EVERYTHING = [r for portion in PORTIONS for r in load(portion)]


def test_the_corpus_is_large_bilingual_sourced_and_labelled_with_known_groups() -> None:
    groups = set(load_lexicon().groups)
    assert len(EVERYTHING) >= 400
    for lang in ("en", "es"):
        mine = [r for r in EVERYTHING if r.language == lang]
        assert len(mine) >= 200
        assert sum(r.label == "none" for r in mine) >= 80, "ordinary replies are most of what patients send"
        held = [r for r in load(HELD_OUT) if r.language == lang]
        assert len(held) >= 50, "a held-out portion written after tuning"
    assert all(r.source.strip() for r in EVERYTHING)
    assert {r.label for r in EVERYTHING} <= groups | {"none"}
    texts = [(r.language, r.text) for r in EVERYTHING]  # "I FELL" beside "I fell" tests all-caps
    assert len(texts) == len(set(texts)), "a reply counted twice"


@pytest.mark.parametrize("language", ["en", "es"])
def test_red_flags_are_found_in_each_language_without_flagging_most_ordinary_replies(language: str) -> None:
    s = score(EVERYTHING)[language]
    missed = [r.text for r in s.missed]
    alarmed = [r.text for r, _ in s.alarmed]
    assert s.recall >= MIN_RECALL, f"recall {s.recall:.1%} < {MIN_RECALL:.0%}; missed: {missed}"
    assert s.false_alarm_rate <= MAX_FALSE_ALARMS, f"false alarms {s.false_alarm_rate:.1%}: {alarmed}"
