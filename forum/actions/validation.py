"""Input rules shared by actions: text present, within length, free of control characters."""

from __future__ import annotations

import re
import unicodedata
import zoneinfo
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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


def parse_when(value: str | None, label: str, time_zone: str | None = None) -> float:
    """A moment as epoch seconds: ISO 8601 with its offset, or a local date and time read in
    `time_zone` (an IANA name, as the HTML form sends with a datetime-local field)."""
    text = (value or "").strip()
    if not text:
        raise BadRequest(f"{label} is missing.")
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(
            f"{label} is not a date and time we can read; write it like 2026-12-08T19:00+00:00."
        ) from None
    if when.tzinfo is None:
        zone = _zone(time_zone)
        if zone is None:
            raise BadRequest(f"{label} needs its time zone offset, like 2026-12-08T19:00+00:00.")
        when = when.replace(tzinfo=zone)
    try:
        return when.timestamp()
    except (OverflowError, OSError, ValueError):
        raise BadRequest(f"{label} is out of range.") from None


def _zone(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadRequest(
            f"{name!r} is not a time zone we know; choose one from the list."
        ) from None


@lru_cache(maxsize=1)
def time_zones() -> list[str]:
    """The zones the scheduling form offers: IANA's names, regions first as people look."""
    return sorted(
        z for z in zoneinfo.available_timezones() if "/" in z and not z.startswith("Etc/")
    )
