"""Taking text out of reach for safety: a post's earlier versions, the live log's stored
copies of it, and other posts that quote what was removed.

A post's history is redacted when a moderator edits someone else's post (edit-then-approve
in the review queue, or a direct edit), when a moderator approves a post that was held or
flagged for identifiable data, and when an author's edit removes identifiable data they had
written. Readers then see that a version was removed, never what it said; moderators can
still read it, marked as removed (queries/posts.py: redacted_revisions).
"""

from __future__ import annotations

from dataclasses import replace

from forum.actions.holds import (
    add_holds,
    open_post_item,
    publish_post_change,
    publish_review_change,
)
from forum.actions.places import place_of
from forum.content.privacy import find_identifiers
from forum.context import Forum
from forum.db import Connection
from forum.events import replace_post_html, replace_review_html
from forum.moderation import quotes_any, quotes_removed_hold, removed_lines
from forum.queries import posts as post_queries
from forum.queries import review as review_queries
from forum.queries.audit import record_action
from forum.queries.posts import Post
from forum.queries.topics import Topic

# Reasons an item is about patient data: approving one redacts the post's earlier versions.
PRIVACY_REASONS = frozenset({"privacy", "patient_data"})


async def redact_history(
    forum: Forum,
    conn: Connection,
    post: Post,
    topic: Topic,
    *,
    by: int | None,
    now: float,
    only_identifying: bool = False,
) -> None:
    """Take every version before the post's current one out of its history (or only those in
    which the identifiable-data check finds something), with the log's copies and any reply
    that quotes a removed line. `post` is the post as it is now."""
    history = await post_queries.list_revision_texts(conn, post.id, post.version)
    texts = [(v, raw) for v, raw in history if not only_identifying or find_identifiers(raw)]
    if not texts:
        return
    versions = [v for v, _ in texts]
    await post_queries.redact_revisions(conn, post.id, versions, by, now)
    await scrub_post(forum, conn, post, topic)
    await _refresh_review_item(forum, conn, post, now)
    kept = [post.raw, *(raw for v, raw in history if v not in versions)]
    removed = removed_lines([raw for _, raw in texts], kept)
    await hold_quoting_posts(forum, conn, post, topic, removed, now)
    if by is not None:
        await record_action(
            conn,
            actor_id=by,
            action="remove_versions",
            post_id=post.id,
            topic_id=topic.id,
            group_id=topic.group_id,
            target_user_id=post.user_id,
            note="versions " + ", ".join(str(v) for v in versions),
            now=now,
        )


async def _refresh_review_item(forum: Forum, conn: Connection, post: Post, now: float) -> None:
    """A review item still waiting on this post shows (and its log keeps) the text as it is
    now, not what was taken out."""
    item = await review_queries.find_item(conn, "post", post.id)
    if item is None or item.status != "pending" or item.raw is None:
        return
    await review_queries.set_item_content(conn, item.id, raw=post.raw, cooked=post.cooked, now=now)
    changed = await publish_review_change(forum, conn, item.id)
    await replace_review_html(conn, changed)


async def scrub_post(forum: Forum, conn: Connection, post: Post, topic: Topic) -> None:
    """The log's stored events of the post show it as readers see it now."""
    place = await place_of(conn, post, topic)
    await place.rewrite_question(forum, conn, post)
    if not place.has_post_events:
        return
    html = place.render(forum, post, topic)
    await replace_post_html(conn, topic.id, post.id, html, place.facts, place.debate_id)


async def hold_quoting_posts(
    forum: Forum,
    conn: Connection,
    post: Post,
    topic: Topic,
    removed: set[str],
    now: float,
) -> None:
    """Later posts of the topic that quote the removed lines (replies, quotes of quotes) are
    hidden until a moderator has looked at them, and can only be approved once the quote is
    edited out: otherwise the text stays readable one post further down. One already hidden
    gets the reason too, so approving it for something else cannot bring the quote back."""
    if not removed:
        return
    hold = quotes_removed_hold(post.post_number)
    for reply in await post_queries.list_quoting_candidates(conn, topic.id, post.post_number):
        if not quotes_any(reply.raw, removed):
            continue
        item = await review_queries.find_item(conn, "post", reply.id)
        item_id = await open_post_item(conn, reply, topic.group_id, item, now)
        await add_holds(conn, item_id, [hold], now)
        if reply.hidden_at is None:
            await review_queries.set_post_hidden(conn, reply.id, now)
            hidden = replace(reply, hidden_at=now)
            await publish_post_change(forum, conn, hidden, topic, scrub=True)
        await publish_review_change(forum, conn, item_id)
