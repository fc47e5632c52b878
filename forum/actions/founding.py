"""Founding a group (issue 12): a member proposes it, with a short description, a core
statement (what it is trying to do, how, who for, how it will know) and its conveners; an
admin approves it (the group is made, its proposer and named conveners convene it) or
declines it with a reason; the proposer is told either way. Conveners keep the description,
statement and settings up to date."""

from __future__ import annotations

import re

from forum.access import access_group
from forum.actions.groups import SLUG_RE
from forum.actions.notify import notify_user
from forum.actions.posts import require_author
from forum.actions.validation import clean_text, slugify
from forum.actions.welcome import make_introductions
from forum.auth import is_suspended
from forum.context import Forum
from forum.db import Connection
from forum.errors import BadRequest, Conflict, Forbidden, NotFound, RateLimited
from forum.events import AccessChanged, Event, EveryoneAccessChanged, GroupChanged
from forum.forms import Input
from forum.permissions import can_create_group, can_manage_members, is_admin
from forum.queries import groups as group_queries
from forum.queries import proposals as queries
from forum.queries import users as user_queries
from forum.queries.audit import record_action
from forum.queries.groups import JOINING, MEMBERS_LISTED, Group
from forum.queries.notifications import Kind
from forum.queries.proposals import STATEMENT_FIELDS, Proposal
from forum.queries.users import User

MAX_CONVENERS = 5  # named by the proposer, besides themselves
PROPOSALS_PER_DAY = 3
STATEMENT_CHARS = 1000
DESCRIPTION_CHARS = 300
REASON_CHARS = 1000
MAX_UNANSWERED_HOURS = 720  # 30 days
# The four questions of a core statement, as the forms and the group page ask them.
STATEMENT_QUESTIONS = {
    "aim": "What are we trying to do?",
    "approach": "How will we do it?",
    "audience": "Who is it for?",
    "measures": "How will we know it is working?",
}


def check_statement(form: Input, *, required: bool) -> tuple[dict[str, str], list[str]]:
    """The description and the statement's four answers, cleaned; the errors found."""
    fields: dict[str, str] = {}
    errors: list[str] = []
    try:
        fields["description"] = clean_text(
            form.get("description"),
            "The short description",
            DESCRIPTION_CHARS,
            allow_empty=not required,
        )
    except BadRequest as error:
        errors += error.messages
    for name in STATEMENT_FIELDS:
        question = STATEMENT_QUESTIONS[name]
        try:
            fields[name] = clean_text(
                form.get(name),
                f"The answer to “{question}”",
                STATEMENT_CHARS,
                allow_empty=not required,
            )
        except BadRequest as error:
            errors += error.messages
    return fields, errors


def _names(text: str | None) -> list[str]:
    """Usernames typed with commas or spaces between, @ or not, each once."""
    found = [name.lstrip("@") for name in re.split(r"[\s,;]+", text or "") if name.strip("@")]
    return list(dict.fromkeys(name.lower() for name in found))


async def do_propose_group(forum: Forum, user: User | None, form: Input) -> int:
    """Record a proposal and tell the admins; its id. Nothing is written if anything is
    wrong: every error is said at once."""
    proposer = require_author(user, forum.now())
    if proposer.is_guest:
        raise Forbidden("Guest accounts cannot propose groups. Sign up with an email address.")
    errors: list[str] = []
    name = ""
    try:
        name = clean_text(form.get("name"), "The group name", 100, multiline=False)
    except BadRequest as error:
        errors += error.messages
    slug = (form.get("slug") or "").strip().lower() or (slugify(name, "group") if name else "")
    if name and not SLUG_RE.match(slug):
        errors.append("The web address may use lower-case letters, digits and dashes.")
    visibility = form.get("visibility") or ""
    if visibility not in ("public", "private"):
        errors.append("Choose whether the group is public or private.")
    fields, statement_errors = check_statement(form, required=True)
    errors += statement_errors
    names = [n for n in _names(form.get("conveners")) if n != proposer.username.lower()]
    if len(names) > MAX_CONVENERS:
        errors.append(f"Name at most {MAX_CONVENERS} other conveners.")
    now = forum.now()
    async with forum.db.transaction() as conn:
        conveners: list[User] = []
        for convener in names[:MAX_CONVENERS]:
            found = await user_queries.get_user_by_username(conn, convener)
            if found is None:
                errors.append(f"There is no member called “{convener}”.")
            elif found.is_guest:
                errors.append(f"{found.username} has a guest account and cannot convene.")
            else:
                conveners.append(found)
        # Public groups only: a private group's address must not be found out this way (one
        # taken by a private group is refused when an admin approves the proposal).
        taken = await group_queries.get_group_by_slug(conn, slug) if slug else None
        if (taken and not taken.is_private) or (slug and await queries.slug_pending(conn, slug)):
            errors.append("A group (or a proposal waiting) already uses that web address.")
        if errors:
            raise BadRequest(*errors)
        if await queries.count_recent(conn, proposer.id, now - 86400) >= PROPOSALS_PER_DAY:
            raise RateLimited(
                f"You can propose at most {PROPOSALS_PER_DAY} groups a day. Please try tomorrow.",
                wait_seconds=3600,
            )
        proposal_id = await queries.insert_proposal(
            conn,
            proposer_id=proposer.id,
            fields=fields | {"name": name, "slug": slug, "visibility": visibility},
            convener_ids=[c.id for c in conveners],
            now=now,
        )
        events: list[Event] = []
        url = forum.renderer.url_path("proposals")
        for admin_id in await user_queries.list_admin_ids(conn):
            events += await notify_user(
                forum,
                conn,
                admin_id,
                Kind.CUSTOM,
                now,
                message=f"{proposer.username} proposed a new group: “{name}”",
                url=url,
            )
        await forum.publish(conn, *events)
    return proposal_id


async def _decidable(conn: Connection, admin: User | None, proposal_id: int) -> Proposal:
    if not is_admin(admin):
        raise Forbidden("Only administrators decide on proposed groups.")
    proposal = await queries.get_proposal(conn, proposal_id)
    if proposal is None:
        raise NotFound("There is no such proposal.")
    if proposal.status != "pending":
        raise Conflict(f"This proposal was {proposal.status} already.")
    return proposal


async def do_approve_proposal(forum: Forum, admin: User | None, proposal_id: int) -> Group:
    """Make the group, its proposer and named conveners its conveners, and tell them."""
    now = forum.now()
    async with forum.db.transaction() as conn:
        proposal = await _decidable(conn, admin, proposal_id)
        assert admin is not None
        # Decided first, in one statement: of two admins deciding at once, one finds it
        # decided (PostgreSQL's second UPDATE waits for the first, then matches nothing).
        if not await queries.decide(
            conn, proposal_id, status="approved", reason="", by=admin.id, group_id=None, now=now
        ):
            raise Conflict("This proposal was decided a moment ago by another administrator.")
        if await group_queries.get_group_by_slug(conn, proposal.slug):
            raise Conflict(
                f"A group already uses the web address {proposal.slug!r}. Decline this"
                " proposal with that reason, so its proposer can choose another."
            )
        group = await group_queries.insert_group(
            conn,
            slug=proposal.slug,
            name=proposal.name,
            description=proposal.description,
            visibility=proposal.visibility,
            now=now,
        )
        statement = {name: getattr(proposal, name) for name in STATEMENT_FIELDS}
        joining = "invite" if proposal.visibility == "private" else "open"
        await group_queries.update_group(conn, group.id, **statement, joining=joining)
        await queries.set_group(conn, proposal_id, group.id)
        # The Introductions topic is opened by its proposer, or by the admin if the
        # proposer has been suspended since.
        proposer = await user_queries.get_user(conn, proposal.proposer_id)
        opener = proposer if proposer and not is_suspended(proposer, now) else admin
        await make_introductions(forum, conn, group, opener, now)
        conveners = [proposal.proposer_id, *await queries.convener_ids(conn, proposal_id)]
        events: list[Event] = []
        url = forum.renderer.url_path("group", slug=group.slug)
        for user_id in dict.fromkeys(conveners):
            convener = await user_queries.get_user(conn, user_id)
            if convener is None or convener.is_guest or is_suspended(convener, now):
                continue  # suspended since they were named: not made a convener now
            await group_queries.upsert_membership(
                conn, group_id=group.id, user_id=user_id, role="convener", now=now
            )
            events.append(AccessChanged(user_id))  # conveners follow the review channel
            message = (
                f"Your proposal “{proposal.name}” was approved: the group is ready"
                if user_id == proposal.proposer_id
                else f"You convene the new group “{proposal.name}”"
            )
            events += await notify_user(
                forum, conn, user_id, Kind.CUSTOM, now, message=message, url=url
            )
        await record_action(
            conn, actor_id=admin.id, action="approve_group", group_id=group.id, now=now
        )
        if proposal.visibility != "private":
            events.append(EveryoneAccessChanged(group.id))  # `latest` and home show it now
        await forum.publish(conn, *events)
    found = await group_queries.get_group(forum.db, group.id)
    assert found is not None
    return found


async def do_decline_proposal(
    forum: Forum, admin: User | None, proposal_id: int, reason: str | None
) -> None:
    """Decline with a reason, which the proposer is told."""
    if not is_admin(admin):
        raise Forbidden("Only administrators decide on proposed groups.")
    clean_reason = clean_text(reason, "The reason", REASON_CHARS)
    now = forum.now()
    async with forum.db.transaction() as conn:
        proposal = await _decidable(conn, admin, proposal_id)
        assert admin is not None
        if not await queries.decide(
            conn,
            proposal_id,
            status="declined",
            reason=clean_reason,
            by=admin.id,
            group_id=None,
            now=now,
        ):
            raise Conflict("This proposal was decided a moment ago by another administrator.")
        await record_action(
            conn, actor_id=admin.id, action="decline_group", note=clean_reason, now=now
        )
        events = await notify_user(
            forum,
            conn,
            proposal.proposer_id,
            Kind.CUSTOM,
            now,
            message=f"Your proposal “{proposal.name}” was declined. The reason: {clean_reason}",
            url=forum.renderer.url_path("propose_group"),
        )
        await forum.publish(conn, *events)


VISIBILITY = ("public", "private")


def can_change_visibility(user: User | None) -> bool:
    """Who can read a group is decided by whoever may make one: site admins."""
    return can_create_group(user)


async def do_edit_group(forum: Forum, user: User | None, group_id: int, form: Input) -> None:
    """Conveners (and site staff) change the description, the statement and the settings:
    how people join, and who sees the member list; site admins also who can read the group
    (`visibility`, left as it is when not sent). A private group is joined only by
    invitation: nobody else can find it to join or ask, so making a group private makes it
    invitation only. Pages of the group are drawn again; a change of who can read it is
    checked again on every open socket at once."""
    editor = require_author(user, forum.now())
    fields, errors = check_statement(form, required=False)
    joining, listed = form.get("joining") or "", form.get("members_listed") or ""
    visibility = form.get("visibility")
    if joining not in JOINING:
        errors.append("Choose how people join: anyone, by asking, or by invitation.")
    if listed not in MEMBERS_LISTED:
        errors.append("Choose who sees the member list.")
    if visibility is not None and visibility not in VISIBILITY:
        errors.append("Choose who can read the group: anyone, or its members only.")
    try:
        hours = form.get_int("unanswered_hours")
    except BadRequest:
        hours = None
    if hours is None or not 1 <= hours <= MAX_UNANSWERED_HOURS:
        errors.append(
            f"Say after how many hours (1 to {MAX_UNANSWERED_HOURS}) a topic nobody has"
            " answered shows in the conveners' list."
        )
    now = forum.now()
    async with forum.db.transaction() as conn:
        access = await access_group(conn, editor, group_id=group_id)
        if not can_manage_members(editor, access.membership):
            raise Forbidden("Only the group's conveners can change its settings.")
        group = access.group
        changing = visibility in VISIBILITY and visibility != group.visibility
        if changing and not can_change_visibility(editor):
            raise Forbidden("Only site administrators can change who can read a group.")
        if changing and visibility == "private":
            joining = "invite"  # said beside the choice on the settings page
            guests = await group_queries.guest_member_names(conn, group_id)
            if guests:
                errors.append(
                    "Guest accounts cannot belong to a private group, and these belong to this"
                    f" one: {', '.join(guests)}. Remove them from the group first."
                )
        elif group.is_private and joining in ("open", "request"):
            errors.append(
                "A private group cannot be found by others, so it is joined by invitation only."
            )
        if errors:
            raise BadRequest(*errors)
        await group_queries.update_group(
            conn, group_id, **fields, joining=joining, members_listed=listed, unanswered_hours=hours
        )
        events: list[Event] = [GroupChanged(group_id)]
        if changing:
            assert visibility is not None
            await group_queries.set_visibility(conn, group_id, visibility)
            await record_action(
                conn,
                actor_id=editor.id,
                action=f"made_group_{visibility}",
                group_id=group_id,
                note=f"From {group.visibility} to {visibility}",
                now=now,
            )
            # Readers of the group change: every open socket is checked again, at once.
            events.append(EveryoneAccessChanged(group_id))
        await record_action(
            conn, actor_id=editor.id, action="edit_group", group_id=group_id, now=now
        )
        await forum.publish(conn, *events)
