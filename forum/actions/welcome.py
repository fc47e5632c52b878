"""Welcoming (issue 12): each group's Introductions topic, made with the group, where new
members are invited to say hello, and the prompt on the group page that invites them until
they do or put it away (forum/queries/groups.needs_welcome)."""

from __future__ import annotations

from forum.access import access_group
from forum.actions.drafts import Text
from forum.actions.posts import prepare_now, publish_topic, require_author
from forum.context import Forum
from forum.db import Connection
from forum.errors import BadRequest
from forum.queries import groups as group_queries
from forum.queries import topics as topic_queries
from forum.queries.groups import Group
from forum.queries.users import User

INTRODUCTIONS_TITLE = "Introductions"


async def make_introductions(
    forum: Forum, conn: Connection, group: Group, author: User, now: float
) -> int:
    """The group's Introductions topic, pinned, opened by `author` (a convener) with an
    invitation to say hello; made with the group, in its transaction. Its id."""
    raw = (
        f"Welcome to {group.name}. Please say hello here: who you are (only what you are"
        " happy to share) and what drew you to join. Members who have been here a while:"
        " please welcome each newcomer."
    )
    text = Text(raw, prepare_now(forum.settings, INTRODUCTIONS_TITLE, raw).cooked)
    # The founder's invitation is not a newcomer's first post: nobody is asked to welcome it.
    await group_queries.set_first_posted(conn, group.id, author.id, now)
    written = await publish_topic(forum, conn, author, group.id, INTRODUCTIONS_TITLE, text, now)
    await topic_queries.set_pinned(conn, written.topic_id, True)
    await group_queries.update_group(conn, group.id, introductions_topic_id=written.topic_id)
    return written.topic_id


async def do_dismiss_welcome(forum: Forum, user: User | None, group_id: int) -> None:
    """The member puts the prompt to introduce themselves away."""
    member = require_author(user, forum.now())
    async with forum.db.transaction() as conn:
        access = await access_group(conn, member, group_id=group_id)
        if access.membership is None:
            raise BadRequest("You are not a member of this group.")
        await group_queries.set_welcomed(conn, group_id, member.id, forum.now())
