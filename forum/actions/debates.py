"""Hosted debates: schedule one, start it early, extend it, close it, reveal its questions
one at a time, highlight answers, write its summary, and ask to be reminded.

A debate is a topic of kind "debate": its first post is the description, each question
becomes a post when revealed, and answers are replies to a question's post, written through
`posts.do_reply`, so every check, hold and live event of a reply applies to them. What only
a debate has (its times, state, hosts and questions) is in forum/queries/debates.py.

State moves at the stored times (forum/scheduler.py) or by a host, each move one conditional
update, so it happens once however many nodes or requests try. Every action here, and every
answer, first brings the debate up to date (`bring_up_to_date`) in its own transaction, so
nothing waits on the scheduler to be right.
"""

from __future__ import annotations

from dataclasses import dataclass

from forum.access import TopicAccess, access_debate, access_group
from forum.actions import debate_state, posts
from forum.actions.drafts import DebatePlan, Draft, Text
from forum.actions.idempotent import Outcome
from forum.actions.places import place_of
from forum.actions.validation import clean_text, clean_title, parse_when
from forum.content import cook
from forum.context import Forum
from forum.db import Connection
from forum.errors import BadRequest, Conflict, Forbidden, NotFound
from forum.events import (
    PostEdited,
    QuestionRevealed,
)
from forum.moderation import privacy_hold
from forum.permissions import can_moderate, can_read_group
from forum.queries import debates as debate_queries
from forum.queries import groups as group_queries
from forum.queries import users as user_queries
from forum.queries.audit import record_action
from forum.queries.debates import Debate
from forum.queries.users import User
from forum.rendering import long_date
from forum.settings import image_host_set

MIN_MINUTES, MAX_HOURS = 5, 12  # how long a debate may run, from start to end
MAX_AHEAD_DAYS = 366  # how far ahead one may be scheduled
MAX_QUESTIONS, MAX_QUESTION_CHARS = 20, 1000
MAX_HOSTS = 5
MAX_SUMMARY_CHARS = 5000
MAX_EXTEND_MINUTES = 240
PAST_GRACE_SECONDS = 60  # a start "now" typed a moment ago is not in the past
DEFAULT_SLOW_SECONDS = 10  # one answer per participant per 10 s, until a host changes it


def can_schedule_debate(user: User | None, membership: str | None) -> bool:
    """Conveners of the group and site moderators schedule its debates."""
    return user is not None and not user.is_guest and can_moderate(user, membership)


def can_host(user: User, group_readable: bool) -> bool:
    return group_readable and not user.is_guest


def refuse_identifiers(text: str, what: str = "A debate") -> None:
    """A debate's description, questions and summary go to everyone at once, and nothing of
    them can wait in the review queue as a post would: anything that looks like it could
    identify someone is refused, with what was found, to be taken out first. The same for
    a group's documents, events and learning updates (`what` names it)."""
    found = privacy_hold(text)
    if found:
        raise BadRequest(
            *found.messages,
            f"{what} is shown to everyone at once, so it cannot wait for a moderator: take"
            " this out, then save again.",
        )


# --- scheduling -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckedPlan:
    title: str
    description: str
    starts_at: float
    ends_at: float
    questions: tuple[str, ...]
    host_names: tuple[str, ...]


def check_plan(plan: DebatePlan, now: float, max_title: int, max_text: int) -> CheckedPlan:
    """Every field's problems at once, so the convener fixes them together."""
    errors: list[str] = []
    title = description = ""
    starts_at = ends_at = 0.0
    try:
        title = clean_title(plan.title, max_title)
    except BadRequest as error:
        errors += error.messages
    try:
        description = clean_text(plan.description, "The description", max_text)
    except BadRequest as error:
        errors += error.messages
    try:
        starts_at = parse_when(plan.starts_at, "The start", plan.time_zone)
        if starts_at < now - PAST_GRACE_SECONDS:
            errors.append("The start is in the past; choose a time to come.")
        elif starts_at > now + MAX_AHEAD_DAYS * 86400:
            errors.append("The start is more than a year away.")
    except BadRequest as error:
        errors += error.messages
    try:
        ends_at = parse_when(plan.ends_at, "The end", plan.time_zone)
    except BadRequest as error:
        errors += error.messages
    if starts_at and ends_at:
        if ends_at <= starts_at:
            errors.append("The end must come after the start.")
        elif ends_at - starts_at < MIN_MINUTES * 60:
            errors.append(f"A debate runs for at least {MIN_MINUTES} minutes.")
        elif ends_at - starts_at > MAX_HOURS * 3600:
            errors.append(f"A debate runs for at most {MAX_HOURS} hours.")
    questions: list[str] = []
    for i, raw in enumerate(q for q in plan.questions if (q or "").strip()):
        try:
            questions.append(clean_text(raw, f"Question {i + 1}", MAX_QUESTION_CHARS))
        except BadRequest as error:
            errors += error.messages
    if not questions:
        errors.append("Add at least one question.")
    elif len(questions) > MAX_QUESTIONS:
        errors.append(f"A debate has at most {MAX_QUESTIONS} questions.")
    names = tuple(dict.fromkeys(n.strip().lstrip("@") for n in plan.hosts if n and n.strip()))
    if len(names) > MAX_HOSTS:
        errors.append(f"A debate has at most {MAX_HOSTS} hosts besides you.")
    if errors:
        raise BadRequest(*errors)
    return CheckedPlan(title, description, starts_at, ends_at, tuple(questions), names)


async def do_schedule_debate(
    forum: Forum, user: User | None, group_id: int, plan: DebatePlan
) -> Debate:
    """Schedule a debate in a group: its topic (with the description as its first post), its
    hosts (the convener first) and its questions, hidden until revealed."""
    now = forum.now()
    author = posts.require_author(user, now)
    settings = forum.settings
    # Cheap checks first: who may, then the fields, then the scan and markdown.
    async with forum.db.reads() as reads:
        access = await access_group(reads, author, group_id=group_id)
    if not can_schedule_debate(author, access.membership):
        raise Forbidden("Only the group's conveners and moderators can schedule debates.")
    checked = check_plan(plan, now, settings.max_title_chars, settings.max_post_chars)
    refuse_identifiers("\n\n".join((checked.title, checked.description, *checked.questions)))
    hosts = image_host_set(settings)
    description = Text(checked.description, cook(checked.description, hosts))
    async with forum.db.transaction() as conn:
        now = forum.now()
        access = await access_group(conn, author, group_id=group_id)
        if not can_schedule_debate(author, access.membership):
            raise Forbidden("Only the group's conveners and moderators can schedule debates.")
        host_users = [author]
        for name in checked.host_names:
            host = await user_queries.get_user_by_username(conn, name)
            if host is None:
                raise BadRequest(f"There is no member called {name}.")
            membership = await group_queries.get_membership_role(conn, group_id, host.id)
            readable = can_read_group(host, access.group, membership)
            if not can_host(host, readable):
                raise BadRequest(f"{host.username} cannot host a debate in this group.")
            if host.id != author.id:
                host_users.append(host)
        written = await posts.publish_topic(
            forum,
            conn,
            author,
            group_id,
            checked.title,
            description,
            now,
            kind="debate",
            slow_mode_seconds=DEFAULT_SLOW_SECONDS,
        )
        debate_id = await debate_queries.insert_debate(
            conn,
            topic_id=written.topic_id,
            group_id=group_id,
            description=checked.description,
            starts_at=checked.starts_at,
            ends_at=checked.ends_at,
            created_by=author.id,
            now=now,
        )
        for host in host_users:
            await debate_queries.add_host(conn, debate_id, host.id)
        for number, raw in enumerate(checked.questions, start=1):
            await debate_queries.insert_question(conn, debate_id, number, raw)
        await record_action(
            conn,
            actor_id=author.id,
            action="schedule_debate",
            topic_id=written.topic_id,
            group_id=group_id,
            now=now,
        )
        debate = await debate_queries.get_debate(conn, debate_id)
        assert debate is not None
        return await debate_state.bring_up_to_date(forum, conn, debate, now)


# --- what hosts do --------------------------------------------------------------------------


async def _hosted(
    forum: Forum, conn: Connection, user: User | None, debate_id: int, doing: str
) -> tuple[User, Debate, TopicAccess]:
    author = posts.require_author(user, forum.now())
    found = await access_debate(conn, author, debate_id)
    debate, access = found.debate, found.topic
    if not debate.is_host(author.id):
        raise Forbidden(f"Only the debate's hosts can {doing}.")
    debate = await debate_state.bring_up_to_date(forum, conn, debate, forum.now())
    return author, debate, access


async def do_start_debate(forum: Forum, user: User | None, debate_id: int) -> Debate:
    async with forum.db.transaction() as conn:
        now = forum.now()
        host, debate, _ = await _hosted(forum, conn, user, debate_id, "start it")
        if debate.state != "scheduled":
            raise Conflict(_already(debate))
        if not await debate_queries.move_state(conn, debate.id, ("scheduled",), "live", now):
            raise Conflict("Another host has just started this debate.")
        await debate_state.went_live(forum, conn, debate)
        await record_action(
            conn,
            actor_id=host.id,
            action="start_debate",
            topic_id=debate.topic_id,
            group_id=debate.group_id,
            now=now,
        )
        return await _reloaded(conn, debate.id)


async def do_close_debate(forum: Forum, user: User | None, debate_id: int) -> Debate:
    """End the debate now (before it starts: call it off)."""
    async with forum.db.transaction() as conn:
        now = forum.now()
        host, debate, _ = await _hosted(forum, conn, user, debate_id, "close it")
        if debate.state == "closed":
            raise Conflict("This debate has already ended.")
        moved = await debate_queries.move_state(
            conn, debate.id, ("scheduled", "live"), "closed", now
        )
        if not moved:
            raise Conflict("Another host has just closed this debate.")
        await debate_state.closed(forum, conn, debate)
        await record_action(
            conn,
            actor_id=host.id,
            action="close_debate",
            topic_id=debate.topic_id,
            group_id=debate.group_id,
            now=now,
        )
        return await _reloaded(conn, debate.id)


async def do_extend_debate(
    forum: Forum, user: User | None, debate_id: int, minutes: int | None
) -> Debate:
    if minutes is None or not 1 <= minutes <= MAX_EXTEND_MINUTES:
        raise BadRequest(f"Extend by 1 to {MAX_EXTEND_MINUTES} minutes.")
    async with forum.db.transaction() as conn:
        now = forum.now()
        host, debate, _ = await _hosted(forum, conn, user, debate_id, "extend it")
        if debate.state == "closed":
            raise Conflict("This debate has ended; it cannot be extended.")
        if debate.ends_at + minutes * 60 - debate.starts_at > MAX_HOURS * 3600:
            raise BadRequest(f"A debate runs for at most {MAX_HOURS} hours.")
        await debate_queries.extend(conn, debate.id, minutes * 60)
        changed = await _reloaded(conn, debate.id)
        message = f"The debate now ends at {long_date(changed.ends_at)}."
        await forum.publish(
            conn, debate_state.state_event(changed, changed.state, changed.ends_at, message)
        )
        await record_action(
            conn,
            actor_id=host.id,
            action="extend_debate",
            topic_id=debate.topic_id,
            group_id=debate.group_id,
            now=now,
        )
        return changed


async def do_reveal_question(
    forum: Forum, user: User | None, debate_id: int, number: int
) -> Debate:
    """Reveal the next question: it becomes a post of the topic, and answers can follow."""
    async with forum.db.transaction() as conn:
        now = forum.now()
        host, debate, access = await _hosted(forum, conn, user, debate_id, "reveal questions")
        if debate.state != "live":
            raise Conflict(
                "Questions can be revealed once the debate is live."
                if debate.state == "scheduled"
                else "This debate has ended."
            )
        questions = await debate_queries.list_questions(conn, debate.id)
        wanted = next((q for q in questions if q.number == number), None)
        if wanted is None:
            raise NotFound(f"This debate has no question {number}.")
        if wanted.revealed:
            raise Conflict(f"Question {number} is already revealed.")
        following = next((q for q in questions if not q.revealed), None)
        if following is not None and following.number != number:
            raise BadRequest(f"Reveal question {following.number} first: one at a time, in order.")
        if not await debate_queries.reveal_question(conn, debate.id, number, host.id, now):
            raise Conflict(f"Another host has just revealed question {number}.")
        topic = access.topic
        cooked = cook(wanted.raw, image_host_set(forum.settings))
        made = await posts.publish_reply(
            forum, conn, host, topic, Text(wanted.raw, cooked), None, now
        )
        await debate_queries.set_question_post(conn, debate.id, number, made.post_id)
        html = forum.renderer.render_question(debate.id, number, cooked, made.post_number)
        await forum.publish(
            conn,
            QuestionRevealed(
                debate.id,
                debate.group_id,
                number,
                made.post_id,
                made.post_number,
                html,
                sum(1 for q in questions if not q.revealed and q.number != number),
            ),
        )
        return await _reloaded(conn, debate.id)


async def do_highlight_answer(
    forum: Forum, user: User | None, debate_id: int, post_id: int, highlighted: bool
) -> None:
    async with forum.db.transaction() as conn:
        now = forum.now()
        host, debate, access = await _hosted(forum, conn, user, debate_id, "highlight answers")
        answer = await debate_queries.get_answer(conn, post_id)
        if answer is None or answer.post.topic_id != debate.topic_id:
            raise NotFound("That answer is not in this debate.")
        if debate.state == "closed":
            raise Conflict("This debate has ended; its highlights are kept as they were.")
        if not answer.post.visible:
            raise Conflict("That answer is hidden or removed, so it cannot be highlighted.")
        if answer.post.user_id == host.id:
            raise BadRequest("Hosts highlight other people's answers, not their own.")
        if answer.highlighted == highlighted:
            return  # already as asked: nothing to change, nothing to tell
        await debate_queries.set_highlight(
            conn, post_id, host.id if highlighted else None, now if highlighted else None
        )
        await record_action(
            conn,
            actor_id=host.id,
            action="highlight_answer" if highlighted else "unhighlight_answer",
            post_id=post_id,
            topic_id=debate.topic_id,
            group_id=debate.group_id,
            now=now,
        )
        topic = access.topic
        place = await place_of(conn, answer.post, topic)
        await forum.publish(
            conn,
            PostEdited(
                topic.id,
                topic.group_id,
                post_id,
                answer.post.post_number,
                answer.post.username,
                answer.post.version,
                place.render(forum, answer.post, topic),
                place.facts,
                debate.id,
            ),
        )


async def do_set_summary(
    forum: Forum, user: User | None, debate_id: int, raw: str | None
) -> Debate:
    """What we learned: shown at the top of the transcript and on the group's page."""
    async with forum.db.transaction() as conn:
        now = forum.now()
        host, debate, _ = await _hosted(forum, conn, user, debate_id, "write its summary")
        if debate.state != "closed":
            raise Conflict("The summary is written once the debate has ended.")
        text = clean_text(raw, "The summary", MAX_SUMMARY_CHARS, allow_empty=True)
        refuse_identifiers(text)
        cooked = cook(text, image_host_set(forum.settings)) if text else None
        await debate_queries.set_summary(conn, debate.id, text or None, cooked)
        await record_action(
            conn,
            actor_id=host.id,
            action="summarise_debate",
            topic_id=debate.topic_id,
            group_id=debate.group_id,
            now=now,
        )
        return await _reloaded(conn, debate.id)


# --- what participants do -------------------------------------------------------------------


async def do_answer(
    forum: Forum, user: User | None, debate_id: int, question: int | None, draft: Draft
) -> Outcome:
    """Answer a revealed question while the debate is live: a reply to the question's post,
    through every check and hold a reply has (check_answer runs inside its transaction)."""
    author = posts.require_author(user, forum.now())
    async with forum.db.reads() as reads:
        debate = (await access_debate(reads, author, debate_id)).debate
        questions = await debate_queries.list_questions(reads, debate.id)
    debate_state.refuse_unless_live(debate, forum.now())
    if question is None:
        raise BadRequest("Choose the question you are answering.")
    asked = next((q for q in questions if q.number == question), None)
    if asked is None or asked.post_number is None:
        raise BadRequest(f"Question {question} has not been revealed yet.")
    reply = Draft(
        draft.raw,
        reply_to_post_number=asked.post_number,
        confirmed=draft.confirmed,
        idempotency_key=draft.idempotency_key,
    )
    return await posts.do_reply(forum, user, debate.topic_id, reply)


async def do_remind(forum: Forum, user: User | None, debate_id: int, wanted: bool) -> None:
    """Ask (or stop asking) to be told when the debate starts."""
    author = posts.require_author(user, forum.now())
    async with forum.db.transaction() as conn:
        now = forum.now()
        debate = (await access_debate(conn, author, debate_id)).debate
        debate = await debate_state.bring_up_to_date(forum, conn, debate, now)
        if wanted and debate.state != "scheduled":
            raise Conflict("This debate has already started.")
        await debate_queries.set_reminder(conn, debate.id, author.id, wanted, now)


# --- helpers ----------------------------------------------------------------------------------


async def _reloaded(conn: Connection, debate_id: int) -> Debate:
    debate = await debate_queries.get_debate(conn, debate_id)
    assert debate is not None
    return debate


def _already(debate: Debate) -> str:
    if debate.state == "live":
        return "This debate is already live."
    return "This debate has ended."
