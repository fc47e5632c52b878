"""Taking text out of reach for safety: a post's earlier versions, the live log's stored
copies of it, and other posts that quote what was removed.

A post's history is redacted when a moderator edits someone else's post (edit-then-approve
in the review queue, or a direct edit), when a moderator approves a post that was held or
flagged for identifiable data, and when an author's edit removes identifiable data they had
written. Readers then see that a version was removed, never what it said; moderators can
still read it, marked as removed (queries/posts.py: redacted_revisions).
"""

from __future__ import annotations

import re
from dataclasses import replace

from forum.actions.holds import add_holds, open_post_item, publish_review_change
from forum.content.privacy import find_identifiers
from forum.db import Connection
from forum.events import PostEdited, publish, replace_post_html
from forum.moderation import Hold
from forum.queries import posts as post_queries
from forum.queries import review as review_queries
from forum.queries.posts import Post
from forum.queries.topics import Topic
from forum.rendering import Renderer

# Reasons an item is about patient data: approving one redacts the post's earlier versions.
PRIVACY_REASONS = frozenset({"privacy", "patient_data"})

# A quoted line shorter than this ("Thanks", "> ok") is too common to say it came from
# the removed text.
MIN_QUOTE_CHARS = 8
_SPACES = re.compile(r"\s+")


async def redact_history(
    conn: Connection,
    renderer: Renderer,
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
    texts = await post_queries.list_revision_texts(conn, post.id, post.version)
    if only_identifying:
        texts = [(version, raw) for version, raw in texts if find_identifiers(raw)]
    if not texts:
        return
    await post_queries.redact_revisions(conn, post.id, [v for v, _ in texts], by, now)
    await scrub_post(conn, renderer, post, topic)
    removed = removed_lines([raw for _, raw in texts], post.raw)
    await hold_quoting_replies(conn, renderer, post, topic, removed, now)


async def scrub_post(conn: Connection, renderer: Renderer, post: Post, topic: Topic) -> None:
    """The log's stored events of the post show it as readers see it now."""
    await replace_post_html(conn, topic.id, post.id, renderer.render_post(post, topic))


def _normal(line: str) -> str:
    return _SPACES.sub(" ", line.strip().lstrip(">").strip()).lower()


def removed_lines(old_texts: list[str], current: str) -> set[str]:
    """Lines of the old versions that the current text no longer has, normalised."""
    kept = {_normal(line) for line in current.splitlines()}
    return {
        normal
        for text in old_texts
        for line in text.splitlines()
        if len(normal := _normal(line)) >= MIN_QUOTE_CHARS and normal not in kept
    }


def quotes_any(raw: str, removed: set[str]) -> bool:
    """Whether a post's quoted lines (`> ...`) repeat any of the removed lines, whole or in
    part (a quote may be trimmed)."""
    for line in raw.splitlines():
        if not line.lstrip().startswith(">"):
            continue
        quoted = _normal(line)
        if len(quoted) < MIN_QUOTE_CHARS:
            continue
        if any(quoted in gone or gone in quoted for gone in removed):
            return True
    return False


async def hold_quoting_replies(
    conn: Connection,
    renderer: Renderer,
    post: Post,
    topic: Topic,
    removed: set[str],
    now: float,
) -> None:
    """Replies that quoted the removed text are hidden until a moderator has looked at them:
    otherwise the text stays readable one post further down."""
    if not removed:
        return
    hold = Hold(
        "quotes_removed",
        f"quotes post {post.post_number}",
        ("It quotes text that a moderator removed from another post.",),
    )
    for reply in await post_queries.list_replies_to(conn, topic.id, post.post_number):
        if reply.hidden_at is not None or not quotes_any(reply.raw, removed):
            continue
        item = await review_queries.find_item(conn, "post", reply.id)
        item_id = await open_post_item(conn, reply, topic.group_id, item, now)
        await add_holds(conn, item_id, [hold], now)
        await review_queries.set_post_hidden(conn, reply.id, now)
        hidden = replace(reply, hidden_at=now)
        html = renderer.render_post(hidden, topic)
        await publish(
            conn,
            PostEdited(
                topic.id,
                topic.group_id,
                reply.id,
                reply.post_number,
                reply.username,
                reply.version,
                html,
            ),
        )
        await replace_post_html(conn, topic.id, reply.id, html)
        await publish_review_change(conn, renderer, item_id)
