"""The Learning page's Atom feed (RFC 4287): public groups' learning updates, newest first,
for feed readers and other sites."""

from __future__ import annotations

from datetime import UTC, datetime
from xml.etree.ElementTree import Element, SubElement, tostring

from forum.queries.learning import LearningUpdate

ATOM = "http://www.w3.org/2005/Atom"


def _time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def atom_feed(
    updates: list[tuple[LearningUpdate, str]], feed_url: str, page_url: str, now: float
) -> bytes:
    """`updates`: each with its page's full address."""
    feed = Element("feed", xmlns=ATOM)
    SubElement(feed, "title").text = "What our groups learned"
    SubElement(feed, "subtitle").text = "Learning updates from the forum's public groups"
    SubElement(feed, "id").text = feed_url
    SubElement(feed, "link", rel="self", href=feed_url, type="application/atom+xml")
    SubElement(feed, "link", rel="alternate", href=page_url, type="text/html")
    newest = max((u.created_at for u, _ in updates), default=now)
    SubElement(feed, "updated").text = _time(newest)
    for update, url in updates:
        entry = SubElement(feed, "entry")
        SubElement(entry, "title").text = f"{update.group_name}: {update.title}"
        SubElement(entry, "id").text = url
        SubElement(entry, "link", rel="alternate", href=url, type="text/html")
        SubElement(entry, "updated").text = _time(update.created_at)
        SubElement(entry, "published").text = _time(update.created_at)
        author = SubElement(entry, "author")
        SubElement(author, "name").text = update.username
        SubElement(entry, "content", type="html").text = update.summary_cooked
    body: bytes = tostring(feed, encoding="utf-8", xml_declaration=True)
    return body
