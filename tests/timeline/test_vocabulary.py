"""The vocabularies: one StrEnum each, stored as their plain words, and the data agrees with them."""

from __future__ import annotations

from enum import StrEnum

import pytest

from pathway.timeline import vocabulary
from pathway.timeline.definition import MESSAGE_KINDS, TEXT_KINDS, load_definition
from pathway.timeline.texts import TemplateSet
from pathway.timeline.vocabulary import Language, MessageKind, ReplyText

ENUMS = [v for v in vars(vocabulary).values() if isinstance(v, type) and issubclass(v, StrEnum) and v is not StrEnum]


@pytest.mark.parametrize("enum", ENUMS, ids=lambda e: e.__name__)
def test_each_vocabulary_member_is_its_lower_case_word(enum: type[StrEnum]) -> None:
    for member in enum:
        assert member == member.value == member.name.lower() and str(member) == member.value


def test_the_shipped_pathway_and_templates_cover_exactly_the_languages() -> None:
    assert set(load_definition().languages()) == set(Language)
    written = TemplateSet.load().keys()  # (kind, language) pairs
    assert {lang for _, lang in written} == set(Language)


def test_every_text_kind_is_a_stored_message_kind_or_a_straight_reply() -> None:
    # A one-off text a person types has no template: its words are theirs.
    assert set(MESSAGE_KINDS) == set(MessageKind) - {MessageKind.REPLY, MessageKind.STAFF}
    assert set(TEXT_KINDS) == set(MESSAGE_KINDS) | set(ReplyText)
