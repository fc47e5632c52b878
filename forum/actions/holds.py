"""Holding a post for review instead of publishing it: the step between check and write.

Posts and topics call `hold_if_needed` inside their transaction, after the permission and
pace checks. A held post is not in `posts` at all: its text waits in its review item, so
no page, count, feed or live channel can show it until a moderator approves it.
"""

from __future__ import annotations

from dataclasses import dataclass

from forum.actions.drafts import Writing
from forum.actions.places import place_of
from forum.context import Forum
from forum.db import Connection
from forum.errors import BadRequest
from forum.events import PostEdited, ReviewChanged, TopicChanged, replace_post_html
from forum.moderation import (
    Hold,
    first_posts_hold,
    post_text,
    quoted_lines,
    quotes_any,
    quotes_removed_hold,
    removed_lines,
)
from forum.queries import posts as post_queries
from forum.queries import review as review_queries
from forum.queries.posts import Post
from forum.queries.review import Item
from forum.queries.topics import Topic


@dataclass(frozen=True)
class Held:
    """A post or topic that waits for a moderator, and what its author is told."""

    item_id: int
    group_id: int
    topic_id: int | None  # None: a new topic, which does not exist until approved
    messages: tuple[str, ...]


class PrivacyWarning(BadRequest):
    """The post looks like it identifies someone; the author has not yet said to post anyway.

    The composer shows the messages and a "post anyway" choice; the JSON API posts anyway
    (held), as a client there cannot be asked."""

    title = "Please check your post before it goes out"


async def hold_if_needed(
    forum: Forum, conn: Connection, writing: Writing, now: float
) -> Held | None:
    """Hold the post for review if anything about it or its author asks for a moderator;
    None: publish it. `writing.privacy` was found before the transaction."""
    text = post_text(writing.title, writing.text.raw)
    holds = await content_holds(
        forum,
        conn,
        text,
        writing.privacy,
        confirmed=writing.confirmed,
        watched_version=writing.watched_version,
    )
    quoting = await removed_quote_hold(conn, writing.topic, writing.text.raw)
    first_posts = first_posts_hold(writing.author, writing.group, writing.membership)
    holds += [hold for hold in (quoting, first_posts) if hold]
    if not holds:
        return None
    topic_id = writing.topic.id if writing.topic else None
    item_id = await review_queries.insert_item(
        conn,
        kind="queued",
        target_id=None,
        group_id=writing.group.id,
        topic_id=topic_id,
        author_id=writing.author.id,
        title=writing.title,
        raw=writing.text.raw,
        cooked=writing.text.cooked,
        reply_to_post_number=writing.reply_to_post_number,
        now=now,
    )
    await add_holds(conn, item_id, holds, now)
    await publish_review_change(forum, conn, item_id)
    return Held(item_id, writing.group.id, topic_id, _tell_author(holds))


HELD_MESSAGE = "Your post is waiting for a moderator and will appear once they approve it."


def _tell_author(holds: list[Hold]) -> tuple[str, ...]:
    return (HELD_MESSAGE, *(message for hold in holds for message in hold.messages))


async def publish_review_change(forum: Forum, conn: Connection, item_id: int) -> ReviewChanged:
    """Tell the review channel how an item looks now, in the transaction that changed it;
    returns the event (its cards)."""
    item = await review_queries.get_item(conn, item_id)
    assert item is not None
    render = forum.renderer.render_review_item
    event = ReviewChanged(
        item.id,
        item.group_id,
        item.status,
        item.version,
        item.claimed_by_username,
        render(item, for_staff=True),
        render(item, for_staff=False),
    )
    await forum.publish(conn, event)
    return event


async def publish_post_change(
    forum: Forum, conn: Connection, post: Post, topic: Topic, *, scrub: bool = False
) -> None:
    """Readers' pages change the post in place (edited, hidden, shown again, removed), in the
    transaction that changed it. `scrub`: the post's text has left public view, so the log's
    stored copies of it take this rendering too (a replay never carries the old text)."""
    place = await place_of(conn, post, topic)
    await place.rewrite_question(forum, conn, post)
    if not place.has_post_events:
        return
    html = place.render(forum, post, topic)
    await forum.publish(
        conn,
        PostEdited(
            post.topic_id,
            topic.group_id,
            post.id,
            post.post_number,
            post.username,
            post.version,
            html,
            place.facts,
            place.debate_id,
        ),
        TopicChanged(post.topic_id, topic.group_id),
    )
    if scrub:
        await replace_post_html(conn, topic.id, post.id, html, place.facts, place.debate_id)


async def removed_quote_hold(conn: Connection, topic: Topic | None, raw: str) -> Hold | None:
    """A post that quotes what was removed from a post of its topic's history (written in a
    tab opened before the removal, quoting a quote, pasted) waits for a moderator, like the
    replies held when it was removed (actions/redaction.py)."""
    if topic is None or not quoted_lines(raw):
        return None  # most posts quote nothing: no query for them
    old, kept = await post_queries.list_removed_in_topic(conn, topic.id)
    if not old or not quotes_any(raw, removed_lines(old, kept)):
        return None
    return quotes_removed_hold()


async def content_holds(
    forum: Forum,
    conn: Connection,
    text: str,
    privacy: Hold | None,
    *,
    confirmed: bool,
    watched_version: int | None = None,
) -> list[Hold]:
    """The holds on what a post says (identifiable data, watched words), for new posts and
    edits alike. Raises PrivacyWarning, before anything is written, if the author has not yet
    chosen to post anyway. `watched_version`: the watched words' version as read earlier in
    this transaction (with the access check), or None to read it here."""
    if privacy and not confirmed:
        raise PrivacyWarning(*privacy.messages)
    watched = await forum.watched.hold(conn, text, watched_version)
    return [hold for hold in (privacy, watched) if hold]


async def queue_edited_post(
    forum: Forum, conn: Connection, post: Post, group_id: int, holds: list[Hold], now: float
) -> None:
    """An edit that needs a moderator: the post is hidden and its review item (re)opened."""
    found = await review_queries.find_item(conn, "post", post.id)
    item_id = await open_post_item(conn, post, group_id, found, now)
    await add_holds(conn, item_id, holds, now)
    await review_queries.set_post_hidden(conn, post.id, now)
    await publish_review_change(forum, conn, item_id)


async def add_holds(conn: Connection, item_id: int, holds: list[Hold], now: float) -> None:
    for hold in holds:
        await review_queries.add_reason(
            conn,
            item_id=item_id,
            user_id=None,
            reason=hold.reason,
            note=hold.note,
            score=1.0,
            now=now,
        )


async def open_post_item(
    conn: Connection, post: Post, group_id: int, item: Item | None, now: float
) -> int:
    """The review item of a published post (`item`, as review_queries.find_item found it),
    made or reopened, showing the post as it is now: flagging or catching it again adds to
    the one item."""
    if item is None:
        return await review_queries.insert_item(
            conn,
            kind="post",
            target_id=post.id,
            group_id=group_id,
            topic_id=post.topic_id,
            author_id=post.user_id,
            raw=post.raw,
            cooked=post.cooked,
            now=now,
        )
    await review_queries.reopen_item(conn, item.id, now)
    await review_queries.set_item_content(conn, item.id, raw=post.raw, cooked=post.cooked, now=now)
    return item.id
