"""The word-by-word diff of the revisions page: exact joins, small marks, bounded cost."""

from __future__ import annotations

import random
import time
from itertools import pairwise

import pytest

from forum.content import diff
from forum.content.diff import Segment, tokens, word_diff
from forum.settings import Settings

MAX_CHARS = Settings().max_post_chars

PAIRS = [
    ("I walk 2000 steps on a bad day.", "I walk 2500 steps on a bad day."),
    ("Walked 10 minutes.", "Walked 20 minutes today."),
    ("the cat sat", "a dog ran"),
    ("para one\n\npara two\n", "para 1\n\npara two\n\npara three"),
    ("", "Something new."),
    ("All of it gone.", ""),
    ("", ""),
    ("Unchanged, exactly.", "Unchanged, exactly."),
    ("- a list\n- of things\r\n", "- a list\r\n- of more things\n"),
    ("Tabs\tand  spaces ", "Tabs and\tspaces"),
    ("Ich fühle mich müde.", "Ich fühle mich sehr müde!"),
    ("मैं ठीक हूँ", "मैं बहुत ठीक हूँ"),
    ("I feel 👍🏽 today", "I feel 👩\u200d⚕️ today"),
]


def old_side(segments: list[Segment]) -> str:
    return "".join(text for kind, text in segments if kind != "added")


def new_side(segments: list[Segment]) -> str:
    return "".join(text for kind, text in segments if kind != "removed")


def assert_well_formed(old: str, new: str, segments: list[Segment]) -> None:
    assert old_side(segments) == old
    assert new_side(segments) == new
    assert all(text for _, text in segments), "no empty segments"
    kinds = [kind for kind, _ in segments]
    assert set(kinds) <= {"same", "added", "removed"}
    assert all(a != b for a, b in pairwise(kinds)), "neighbours of one kind are joined"
    # A changed stretch is told as removed, then added.
    assert all((a, b) != ("added", "removed") for a, b in pairwise(kinds))


@pytest.mark.parametrize(("old", "new"), PAIRS)
def test_each_side_joins_back_exactly(old: str, new: str) -> None:
    assert_well_formed(old, new, word_diff(old, new))


def test_random_edits_join_back_exactly() -> None:
    rng = random.Random(7)
    words = ["pacing", "rest", "the", "a", ".", ",", " ", "\n", "\n\n", "é", "😴", "  "]
    for _ in range(300):
        old = "".join(rng.choice(words) for _ in range(rng.randint(0, 40)))
        changed = list(old)
        for _ in range(rng.randint(0, 5)):
            at = rng.randint(0, len(changed))
            changed[at : at + rng.randint(0, 3)] = rng.choice(words)
        new = "".join(changed)
        assert_well_formed(old, new, word_diff(old, new))


def test_tokens_keep_every_character() -> None:
    text = "Hello,  world!\n\nIt's 2 p.m. — naïve café\u0301 👩\u200d⚕️\t"
    assert "".join(tokens(text)) == text
    assert tokens("don't stop") == ["don", "'", "t", " ", "stop"]


def test_a_changed_word_is_one_removed_and_one_added() -> None:
    assert word_diff("I walk 2000 steps on a bad day.", "I walk 2500 steps on a bad day.") == [
        ("same", "I walk "),
        ("removed", "2000"),
        ("added", "2500"),
        ("same", " steps on a bad day."),
    ]


def test_an_added_word_is_marked_alone() -> None:
    assert word_diff("Only after a clinic day.", "Only after a long clinic day.") == [
        ("same", "Only after a "),
        ("added", "long "),
        ("same", "clinic day."),
    ]


def test_a_rewritten_phrase_reads_as_one_change_not_word_by_word() -> None:
    """The single spaces left between rewritten words are folded into the change."""
    assert word_diff("We met the cat sat there.", "We met a dog ran there.") == [
        ("same", "We met "),
        ("removed", "the cat sat"),
        ("added", "a dog ran"),
        ("same", " there."),
    ]


def test_paragraph_breaks_are_kept_between_changes() -> None:
    segments = word_diff("First one.\n\nSecond one.", "First two.\n\nSecond two.")
    assert segments == [
        ("same", "First "),
        ("removed", "one"),
        ("added", "two"),
        ("same", ".\n\nSecond "),
        ("removed", "one"),
        ("added", "two"),
        ("same", "."),
    ]


def test_unicode_words_change_whole() -> None:
    assert word_diff("Ich bin müde.", "Ich bin wach.") == [
        ("same", "Ich bin "),
        ("removed", "müde"),
        ("added", "wach"),
        ("same", "."),
    ]
    # An accent typed as its own code point, and Devanagari vowel signs, stay in their word.
    decomposed = word_diff("un cafe\u0301 noir", "un cafe\u0301 blanc")
    assert decomposed == [("same", "un cafe\u0301 "), ("removed", "noir"), ("added", "blanc")]
    hindi = word_diff("मैं ठीक हूँ", "मैं बीमार हूँ")
    assert hindi == [("same", "मैं "), ("removed", "ठीक"), ("added", "बीमार"), ("same", " हूँ")]
    # An emoji made of several code points changes as one.
    emoji = word_diff("Today 👍🏽 ok", "Today 👩\u200d⚕️ ok")
    assert emoji == [
        ("same", "Today "),
        ("removed", "👍🏽"),
        ("added", "👩\u200d⚕️"),
        ("same", " ok"),
    ]


def test_a_whitespace_only_change_is_marked() -> None:
    assert word_diff("one two", "one  two") == [
        ("same", "one"),
        ("removed", " "),
        ("added", "  "),
        ("same", "two"),
    ]
    assert word_diff("one\ntwo", "one\n\ntwo") == [
        ("same", "one"),
        ("removed", "\n"),
        ("added", "\n\n"),
        ("same", "two"),
    ]


def long_prose(rng: random.Random, paragraphs: int, words: int) -> str:
    vocab = [f"word{n}" for n in range(2000)] + ["the", "a", "and", "to", "of", "I", "it"]
    return "\n\n".join(
        " ".join(rng.choice(vocab) for _ in range(words)) + "." for _ in range(paragraphs)
    )


def test_one_change_in_a_post_of_the_longest_length_is_exact() -> None:
    text = long_prose(random.Random(1), 60, 80)[:MAX_CHARS]
    middle = text.index(" ", len(text) // 2)
    changed = text[:middle] + " CHANGED" + text[middle:]
    segments = word_diff(text, changed)
    assert_well_formed(text, changed, segments)
    assert [(kind, text.strip()) for kind, text in segments][1] == ("added", "CHANGED")
    assert [kind for kind, _ in segments] == ["same", "added", "same"]


def test_many_scattered_edits_fall_back_to_lines_then_words(monkeypatch) -> None:
    """Over the word budget, lines are matched first and each changed line word by word:
    the result is still as fine as a word diff."""
    calls: list[int] = []
    line_diff = diff._line_diff

    def counted(old: str, new: str) -> list[Segment]:
        calls.append(1)
        return line_diff(old, new)

    monkeypatch.setattr(diff, "_line_diff", counted)
    text = long_prose(random.Random(2), 40, 60)
    paragraphs = text.split("\n\n")
    for n in range(0, len(paragraphs), 4):
        paragraphs[n] = paragraphs[n].replace(" ", " EDIT ", 1)
    changed = "\n\n".join(paragraphs)
    segments = word_diff(text, changed)
    assert calls == [1]
    assert_well_formed(text, changed, segments)
    assert [text for kind, text in segments if kind != "same"] == ["EDIT "] * 10


@pytest.mark.parametrize(
    ("old", "new"),
    [
        # Repeated tokens make difflib's matching cost grow with the cube of the length.
        ("q" + "." * (MAX_CHARS - 1), ",".join(["."] * (MAX_CHARS // 2)) + "r"),
        ("q" + ".\n" * (MAX_CHARS // 2 - 1), ",\n".join(["."] * (MAX_CHARS // 2)) + "r"),
        ("q " + "x " * (MAX_CHARS // 2 - 1), " ".join(["x", "y"] * (MAX_CHARS // 4)) + " r"),
        ("q " + "x " * 300, " ".join(["x", "y"] * 400) + " r"),  # 2 s unbounded
        (long_prose(random.Random(3), 1, 5000), long_prose(random.Random(4), 1, 5000)),
        (long_prose(random.Random(5), 400, 10), long_prose(random.Random(6), 400, 10)),
    ],
)
def test_long_or_repetitive_input_falls_back_without_error(old: str, new: str) -> None:
    started = time.perf_counter()
    segments = word_diff(old, new)
    elapsed = time.perf_counter() - started
    assert_well_formed(old, new, segments)
    assert elapsed < 2.0  # about 0.1 s; the bound is loose for slow machines
