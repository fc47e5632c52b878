"""The watched words, kept in memory by each process, never used once they have changed.

Every change to the list moves its version on (a trigger: migrations/0005), whoever makes it:
this process, another node, the command line, an operator's SQL. A content check reads the
version inside the transaction that writes the post, usually as one more column of a query
it makes anyway (the topic's or the group's access, forum/access.py), and this cache re-reads
the list only when the version it holds is not that one. So a word is in force for every
post whose transaction reads after the word was committed, as when the list itself was read
for every post; most posts pay for no query at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from forum.db import Connection
from forum.moderation import Hold, watched_hold
from forum.queries import review as review_queries


@dataclass(frozen=True)
class _Words:
    version: int
    words: tuple[str, ...]
    # Any of the words, as a whole word, in any case: one pass over a text that has none
    # (most texts), before looking for each word (moderation.matched_words).
    any_word: re.Pattern[str] | None


def _read(version: int, words: list[str]) -> _Words:
    if not words:
        return _Words(version, (), None)
    alternatives = "|".join(re.escape(word) for word in words)
    return _Words(version, tuple(words), re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.I))


class WatchedWords:
    """This process's copy of the watched words, with the version it was read at."""

    def __init__(self) -> None:
        self._held: _Words | None = None

    async def hold(self, conn: Connection, text: str, version: int | None) -> Hold | None:
        """The watched-word hold on `text`, by the list at `version` (read in `conn`'s
        transaction; None: read it now) or a later one."""
        if version is None:
            version = await review_queries.watched_words_version(conn)
        held = self._held
        if held is None or held.version != version:
            held = self._held = _read(*await review_queries.list_watched_words_at(conn))
        if held.any_word is None or not held.any_word.search(text):
            return None
        return watched_hold(text, held.words)
