"""Topics and posts: start a topic, reply, edit (keeping every revision), close and pin.

Every write checks the cheap things first: who is writing (signed in, not silenced), the
size of the text as received, the right to write here and the pace. Only then the costly
steps (markdown, the identifiable-data scan). A short text (most posts) is checked and
cooked inside the write's transaction, on the loop: a fraction of a millisecond. A long one
is checked on plain reads first, cooked on the content thread before the transaction (which
holds SQLite's write lock), and checked again inside it, so nothing that changed meanwhile
slips through. Markdown is cooked once, here; pages never render it again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from forum.access import GroupAccess, TopicAccess, access_group, access_topic
from forum.actions import idempotent
from forum.actions.debate_state import check_answer
from forum.actions.drafts import Draft, Text, Writing
from forum.actions.holds import hold_if_needed
from forum.actions.idempotent import Outcome, Written
from forum.actions.notify import queue_alert
from forum.actions.places import PostPlace, record_answer
from forum.actions.validation import clean_text, clean_title, slugify
from forum.auth import is_silenced
from forum.content import cook
from forum.content.offload import is_inline, off_the_loop
from forum.context import Forum
from forum.db import Connection
from forum.errors import BadRequest, Forbidden, NotAuthenticated
from forum.events import (
    Event,
    PostCreated,
    TopicAnswered,
    TopicBumped,
    TopicChanged,
    TopicCreated,
)
from forum.moderation import Hold, post_text, privacy_hold
from forum.notices import check_mentions
from forum.pace import check_pace, check_pace_read, pace_lock, pace_read, slow_mode_label
from forum.permissions import (
    can_moderate,
    can_reply,
    can_start_topic,
    post_facts,
)
from forum.queries import debates as debate_queries
from forum.queries import posts as post_queries
from forum.queries import saved_drafts as draft_queries
from forum.queries import topics as topic_queries
from forum.queries.audit import record_action
from forum.queries.debates import Answering
from forum.queries.posts import NewPost, Post
from forum.queries.topics import Topic
from forum.queries.users import User
from forum.rendering import long_date, participants_label, posts_label
from forum.settings import Settings, image_host_set


@dataclass(frozen=True)
class Posted(Written):
    """A post just published, as a reader would now read it, and its topic as the write left
    it: what the API answers and where the composer lands, with no read after the write. (A
    request sent again with its idempotency key gets a plain Written, read again for it.)"""

    post: Post
    topic: Topic


@dataclass(frozen=True)
class WrittenPost:
    """A post just written, its live event, which the caller publishes with its own (one
    statement for all), and its topic's count of posts with it."""

    written: Posted  # its topic as it was before the write: the caller knows what changed
    created: PostCreated | None  # None: a debate's description or question (see places.py)
    posts_count: int
    answered: bool = False  # the topic's first reply from someone other than its author


@dataclass(frozen=True)
class Prepared:
    """What the costly steps made of a text: its HTML and the identifiable-data finding."""

    cooked: str
    privacy: Hold | None


def prepare_now(settings: Settings, title: str | None, raw: str) -> Prepared:
    """Cook the text and scan it (with its title) for identifiable data, here. Raises
    BadRequest for markdown nested too deeply to show."""
    cooked = cook(raw, image_host_set(settings))
    check_mentions(cooked)
    return Prepared(cooked, privacy_hold(post_text(title, raw)))


async def prepare(settings: Settings, title: str | None, raw: str) -> Prepared:
    """prepare_now, off the event loop when the text is long."""
    return await off_the_loop(len(post_text(title, raw)), lambda: prepare_now(settings, title, raw))


def cooks_inline(title: str | None, raw: str | None) -> bool:
    """Whether a draft is short enough to be cooked inside its write's transaction, after
    the checks there, with no checks on reads before it (see the module's docstring). Its
    length as sent: the checks that clean it come later."""
    return is_inline(len(post_text(title, raw)))


def require_author(user: User | None, now: float) -> User:
    """Signed in and not silenced by a moderator (as of `now`): may write (post, edit, flag)."""
    if user is None:
        raise NotAuthenticated("Please log in to post.")
    if is_silenced(user, now):
        assert user.silenced_until is not None
        raise Forbidden(
            f"A moderator has paused your posting until {long_date(user.silenced_until)}."
            " You can still read."
        )
    return user


def check_new_topic(
    forum: Forum, user: User | None, access: GroupAccess, draft: Draft
) -> tuple[str, str]:
    """The draft's title and text, cleaned, if this user may start a topic here."""
    settings = forum.settings
    user = require_author(user, forum.now())
    if not can_start_topic(user, access.group, access.membership):
        raise Forbidden("You cannot start topics in this group.")
    errors: list[str] = []  # both fields' problems at once, so the author fixes them together
    title_text = raw_text = ""
    try:
        title_text = clean_title(draft.title, settings.max_title_chars)
    except BadRequest as error:
        errors += error.messages
    try:
        raw_text = clean_text(draft.raw, "The post", settings.max_post_chars)
    except BadRequest as error:
        errors += error.messages
    if errors:
        raise BadRequest(*errors)
    return title_text, raw_text


async def do_new_topic(forum: Forum, user: User | None, group_id: int, draft: Draft) -> Outcome:
    """Start a topic, or hold it for review (forum/actions/holds.py)."""
    # Cheap checks first: who, size, where, pace; for a long text on reads, before cooking it
    # on the content thread (see the module's docstring).
    author = require_author(user, forum.now())
    key = idempotent.Key.of(draft.idempotency_key, "topic", group_id, draft.title, draft.raw)
    prepared: Prepared | None = None
    if not cooks_inline(draft.title, draft.raw):
        async with forum.db.reads() as reads:  # one pooled connection for these reads
            if before := await idempotent.made_before(reads, author, key):
                return before
            access = await access_group(reads, author, group_id=group_id)
            title, raw = check_new_topic(forum, author, access, draft)
            await check_pace(reads, forum.settings, author, "topic", forum.now(), record=False)
        prepared = await prepare(forum.settings, title, raw)
    # The permission check reads and the write happen in one transaction, so a change of
    # rights between them cannot slip a post through.
    async with forum.db.transaction(locks=[pace_lock(author)]) as conn:
        now = forum.now()
        if raced := await idempotent.claim(conn, author, key, now):
            return raced
        access = await access_group(conn, user, group_id=group_id)
        title, raw = check_new_topic(forum, user, access, draft)
        await check_pace(conn, forum.settings, author, "topic", now)
        if prepared is None:
            prepared = prepare_now(forum.settings, title, raw)
        writing = Writing(
            author=author,
            group=access.group,
            membership=access.membership,
            topic=None,
            title=title,
            text=Text(raw, prepared.cooked),
            reply_to_post_number=None,
            privacy=prepared.privacy,
            confirmed=draft.confirmed,
        )
        result = await hold_if_needed(forum, conn, writing, now) or await publish_topic(
            forum, conn, author, group_id, title, writing.text, now
        )
        await idempotent.remember(conn, author, key, result)
        # Sent, published or held: the draft it was is done with (actions/saved_drafts.py).
        await draft_queries.delete_draft(conn, author.id, draft_queries.new_topic_key(group_id))
        return result


async def publish_topic(
    forum: Forum,
    conn: Connection,
    author: User,
    group_id: int,
    title: str,
    text: Text,
    now: float,
    *,
    kind: str = "discussion",
    slow_mode_seconds: int = 0,
) -> Posted:
    """Write a checked (or approved) topic and its first post, with their live events.
    `kind` "debate": a hosted debate's topic (forum/actions/debates.py)."""
    topic_id = await topic_queries.insert_topic(
        conn,
        group_id=group_id,
        title=title,
        slug=slugify(title),
        user_id=author.id,
        now=now,
        kind=kind,
        slow_mode_seconds=slow_mode_seconds,
    )
    topic = await topic_queries.get_topic(conn, topic_id)
    assert topic is not None
    made = await _write_post(forum, conn, author, topic, text, None, now, opens_topic=True)
    written = made.written
    opened = replace(topic, highest_post_number=written.post_number)
    row = forum.renderer.render_topic_row(opened)
    listed = TopicCreated(topic_id, group_id, title, author.username, row)
    await queue_alert(conn, author, topic, written.post_id, written.post_number, now=now)
    await forum.publish(conn, *(e for e in (made.created, listed) if e is not None))
    return replace(written, topic=opened)


def check_reply(forum: Forum, user: User | None, access: TopicAccess, draft: Draft) -> str:
    """The draft's text, cleaned, if this user may reply in this topic."""
    settings = forum.settings
    user = require_author(user, forum.now())
    if access.topic.closed and not can_reply(user, access.group, access.membership, access.topic):
        raise Forbidden("This topic is closed to new replies.")
    if not can_reply(user, access.group, access.membership, access.topic):
        raise Forbidden("You cannot reply in this group.")
    to = draft.reply_to_post_number
    if to is not None and not (1 <= to <= access.topic.highest_post_number):
        raise BadRequest("The post you are replying to is not in this topic.")
    return clean_text(draft.raw, "The reply", settings.max_post_chars)


async def do_reply(forum: Forum, user: User | None, topic_id: int, draft: Draft) -> Outcome:
    """Reply, or hold the reply for review (forum/actions/holds.py)."""
    # Cheap checks first: who, size, where, pace; for a long text on reads, before cooking it
    # on the content thread (see the module's docstring).
    author = require_author(user, forum.now())
    to = draft.reply_to_post_number
    key = idempotent.Key.of(draft.idempotency_key, "reply", topic_id, to, draft.raw)
    prepared: Prepared | None = None
    if not cooks_inline(None, draft.raw):
        async with forum.db.reads() as reads:  # one pooled connection for these reads
            if before := await idempotent.made_before(reads, author, key):
                return before
            clean_text(draft.raw, "The reply", forum.settings.max_post_chars)
            # The pace window is read with the topic: one statement for both checks.
            now = forum.now()
            pace = pace_read(forum.settings, author, "post", now, topic_id=topic_id)
            access = await access_topic(reads, author, topic_id, along=pace)
            hosts = await debate_hosts(reads, access.topic)
        exempt = sets_own_pace(author, access.membership, hosts)
        raw = check_reply(forum, author, access, draft)
        await check_pace_read(
            access.along,
            forum.settings,
            author,
            "post",
            now,
            topic=access.topic,
            moderates=exempt,
        )
        prepared = await prepare(forum.settings, None, raw)
    async with forum.db.transaction(locks=[pace_lock(author)]) as conn:
        now = forum.now()
        if raced := await idempotent.claim(conn, author, key, now):
            return raced
        # The checks (again, for a long text), the pace counted: one statement (the lock
        # taken with BEGIN). A short text is cooked only once they pass.
        pace = pace_read(forum.settings, author, "post", now, topic_id=topic_id, counting=conn)
        access = await access_topic(conn, user, topic_id, along=pace)
        answering = None
        if access.topic.is_debate:  # answers only, to revealed questions, while it is live
            answering = await check_answer(forum, conn, access, to, now)
        raw = check_reply(forum, user, access, draft)
        await check_pace_read(
            access.along,
            forum.settings,
            author,
            "post",
            now,
            topic=access.topic,
            moderates=sets_own_pace(
                author, access.membership, answering.hosts if answering else ()
            ),
            counting=conn,
        )
        if prepared is None:
            prepared = prepare_now(forum.settings, None, raw)
        writing = Writing(
            author=author,
            group=access.group,
            membership=access.membership,
            topic=access.topic,
            title=None,
            text=Text(raw, prepared.cooked),
            reply_to_post_number=to,
            privacy=prepared.privacy,
            confirmed=draft.confirmed,
            watched_version=access.watched_version,
        )
        result = await hold_if_needed(forum, conn, writing, now) or await publish_reply(
            forum, conn, author, access.topic, writing.text, to, now, answering=answering
        )
        await idempotent.remember(conn, author, key, result)
        # Sent, published or held: the draft it was is done with (actions/saved_drafts.py).
        await draft_queries.delete_draft(conn, author.id, draft_queries.reply_key(topic_id))
        return result


async def publish_reply(
    forum: Forum,
    conn: Connection,
    author: User,
    topic: Topic,
    text: Text,
    reply_to_post_number: int | None,
    now: float,
    *,
    answering: Answering | None = None,
) -> Posted:
    """Write a checked (or approved) reply, bump its topic, and publish both live.
    `answering`: in a debate, what the reply answers, as its checks found it."""
    made = await _write_post(
        forum,
        conn,
        author,
        topic,
        text,
        reply_to_post_number,
        now,
        opens_topic=False,
        answering=answering,
    )
    written = made.written
    bumped = replace(
        topic,
        reply_count=made.posts_count - 1,
        highest_post_number=written.post_number,
        bumped_at=now,
        last_poster_username=author.username,
    )
    row = forum.renderer.render_topic_row(bumped)
    listed = TopicBumped(topic.id, topic.group_id, written.post_number, author.username, row)
    created: tuple[Event, ...] = () if made.created is None else (made.created,)
    if made.answered and not topic.is_debate:
        waiting = await topic_queries.was_waiting(conn, topic.id, now)
        created += (TopicAnswered(topic.id, topic.group_id, waiting),)
    await queue_alert(conn, author, topic, written.post_id, written.post_number, now=now)
    await forum.publish(conn, *created, listed)
    return replace(written, topic=bumped)


async def _write_post(
    forum: Forum,
    conn: Connection,
    author: User,
    topic: Topic,
    text: Text,
    reply_to_post_number: int | None,
    now: float,
    *,
    opens_topic: bool,
    answering: Answering | None = None,
) -> WrittenPost:
    """Write one post and its first revision (bumping its topic, counting it for its author
    and group; in a debate, as an answer if it replies to a question)."""
    new = NewPost(
        topic.id,
        topic.group_id,
        author.id,
        text.raw,
        text.cooked,
        reply_to_post_number,
        opens_topic=opens_topic,
    )
    published = await post_queries.write_post(conn, new, now)
    post_id, number = published.post_id, published.post_number
    post = Post(
        post_id,
        topic.id,
        number,
        author.id,
        author.username,
        author.badge,
        text.raw,
        text.cooked,
        reply_to_post_number,
        now,
        None,
        1,
        badge_verified=author.badge_verified_at is not None,
        author_role=author.role,
        first_in_group=published.first_in_group,
        group_role=published.group_role,
        picture_version=published.picture_version,
    )
    place, counted = PostPlace(post_facts(post, topic)), None
    event: PostCreated | None = None
    if topic.is_debate and reply_to_post_number is not None:
        place, counted = await record_answer(conn, topic, post, answering)
    if not topic.is_debate or place.answer:  # a debate's description and questions: no
        event = PostCreated(
            topic.id,
            topic.group_id,
            post_id,
            number,
            author.username,
            place.render(forum, post, topic),
            place.facts,
            posts_label(published.posts_count),
            place.debate_id,
            place.question,
            counted,
            participants_label(counted) if counted is not None else None,
        )
    return WrittenPost(
        Posted(topic.id, post_id, number, post, topic),
        event,
        published.posts_count,
        published.answered,
    )


async def do_set_topic_status(
    forum: Forum,
    user: User | None,
    topic_id: int,
    *,
    closed: bool | None = None,
    pinned: bool | None = None,
) -> None:
    async with forum.db.transaction() as conn:
        access = await access_topic(conn, user, topic_id)
        if not can_moderate(user, access.membership):
            raise Forbidden("Only moderators and the group's conveners can close or pin topics.")
        if closed is not None:
            await topic_queries.set_closed(conn, topic_id, closed)
        if pinned is not None:
            await topic_queries.set_pinned(conn, topic_id, pinned)
        await forum.publish(conn, TopicChanged(topic_id, access.group.id, on_topic=True))


def sets_own_pace(user: User | None, membership: str | None, hosts: tuple[int, ...]) -> bool:
    """Slow mode is not for the group's moderators, nor for a debate's hosts (`hosts`: its
    hosts' ids, empty elsewhere): they set it, and post follow-ups at their own pace."""
    return can_moderate(user, membership) or (user is not None and user.id in hosts)


async def debate_hosts(conn: Connection, topic: Topic) -> tuple[int, ...]:
    """The hosts of the debate this topic is, if it is one."""
    if not topic.is_debate:
        return ()
    debate_id = await debate_queries.get_debate_id_of_topic(conn, topic.id)
    return await debate_queries.host_ids(conn, debate_id) if debate_id is not None else ()


async def do_set_slow_mode(forum: Forum, user: User | None, topic_id: int, seconds: int) -> None:
    """Let each person post in the topic once every `seconds` (0: off); kept in the audit log."""
    label = slow_mode_label(seconds)
    if label is None:
        raise BadRequest("Choose one of the slow-mode settings offered.")
    async with forum.db.transaction() as conn:
        access = await access_topic(conn, user, topic_id)
        if not sets_own_pace(user, access.membership, await debate_hosts(conn, access.topic)):
            raise Forbidden("Only moderators and the group's conveners can set slow mode.")
        actor = require_author(user, forum.now())
        if access.topic.slow_mode_seconds == seconds:
            return
        await topic_queries.set_slow_mode(conn, topic_id, seconds)
        await forum.publish(conn, TopicChanged(topic_id, access.group.id, on_topic=True))
        await record_action(
            conn,
            actor_id=actor.id,
            action="slow_mode",
            topic_id=topic_id,
            group_id=access.group.id,
            note=label,
            now=forum.now(),
        )
