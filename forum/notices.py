"""What a notification says and where it leads: pure, shared by the bell, the notifications
page, the live item and the JSON API (forum/queries/notifications.py holds the rows)."""

from __future__ import annotations

import re
from collections.abc import Callable

from forum.errors import BadRequest
from forum.queries.notifications import Kind, Notification

MAX_MENTIONS = 10  # Discourse's default max_mentions_per_post
# A custom notification's data["message"] that is a key, not text: its words are made when it
# is shown, from the topic's title as it is then.
DEBATE_STARTED = "debate_started"

# The mentions cook() made (forum/content/markdown.py writes exactly this shape; HTML typed in
# a post is escaped, so nothing else in cooked HTML can look like it).
_MENTION_LINK_RE = re.compile(r'<a class="mention" href="/u/([A-Za-z0-9_.-]+)"')
# A blockquote with no blockquote inside it (cook() writes these tags exactly so).
_QUOTED_RE = re.compile(r"<blockquote>(?:(?!<blockquote>).)*?</blockquote>", re.DOTALL)
# "Quote and reply" writes `> **name** wrote (post N):` (views/topics.quote).
_QUOTE_RE = re.compile(r"^> \*\*[^*\n]+\*\* wrote \(post ([0-9]{1,9})\):", re.MULTILINE)


def mentioned_names(cooked: str) -> tuple[str, ...]:
    """The names a post mentions, lower-cased, each once, in order; not those inside a quote
    (quoting a post that mentions someone does not tell them again)."""
    while (unquoted := _QUOTED_RE.sub("", cooked)) != cooked:  # innermost quotes first
        cooked = unquoted
    return tuple(dict.fromkeys(name.lower() for name in _MENTION_LINK_RE.findall(cooked)))


def check_mentions(cooked: str) -> None:
    if len(mentioned_names(cooked)) > MAX_MENTIONS:
        raise BadRequest(
            f"You can mention at most {MAX_MENTIONS} people in one post."
            " To reach a whole group, post in it: its members who watch it are told."
        )


def quoted_numbers(raw: str) -> tuple[int, ...]:
    """The post numbers a post quotes (of its own topic), each once."""
    return tuple(dict.fromkeys(int(n) for n in _QUOTE_RE.findall(raw)))


def notification_text(n: Notification) -> str:
    """One plain sentence: who did what, where."""
    who = n.actor or "Someone"
    title = f"“{n.topic_title}”" if n.topic_title else "a topic"
    kind = n.notification_type
    if kind == Kind.MENTIONED:
        return f"{who} mentioned you in {title}"
    if kind == Kind.REPLIED:
        return f"{who} replied to your post in {title}"
    if kind == Kind.QUOTED:
        return f"{who} quoted your post in {title}"
    if kind == Kind.POSTED:
        return f"{who} replied in {title}, which you watch"
    if kind == Kind.WATCHING_FIRST_POST:
        where = f" in {n.group_name}" if n.group_name else ""
        return f"{who} started {title}{where}"
    message = n.data.get("message")
    if message == DEBATE_STARTED:
        if n.topic_title is None:
            return "A debate you asked about has started"
        return f"The debate {title} has started"
    if isinstance(message, str) and message:
        return message
    if kind == Kind.POST_APPROVED:
        return f"Your post in {title} was approved"
    return "Something happened that concerns you"


def notification_url(n: Notification, url: Callable[..., str]) -> str:
    """Where following a notification leads: the post it is about, else what its data
    names (a debate's page), else the notifications page."""
    if n.topic_id is not None and n.topic_slug is not None:
        if n.post_number:
            return url("post_link", slug=n.topic_slug, topic_id=n.topic_id, number=n.post_number)
        return url("topic", slug=n.topic_slug, topic_id=n.topic_id)
    link = n.data.get("url")
    if isinstance(link, str) and link.startswith("/") and not link.startswith("//"):
        return link
    return url("notifications")
