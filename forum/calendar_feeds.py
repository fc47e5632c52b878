"""iCalendar files (RFC 5545, with `icalendar`) for a group's events: one event's "add to
calendar" file, and the feed calendar apps subscribe to, with the group's hosted debates.

Times are written in UTC: every calendar app shows them in its own zone. Each entry keeps
its UID, and SEQUENCE rises with each change, so a subscribed calendar updates the entry
(and marks it cancelled) rather than adding another.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from icalendar import Calendar
from icalendar import Event as CalendarEvent

from forum.queries.events import FeedDebate, GroupEvent


def _calendar(name: str | None = None) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", "-//forum//group events//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    if name:
        calendar.add("x-wr-calname", name)
    return calendar


def _when(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _entry(event: GroupEvent, base_url: str, url: str, now: float) -> CalendarEvent:
    entry = CalendarEvent()
    entry.add("uid", f"event-{event.id}@{urlsplit(base_url).hostname or 'forum'}")
    entry.add("dtstamp", _when(now))
    entry.add("dtstart", _when(event.starts_at))
    entry.add("dtend", _when(event.ends_at))
    entry.add("summary", event.title)
    entry.add("sequence", event.sequence)
    entry.add("last-modified", _when(event.updated_at))
    parts = [event.description] if event.description else []
    if event.online_url:
        parts.append(f"Join online: {event.online_url}")
    parts.append(url)
    entry.add("description", "\n\n".join(parts))
    entry.add("url", url)
    if event.place:
        entry.add("location", event.place)
    elif event.online_url:
        entry.add("location", event.online_url)
    entry.add("status", "CANCELLED" if event.cancelled_at is not None else "CONFIRMED")
    return entry


def event_file(event: GroupEvent, base_url: str, url: str, now: float) -> bytes:
    """One event, for "add to calendar"."""
    calendar = _calendar()
    calendar.add_component(_entry(event, base_url, url, now))
    data: bytes = calendar.to_ical()
    return data


def group_feed(
    name: str,
    events: list[tuple[GroupEvent, str]],
    debates: list[tuple[FeedDebate, str]],
    base_url: str,
    now: float,
) -> bytes:
    """The group's events and hosted debates, each with its page's full address."""
    calendar = _calendar(name)
    calendar.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT1H")
    for event, url in events:
        calendar.add_component(_entry(event, base_url, url, now))
    host = urlsplit(base_url).hostname or "forum"
    for debate, url in debates:
        entry = CalendarEvent()
        entry.add("uid", f"debate-{debate.id}@{host}")
        entry.add("dtstamp", _when(now))
        entry.add("dtstart", _when(debate.starts_at))
        entry.add("dtend", _when(debate.ends_at))
        entry.add("summary", f"Hot topic: {debate.title}")
        entry.add("description", f"{debate.description}\n\n{url}")
        entry.add("url", url)
        entry.add("location", url)
        entry.add("status", "CANCELLED" if debate.cancelled else "CONFIRMED")
        calendar.add_component(entry)
    data: bytes = calendar.to_ical()
    return data
