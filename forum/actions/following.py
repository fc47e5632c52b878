"""What a member chooses to be told of: how closely they follow a topic or a group, whom they
mute, and which notifications they have read. Each is a small write of the member's own rows,
limited per person (`follow_changes_per_minute`), and needs the right to read what it is about
(a private group's topic is a 404 to others, as everywhere)."""

from __future__ import annotations

from forum import emails
from forum.access import access_group, access_topic
from forum.context import Forum
from forum.db import Connection
from forum.errors import BadRequest, NotAuthenticated, NotFound, RateLimited
from forum.events import NotificationsRead
from forum.permissions import is_staff
from forum.queries import notifications as queries
from forum.queries import outbox
from forum.queries import reading as reading_queries
from forum.queries import users as user_queries
from forum.queries.notifications import Level
from forum.queries.users import User

# Level names as forms and Discourse clients send them ("regular" is Discourse's "normal").
LEVEL_WORDS = {
    "muted": Level.MUTED,
    "normal": Level.NORMAL,
    "regular": Level.NORMAL,
    "tracking": Level.TRACKING,
    "watching": Level.WATCHING,
}


def parse_level(value: str | None) -> Level:
    """A level from a form or a client: its name or its number (0 to 3)."""
    text = (value or "").strip().lower()
    if text in LEVEL_WORDS:
        return LEVEL_WORDS[text]
    if text in ("0", "1", "2", "3"):
        return Level(int(text))
    raise BadRequest("Choose how closely to follow: watching, tracking, normal or muted.")


def _member(forum: Forum, user: User | None) -> User:
    if user is None:
        raise NotAuthenticated("Please log in to choose what you are told of.")
    wait = forum.follow_limits.take(
        f"follow:{user.id}", forum.settings.follow_changes_per_minute, 60
    )
    if wait:
        raise RateLimited("That was a lot of changes at once. Please wait.", wait_seconds=wait)
    return user


async def do_set_topic_level(forum: Forum, user: User | None, topic_id: int, level: Level) -> None:
    member = _member(forum, user)
    async with forum.db.transaction() as conn:
        await access_topic(conn, member, topic_id)  # a 404 for a topic they may not read
        await queries.set_topic_level(conn, member.id, topic_id, level, forum.now())


async def do_set_group_level(forum: Forum, user: User | None, group_id: int, level: Level) -> None:
    member = _member(forum, user)
    async with forum.db.transaction() as conn:
        await access_group(conn, member, group_id=group_id)
        await queries.set_group_level(conn, member.id, group_id, level)


async def do_mute_user(forum: Forum, user: User | None, username: str, muted: bool) -> User:
    """Mute (or unmute) another member: nothing they post notifies `user`. Staff cannot be
    muted: moderators must be able to reach everyone."""
    member = _member(forum, user)
    async with forum.db.transaction() as conn:
        other = await user_queries.get_user_by_username(conn, username)
        if other is None:
            raise NotFound("There is no member of that name.")
        if other.id == member.id:
            raise BadRequest("You cannot mute yourself.")
        if muted and is_staff(other):
            raise BadRequest("Moderators and administrators cannot be muted.")
        await queries.set_muted(conn, member.id, other.id, muted, forum.now())
        return other


async def do_mark_read(forum: Forum, user: User | None, notification_id: int | None) -> int:
    """One notification read, or all (`None`); returns the unread count after. Every open
    page of the member's hears the new count."""
    member = _member(forum, user)
    async with forum.db.transaction() as conn:
        if notification_id is not None:
            found = await queries.get_notification(conn, member.id, notification_id)
            if found is None:
                raise NotFound("There is no such notification.")
        changed = await queries.mark_read(conn, member.id, notification_id)
        unread = await queries.count_unread(conn, member.id)
        if changed:
            ids = (notification_id,) if notification_id is not None else ()
            await forum.publish(conn, NotificationsRead(member.id, unread, ids))
        return unread


async def do_record_reading(forum: Forum, user: User | None, topic_id: int, upto: int) -> None:
    """The member has read a topic up to post `upto` (the page reports it as they scroll, or
    as it loads without JavaScript): their place moves on, and what they were told of those
    posts is read. Reports come every few seconds from each open page: paced per person
    (`read_reports_per_minute`), and a report that moves nothing writes nothing."""
    if user is None:
        raise NotAuthenticated("Please log in to keep your place.")
    wait = forum.follow_limits.take(f"read:{user.id}", forum.settings.read_reports_per_minute, 60)
    if wait:
        raise RateLimited("Too many reading reports at once. Please wait.", wait_seconds=wait)
    async with forum.db.transaction() as conn:
        access = await access_topic(conn, user, topic_id)
        upto = min(upto, access.topic.highest_post_number)
        if upto < 1:
            return
        if await reading_queries.record_read(conn, user.id, topic_id, upto, forum.now()):
            await mark_seen(forum, conn, user, topic_id, range(1, upto + 1))


async def mark_seen(
    forum: Forum, conn: Connection, user: User, topic_id: int, posts: range | None
) -> int | None:
    """The member has seen `posts` of a topic (None: all of a debate's page): what they were
    told of those is read; their unread count after, if it changed. Called by the topic and
    debate pages, in their own transaction, only when there is something to mark (a page
    view is otherwise a pure read)."""
    if not await queries.mark_topic_read(conn, user.id, topic_id, posts):
        return None
    unread = await queries.count_unread(conn, user.id)
    await forum.publish(conn, NotificationsRead(user.id, unread, ()))
    return unread


# --- email -----------------------------------------------------------------------------------


async def do_set_email_prefs(
    forum: Forum, user: User | None, *, immediate: bool, digest: str
) -> None:
    member = _member(forum, user)
    if digest not in outbox.DIGESTS:
        raise BadRequest("Choose a digest: off, daily or weekly.")
    async with forum.db.transaction() as conn:
        await outbox.set_prefs(conn, member.id, immediate=immediate, digest=digest)


async def do_unsubscribe(forum: Forum, token: str) -> str:
    """One-click unsubscribe from an email's link (no login: the link's signature is the
    proof); which kind of email was turned off. A bad or forged link is a 404."""
    found = emails.read_unsubscribe_token(forum.settings.secret_key, token)
    if found is None:
        raise NotFound("That unsubscribe link is not valid.")
    user_id, what = found
    async with forum.db.transaction() as conn:
        if await user_queries.get_user(conn, user_id) is None:
            raise NotFound("That unsubscribe link is not valid.")
        if what == "immediate":
            await outbox.set_prefs(conn, user_id, immediate=False)
        else:
            await outbox.set_prefs(conn, user_id, digest="off")
    return what
