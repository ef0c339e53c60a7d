"""Identity parser accuracy on the hand-written corpus: per field, per style, and speed.

Run from the repository root: ``python -m bench.identity_accuracy`` (``--mistakes`` lists every
wrong read; ``--part heldout`` scores only the messages the parser was not tuned on).
"""

from __future__ import annotations

import argparse
import time

from normalizer.identity import parse_identity_text
from tests.normalizer.corpus_score import FIELDS, PARTS, Score, Tally, load_corpus, score


def _row(label: str, tally: Tally) -> str:
    return (
        f"{label:<10} {tally.right:>4}/{tally.given:<4} {tally.accuracy:>7.1%}"
        f"   precision {tally.returned_right:>4}/{tally.returned:<4} {tally.precision:>7.1%}"
    )


def report(title: str, result: Score) -> None:
    """Print the accuracy table of one scored run."""
    print(f"\n== {title}")
    for name in FIELDS:
        print(_row(name, result.by_field[name]))
    print(_row("all", result.total))
    print("-- per style")
    for style in sorted(result.by_style):
        print(_row(style, result.by_style[style]))
    print(
        f"no-identity messages with nothing invented: {result.no_identity_clean}/{result.no_identity}"
        f" ({result.no_identity_precision:.1%})"
    )
    print(f"complaint text kept whole: {result.complaints_kept}/{result.complaints}")


def main() -> None:
    """Score the parser on the corpus and time it."""
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--part", choices=PARTS, action="append", help="corpus part (default: both)")
    args.add_argument("--mistakes", action="store_true", help="list every wrong read")
    options = args.parse_args()
    parts = options.part or list(PARTS)
    examples = load_corpus(parts)
    for part in parts:
        result = score(parse_identity_text, [e for e in examples if e.part == part])
        report(f"{part} ({sum(e.part == part for e in examples)} messages)", result)
        if options.mistakes:
            print("\n".join(result.mistakes))
    rounds = 20
    start = time.perf_counter()
    for _ in range(rounds):
        for example in examples:
            parse_identity_text(example.text)
    elapsed = time.perf_counter() - start
    print(f"\nspeed: {rounds * len(examples) / elapsed:,.0f} messages/s (one core)")


if __name__ == "__main__":
    main()
