"""A debate's state as its times call for it: moved once, by whoever gets there first.

Both the scheduler (forum/scheduler.py) and every action on a debate (forum/actions/
debates.py, and a reply in a debate's topic: forum/actions/posts.py) call
`bring_up_to_date` in their own transaction; each move is a conditional update, so of every
node and request trying, exactly one moves it and publishes the change.
"""

from __future__ import annotations

from forum.access import TopicAccess
from forum.actions.notify import notify_user
from forum.context import Forum
from forum.db import Connection
from forum.errors import BadRequest, Conflict, NotFound
from forum.events import DebateReminder, DebateStateChanged, Event
from forum.notices import DEBATE_STARTED
from forum.permissions import can_read_group
from forum.queries import debates as debate_queries
from forum.queries import groups as group_queries
from forum.queries import topics as topic_queries
from forum.queries import users as user_queries
from forum.queries.debates import Answering, Debate
from forum.queries.notifications import Kind
from forum.rendering import long_date


async def bring_up_to_date(forum: Forum, conn: Connection, debate: Debate, now: float) -> Debate:
    """Store the state the debate's times call for at `now`, publishing each move once (of
    every node and request trying, the one whose conditional update changed the row)."""
    due = debate.state_at(now)
    if due == debate.state:
        return debate
    if debate.state == "scheduled":  # live first, even on the way to closed: one each
        went = await debate_queries.move_state(
            conn, debate.id, ("scheduled",), "live", debate.starts_at, due_by=now
        )
        if went:
            await went_live(forum, conn, debate, remind=due == "live")
    if due == "closed":
        ended = await debate_queries.move_state(
            conn, debate.id, ("live",), "closed", debate.ends_at, due_by=now
        )
        if ended:
            await closed(forum, conn, debate)
    found = await debate_queries.get_debate(conn, debate.id)
    assert found is not None
    return found


async def went_live(forum: Forum, conn: Connection, debate: Debate, *, remind: bool = True) -> None:
    """Publish that it is live; `remind`: and tell those who asked (not when it is already
    over, as after a restart past its end)."""
    message = f"The debate “{debate.title}” is live now. Questions appear as the hosts reveal them."
    events: list[Event] = [state_event(debate, "live", debate.ends_at, message)]
    url = forum.renderer.url_path("debate", debate_id=debate.id)
    topic = await topic_queries.get_topic(conn, debate.topic_id)
    for user_id in await _still_readers(conn, debate) if remind else []:
        started = f"“{debate.title}” has started."
        events.append(DebateReminder(user_id, debate.id, debate.title, url, started))
        # Kept as a notification too, for a reminded member who has no page open. It names
        # the debate's topic and keeps no title: a member who loses access stops seeing it,
        # and it reads the title as it is when shown (forum/notices.py).
        events += await notify_user(
            forum,
            conn,
            user_id,
            Kind.CUSTOM,
            forum.now(),
            message=DEBATE_STARTED,
            topic=topic,
            email_at=forum.now(),
        )
    await forum.publish(conn, *events)


async def _still_readers(conn: Connection, debate: Debate) -> list[int]:
    """Who asked to be reminded and may still read the debate (a member who has left a
    private group since is not told of it)."""
    group = await group_queries.get_group(conn, debate.group_id)
    readers = []
    for user_id in await debate_queries.list_reminded(conn, debate.id):
        user = await user_queries.get_user(conn, user_id)
        membership = await group_queries.get_membership_role(conn, debate.group_id, user_id)
        if group and user and can_read_group(user, group, membership):
            readers.append(user_id)
    return readers


async def closed(forum: Forum, conn: Connection, debate: Debate) -> None:
    await topic_queries.set_closed(conn, debate.topic_id, True)
    message = f"The debate “{debate.title}” has ended. This page now shows its transcript."
    await forum.publish(conn, state_event(debate, "closed", debate.ends_at, message))


def state_event(debate: Debate, state: str, ends_at: float, message: str) -> DebateStateChanged:
    return DebateStateChanged(debate.id, debate.topic_id, debate.group_id, state, ends_at, message)


async def check_answer(
    forum: Forum, conn: Connection, access: TopicAccess, reply_to: int | None, now: float
) -> Answering:
    """Inside a reply's transaction, in a debate's topic: the debate is live and the reply
    answers one of its revealed questions; what it answers, for the write."""
    debate_id = await debate_queries.get_debate_id_of_topic(conn, access.topic.id)
    debate = await debate_queries.get_debate(conn, debate_id) if debate_id else None
    if debate is None:
        raise NotFound("There is no such debate.")
    debate = await bring_up_to_date(forum, conn, debate, now)
    refuse_unless_live(debate, now)
    question = await debate_queries.question_at(conn, debate.id, reply_to) if reply_to else None
    if question is None:
        raise BadRequest("In a debate, answer one of the questions the hosts have revealed.")
    return Answering(debate.id, question, tuple(host.id for host in debate.hosts))


def refuse_unless_live(debate: Debate, now: float) -> None:
    state = debate.state_at(now)
    if state == "scheduled":
        raise Conflict(f"This debate starts at {long_date(debate.starts_at)}; answers open then.")
    if state == "closed":
        raise Conflict("This debate has ended; answers are closed.")
