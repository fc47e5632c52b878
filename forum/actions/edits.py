"""Editing a post (and, with the first post, its topic's title), keeping every revision.

The cheap checks come first, on reads (who, size, whose post, pace), then the costly ones
(markdown, the identifiable-data scan), then every check again inside the transaction, as for
new posts (actions/posts.py). An edit the identifiable-data check or a watched word catches
hides the post until a moderator has looked at it. What the edit takes out for safety leaves
the history (actions/redaction.py): a moderator's edit of someone's post when they say so,
and an author's edit that removes identifiable data they had written.
"""

from __future__ import annotations

from dataclasses import replace

from forum.access import TopicAccess, access_post
from forum.actions.drafts import PostEdit
from forum.actions.holds import (
    content_holds,
    publish_post_change,
    queue_edited_post,
    removed_quote_hold,
)
from forum.actions.idempotent import Written
from forum.actions.notify import queue_mention_alert
from forum.actions.posts import prepare, require_author
from forum.actions.redaction import redact_history
from forum.actions.validation import clean_text, clean_title, slugify
from forum.content.offload import off_the_loop
from forum.content.privacy import describe, find_identifiers
from forum.context import Forum
from forum.db import Connection
from forum.errors import BadRequest, Conflict, Forbidden
from forum.events import TopicChanged, replace_topic_rows
from forum.notices import check_mentions
from forum.pace import check_pace
from forum.permissions import can_edit_post, is_staff
from forum.queries import posts as post_queries
from forum.queries import review as review_queries
from forum.queries import topics as topic_queries
from forum.queries.audit import record_action
from forum.queries.posts import Post
from forum.queries.users import User
from forum.settings import Settings


def check_edit(editor: User, post: Post, access: TopicAccess) -> None:
    if not can_edit_post(editor, post, access.topic):
        raise Forbidden("You can only edit your own posts.")


def check_title(settings: Settings, title: str) -> str:
    """A new title, checked as a new topic's is. Identifiable data in a title is refused, with
    no "post anyway": a title shows in every list at once, before any moderator could look."""
    clean = clean_title(title, settings.max_title_chars)
    findings = find_identifiers(clean)
    if findings:
        raise BadRequest(*(f"The title: {message}" for message in describe(findings)))
    return clean


async def do_edit_post(forum: Forum, user: User | None, post_id: int, edit: PostEdit) -> Written:
    """Edit a post, and with its first post the topic's title."""
    raw, expected_version, title = edit.raw, edit.expected_version, edit.title
    editor = require_author(user, forum.now())
    clean_raw = clean_text(raw, "The post", forum.settings.max_post_chars)
    post, access = await access_post(forum.db, editor, post_id)
    check_edit(editor, post, access)
    new_title = None  # titles belong to the first post; an unchanged one is no change
    if (
        title is not None
        and post.post_number == 1
        and " ".join(title.split()) != access.topic.title
    ):
        new_title = check_title(forum.settings, title)
    if clean_raw == post.raw and new_title is None:
        return Written(post.topic_id, post.id, post.post_number)
    await check_pace(forum.db, forum.settings, editor, "edit", forum.now(), record=False)
    prepared = await prepare(forum.settings, None, clean_raw)
    check_mentions(prepared.cooked)
    # An author taking identifiable data back out of their post: the versions that held it
    # leave the history too.
    had_identifiers = await off_the_loop(len(post.raw), lambda: bool(find_identifiers(post.raw)))
    async with forum.db.transaction() as conn:
        await review_queries.lock_post_item(conn, post_id)  # the order decisions lock in
        post, access = await access_post(conn, editor, post_id)
        check_edit(editor, post, access)
        now = forum.now()
        await check_pace(conn, forum.settings, editor, "edit", now)
        if clean_raw != post.raw:
            holds = await content_holds(
                forum,
                conn,
                clean_raw,
                prepared.privacy,
                confirmed=edit.confirmed,
                watched_version=access.watched_version,
            )
            quoting = await removed_quote_hold(conn, access.topic, clean_raw)
            holds += [quoting] if quoting else []
            # Editing from a stale page must not silently overwrite someone's later edit.
            base = expected_version if expected_version is not None else post.version
            version = await post_queries.update_post_content(
                conn,
                post_id=post_id,
                expected_version=base,
                raw=clean_raw,
                cooked=prepared.cooked,
                now=now,
            )
            if version is None:
                raise Conflict(
                    "This post was changed after you opened it. Please copy your text,"
                    " reload, and edit again."
                )
            await post_queries.insert_revision(
                conn,
                post_id=post_id,
                version=version,
                raw=clean_raw,
                cooked=prepared.cooked,
                user_id=editor.id,
                now=now,
            )
            edited = replace(
                post, raw=clean_raw, cooked=prepared.cooked, edited_at=now, version=version
            )
            shown = replace(edited, hidden_at=now) if holds else edited
            # The topic's channel before the review channel, as decisions publish them: two
            # transactions never wait on each other's channel heads the other way round.
            # Hidden by a hold: the log's copies of the old text go too.
            await publish_post_change(forum, conn, shown, access.topic, scrub=bool(holds))
            if holds:
                await queue_edited_post(forum, conn, edited, access.group.id, holds, now)
                edited = shown
            else:
                await queue_mention_alert(conn, editor, post, edited, now=now)
            await _after_edit(
                forum,
                conn,
                editor,
                post,
                edited,
                access,
                now,
                redact=edit.redact,
                had_identifiers=had_identifiers,
            )
        if new_title is not None:
            await _retitle(forum, conn, editor, access, new_title, now)
    return Written(post.topic_id, post.id, post.post_number)


async def _after_edit(
    forum: Forum,
    conn: Connection,
    editor: User,
    before: Post,
    edited: Post,
    access: TopicAccess,
    now: float,
    *,
    redact: bool,
    had_identifiers: bool,
) -> None:
    """What the edit means for what readers could still reach of the old text."""
    by_moderator = is_staff(editor) and editor.id != before.user_id
    if by_moderator:
        await record_action(
            conn,
            actor_id=editor.id,
            action="edit_post",
            post_id=before.id,
            topic_id=before.topic_id,
            group_id=access.group.id,
            target_user_id=before.user_id,
            note="earlier versions removed" if redact else "",
            now=now,
        )
    # Held or not, what the edit took out leaves the history: approving a post held for
    # something else (a watched word) must not bring back what was removed for safety.
    if by_moderator and redact:
        await redact_history(forum, conn, edited, access.topic, by=editor.id, now=now)
    elif had_identifiers:
        await redact_history(
            forum, conn, edited, access.topic, by=editor.id, now=now, only_identifying=True
        )


async def _retitle(
    forum: Forum,
    conn: Connection,
    editor: User,
    access: TopicAccess,
    title: str,
    now: float,
) -> None:
    """A new title everywhere the old one was: the topic, its address, and the topic rows the
    live log keeps (a reader resuming a list is not sent the old title)."""
    topic = replace(access.topic, title=title, slug=slugify(title))
    await topic_queries.set_title(conn, topic.id, topic.title, topic.slug)
    await replace_topic_rows(
        conn, topic.id, topic.group_id, title, forum.renderer.render_topic_row(topic)
    )
    # Its page and lists are made afresh at once: a title may be retitled for privacy.
    await forum.publish(conn, TopicChanged(topic.id, topic.group_id, on_topic=True))
    if editor.id != topic.user_id:
        # Never the old title in the note: it may be what had to go.
        await record_action(
            conn,
            actor_id=editor.id,
            action="retitle",
            topic_id=topic.id,
            group_id=topic.group_id,
            target_user_id=topic.user_id,
            now=now,
        )
