"""Avatars made here, from a member's name: their initials on a colour of their own. No
outside service is asked (nothing about who reads what leaves the forum)."""

from __future__ import annotations

import hashlib
from functools import lru_cache

from markupsafe import Markup, escape

# Dark enough for white letters at WCAG AA (4.5:1 and more) on each.
PALETTE = (
    "#1d4f91", "#005eb8", "#00703c", "#4c6272", "#7c2855", "#8a1538",
    "#5c3c92", "#005a70", "#6b4a00", "#3d5a1e", "#a4111b", "#33475b",
)  # fmt: skip


def initials(name: str) -> str:
    """Up to two letters: of the first two words, or the first two letters of one."""
    words = [w for w in name.replace("_", " ").replace("-", " ").replace(".", " ").split() if w]
    if not words:
        return "?"
    letters = [w[0] for w in words[:2]] if len(words) > 1 else list(words[0][:2])
    return "".join(letters).upper()


def colour(username: str) -> str:
    digest = hashlib.sha256(username.lower().encode()).digest()
    return PALETTE[digest[0] % len(PALETTE)]


@lru_cache(maxsize=4096)  # one per post on a page: the same few people, drawn once
def avatar(username: str, name: str = "", picture: str = "", size: int = 48) -> Markup:
    """The member's picture (its address, if they have one the viewer may see) or their
    initials. Hidden from screen readers: the name is always written beside it."""
    if picture:
        return Markup(
            f'<img class="avatar" src="{escape(picture)}" alt="" width="{size}" height="{size}"'
            ' loading="lazy">'
        )
    letters = escape(initials(name or username))
    # The letters' font and colour come from forum.css (.avatar text): a topic page has one
    # of these per post, so each carries only what differs.
    return Markup(
        f'<svg class="avatar" aria-hidden="true" width="{size}" height="{size}"'
        f' viewBox="0 0 48 48"><circle cx="24" cy="24" r="24" fill="{colour(username)}"/>'
        f'<text x="24" y="24" dy=".35em">{letters}</text></svg>'
    )
