"""The labelled reply corpus and how the reply reader is scored on it (used by the corpus test
and by bench/replies.py, so both print and check the same figures)."""

from __future__ import annotations

import tomllib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from pathway.services.reply_reader import Lexicon, read_reply

HERE = Path(__file__).resolve().parent
# In the order they were written. Each portion's header says what it was used for: "tune" and
# "held_out_1" to "held_out_4" were each scored once as held out, then shaped the next version
# of the reader; "held_out_5" was written after the last version and never tuned on.
PORTIONS = {
    "tune": HERE / "replies_tune.toml",
    "held_out_1": HERE / "replies_held_out_1.toml",
    "held_out_2": HERE / "replies_held_out_2.toml",
    "held_out_3": HERE / "replies_held_out_3.toml",
    "held_out_4": HERE / "replies_held_out_4.toml",
    "held_out_5": HERE / "replies_held_out_5.toml",
}
HELD_OUT = "held_out_5"

# The targets of issue 11.
MIN_RECALL = 0.97  # of red flags, in each language
MAX_FALSE_ALARMS = 0.15  # of ordinary replies, in each language


@dataclass(frozen=True)
class Labelled:
    text: str
    language: str
    label: str  # a red-flag group or "none"
    source: str


def load(portion: str) -> list[Labelled]:
    path = PORTIONS[portion]
    if not path.exists():
        return []
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    return [Labelled(text, block["language"], label, block["source"])
            for block in doc["block"] for text, label in block["replies"]]


@dataclass
class Score:
    """Figures for one language (or all) of one portion."""

    flags: int = 0
    found: int = 0  # red flags the reader flagged at all
    named: int = 0  # ... and named under the labelled group
    ordinary: int = 0
    false_alarms: int = 0
    by_group: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))  # group -> [found, n]
    missed: list[Labelled] = field(default_factory=list)
    alarmed: list[tuple[Labelled, tuple[str, ...]]] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.found / self.flags if self.flags else 1.0

    @property
    def false_alarm_rate(self) -> float:
        return self.false_alarms / self.ordinary if self.ordinary else 0.0


def score(replies: list[Labelled], lexicon: Lexicon | None = None) -> dict[str, Score]:
    """Scores per language, and under "all"."""
    out: dict[str, Score] = defaultdict(Score)
    for r in replies:
        reading = read_reply(r.text, lexicon)
        for s in (out[r.language], out["all"]):
            if r.label == "none":
                s.ordinary += 1
                if reading.red_flag:
                    s.false_alarms += 1
                    s.alarmed.append((r, reading.groups))
            else:
                s.flags += 1
                s.by_group[r.label][1] += 1
                if reading.red_flag:
                    s.found += 1
                    s.by_group[r.label][0] += 1
                    s.named += r.label in reading.groups
                else:
                    s.missed.append(r)
    return dict(out)
