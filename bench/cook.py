"""Cooking cost per KB of markdown: the old renderer, the new one, and the sanitiser.

    .venv/bin/python bench/cook.py              # 7 rounds, about 20 s
    .venv/bin/python bench/cook.py --quick      # 3 rounds, a smoke run

The posts are ~1.2 KB each, from the markdown test corpus (tests/content/markdown_corpus.py),
in two sets: "everyday", posts as most are (paragraphs, lists, a quote, a table, code, links,
a bare URL, an image), and "corpus mix", which adds its edge cases and hostile input (refused
links, markup inside bare URLs, typed HTML, ...), some of which the new renderer parses twice.
Each round times, on the same posts and one after another, in this process:
- markdown-it-py: the renderer posts were cooked with before (tests/content/legacy_markdown.py,
  a dev dependency, kept to check old posts still render the same);
- pyromark: forum.content.markdown.render_markdown, the renderer now used;
- nh3: forum.content.sanitize.clean_html on the new renderer's output;
- cook(): the whole of forum.content.cook (pyromark + nh3 + the table wrapper).
Each figure is the median over rounds of CPU time (time.process_time) per KB of markdown; the
rounds interleave the four so that noise on the machine falls on each alike.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from forum.content.cook import cook  # noqa: E402
from forum.content.markdown import render_markdown  # noqa: E402
from forum.content.sanitize import clean_html  # noqa: E402
from tests.content.legacy_markdown import render_legacy_markdown  # noqa: E402
from tests.content.markdown_corpus import (  # noqa: E402
    EDGES,
    EVERYDAY,
    HOSTILE,
    IMAGE_HOSTS,
    POSTS,
    SNIPPETS,
)

POST_BYTES = 1200


def posts(count: int, pieces: list[str], seed: int = 7) -> list[str]:
    """`count` posts of about POST_BYTES bytes of markdown each, made of `pieces`."""
    rng = random.Random(seed)
    made: list[str] = []
    for _ in range(count):
        post = rng.choice(pieces)
        while len(post.encode()) < POST_BYTES:
            post += "\n\n" + rng.choice(pieces)
        made.append(post)
    return made


def timed(work: Callable[[str], object], texts: list[str]) -> float:
    """CPU seconds to run `work` over every text once."""
    started = time.process_time()
    for text in texts:
        work(text)
    return time.process_time() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=7, help="rounds to take the median of")
    parser.add_argument("--posts", type=int, default=200, help="posts per set and round")
    parser.add_argument("--quick", action="store_true", help="3 rounds of 60 posts")
    args = parser.parse_args(argv)
    rounds, count = (3, 60) if args.quick else (args.rounds, args.posts)

    sets = {
        "everyday": posts(count, list(EVERYDAY)),
        "corpus mix": posts(count, [*EVERYDAY, *POSTS, *SNIPPETS, *EDGES, *HOSTILE]),
    }
    kilobytes = {name: sum(len(t.encode()) for t in texts) / 1024 for name, texts in sets.items()}
    cases: dict[tuple[str, str], tuple[Callable[[str], object], list[str]]] = {}
    for set_name, texts in sets.items():
        rendered = [render_markdown(text, IMAGE_HOSTS) for text in texts]
        cases[(ROWS[0], set_name)] = (lambda t: render_legacy_markdown(t, IMAGE_HOSTS), texts)
        cases[(ROWS[1], set_name)] = (lambda t: render_markdown(t, IMAGE_HOSTS), texts)
        cases[(ROWS[2], set_name)] = (lambda t: clean_html(t, IMAGE_HOSTS), rendered)
        cases[(ROWS[3], set_name)] = (lambda t: cook(t, IMAGE_HOSTS), texts)
    for work, inputs in cases.values():  # warm up: imports, caches, linkify's patterns
        timed(work, inputs[:5])
    samples: dict[tuple[str, str], list[float]] = {key: [] for key in cases}
    for _ in range(rounds):
        for key, (work, inputs) in cases.items():
            samples[key].append(timed(work, inputs) * 1e6 / kilobytes[key[1]])

    print(
        f"forum bench/cook.py  python {sys.version.split()[0]}  {rounds} rounds of {count}"
        f" posts per set, ~{POST_BYTES:,} B each; CPU µs per KB of markdown, median (min-max)"
    )
    print(f"  {'':27}" + "".join(f"{name:>24}" for name in sets))
    for row in ROWS:
        cells = []
        for set_name in sets:
            values = samples[(row, set_name)]
            median = statistics.median(values)
            cells.append(f"{median:8.1f} ({min(values):.0f}-{max(values):.0f})".rjust(24))
        print(f"  {row:27}" + "".join(cells))
    for set_name in sets:
        before = statistics.median(samples[(ROWS[0], set_name)])
        now = statistics.median(samples[(ROWS[1], set_name)])
        print(f"  {set_name}: markdown {before / now:.1f}x faster than before")
    return 0


ROWS = ("markdown-it-py (before)", "pyromark (now)", "nh3 clean_html", "cook() = pyromark + nh3")


if __name__ == "__main__":
    sys.exit(main())
