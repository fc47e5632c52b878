"""Who is in a group, beyond joining an open one (forum/actions/groups.py): asking to join a
group whose conveners approve each member (they are told, and the asker is told what they
decided); invite links that expire, can be revoked and allow a number of uses; conveners
removing or banning a member (a banned person cannot join, ask, use an invite or be added
again until the ban is lifted)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from forum.access import GroupAccess, access_group
from forum.actions.events import forget_answers
from forum.actions.notify import notify_user
from forum.actions.posts import require_author
from forum.actions.validation import clean_text
from forum.auth import new_token, token_hash
from forum.context import Forum
from forum.db import Connection
from forum.errors import BadRequest, Conflict, Forbidden, NotFound, RateLimited
from forum.events import AccessChanged, Event
from forum.permissions import can_ask_to_join, can_hold_group_role, can_manage_members, is_staff
from forum.queries import groups as group_queries
from forum.queries import users as user_queries
from forum.queries.audit import record_action
from forum.queries.groups import Group, Invite, membership_lock
from forum.queries.notifications import Kind
from forum.queries.users import User
from forum.rendering import long_date

MESSAGE_CHARS = 500
INVITE_DAYS = (1, 7, 30)
MAX_INVITE_USES = 100
MAX_WORKING_INVITES = 20  # links that still work, per group
ASKS_PER_HOUR = 5  # one person's requests to join, in all groups (each tells the conveners)
ASK_AGAIN_DAYS = 7  # after a decline, before the same person may ask the same group again


async def _managed(conn: Connection, actor: User | None, group_id: int) -> GroupAccess:
    """The group, if the actor convenes it (or is site staff)."""
    access = await access_group(conn, actor, group_id=group_id)
    if actor is None or not can_manage_members(actor, access.membership):
        raise Forbidden("Only the group's conveners can do that.")
    return access


async def _tell(
    forum: Forum, conn: Connection, user_ids: list[int], message: str, url: str
) -> list[Event]:
    events: list[Event] = []
    for user_id in user_ids:
        events += await notify_user(
            forum, conn, user_id, Kind.CUSTOM, forum.now(), message=message, url=url
        )
    return events


# --- asking to join ---------------------------------------------------------------------------


async def do_ask_to_join(
    forum: Forum, user: User | None, group_id: int, message: str | None
) -> None:
    """Ask to join a group whose conveners approve each member; they are told."""
    asker = require_author(user, forum.now())
    clean_message = clean_text(message, "Your message", MESSAGE_CHARS, allow_empty=True)
    now = forum.now()
    async with forum.db.transaction(locks=[membership_lock(group_id)]) as conn:
        access = await access_group(conn, asker, group_id=group_id)
        group = access.group
        if await group_queries.is_banned(conn, group_id, asker.id):
            raise Forbidden("You cannot join this group: its conveners removed you from it.")
        if not can_ask_to_join(asker, group, access.membership):
            raise Forbidden("This group is not taking requests to join.")
        wait = forum.follow_limits.take(f"ask:{asker.id}", ASKS_PER_HOUR, 3600)
        if wait:
            raise RateLimited("That is a lot of requests to join. Please wait.", wait_seconds=wait)
        retry_after = now - ASK_AGAIN_DAYS * 86400
        if not await group_queries.add_join_request(
            conn, group_id, asker.id, clean_message, now, retry_after=retry_after
        ):
            state = await group_queries.join_request_state(conn, group_id, asker.id)
            if state is not None and state["declined_at"] is not None:
                again = float(state["declined_at"]) + ASK_AGAIN_DAYS * 86400
                raise Conflict(
                    "The conveners did not accept your last request. You can ask again from"
                    f" {long_date(again)}."
                )
            raise Conflict("You have asked already. The conveners will tell you what they decide.")
        url = forum.renderer.url_path("join_requests", slug=group.slug)
        conveners = await group_queries.list_conveners(conn, group_id)
        events = await _tell(
            forum, conn, conveners, f"{asker.username} asked to join “{group.name}”", url
        )
        await forum.publish(conn, *events)


async def do_withdraw_request(forum: Forum, user: User | None, group_id: int) -> None:
    asker = require_author(user, forum.now())
    async with forum.db.transaction() as conn:
        await access_group(conn, asker, group_id=group_id)
        if not await group_queries.take_join_request(conn, group_id, asker.id):
            raise NotFound("You have not asked to join this group.")


async def do_decide_request(
    forum: Forum, actor: User | None, group_id: int, username: str | None, approve: bool
) -> User:
    """Approve (they become a member) or decline a request; the asker is told either way."""
    now = forum.now()
    async with forum.db.transaction(locks=[membership_lock(group_id)]) as conn:
        access = await _managed(conn, actor, group_id)
        assert actor is not None
        group = access.group
        asker = await user_queries.get_user_by_username(conn, (username or "").strip())
        gone = NotFound("That request is not waiting any more: another convener decided it.")
        if asker is None:
            raise gone
        url = forum.renderer.url_path("group", slug=group.slug)
        if approve:
            if await group_queries.is_banned(conn, group_id, asker.id):
                raise BadRequest(f"{asker.username} is banned from this group. Lift the ban first.")
            if not can_hold_group_role(asker, group, "member"):
                raise BadRequest(f"{asker.username} has a guest account and cannot join.")
            if not await group_queries.take_join_request(conn, group_id, asker.id):
                raise gone
            # Never a convener made a member again by an old request.
            await group_queries.add_membership_if_absent(
                conn, group_id=group_id, user_id=asker.id, now=now
            )
            message = f"You are now a member of “{group.name}”"
        else:
            if not await group_queries.decline_join_request(conn, group_id, asker.id, now):
                raise gone
            message = f"The conveners of “{group.name}” did not accept your request to join"
        events = await _tell(forum, conn, [asker.id], message, url)
        if approve:
            events.append(AccessChanged(asker.id))
        await record_action(
            conn,
            actor_id=actor.id,
            action="approve_join" if approve else "decline_join",
            group_id=group_id,
            target_user_id=asker.id,
            now=now,
        )
        await forum.publish(conn, *events)
    return asker


# --- invite links -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewInvite:
    invite: Invite
    token: str  # shown once, to the convener who made it: only its hash is kept


async def do_create_invite(
    forum: Forum, actor: User | None, group_id: int, days: int | None, uses: int | None
) -> NewInvite:
    if days not in INVITE_DAYS:
        raise BadRequest("Choose how long the link works: a day, a week or 30 days.")
    if uses is None or not 1 <= uses <= MAX_INVITE_USES:
        raise BadRequest(f"Choose how many people can use the link: 1 to {MAX_INVITE_USES}.")
    now = forum.now()
    async with forum.db.transaction() as conn:
        await _managed(conn, actor, group_id)
        assert actor is not None
        if await group_queries.count_invites(conn, group_id, now) >= MAX_WORKING_INVITES:
            raise BadRequest(
                f"The group has {MAX_WORKING_INVITES} invite links that still work."
                " Turn one off before you make another."
            )
        token = new_token()
        invite = await group_queries.insert_invite(
            conn,
            group_id=group_id,
            token_hash=token_hash(token),
            by=actor.id,
            expires_at=now + days * 86400,
            max_uses=uses,
            now=now,
        )
        await record_action(conn, actor_id=actor.id, action="invite", group_id=group_id, now=now)
    return NewInvite(invite, token)


async def do_revoke_invite(forum: Forum, actor: User | None, group_id: int, invite_id: int) -> None:
    async with forum.db.transaction() as conn:
        await _managed(conn, actor, group_id)
        if not await group_queries.revoke_invite(conn, group_id, invite_id, forum.now()):
            raise NotFound("There is no such invite link, or it was revoked already.")


@dataclass(frozen=True, slots=True)
class InviteCheck:
    group: Group
    usable: bool
    why_not: str  # when not usable, in plain words


async def check_invite(forum: Forum, token: str) -> InviteCheck:
    """What an invite link leads to. An unknown link is a 404 (it says nothing of any group);
    a known one names its group, private or not: its holder was given it to join."""
    invite = await group_queries.get_invite(forum.db, token_hash(token)) if token else None
    if invite is None:
        raise NotFound("This invite link does not work. Ask whoever sent it for a new one.")
    group = await group_queries.get_group(forum.db, invite.group_id)
    if group is None:
        raise NotFound("This invite link does not work. Ask whoever sent it for a new one.")
    why_not = ""
    if invite.revoked_at is not None:
        why_not = "This invite link was turned off by the group's conveners."
    elif invite.expires_at <= forum.now():
        why_not = "This invite link has expired. Ask whoever sent it for a new one."
    elif invite.uses >= invite.max_uses:
        why_not = "This invite link has been used as many times as it allows."
    return InviteCheck(group, not why_not, why_not)


async def do_join_by_invite(forum: Forum, user: User | None, token: str) -> Group:
    member = require_author(user, forum.now())
    found = await check_invite(forum, token)
    if not found.usable:
        raise Conflict(found.why_not)
    now = forum.now()
    async with forum.db.transaction() as conn:
        invite = await group_queries.get_invite(conn, token_hash(token))
        if invite is None:
            raise NotFound("This invite link does not work. Ask whoever sent it for a new one.")
        group = found.group
        await group_queries.lock_memberships(conn, group.id)
        role = await group_queries.get_membership_role(conn, group.id, member.id)
        if role is not None:
            return group  # already in: the link is not used up by following it again
        if await group_queries.is_banned(conn, group.id, member.id):
            raise Forbidden("You cannot join this group: its conveners removed you from it.")
        if not can_hold_group_role(member, group, "member"):
            raise Forbidden(
                "Guest accounts cannot join private groups. Sign up with an email address."
            )
        if not await group_queries.use_invite(conn, invite.id, now):
            raise Conflict("This invite link was used up a moment ago.")
        await group_queries.add_membership_if_absent(
            conn, group_id=group.id, user_id=member.id, now=now
        )
        await group_queries.take_join_request(conn, group.id, member.id)
        await record_action(
            conn,
            actor_id=member.id,
            action="join_by_invite",
            group_id=group.id,
            target_user_id=member.id,
            note=f"invite {invite.id}",
            now=now,
        )
        await forum.publish(conn, AccessChanged(member.id))
    return group


# --- removing and banning ---------------------------------------------------------------------


async def do_remove_member(
    forum: Forum,
    actor: User | None,
    group_id: int,
    username: str | None,
    *,
    ban: bool,
    reason: str | None = None,
) -> User:
    """Take a member out of the group (and, with `ban`, keep them out). A convener cannot
    remove themselves (they leave) nor the group's last convener; only site staff remove or
    ban a convener."""
    clean_reason = clean_text(reason, "The reason", 500, allow_empty=True)
    now = forum.now()
    async with forum.db.transaction(locks=[membership_lock(group_id)]) as conn:
        await _managed(conn, actor, group_id)
        assert actor is not None
        target = await user_queries.get_user_by_username(conn, (username or "").strip())
        if target is None:
            raise NotFound("There is no such member.")
        if target.id == actor.id:
            raise BadRequest("To leave the group, use Leave on its page.")
        role = await group_queries.get_membership_role(conn, group_id, target.id)
        if role is None and not ban:
            raise BadRequest(f"{target.username} is not a member of this group.")
        if role == "convener" and not is_staff(actor):
            raise Forbidden("Only site staff remove a convener.")
        if role == "convener" and await group_queries.list_conveners(conn, group_id) == [target.id]:
            raise BadRequest(f"{target.username} is the group's only convener.")
        if is_staff(target) and ban:
            raise Forbidden("Site staff cannot be banned from a group.")
        await group_queries.delete_membership(conn, group_id, target.id)
        await group_queries.take_join_request(conn, group_id, target.id)
        if ban:
            await group_queries.add_ban(conn, group_id, target.id, actor.id, clean_reason, now)
        await record_action(
            conn,
            actor_id=actor.id,
            action="ban_member" if ban else "remove_member",
            group_id=group_id,
            target_user_id=target.id,
            note=clean_reason,
            now=now,
        )
        told = await forget_answers(forum, conn, group_id, target.id)
        # Their open pages of a private group stop receiving it now, not at their next load.
        await forum.publish(conn, AccessChanged(target.id), *told)
    return target


async def do_lift_ban(
    forum: Forum, actor: User | None, group_id: int, username: str | None
) -> None:
    async with forum.db.transaction() as conn:
        await _managed(conn, actor, group_id)
        assert actor is not None
        target = await user_queries.get_user_by_username(conn, (username or "").strip())
        if target is None or not await group_queries.remove_ban(conn, group_id, target.id):
            raise NotFound("That person is not banned from this group.")
        await record_action(
            conn,
            actor_id=actor.id,
            action="lift_ban",
            group_id=group_id,
            target_user_id=target.id,
            now=forum.now(),
        )


def invite_days_left(invite: Invite, now: float) -> int:
    return max(1, math.ceil((invite.expires_at - now) / 86400))
