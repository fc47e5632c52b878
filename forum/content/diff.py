"""Word-by-word differences between two versions of a post, for its edit history.

The texts are split into tokens that keep every character (words, runs of whitespace, single
punctuation marks), so the 'same' and 'removed' segments join back into the old text and the
'same' and 'added' segments into the new one, line breaks included.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from difflib import Match, SequenceMatcher
from itertools import accumulate
from typing import Literal

Kind = Literal["same", "added", "removed"]
Segment = tuple[Kind, str]

# The most matching steps one comparison may take (a step is one inner-loop turn of
# SequenceMatcher.find_longest_match; a budget is spent in about 50 ms). The steps grow with
# how often the words of one text recur in the other, times how many pieces the texts break
# into: 250 words of prose with scattered edits take about 0.3M, 1,000 words 4.5M, and a row
# of dots against a row of dots and commas 190M (13 s) at only 1,000 characters each. Over
# the budget, lines are compared first, then each changed run of lines word by word (the
# runs share one more budget; a run over it is shown removed and added whole). So one diff
# costs at most three budgets, whatever was typed (bench: up to about 90 ms at 32,000
# characters), and the revisions page runs its diffs off the loop when the texts are long.
MAX_STEPS = 500_000

_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")
_WORD_CHAR = re.compile(r"\w")
_ZERO_WIDTH_JOINER = "\u200d"


class _OverBudget(Exception):
    """The comparison would take more steps than it was given."""


class _Budget:
    def __init__(self, steps: int) -> None:
        self.left = steps

    def spend(self, steps: int) -> None:
        self.left -= steps
        if self.left < 0:
            raise _OverBudget


class _BudgetedMatcher(SequenceMatcher[str]):
    """A SequenceMatcher that pays for each search for a longest match before making it.

    A search over a[alo:ahi] takes one step per token and one per occurrence of that token
    in b (difflib walks each token's list of positions in b up to bhi), so the price asked
    is an upper bound, known in O(1) from prefix sums."""

    def __init__(self, a: Sequence[str], b: Sequence[str], budget: _Budget) -> None:
        # autojunk off: in a long post it would make common words (and spaces) junk, and
        # junk never starts a match, so matches could not run across them.
        super().__init__(None, a, b, autojunk=False)
        in_b = Counter(b)
        self._steps_before = list(accumulate((in_b[token] + 1 for token in a), initial=0))
        self._budget = budget
        self._length_a = len(a)

    def find_longest_match(
        self, alo: int = 0, ahi: int | None = None, blo: int = 0, bhi: int | None = None
    ) -> Match:
        end = self._length_a if ahi is None else ahi
        self._budget.spend(self._steps_before[end] - self._steps_before[alo])
        return super().find_longest_match(alo, ahi, blo, bhi)


def tokens(text: str) -> list[str]:
    """`text` as words, whitespace runs and punctuation marks; "".join() gives it back.

    Python's \\w leaves out combining marks (an accent typed as a second code point, most
    vowel signs of Indic scripts) and the joiner inside emoji, so those are glued back to
    the word they belong to: a change of one letter marks the whole word, not a fragment."""
    out: list[str] = []
    for token in _TOKEN.findall(text):
        first = token[0]
        if out and not first.isspace() and not out[-1][-1].isspace():
            last = out[-1][-1]
            if (
                _is_mark(first)
                or last == _ZERO_WIDTH_JOINER
                or (_is_mark(last) and _WORD_CHAR.match(first) is not None)
            ):
                out[-1] += token
                continue
        out.append(token)
    return out


def _is_mark(char: str) -> bool:
    """A combining mark or joiner: part of the character before it."""
    return char == _ZERO_WIDTH_JOINER or unicodedata.category(char)[0] == "M"


def word_diff(old: str, new: str) -> list[Segment]:
    """The change from `old` to `new` as (kind, text) segments, kind 'same', 'added' or
    'removed'. No two neighbours share a kind, and each changed stretch is one 'removed'
    then one 'added' (either may be absent). A space or a punctuation mark left between
    two changes is folded into them: "~~the cat~~ a dog" reads better than "~~the~~ a
    ~~cat~~ dog". Over budget (MAX_STEPS) lines are compared first."""
    try:
        segments = _token_diff(tokens(old), tokens(new), _Budget(MAX_STEPS))
    except _OverBudget:  # not an error: the cheaper comparison below answers instead
        segments = _line_diff(old, new)
    return _tidied(segments)


def _common_ends(a: Sequence[str], b: Sequence[str]) -> tuple[int, int, int]:
    """(start, end_a, end_b) with a[:start] == b[:start] and a[end_a:] == b[end_b:]: what
    is left between them is all the matcher has to look at (an edit is often one place)."""
    start, shortest = 0, min(len(a), len(b))
    while start < shortest and a[start] == b[start]:
        start += 1
    end_a, end_b = len(a), len(b)
    while end_a > start and end_b > start and a[end_a - 1] == b[end_b - 1]:
        end_a, end_b = end_a - 1, end_b - 1
    return start, end_a, end_b


def _token_diff(a: Sequence[str], b: Sequence[str], budget: _Budget) -> list[Segment]:
    start, end_a, end_b = _common_ends(a, b)
    matcher = _BudgetedMatcher(a[start:end_a], b[start:end_b], budget)
    out: list[Segment] = [("same", "".join(a[:start]))]
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            out.append(("same", "".join(a[start + i1 : start + i2])))
        else:
            out.append(("removed", "".join(a[start + i1 : start + i2])))
            out.append(("added", "".join(b[start + j1 : start + j2])))
    out.append(("same", "".join(a[end_a:])))
    return out


def _line_diff(old: str, new: str) -> list[Segment]:
    """Lines first, then each changed run of lines word by word while the budget lasts."""
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    start, end_a, end_b = _common_ends(a, b)
    middle_a, middle_b = a[start:end_a], b[start:end_b]
    try:
        opcodes = _BudgetedMatcher(middle_a, middle_b, _Budget(MAX_STEPS)).get_opcodes()
    except _OverBudget:  # thousands of short, repeated lines: one change, shown whole
        opcodes = [("replace", 0, len(middle_a), 0, len(middle_b))]
    out: list[Segment] = [("same", "".join(a[:start]))]
    words = _Budget(MAX_STEPS)  # shared by every changed run
    for tag, i1, i2, j1, j2 in opcodes:
        old_run, new_run = "".join(middle_a[i1:i2]), "".join(middle_b[j1:j2])
        if tag == "equal":
            out.append(("same", old_run))
            continue
        if len(opcodes) == 1:  # all the lines between the common ends: words just failed
            out.extend([("removed", old_run), ("added", new_run)])
            continue
        try:
            out.extend(_token_diff(tokens(old_run), tokens(new_run), words))
        except _OverBudget:
            out.extend([("removed", old_run), ("added", new_run)])
    out.append(("same", "".join(a[end_a:])))
    return out


def _tidied(segments: list[Segment]) -> list[Segment]:
    """Empty segments dropped and neighbours of one kind joined; then a short 'same' stretch
    with no word and no line break between two changes folded into them, and each changed
    stretch given as one 'removed' and one 'added'."""
    joined: list[Segment] = []
    for kind, text in segments:
        if not text:
            continue
        if joined and joined[-1][0] == kind:
            joined[-1] = (kind, joined[-1][1] + text)
        else:
            joined.append((kind, text))
    out: list[Segment] = []
    removed, added = "", ""
    for index, (kind, text) in enumerate(joined):
        # A 'same' not at either end has changes on both sides.
        folded = kind == "same" and 0 < index < len(joined) - 1 and _foldable(text)
        if kind == "same" and not folded:
            out.extend(_changes(removed, added))
            out.append(("same", text))
            removed, added = "", ""
            continue
        if kind != "added":
            removed += text
        if kind != "removed":
            added += text
    out.extend(_changes(removed, added))
    return out


def _changes(removed: str, added: str) -> list[Segment]:
    changes: list[Segment] = []
    if removed:
        changes.append(("removed", removed))
    if added:
        changes.append(("added", added))
    return changes


def _foldable(text: str) -> bool:
    return len(text) <= 3 and "\n" not in text and _WORD_CHAR.search(text) is None
