"""Who is told of what, written in the same transaction as what they are told of.

A published post (a reply, a new topic, an approved held post) tells the people it mentions,
the author of the post it replies to, the authors of posts it quotes, the members who watch
its topic and, for a new topic, those who watch its group: each once, for the strongest
reason, and only if they may read it and have not muted its author, its topic or its group
(forum/queries/notifications.notify_post: one statement). Writing in a topic watches it.
Each person told gets a `notification.created` event on their private channel with the
bell's new count. Moderation outcomes and debate reminders are kept the same way.

In a hosted debate only mentions notify: every answer replies to a host's question, and
hundreds of participants watching each other's answers would drown every bell.
"""

from __future__ import annotations

import json
from typing import Any

from forum.context import Forum
from forum.db import Connection
from forum.events import Event, NotificationCreated
from forum.notices import MAX_MENTIONS, mentioned_names, notification_text, quoted_numbers
from forum.queries import notifications as queries
from forum.queries import outbox
from forum.queries import posts as post_queries
from forum.queries import topics as topic_queries
from forum.queries import users as user_queries
from forum.queries.notifications import Kind, Notification, Notified, PostNotice
from forum.queries.posts import Post
from forum.queries.topics import Topic
from forum.queries.users import User


async def queue_alert(
    conn: Connection, author: User, topic: Topic, post_id: int, post_number: int, *, now: float
) -> None:
    """In a post's own transaction: its author watches the topic (they started or replied to
    it; not in a hosted debate) and has read it to their post, and the post waits for the
    alerter (forum/alerter.py) to tell whoever it concerns."""
    if not topic.is_debate:
        await queries.watch_on_write(conn, author.id, topic.id, post_number)
    await queries.add_alert(conn, post_id, new_topic=post_number == 1, now=now)


async def queue_mention_alert(
    conn: Connection, editor: User, before: Post, after: Post, *, now: float
) -> None:
    """In an author's edit's transaction: if it mentions someone the post did not mention
    before, the alerter tells those it mentions who were not told of the post yet (the ones
    added; also one mentioned before but not told then, say since allowed to read it), as it
    would have had they been there from the start. A moderator's edit tells nobody: the
    notification would say the author mentioned them."""
    if editor.id != before.user_id:
        return
    if set(mentioned_names(after.cooked)) - set(mentioned_names(before.cooked)):
        await queries.add_mentions_alert(conn, after.id, now=now)


async def queue_mentions_on_approval(conn: Connection, post: Post, *, now: float) -> None:
    """A moderator made a post visible again (an edit held for review, a flag dismissed):
    those it mentions and who were not told of it (the edit added them) are told now."""
    if mentioned_names(post.cooked):
        await queries.add_mentions_alert(conn, post.id, now=now)


async def _mentions_to_tell(
    conn: Connection, post_id: int, cooked: str, after_edit: bool
) -> tuple[str, ...]:
    """The names whose owners a post's mentions may tell. After an edit: those not told of
    it yet, and no more than MAX_MENTIONS told by mention in all its versions, so editing
    ten new names in again and again reaches nobody past the first ten."""
    names = mentioned_names(cooked)
    if not after_edit:
        return names
    told = await queries.mentioned_by_post(conn, post_id)
    room = max(MAX_MENTIONS - len(told), 0)
    return tuple(name for name in names if name not in told)[:room]


async def alert_post(
    forum: Forum, conn: Connection, post_id: int, new_topic: bool, mentions_only: bool = False
) -> list[Event]:
    """Tell whoever a published post concerns (the alerter's work, in its own transaction);
    the live events to publish in it. A post hidden or removed since tells nobody.
    `mentions_only`: an edit added mentions, and only those mentioned are told."""
    post = await post_queries.get_post(conn, post_id)
    if post is None or not post.visible:
        return []
    topic = await topic_queries.get_topic(conn, post.topic_id)
    author = await user_queries.get_user(conn, post.user_id)
    if topic is None or author is None:
        return []
    now = forum.now()
    in_debate = topic.is_debate
    only_mentions = in_debate or mentions_only
    notice = PostNotice(
        post_id=post.id,
        post_number=post.post_number,
        topic_id=topic.id,
        group_id=topic.group_id,
        author_id=author.id,
        mentioned=await _mentions_to_tell(conn, post.id, post.cooked, mentions_only),
        replied_to=None if only_mentions else post.reply_to_post_number,
        quoted=() if only_mentions else quoted_numbers(post.raw),
        new_topic=new_topic and not only_mentions,
        watchers=not only_mentions,
        # No title and no text: a title can be edited (or redacted) later, and a
        # notification shows its topic's title as it is when read.
        data=json.dumps(
            {
                "display_username": author.username,
                "original_username": author.username,
                "original_post_id": post.id,
            }
        ),
    )
    notified = await queries.notify_post(conn, notice, now)
    if not notified:
        return []
    due = now + forum.settings.email_delay_seconds
    await email_later(forum, conn, [n.id for n in notified], due)

    def item(n: Notified) -> Notification:
        return Notification(
            id=n.id,
            notification_type=n.notification_type,
            topic_id=topic.id,
            post_number=post.post_number,
            post_id=post.id,
            read=False,
            created_at=now,
            data={},
            topic_title=topic.title,
            topic_slug=topic.slug,
            actor=author.username,
            group_name=topic.group_name,
        )

    return await live_notices(forum, conn, [(n.user_id, item(n)) for n in notified])


async def notify_user(
    forum: Forum,
    conn: Connection,
    user_id: int,
    kind: Kind,
    now: float,
    *,
    message: str,
    url: str | None = None,
    topic: Topic | None = None,
    post_id: int | None = None,
    post_number: int | None = None,
    email_at: float | None = None,
) -> list[Event]:
    """Keep one notification for one member (a moderation outcome, a debate starting);
    the live event to publish with the change it reports. `email_at`: when to email it
    (default: after the usual delay; a debate starting: at once)."""
    data: dict[str, Any] = {"message": message} | ({"url": url} if url else {})
    notification_id = await queries.insert_notification(
        conn,
        user_id=user_id,
        kind=kind,
        data=data,
        now=now,
        topic_id=topic.id if topic else None,
        post_id=post_id,
        post_number=post_number,
    )
    due = email_at if email_at is not None else now + forum.settings.email_delay_seconds
    await email_later(forum, conn, [notification_id], due)
    n = Notification(
        id=notification_id,
        notification_type=int(kind),
        topic_id=topic.id if topic else None,
        post_number=post_number,
        post_id=post_id,
        read=False,
        created_at=now,
        data=data,
        topic_title=topic.title if topic else None,
        topic_slug=topic.slug if topic else None,
        actor=None,
        group_name=topic.group_name if topic else None,
    )
    return await live_notices(forum, conn, [(user_id, n)])


# Emailed at once (unless the member turned it off): what is about them. Watched topics and
# groups come in the digest instead.
EMAILED = (Kind.MENTIONED, Kind.REPLIED, Kind.QUOTED, Kind.CUSTOM, Kind.POST_APPROVED)


async def email_later(
    forum: Forum, conn: Connection, notification_ids: list[int], due_at: float
) -> None:
    """Put the emails for these notifications in the outbox, in the same transaction: they
    exist if and only if the notifications do (forum/mailer.py sends them)."""
    if forum.settings.smtp_host:
        kinds = tuple(int(k) for k in EMAILED)
        await outbox.enqueue_notifications(conn, notification_ids, kinds, due_at, forum.now())


async def live_notices(
    forum: Forum, conn: Connection, told: list[tuple[int, Notification]]
) -> list[Event]:
    """One event per person told, with their new unread count (one statement for all) and
    the item as the bell lists it (rendered once per distinct item text)."""
    counts = await queries.unread_counts(conn, [user_id for user_id, _ in told])
    rendered: dict[tuple[str, str], str] = {}
    events: list[Event] = []
    for user_id, n in told:
        text = notification_text(n)
        key = (text, str(n.post_number))
        if key not in rendered:
            rendered[key] = forum.renderer.render_notification(n)
        events.append(NotificationCreated(user_id, n.id, counts[user_id], rendered[key], text))
    return events
