"""What a text of a kind and language says whatever its dates and names: the longest run of a
template's own words (the reviewed wording changes; tests that check a language follow it)."""

from __future__ import annotations

import re

from pathway.resources import sms_templates_dir


def template_words(kind: str, lang: str) -> str:
    """The longest stretch of ``templates/sms/<kind>.<lang>.txt`` between its ``$variables``."""
    text = (sms_templates_dir() / f"{kind}.{lang}.txt").read_text(encoding="utf-8").strip()
    return max((part.strip() for part in re.split(r"\$\w+", text)), key=len)
