"""Topics and posts: start a topic, reply, edit (keeping every revision), close and pin.

Markdown is cooked once, here, before the transaction; pages never render it again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from forum.access import GroupAccess, TopicAccess, access_group, access_post, access_topic
from forum.actions.holds import Held, content_holds, hold_if_needed, queue_edited_post
from forum.actions.validation import clean_text, slugify
from forum.content import cook
from forum.db import Connection, Database
from forum.errors import BadRequest, Conflict, Forbidden, NotAuthenticated
from forum.events import PostCreated, PostEdited, TopicBumped, TopicCreated, publish
from forum.moderation import post_text, privacy_hold
from forum.pace import check_pace, slow_mode_label
from forum.permissions import can_edit_post, can_moderate, can_reply, can_start_topic
from forum.queries import groups as group_queries
from forum.queries import posts as post_queries
from forum.queries import review as review_queries
from forum.queries import topics as topic_queries
from forum.queries.audit import record_action
from forum.queries.posts import Post
from forum.queries.topics import Topic
from forum.queries.users import User
from forum.rendering import Renderer, long_date
from forum.settings import Settings


@dataclass(frozen=True)
class Written:
    """What a write produced, for redirects and API responses."""

    topic_id: int
    post_id: int
    post_number: int


def _require_user(user: User | None) -> User:
    if user is None:
        raise NotAuthenticated("Please log in to post.")
    if user.silenced_until and user.silenced_until > time.time():
        raise Forbidden(
            f"A moderator has paused your posting until {long_date(user.silenced_until)}."
            " You can still read."
        )
    return user


def check_new_topic(
    settings: Settings, user: User | None, access: GroupAccess, title: str | None, raw: str | None
) -> tuple[str, str]:
    user = _require_user(user)
    if not can_start_topic(user, access.group, access.membership):
        raise Forbidden("You cannot start topics in this group.")
    errors: list[str] = []
    clean_title = clean_raw = ""
    for label, value, limit, multiline in (
        ("The title", title, settings.max_title_chars, False),
        ("The post", raw, settings.max_post_chars, True),
    ):
        try:
            cleaned = clean_text(value, label, limit, multiline=multiline)
        except BadRequest as error:
            errors += error.messages
            continue
        if label == "The title":
            clean_title = " ".join(cleaned.split())
        else:
            clean_raw = cleaned
    if errors:
        raise BadRequest(*errors)
    return clean_title, clean_raw


async def do_new_topic(
    db: Database,
    renderer: Renderer,
    settings: Settings,
    user: User | None,
    group_id: int,
    title: str | None,
    raw: str | None,
    *,
    confirmed: bool = True,
) -> Written | Held:
    """Start a topic, or hold it for review (forum/actions/holds.py). `confirmed`: the author
    has seen the identifiable-data warning and posts anyway."""
    # The permission check reads and the write happen in one transaction, so a change of
    # rights between them cannot slip a post through. Markdown is cooked before the lock.
    precooked = _cook_if_valid(raw, settings.max_post_chars)
    privacy = privacy_hold(post_text(title, raw))
    async with db.transaction() as conn:
        access = await access_group(conn, user, group_id=group_id)
        clean_title, clean_raw = check_new_topic(settings, user, access, title, raw)
        author = _require_user(user)
        cooked, now = precooked or cook(clean_raw), time.time()
        await check_pace(conn, settings, author, "topic", now)
        held = await hold_if_needed(
            conn,
            renderer,
            author=author,
            group=access.group,
            membership=access.membership,
            topic=None,
            title=clean_title,
            raw=clean_raw,
            cooked=cooked,
            reply_to_post_number=None,
            privacy=privacy,
            confirmed=confirmed,
            now=now,
        )
        if held:
            return held
        return await publish_topic(
            conn, renderer, author, group_id, clean_title, clean_raw, cooked, now
        )


async def publish_topic(
    conn: Connection,
    renderer: Renderer,
    author: User,
    group_id: int,
    title: str,
    raw: str,
    cooked: str,
    now: float,
) -> Written:
    """Write a checked (or approved) topic and its first post, with their live events."""
    topic_id = await topic_queries.insert_topic(
        conn, group_id=group_id, title=title, slug=slugify(title), user_id=author.id, now=now
    )
    await group_queries.add_to_group_counts(conn, group_id, topics=1, posts=1)
    topic = await topic_queries.get_topic(conn, topic_id)
    assert topic is not None
    written = await _write_post(conn, renderer, author, topic, group_id, raw, cooked, None, now)
    row = renderer.render_topic_row(replace(topic, highest_post_number=written.post_number))
    await publish(conn, TopicCreated(topic_id, group_id, title, author.username, row))
    return written


def check_reply(
    settings: Settings,
    user: User | None,
    access: TopicAccess,
    raw: str | None,
    reply_to_post_number: int | None,
) -> str:
    user = _require_user(user)
    if access.topic.closed and not can_reply(user, access.group, access.membership, access.topic):
        raise Forbidden("This topic is closed to new replies.")
    if not can_reply(user, access.group, access.membership, access.topic):
        raise Forbidden("You cannot reply in this group.")
    if reply_to_post_number is not None and not (
        1 <= reply_to_post_number <= access.topic.highest_post_number
    ):
        raise BadRequest("The post you are replying to is not in this topic.")
    return clean_text(raw, "The reply", settings.max_post_chars)


async def do_reply(
    db: Database,
    renderer: Renderer,
    settings: Settings,
    user: User | None,
    topic_id: int,
    raw: str | None,
    reply_to_post_number: int | None = None,
    *,
    confirmed: bool = True,
) -> Written | Held:
    """Reply, or hold the reply for review (forum/actions/holds.py)."""
    # Cook before taking the write lock: markdown is the costliest step of a reply, and on
    # SQLite every writer waits while a transaction is open. check_reply still rules inside.
    cooked = _cook_if_valid(raw, settings.max_post_chars)
    privacy = privacy_hold(post_text(None, raw))
    async with db.transaction() as conn:
        access = await access_topic(conn, user, topic_id)
        clean_raw = check_reply(settings, user, access, raw, reply_to_post_number)
        author, now = _require_user(user), time.time()
        await check_pace(
            conn,
            settings,
            author,
            "post",
            now,
            topic=access.topic,
            moderates=can_moderate(author, access.membership),
        )
        cooked = cooked or cook(clean_raw)
        held = await hold_if_needed(
            conn,
            renderer,
            author=author,
            group=access.group,
            membership=access.membership,
            topic=access.topic,
            title=None,
            raw=clean_raw,
            cooked=cooked,
            reply_to_post_number=reply_to_post_number,
            privacy=privacy,
            confirmed=confirmed,
            now=now,
        )
        if held:
            return held
        return await publish_reply(
            conn, renderer, author, access.topic, clean_raw, cooked, reply_to_post_number, now
        )


async def publish_reply(
    conn: Connection,
    renderer: Renderer,
    author: User,
    topic: Topic,
    raw: str,
    cooked: str,
    reply_to_post_number: int | None,
    now: float,
) -> Written:
    """Write a checked (or approved) reply, bump its topic, and publish both live."""
    written = await _write_post(
        conn, renderer, author, topic, topic.group_id, raw, cooked, reply_to_post_number, now
    )
    await group_queries.add_to_group_counts(conn, topic.group_id, topics=0, posts=1)
    bumped = replace(
        topic,
        reply_count=topic.reply_count + 1,
        highest_post_number=written.post_number,
        bumped_at=now,
        last_poster_username=author.username,
    )
    await publish(
        conn,
        TopicBumped(
            topic.id,
            topic.group_id,
            written.post_number,
            author.username,
            renderer.render_topic_row(bumped),
        ),
    )
    return written


def _cook_if_valid(raw: str | None, max_chars: int) -> str | None:
    try:
        return cook(clean_text(raw, "The post", max_chars))
    except BadRequest:
        return None  # the check inside the transaction reports it, in its proper order


async def _write_post(
    conn: Connection,
    renderer: Renderer,
    author: User,
    topic: Topic,
    group_id: int,
    raw: str,
    cooked: str,
    reply_to_post_number: int | None,
    now: float,
) -> Written:
    topic_id = topic.id
    number = await topic_queries.next_post_number(conn, topic_id, author.id, now)
    post_id = await post_queries.insert_post(
        conn,
        topic_id=topic_id,
        post_number=number,
        user_id=author.id,
        raw=raw,
        cooked=cooked,
        reply_to_post_number=reply_to_post_number,
        now=now,
    )
    await post_queries.insert_revision(
        conn, post_id=post_id, version=1, raw=raw, cooked=cooked, user_id=author.id, now=now
    )
    # Published or approved posts count towards the end of the new-account hold.
    await review_queries.count_approved_post(conn, author.id)
    post = Post(
        post_id,
        topic_id,
        number,
        author.id,
        author.username,
        author.badge,
        raw,
        cooked,
        reply_to_post_number,
        now,
        None,
        1,
    )
    html = renderer.render_post(post, topic)
    await publish(conn, PostCreated(topic_id, group_id, post_id, number, author.username, html))
    return Written(topic_id, post_id, number)


async def do_edit_post(
    db: Database,
    renderer: Renderer,
    settings: Settings,
    user: User | None,
    post_id: int,
    raw: str | None,
    expected_version: int | None,
    *,
    confirmed: bool = True,
) -> Written:
    """Edit a post, keeping every revision. An edit that the identifiable-data check or a
    watched word catches hides the post until a moderator has looked at it."""
    editor = _require_user(user)
    clean_raw = clean_text(raw, "The post", settings.max_post_chars)
    cooked, privacy = cook(clean_raw), privacy_hold(clean_raw)
    async with db.transaction() as conn:
        post, access = await access_post(conn, editor, post_id)
        if not can_edit_post(editor, post, access.topic):
            raise Forbidden("You can only edit your own posts.")
        if clean_raw == post.raw:
            return Written(post.topic_id, post.id, post.post_number)
        holds = await content_holds(conn, clean_raw, privacy, confirmed=confirmed)
        # Editing from a stale page must not silently overwrite someone's later edit.
        base = expected_version if expected_version is not None else post.version
        now = time.time()
        await check_pace(conn, settings, editor, "edit", now)
        version = await post_queries.update_post_content(
            conn, post_id=post_id, expected_version=base, raw=clean_raw, cooked=cooked, now=now
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
            cooked=cooked,
            user_id=editor.id,
            now=now,
        )
        edited = replace(post, raw=clean_raw, cooked=cooked, edited_at=now, version=version)
        if holds:
            await queue_edited_post(conn, renderer, edited, access.group.id, holds, now)
            edited = replace(edited, hidden_at=now)
        html = renderer.render_post(edited, access.topic)
        await publish(
            conn,
            PostEdited(
                post.topic_id,
                access.group.id,
                post.id,
                post.post_number,
                post.username,
                version,
                html,
            ),
        )
    return Written(post.topic_id, post.id, post.post_number)


async def do_set_topic_status(
    db: Database,
    user: User | None,
    topic_id: int,
    *,
    closed: bool | None = None,
    pinned: bool | None = None,
) -> None:
    async with db.transaction() as conn:
        access = await access_topic(conn, user, topic_id)
        if not can_moderate(user, access.membership):
            raise Forbidden("Only moderators and the group's conveners can close or pin topics.")
        if closed is not None:
            await topic_queries.set_closed(conn, topic_id, closed)
        if pinned is not None:
            await topic_queries.set_pinned(conn, topic_id, pinned)


async def do_set_slow_mode(db: Database, user: User | None, topic_id: int, seconds: int) -> None:
    """Let each person post in the topic once every `seconds` (0: off); kept in the audit log."""
    label = slow_mode_label(seconds)
    if label is None:
        raise BadRequest("Choose one of the slow-mode settings offered.")
    async with db.transaction() as conn:
        access = await access_topic(conn, user, topic_id)
        if not can_moderate(user, access.membership):
            raise Forbidden("Only moderators and the group's conveners can set slow mode.")
        actor = _require_user(user)
        if access.topic.slow_mode_seconds == seconds:
            return
        await topic_queries.set_slow_mode(conn, topic_id, seconds)
        await record_action(
            conn,
            actor_id=actor.id,
            action="slow_mode",
            topic_id=topic_id,
            group_id=access.group.id,
            note=label,
            now=time.time(),
        )
