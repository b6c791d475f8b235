"""Benchmark: the reply reader on the labelled corpus, and its speed.

    python bench/replies.py [--show-misses] [--repeat 20]

Prints, for each portion of tests/services/corpus in the order written (``tune`` first; each
``held_out_N`` was written after version N of the reader, scored once as held out, then tuned on,
except the last, ``HELD_OUT``, never tuned on) and for the whole corpus, the recall of red flags per
language and per red-flag group, how often the labelled group is among those named, the share
of ordinary replies flagged, and the replies per second of ``read_reply``. Targets (issue 11):
recall >= 97% in each language, false alarms <= 15% of ordinary replies. It never asserts; the
corpus test (tests/services/test_reply_corpus.py) fails the suite below the targets.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pathway.services.reply_reader import load_lexicon, read_reply
from tests.services.corpus import MAX_FALSE_ALARMS, MIN_RECALL, PORTIONS, load, score


def _pct(x: float) -> str:
    return f"{100 * x:5.1f}%"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--show-misses", action="store_true", help="print each missed red flag and false alarm")
    parser.add_argument("--repeat", type=int, default=20, help="passes over the corpus for the throughput figure")
    args = parser.parse_args()
    lexicon = load_lexicon()
    print(f"targets: recall >= {_pct(MIN_RECALL)} per language, false alarms <= {_pct(MAX_FALSE_ALARMS)}\n")
    portions = [(name, load(name)) for name in PORTIONS]
    everything = [r for _, replies in portions for r in replies]
    for portion, replies in [*portions, ("whole corpus (what the test suite holds to the targets)", everything)]:
        if not replies:
            print(f"== {portion}: no replies\n")
            continue
        scores = score(replies, lexicon)
        print(f"== {portion} ({len(replies)} replies)")
        print(f"{'language':<9} {'flags':>5} {'recall':>7} {'named':>7} {'ordinary':>8} {'false alarms':>13}")
        for lang in sorted(scores, key=lambda k: (k == "all", k)):
            s = scores[lang]
            print(f"{lang:<9} {s.flags:>5} {_pct(s.recall):>7} {_pct(s.named / s.flags if s.flags else 1):>7} "
                  f"{s.ordinary:>8} {s.false_alarms:>4} = {_pct(s.false_alarm_rate)}")
        langs = sorted(k for k in scores if k != "all")
        groups = sorted({g for k in langs for g in scores[k].by_group})
        print("recall per group: " + "  ".join(f"{k:>12}" for k in langs))
        for g in groups:
            cells = []
            for k in langs:
                found, n = scores[k].by_group.get(g, [0, 0])
                cells.append(f"{found:>3}/{n:<3} {_pct(found / n) if n else '    -':>6}")
            print(f"  {g:<15} " + "  ".join(f"{c:>12}" for c in cells))
        if args.show_misses and portion in PORTIONS:
            for r in scores["all"].missed:
                print(f"  MISSED   [{r.language} {r.label}] {r.text}")
            for r, groups_named in scores["all"].alarmed:
                print(f"  FLAGGED  [{r.language} {','.join(groups_named)}] {r.text}")
        print()
    texts = [r.text for r in everything]
    rates = []
    for _ in range(max(1, args.repeat)):
        start = time.perf_counter()
        for t in texts:
            read_reply(t, lexicon)
        rates.append(len(texts) / (time.perf_counter() - start))
    cold = load_lexicon.__wrapped__()  # a fresh lexicon: no word seen before
    start = time.perf_counter()
    for t in texts:
        read_reply(t, cold)
    first = len(texts) / (time.perf_counter() - start)
    print(f"throughput: {statistics.median(rates):,.0f} replies/s (median of {len(rates)} passes over "
          f"{len(texts)} replies, words cached); {first:,.0f} replies/s on a fresh lexicon")


if __name__ == "__main__":
    main()
