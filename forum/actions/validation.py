"""Input rules shared by actions: text present, within length, free of control characters."""

from __future__ import annotations

import re
import unicodedata

from forum.errors import BadRequest

# Tab, newline and carriage return are ordinary in posts; other control characters (NUL above
# all, which PostgreSQL cannot store) are never typed by a person.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(
    value: str | None,
    label: str,
    max_chars: int,
    *,
    multiline: bool = True,
    allow_empty: bool = False,
) -> str:
    # The limit applies to the text as received (browsers send each line break as CRLF):
    # stripping first would let 250 KB of padding through a 32,000-character limit.
    text = (value or "").replace("\r\n", "\n")
    if len(text) > max_chars:
        raise BadRequest(f"{label} is {len(text):,} characters long; the most is {max_chars:,}.")
    text = text.strip()
    if not text and not allow_empty:
        raise BadRequest(f"{label} cannot be empty.")
    if _CONTROL.search(text) or (not multiline and "\n" in text):
        raise BadRequest(f"{label} contains characters that are not allowed.")
    return text


def clean_title(value: str | None, max_chars: int) -> str:
    """A topic title: one line, within length, its runs of spaces folded to one."""
    return " ".join(clean_text(value, "The title", max_chars, multiline=False).split())


def slugify(title: str, fallback: str = "topic") -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:80].strip("-")
    return slug or fallback
