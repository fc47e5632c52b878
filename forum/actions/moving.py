"""Moving a topic to another group (Discourse: changing a topic's category). Site staff move
any topic anywhere; a group's conveners move topics between the groups they convene. The
topic keeps its posts and its address; its old group's readers who cannot read the new one
lose it at once, on pages and on open sockets alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from forum.access import TopicAccess, access_group, access_topic
from forum.context import Forum
from forum.db import Connection
from forum.errors import BadRequest, Conflict, Forbidden, NotAuthenticated, RateLimited
from forum.events import EveryoneAccessChanged, TopicMoved
from forum.pace import duration
from forum.permissions import can_moderate, is_staff
from forum.queries import groups as group_queries
from forum.queries import topics as topic_queries
from forum.queries.audit import record_action
from forum.queries.groups import Group
from forum.queries.topics import Topic
from forum.queries.users import User
from forum.ratelimit import limit_key, shared_take
from realtime.log import rewrite_events

# Conveners reorganising a group move a few topics at a time; more than this in an hour is
# more likely a compromised account emptying a group. Site staff are not limited (DESIGN.md).
MOVES_PER_HOUR = 30
HOUR = 3600

NO_RIGHTS = "Only site moderators, and the conveners of both groups, can move a topic."


@dataclass(frozen=True)
class MoveChoices:
    """A topic that this mover may move, and the groups they may move it into."""

    topic: Topic
    group: Group
    targets: list[Group]


@dataclass(frozen=True)
class Moved:
    topic: Topic  # as it was before the move (its address is the same after)
    from_group: Group
    to_group: Group
    posts: int


def may_move(user: User | None, from_role: str | None, to_role: str | None) -> bool:
    """Site staff; or someone who convenes both the topic's group and the one it goes to."""
    return is_staff(user) or (from_role == "convener" and to_role == "convener")


async def _movable(conn: Connection, user: User | None, topic_id: int) -> tuple[TopicAccess, Group]:
    """The topic (404 if the user may not read it) and its whole group, if it may be moved by
    this user at all."""
    if user is None:
        raise NotAuthenticated("Please log in first.")
    access = await access_topic(conn, user, topic_id)
    if not can_moderate(user, access.membership):
        raise Forbidden(NO_RIGHTS)
    if access.topic.is_debate:
        raise BadRequest(
            "A hosted debate cannot be moved: it stays in the group that held it, with its"
            " questions, answers and transcript."
        )
    group = await group_queries.get_group(conn, access.group.id)
    assert group is not None, "read with its topic in this transaction"
    if group.introductions_topic_id == topic_id:
        raise BadRequest(
            "This is the group's Introductions topic, where new members say hello. It stays"
            " with its group."
        )
    return access, group


async def move_choices(forum: Forum, user: User | None, topic_id: int) -> MoveChoices:
    """The move page's topic and the groups offered: every other group for site staff, the
    other groups they convene for a convener (maybe none)."""
    async with forum.db.reads() as conn:
        access, group = await _movable(conn, user, topic_id)
        assert user is not None
        if is_staff(user):
            groups = await group_queries.list_groups(conn)
        else:
            groups = await group_queries.list_convened(conn, user.id)
    targets = [g for g in groups if g.id != group.id and may_publish(user, group, g)]
    return MoveChoices(access.topic, group, targets)


def may_publish(user: User | None, source: Group, target: Group) -> bool:
    """Posts written for a members-only group become public only by site staff's hand."""
    return is_staff(user) or not (source.is_private and not target.is_private)


async def do_move_topic(
    forum: Forum, user: User | None, topic_id: int, group_id: int | None
) -> Moved:
    """Move the topic into group `group_id`, in one transaction with its counts, its audit
    entries and its live events."""
    if group_id is None:
        raise BadRequest("Choose the group to move the topic to.")
    now = forum.now()
    async with forum.db.transaction() as conn:
        access, old = await _movable(conn, user, topic_id)
        assert user is not None
        # A group the mover cannot read is missing, as everywhere (forum/access.py).
        target = await access_group(conn, user, group_id=group_id)
        new = target.group
        if new.id == old.id:
            raise BadRequest(f"The topic is in {old.name} already. Choose another group.")
        if not may_move(user, access.membership, target.membership):
            raise Forbidden(
                f"You do not convene {new.name}, so you cannot move topics into it. A site"
                " moderator can."
            )
        if not may_publish(user, old, new):
            raise Forbidden(
                f"{old.name} is for its members only and {new.name} is public: its posts were"
                " written for members. Only a site moderator can move it there."
            )
        if not is_staff(user):
            key = limit_key("move_topic", str(user.id))
            wait = await shared_take(conn, [(key, MOVES_PER_HOUR)], [key], HOUR, now)
            if wait:
                raise RateLimited(
                    f"You can move at most {MOVES_PER_HOUR} topics an hour. Please try again"
                    f" in {duration(wait)}.",
                    wait_seconds=wait,
                )
        topic = access.topic
        posts = await topic_queries.move_topic(conn, topic.id, old.id, new.id)
        if posts is None:
            raise Conflict("This topic was moved a moment ago. Reload it to see where it is now.")
        moved_topic = await topic_queries.get_topic(conn, topic.id)
        assert moved_topic is not None
        await _rewrite_log(forum, conn, moved_topic, old.id)
        for here, there, words in ((old, new, "to"), (new, old, "from")):
            # Each group's conveners read their own entry: the other group is named only if
            # it is public (a private group's name is for its members).
            other = f"“{there.name}”" if not there.is_private else "a private group"
            await record_action(
                conn,
                actor_id=user.id,
                action="moved_topic",
                group_id=here.id,
                topic_id=topic.id,
                note=f"Moved {words} {other}",
                now=now,
            )
        # By id (it leads on to the topic's page): the log of a public group's channel must
        # not keep the title, in its slug, of a topic moved into a private group.
        url = forum.renderer.url_path("topic_by_id", topic_id=topic.id)
        await forum.publish(
            conn,
            TopicMoved(topic.id, old.id, new.id, url),
            # The old group's readers may not read the new one: every socket is checked again.
            EveryoneAccessChanged(old.id),
        )
    return Moved(topic, old, new, posts)


async def _rewrite_log(forum: Forum, conn: Connection, topic: Topic, old_group_id: int) -> None:
    """The stored events of the topic as it is now, so that nobody who resumes from the log
    is shown it where it no longer is. Its rows in the old group's list are emptied (a
    replay of an empty row inserts nothing); on `latest` its rows name the new group (whose
    readers alone are shown them, forum/live.py) and show it there; in the review queue,
    its items and answers belong to the new group's conveners."""
    topic_id, new_group_id = topic.id, topic.group_id
    marker = f'"topic_id":{topic_id},'
    row = forum.renderer.render_topic_row(topic)

    def old_list(data: dict[str, Any]) -> dict[str, Any] | None:
        if data.get("topic_id") != topic_id or not data.get("html"):
            return None
        return data | {"html": ""} | ({"title": ""} if "title" in data else {})

    def latest(data: dict[str, Any]) -> dict[str, Any] | None:
        if data.get("topic_id") != topic_id:
            return None
        new = data | {"group_id": new_group_id} | ({"html": row} if "html" in data else {})
        return new if new != data else None

    items = set(await topic_queries.review_item_ids(conn, topic_id))

    def review(data: dict[str, Any]) -> dict[str, Any] | None:
        if data.get("topic_id") != topic_id and data.get("item_id") not in items:
            return None
        return data | {"group_id": new_group_id}

    await rewrite_events(conn, f"group:{old_group_id}", marker, old_list)
    await rewrite_events(conn, "latest", marker, latest)
    await rewrite_events(conn, "review", f'"group_id":{old_group_id},', review)
