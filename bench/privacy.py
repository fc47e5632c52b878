"""The identifiable-data check, before and after the single-pass scan: CPU µs per KB of post.

    .venv/bin/python bench/privacy.py             # a few seconds
    .venv/bin/python bench/privacy.py --rounds 5  # quicker, noisier

The old check is tests/content/privacy_reference.py (one finder per kind, each walking the
text); the new one is forum/content/privacy.py. Both run on the same posts of about 1 KB, put
together from the test corpus (tests/content/privacy_corpus.py), seeded:

- without identifiers: everyday posts (doses, lab values, dates that are not birthdays, places
  without a house number), checked to raise no finding under either version;
- with identifiers: the same kind of post holding two or three of the corpus's identifiers;
- plain talk: the everyday posts with their digits and "@"s taken out, as many posts are.

A round times every post of a set under each version in turn (which goes first alternates), in
CPU time of this process; the figure is the median over the rounds, so noise from other work
on the machine falls on both versions alike.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from forum.content import privacy  # noqa: E402
from tests.content import privacy_reference as reference  # noqa: E402
from tests.content.privacy_corpus import CLEAN, IDENTIFYING  # noqa: E402

POST_BYTES = 1024
POSTS_PER_SET = 40

Check = Callable[[str], Sequence[object]]


def spans(check: Check, text: str) -> list[tuple[str, int, int]]:
    return [(f.kind, f.start, f.end) for f in check(text)]  # type: ignore[attr-defined]


def post(rng: random.Random, everyday: list[str], identifiers: list[str]) -> str:
    """Paragraphs of everyday talk up to about 1 KB, with `identifiers` among them."""
    paragraphs = list(identifiers)
    while len("\n\n".join(paragraphs).encode()) < POST_BYTES:
        paragraphs.append(rng.choice(everyday))
    rng.shuffle(paragraphs)
    return "\n\n".join(paragraphs)


def post_sets(rng: random.Random) -> dict[str, list[str]]:
    everyday = [e.text for e in CLEAN if not e.known_limit]
    identifying = [e.text for e in IDENTIFYING if not e.known_limit]
    without: list[str] = []
    while len(without) < POSTS_PER_SET:
        # Two everyday sentences side by side can make a date of birth ("born in 1950" then a
        # date); such a post is not one without identifiers.
        text = post(rng, everyday, [])
        if not spans(reference.find_identifiers, text):
            without.append(text)
    with_ = [
        post(rng, everyday, rng.sample(identifying, rng.randint(2, 3)))
        for _ in range(POSTS_PER_SET)
    ]
    plain = [re.sub(r"[0-9@]", "", text) for text in without]
    return {"without identifiers": without, "with identifiers": with_, "plain talk": plain}


def cpu_seconds(check: Check, texts: list[str], repeat: int) -> float:
    started = time.process_time()
    for _ in range(repeat):
        for text in texts:
            check(text)
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()

    sets = post_sets(random.Random(20240601))
    versions: dict[str, Check] = {
        "old": reference.find_identifiers,
        "new": privacy.find_identifiers,
    }
    for texts in sets.values():
        for text in texts:
            assert spans(privacy.find_identifiers, text) == spans(reference.find_identifiers, text)

    print(
        f"find_identifiers: CPU µs per KB, median of {args.rounds} rounds, "
        f"{POSTS_PER_SET} posts of ~{POST_BYTES} bytes per set"
    )
    print(f"{'posts':<22}{'findings/post':>14}{'old':>10}{'new':>10}{'old/new':>10}")
    for name, texts in sets.items():
        kb = sum(len(text.encode()) for text in texts) / 1024
        # Enough passes over the set that one round takes some 50 ms of the old version.
        once = cpu_seconds(reference.find_identifiers, texts, 1)
        repeat = max(1, round(0.05 / max(once, 1e-6)))
        per_kb: dict[str, list[float]] = {version: [] for version in versions}
        for n in range(args.rounds):
            order = list(versions) if n % 2 == 0 else list(reversed(versions))
            for version in order:
                seconds = cpu_seconds(versions[version], texts, repeat)
                per_kb[version].append(seconds / repeat / kb * 1e6)
        old = statistics.median(per_kb["old"])
        new = statistics.median(per_kb["new"])
        findings = sum(len(privacy.find_identifiers(text)) for text in texts) / len(texts)
        print(f"{name:<22}{findings:>14.1f}{old:>10.1f}{new:>10.1f}{old / new:>10.2f}")


if __name__ == "__main__":
    main()
