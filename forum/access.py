"""Loading a thing together with the viewer's right to see it.

Anything the viewer may not read is reported as missing (404), never as forbidden: a private
group's existence is itself private.
"""

from __future__ import annotations

from dataclasses import dataclass

from forum.db import Connection, Row
from forum.errors import NotFound
from forum.permissions import can_read_group, is_staff
from forum.queries import debates as debate_queries
from forum.queries import groups as group_queries
from forum.queries import posts as post_queries
from forum.queries import topics as topic_queries
from forum.queries._sql import Along
from forum.queries.debates import Debate
from forum.queries.groups import Group
from forum.queries.posts import Post
from forum.queries.topics import Topic
from forum.queries.users import User


@dataclass(frozen=True)
class GroupAccess:
    group: Group
    membership: str | None


@dataclass(frozen=True)
class TopicAccess:
    topic: Topic
    group: Group
    membership: str | None
    # The watched words' version read with the topic: a content check in the same transaction
    # knows from it whether its list is current (forum/watched.py). None: not read.
    watched_version: int | None = None
    along: Row | None = None  # what the `along` columns read, if any


async def _membership(conn: Connection, user: User | None, group_id: int) -> str | None:
    if user is None:
        return None
    return await group_queries.get_membership_role(conn, group_id, user.id)


async def access_group(
    conn: Connection, user: User | None, *, group_id: int | None = None, slug: str | None = None
) -> GroupAccess:
    if group_id is not None:
        group = await group_queries.get_group(conn, group_id)
    elif slug is not None:
        group = await group_queries.get_group_by_slug(conn, slug)
    else:
        group = None
    if group is None:
        raise NotFound("There is no such group.")
    membership = await _membership(conn, user, group.id)
    if not can_read_group(user, group, membership):
        raise NotFound("There is no such group.")
    return GroupAccess(group, membership)


async def access_topic(
    conn: Connection, user: User | None, topic_id: int, *, along: Along | None = None
) -> TopicAccess:
    """The topic with the viewer's right to read it. `along`: columns another check reads in
    the same statement (TopicAccess.along)."""
    user_id = user.id if user else None
    found = await topic_queries.get_topic_and_group(conn, topic_id, user_id, along)
    if found is None:
        raise NotFound("There is no such topic.")
    if not can_read_group(user, found.group, found.membership):
        raise NotFound("There is no such topic.")
    extra = found.row if along is not None else None
    return TopicAccess(found.topic, found.group, found.membership, found.watched_version, extra)


async def access_post(
    conn: Connection, user: User | None, post_id: int
) -> tuple[Post, TopicAccess]:
    post = await post_queries.get_post(conn, post_id)
    if post is None:
        raise NotFound("There is no such post.")
    try:
        access = await access_topic(conn, user, post.topic_id)
    except NotFound:
        raise NotFound("There is no such post.") from None
    return post, access


async def readable_groups(conn: Connection, user: User | None) -> list[Group]:
    """Every group the viewer may read, decided by the same predicate as single pages."""
    groups = await group_queries.list_groups(conn)
    if is_staff(user):
        return groups
    memberships = await group_queries.get_memberships(conn, user.id) if user else {}
    return [g for g in groups if can_read_group(user, g, memberships.get(g.id))]


@dataclass(frozen=True)
class DebateAccess:
    debate: Debate
    topic: TopicAccess

    @property
    def membership(self) -> str | None:
        return self.topic.membership


async def access_debate(conn: Connection, user: User | None, debate_id: int) -> DebateAccess:
    """The debate with the viewer's right to read its topic (a private group's: 404)."""
    debate = await debate_queries.get_debate(conn, debate_id)
    if debate is None:
        raise NotFound("There is no such debate.")
    try:
        access = await access_topic(conn, user, debate.topic_id)
    except NotFound:
        raise NotFound("There is no such debate.") from None
    return DebateAccess(debate, access)
