"""A group's events (issue 12): conveners schedule, change and cancel them; members answer
going, maybe or not going. When places are limited, a "going" past the last place joins the
waiting list, and a place given up goes to the first in it, who is told.

Each answer locks its event's row first (queries/events.lock_event), so two members racing
for the last place are counted one after the other, on PostgreSQL as on SQLite.

Calendar feeds: a public group's is one address for all; each member of any group also has
a private address, signed with the site's secret over a version they can raise to end the
old address (calendar_token, member_of_feed).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from forum.access import GroupAccess, access_group
from forum.actions.debates import refuse_identifiers
from forum.actions.documents import clean_url
from forum.actions.notify import notify_user
from forum.actions.posts import require_author
from forum.actions.validation import clean_text, clean_title, parse_when, time_zones
from forum.auth import is_suspended
from forum.context import Forum
from forum.db import Connection
from forum.errors import BadRequest, Forbidden, NotFound
from forum.events import Event, GroupChanged
from forum.forms import Input
from forum.permissions import can_manage_members
from forum.queries import events as queries
from forum.queries import groups as group_queries
from forum.queries import users as user_queries
from forum.queries.events import EventFields, FeedKey, GroupEvent
from forum.queries.notifications import Kind
from forum.queries.users import User
from forum.rendering import long_date

MAX_DESCRIPTION_CHARS = 4_000
MAX_PLACE_CHARS = 300
MAX_CAPACITY = 10_000
MAX_HOURS = 24 * 14  # a residential course, at the longest
MAX_AHEAD_DAYS = 3 * 366
PAST_GRACE_SECONDS = 60
CHOICES = {"going": "Going", "maybe": "Maybe", "not_going": "Not going"}
FEED_DAYS_BACK = 90  # a feed carries events that ended this long ago, and all to come
FEED_LIMIT = 500


def check_event(form: Input, now: float, default_zone: str) -> EventFields:
    """The form's fields, every problem at once."""
    errors: list[str] = []
    title = description = ""
    starts_at = ends_at = 0.0
    zone = (form.get("time_zone") or default_zone).strip()
    if zone not in time_zones() and zone != default_zone:
        errors.append("Choose a time zone from the list.")
        zone = default_zone
    try:
        title = clean_title(form.get("title"), 200)
    except BadRequest as error:
        errors += error.messages
    try:
        description = clean_text(
            form.get("description"), "The description", MAX_DESCRIPTION_CHARS, allow_empty=True
        )
    except BadRequest as error:
        errors += error.messages
    try:
        starts_at = parse_when(form.get("starts_at"), "The start", zone)
        if starts_at < now - PAST_GRACE_SECONDS:
            errors.append("The start is in the past; choose a time to come.")
        elif starts_at > now + MAX_AHEAD_DAYS * 86400:
            errors.append("The start is more than three years away.")
    except BadRequest as error:
        errors += error.messages
    try:
        ends_at = parse_when(form.get("ends_at"), "The end", zone)
    except BadRequest as error:
        errors += error.messages
    if starts_at and ends_at:
        if ends_at <= starts_at:
            errors.append("The end must come after the start.")
        elif ends_at - starts_at > MAX_HOURS * 3600:
            errors.append("An event lasts at most two weeks.")
    url: str | None = None
    if (form.get("online_url") or "").strip():
        try:
            url = clean_url(form.get("online_url"))
        except BadRequest as error:
            errors += [m.replace("The link's address", "The online link") for m in error.messages]
    place: str | None = None
    try:
        place = (
            clean_text(
                form.get("place"), "The place", MAX_PLACE_CHARS, multiline=False, allow_empty=True
            )
            or None
        )
    except BadRequest as error:
        errors += error.messages
    if url is None and place is None and not errors:
        errors.append("Give an online link, a place, or both.")
    if not errors:
        try:
            refuse_identifiers(f"{title}\n{description}\n{place or ''}", "An event")
        except BadRequest as error:
            errors += error.messages
    capacity: int | None = None
    text = (form.get("capacity") or "").strip()
    if text:
        if not (text.isascii() and text.isdigit() and len(text) <= 5) or not (
            1 <= int(text) <= MAX_CAPACITY
        ):
            errors.append(
                f"The number of places must be a whole number from 1 to {MAX_CAPACITY:,}."
            )
        else:
            capacity = int(text)
    if errors:
        raise BadRequest(*errors)
    return EventFields(title, description, starts_at, ends_at, zone, url, place, capacity)


async def _organised(conn: Connection, user: User, group_id: int) -> GroupAccess:
    access = await access_group(conn, user, group_id=group_id)
    if not can_manage_members(user, access.membership):
        raise Forbidden("Only the group's conveners can schedule and change its events.")
    return access


async def do_schedule_event(forum: Forum, user: User | None, group_id: int, form: Input) -> int:
    organiser = require_author(user, forum.now())
    fields = check_event(form, forum.now(), forum.settings.time_zone)
    async with forum.db.transaction() as conn:
        await _organised(conn, organiser, group_id)
        made = await queries.insert_event(conn, group_id, organiser.id, fields, forum.now())
        await forum.publish(conn, GroupChanged(group_id))  # "Coming up" on its page
        return made


async def _event(conn: Connection, group_id: int, event_id: int) -> GroupEvent:
    event = await queries.get_event(conn, group_id, event_id)
    if event is None:
        raise NotFound("There is no such event.")
    return event


async def do_edit_event(
    forum: Forum, user: User | None, group_id: int, event_id: int, form: Input
) -> None:
    """Change an event; those going, waiting or maybe are told if its time or place moved,
    and places added go to the waiting list."""
    organiser = require_author(user, forum.now())
    async with forum.db.transaction() as conn:
        await _organised(conn, organiser, group_id)
        await queries.lock_event(conn, event_id)
        before = await _event(conn, group_id, event_id)
        if before.cancelled_at is not None:
            raise BadRequest("This event was cancelled; schedule a new one instead.")
        now = forum.now()
        # An event under way may be changed (run late, moved online) but not into the past.
        fields = check_event(form, min(now, before.starts_at), forum.settings.time_zone)
        await queries.update_event(conn, event_id, fields, now)
        after = await _event(conn, group_id, event_id)
        told = await _promote(forum, conn, after)
        moved = (before.starts_at, before.ends_at, before.place, before.online_url) != (
            after.starts_at,
            after.ends_at,
            after.place,
            after.online_url,
        )
        if moved:
            people = await queries.answered_by(conn, event_id, ("going", "waiting", "maybe"))
            message = f"“{after.title}” has a new time or place: {long_date(after.starts_at)}."
            told += await _tell(
                forum, conn, after, [p for p in people if p != organiser.id], message
            )
        await forum.publish(conn, *told, GroupChanged(group_id))


async def do_cancel_event(forum: Forum, user: User | None, group_id: int, event_id: int) -> None:
    organiser = require_author(user, forum.now())
    async with forum.db.transaction() as conn:
        await _organised(conn, organiser, group_id)
        await queries.lock_event(conn, event_id)
        event = await _event(conn, group_id, event_id)
        if event.cancelled_at is not None:
            return
        await queries.cancel_event(conn, event_id, forum.now())
        people = await queries.answered_by(conn, event_id, ("going", "waiting", "maybe"))
        message = f"“{event.title}” on {long_date(event.starts_at)} is cancelled."
        told = await _tell(forum, conn, event, [p for p in people if p != organiser.id], message)
        await forum.publish(conn, *told, GroupChanged(group_id))


async def _tell(
    forum: Forum, conn: Connection, event: GroupEvent, user_ids: list[int], message: str
) -> list[Event]:
    group = await group_queries.get_group(conn, event.group_id)
    assert group is not None
    url = forum.renderer.url_path("event", slug=group.slug, event_id=event.id)
    told: list[Event] = []
    for user_id in user_ids:
        told += await notify_user(
            forum, conn, user_id, Kind.CUSTOM, forum.now(), message=message, url=url
        )
    return told


async def _promote(forum: Forum, conn: Connection, event: GroupEvent) -> list[Event]:
    """Give free places to the first on the waiting list, and tell them."""
    if event.capacity is None:
        free = MAX_CAPACITY
    else:
        free = event.capacity - await queries.count_going(conn, event.id)
    if free <= 0 or event.ends_at <= forum.now():
        return []
    promoted = await queries.first_waiting(conn, event.id, free)
    for user_id in promoted:
        await queries.set_answer(conn, event.id, user_id, "going", forum.now())
    message = f"A place came free at “{event.title}” ({long_date(event.starts_at)}): you are going."
    return await _tell(forum, conn, event, promoted, message)


async def forget_answers(
    forum: Forum, conn: Connection, group_id: int, user_id: int
) -> list[Event]:
    """A member who leaves or is removed: their answers to the group's events to come go,
    and a place they held goes to the first waiting (told). Their live events, to publish
    with the change."""
    told: list[Event] = []
    for event_id, answer in await queries.forget_answers(conn, group_id, user_id, forum.now()):
        if answer == "going":
            await queries.lock_event(conn, event_id)
            told += await _promote(forum, conn, await _event(conn, group_id, event_id))
    return told


@dataclass(frozen=True)
class Answered:
    answer: str  # as stored: "waiting" when "going" found no place
    event: GroupEvent


async def do_answer(
    forum: Forum, user: User | None, group_id: int, event_id: int, choice: str | None
) -> Answered:
    member = require_author(user, forum.now())
    if choice not in CHOICES:
        raise BadRequest("Answer going, maybe or not going.")
    async with forum.db.transaction() as conn:
        access = await access_group(conn, member, group_id=group_id)
        if access.membership is None:
            raise Forbidden("Join the group to answer.")
        await queries.lock_event(conn, event_id)
        event = await _event(conn, group_id, event_id)
        now = forum.now()
        if event.cancelled_at is not None:
            raise BadRequest("This event is cancelled.")
        if event.ends_at <= now:
            raise BadRequest("This event is over.")
        before = await queries.answer_of(conn, event_id, member.id)
        answer = choice
        if choice == "going" and before in ("going", "waiting"):
            answer = before  # keep one's place, or one's turn on the waiting list
        elif choice == "going" and event.full:
            answer = "waiting"
        if answer != before:
            await queries.set_answer(conn, event_id, member.id, answer, now)
        told: list[Event] = []
        if before == "going" and answer != "going":
            told = await _promote(forum, conn, event)
        await forum.publish(conn, *told)
        return Answered(answer, await _event(conn, group_id, event_id))


# --- calendar feeds ---------------------------------------------------------------------------


_TOKEN = re.compile(r"(\d{1,10})-(\d{1,10})-(\d{1,10})-([0-9a-f]{32})", re.ASCII)


def _signature(secret: str, group_id: int, user_id: int, key: FeedKey) -> str:
    basis = f"calendar|{group_id}|{user_id}|{key.version}|{key.joined_at!r}".encode()
    return hmac.new(secret.encode(), basis, hashlib.sha256).hexdigest()[:32]


def calendar_token(secret: str, group_id: int, user_id: int, key: FeedKey) -> str:
    """A member's private feed address's last part: who, which version, signed."""
    return f"{group_id}-{user_id}-{key.version}-{_signature(secret, group_id, user_id, key)}"


async def member_of_feed(forum: Forum, token: str) -> tuple[int, int]:
    """(group id, user id) of a private feed address that still works: signed by this site,
    for the member's current membership at its current version, and not suspended. Else a
    404, which says nothing of why."""
    gone = NotFound("There is no such calendar.")
    found = _TOKEN.fullmatch(token)
    if found is None:
        raise gone
    group_id, user_id, version = (int(found.group(n)) for n in (1, 2, 3))
    key = await queries.feed_key(forum.db, group_id, user_id)
    if key is None or key.version != version:
        raise gone
    expected = _signature(forum.settings.secret_key, group_id, user_id, key)
    if not hmac.compare_digest(expected, found.group(4)):
        raise gone
    user = await user_queries.get_user(forum.db, user_id)
    if user is None or is_suspended(user, forum.now()):
        raise gone
    return group_id, user_id


async def do_reset_calendar(forum: Forum, user: User | None, group_id: int) -> None:
    """End the member's private feed address; the page shows the new one."""
    member = require_author(user, forum.now())
    async with forum.db.transaction() as conn:
        access = await access_group(conn, member, group_id=group_id)
        if access.membership is None:
            raise BadRequest("You are not a member of this group.")
        await queries.bump_calendar_version(conn, group_id, member.id)


def local_inputs(event: GroupEvent) -> tuple[str, str]:
    """The event's start and end as the form's datetime-local fields show them: in the
    organiser's time zone."""
    zone = ZoneInfo(event.time_zone)

    def shown(ts: float) -> str:
        return datetime.fromtimestamp(ts, zone).strftime("%Y-%m-%dT%H:%M")

    return shown(event.starts_at), shown(event.ends_at)
