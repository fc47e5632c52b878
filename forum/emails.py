"""What an email says: made from the outbox row when it is sent (forum/mailer.py), from what
the member may read at that moment. A plain-text and an HTML part, a link to the exact post,
and a one-click unsubscribe (RFC 8058). A post is quoted only if its group allows it (by
default public groups do, private groups do not) and only while it is visible: held, hidden
or removed text never goes out."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, replace
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from urllib.parse import urlsplit

from forum.auth import is_suspended
from forum.content.cook import excerpt
from forum.context import Forum
from forum.db import Connection
from forum.notices import notification_text, notification_url
from forum.queries import groups as group_queries
from forum.queries import notifications as notification_queries
from forum.queries import posts as post_queries
from forum.queries import topics as topic_queries
from forum.queries import users as user_queries
from forum.queries.notifications import may_read
from forum.queries.outbox import Outgoing, get_prefs
from forum.queries.users import User

EXCERPT_CHARS = 600
DIGEST_TOPICS = 20


@dataclass(frozen=True)
class Letter:
    to: str
    subject: str
    text: str
    html: str
    unsubscribe_url: str
    message_id: str


def unsubscribe_token(secret: str, user_id: int, what: str) -> str:
    """A link that turns off one kind of email ("immediate" or "digest") for one member,
    with no login: it proves itself by its signature."""
    signature = hmac.new(
        secret.encode(), f"unsubscribe|{user_id}|{what}".encode(), hashlib.sha256
    ).hexdigest()[:32]
    return f"{user_id}-{what}-{signature}"


def read_unsubscribe_token(secret: str, token: str) -> tuple[int, str] | None:
    if not token.isascii():  # compare_digest takes ASCII only; no token of ours is other
        return None
    parts = token.split("-")
    if len(parts) != 3 or not parts[0].isdigit() or len(parts[0]) > 10:
        return None
    user_id, what = int(parts[0]), parts[1]
    if what not in ("immediate", "digest"):
        return None
    expected = unsubscribe_token(secret, user_id, what)
    return (user_id, what) if hmac.compare_digest(expected, token) else None


def _absolute(forum: Forum, path: str) -> str:
    return forum.settings.base_url.rstrip("/") + path


def _quotes(group_visibility: str, email_excerpts: bool | None) -> bool:
    return email_excerpts if email_excerpts is not None else group_visibility == "public"


async def compose(forum: Forum, conn: Connection, outgoing: Outgoing) -> Letter | str:
    """The letter for an outbox row, or why it is not sent (a reason, for the row)."""
    user = await user_queries.get_user(conn, outgoing.user_id)
    if user is None:
        return "skipped: no such member"
    if is_suspended(user, forum.now()):
        return "skipped: suspended"
    # Their choice now, not when it was queued: an unsubscribe stops what is waiting too.
    prefs = await get_prefs(conn, user.id)
    if outgoing.kind == "digest" and prefs.digest == "off":
        return "skipped: unsubscribed"
    if outgoing.kind == "notification" and not prefs.immediate:
        return "skipped: unsubscribed"
    if outgoing.kind == "digest":
        return await _digest(forum, conn, user, outgoing)
    return await _notification(forum, conn, user, outgoing)


async def _notification(
    forum: Forum, conn: Connection, user: User, outgoing: Outgoing
) -> Letter | str:
    assert outgoing.notification_id is not None
    # Read through the same rule as the bell: lost access, and it is not there.
    n = await notification_queries.get_notification(conn, user.id, outgoing.notification_id)
    if n is None:
        return "skipped: no longer readable"
    if n.read:
        return "skipped: already read"
    quoted, private = "", False
    if n.topic_id is not None:
        topic = await topic_queries.get_topic(conn, n.topic_id)
        group = await group_queries.get_group(conn, topic.group_id) if topic else None
        # A group that keeps its posts out of email keeps its titles and name out too:
        # mail passes through other companies' servers.
        private = group is None or not _quotes(group.visibility, group.email_excerpts)
    if n.post_id is not None:
        post = await post_queries.get_post(conn, n.post_id)
        if post is None or post.deleted_at is not None:
            return "skipped: post removed"
        if post.visible and not private:
            quoted = excerpt(post.cooked, EXCERPT_CHARS)
    url = _absolute(forum, notification_url(n, forum.renderer.url_path))
    if private:
        n = replace(n, topic_title=None, group_name=None)
        what = notification_text(n).replace("a topic", "a topic in one of your groups")
        where = "SIG Forum: " + what
    else:
        what = notification_text(n)
        where = f"[{n.group_name}] {n.topic_title}" if n.topic_title and n.group_name else what
    unsubscribe = _absolute(
        forum,
        forum.renderer.url_path(
            "unsubscribe", token=unsubscribe_token(forum.settings.secret_key, user.id, "immediate")
        ),
    )
    text = f"{what}.\n\n" + (f"{_quote_text(quoted)}\n\n" if quoted else "") + f"Read it: {url}\n"
    html = forum.renderer.render_email(
        "email/notification.html", what=what, quoted=quoted, url=url, unsubscribe=unsubscribe
    )
    return _letter(forum, user, outgoing, where, text, html, unsubscribe)


async def _digest(forum: Forum, conn: Connection, user: User, outgoing: Outgoing) -> Letter | str:
    since = outgoing.since or 0.0
    # The member's groups as they are now (a group they left is not in it), topics with
    # activity since the last digest, readable by them.
    rows = await conn.fetch_all(
        "SELECT t.id FROM topics t JOIN groups g ON g.id = t.group_id"
        " JOIN memberships m ON m.group_id = g.id AND m.user_id = :u"
        " JOIN users u ON u.id = :u"
        f" WHERE t.bumped_at > :since AND {may_read('u', 'g')}"
        " ORDER BY t.bumped_at DESC, t.id DESC LIMIT :limit",
        {"u": user.id, "since": since, "limit": DIGEST_TOPICS},
    )
    items = []
    for row in rows:
        topic = await topic_queries.get_topic(conn, int(row["id"]))
        if topic is None:
            continue
        group = await group_queries.get_group(conn, topic.group_id)
        first = await post_queries.get_post_by_number(conn, topic.id, 1)
        quoted = ""
        if first and first.visible and group and _quotes(group.visibility, group.email_excerpts):
            quoted = excerpt(first.cooked, 200)
        path = forum.renderer.url_path("topic", slug=topic.slug, topic_id=topic.id)
        items.append(
            {
                "title": topic.title,
                "group": topic.group_name,
                "replies": topic.reply_count,
                "url": _absolute(forum, path),
                "quoted": quoted,
            }
        )
    if not items:
        return "skipped: nothing new"
    unsubscribe = _absolute(
        forum,
        forum.renderer.url_path(
            "unsubscribe", token=unsubscribe_token(forum.settings.secret_key, user.id, "digest")
        ),
    )
    subject = f"What is new in your groups: {len(items)} topic{'s' if len(items) != 1 else ''}"
    lines = [f"{subject}.", ""]
    for item in items:
        lines.append(f"- {item['title']} ({item['group']}, {item['replies']} replies)")
        if item["quoted"]:
            lines.append(f"  {item['quoted']}")
        lines.append(f"  {item['url']}")
    html = forum.renderer.render_email(
        "email/digest.html", subject=subject, items=items, unsubscribe=unsubscribe
    )
    return _letter(forum, user, outgoing, subject, "\n".join(lines) + "\n", html, unsubscribe)


def _quote_text(quoted: str) -> str:
    return "\n".join(f"> {line}" for line in quoted.splitlines() or [quoted])


def _letter(
    forum: Forum,
    user: User,
    outgoing: Outgoing,
    subject: str,
    text: str,
    html: str,
    unsubscribe: str,
) -> Letter:
    kind = "these emails" if outgoing.kind == "notification" else "this digest"
    footer = (
        f"\n--\nYou get {kind} from SIG Forum as {user.username}."
        f" To stop them: {unsubscribe}\n"
        f"Your email choices: {_absolute(forum, forum.renderer.url_path('email_prefs'))}\n"
    )
    host = urlsplit(forum.settings.base_url).hostname or "localhost"
    # The same id on every try of this row: a receiving server that saw it already can
    # drop a repeat (see forum/mailer.py on what "sent once" can and cannot promise).
    message_id = f"<outbox-{outgoing.id}@{host}>"
    return Letter(user.email, subject, text + footer, html, unsubscribe, message_id)


def to_message(forum: Forum, letter: Letter) -> EmailMessage:
    message = EmailMessage()
    message["From"] = forum.settings.mail_from
    message["To"] = letter.to
    message["Subject"] = letter.subject
    message["Date"] = formatdate(forum.now(), localtime=False)
    message["Message-ID"] = letter.message_id
    message["List-Unsubscribe"] = f"<{letter.unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(letter.text)
    message.add_alternative(letter.html, subtype="html")
    return message


def sender_address(forum: Forum) -> str:
    return parseaddr(forum.settings.mail_from)[1] or "forum@localhost"
