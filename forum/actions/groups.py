"""Groups: create them, join and leave, add members, make members conveners and back."""

from __future__ import annotations

import re

from forum.access import access_group
from forum.actions.events import forget_answers
from forum.actions.validation import clean_text, slugify
from forum.actions.welcome import make_introductions
from forum.context import Forum
from forum.errors import BadRequest, Forbidden, NotFound
from forum.events import AccessChanged, EveryoneAccessChanged
from forum.permissions import (
    can_create_group,
    can_hold_group_role,
    can_join_group,
    can_manage_members,
    is_staff,
)
from forum.queries import groups as group_queries
from forum.queries import users as user_queries
from forum.queries.audit import record_action
from forum.queries.groups import Group, membership_lock
from forum.queries.users import User

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,59}$")
GROUP_ROLES = ("member", "convener")


def _check_role_for(user: User, group: Group, role: str) -> None:
    if can_hold_group_role(user, group, role):
        return
    if group.is_private:
        raise BadRequest(
            f"{user.username} has a guest account, and guests cannot join private groups."
            " They can sign up for a full account with an email address."
        )
    raise BadRequest(f"{user.username} has a guest account, and guests cannot be conveners.")


class Operator:
    """Whoever runs the `forum` command on the server: acts with the site operator's
    authority and no forum account (creating the first groups, adding their members)."""


OPERATOR = Operator()


async def do_create_group(
    forum: Forum,
    actor: User | Operator | None,
    *,
    name: str | None,
    slug: str | None,
    description: str | None,
    visibility: str | None,
) -> Group:
    if not isinstance(actor, Operator) and not can_create_group(actor):
        raise Forbidden("Only administrators can create groups.")
    clean_name = clean_text(name, "The group name", 100, multiline=False)
    clean_slug = (slug or "").strip().lower() or slugify(clean_name, "group")
    errors = []
    if not SLUG_RE.match(clean_slug):
        errors.append("The web address may use lower-case letters, digits and dashes.")
    if visibility not in ("public", "private"):
        errors.append("Choose whether the group is public or private.")
    clean_description = ""
    try:
        clean_description = clean_text(description, "The description", 2000, allow_empty=True)
    except BadRequest as error:
        errors += error.messages
    if errors:
        raise BadRequest(*errors)
    async with forum.db.transaction() as conn:
        if await group_queries.get_group_by_slug(conn, clean_slug):
            raise BadRequest("A group already uses that web address.")
        group = await group_queries.insert_group(
            conn,
            slug=clean_slug,
            name=clean_name,
            description=clean_description,
            visibility=str(visibility),
            now=forum.now(),
        )
        if isinstance(actor, User):
            await group_queries.upsert_membership(
                conn, group_id=group.id, user_id=actor.id, role="convener", now=forum.now()
            )
            await make_introductions(forum, conn, group, actor, forum.now())
        if not group.is_private:
            # Everyone may read it now: open sockets' `latest` learns of it, kept home
            # pages list it (forum/page_cache.py).
            await forum.publish(conn, EveryoneAccessChanged(group.id))
    return group


async def do_join_group(forum: Forum, actor: User, group_id: int) -> None:
    async with forum.db.transaction(locks=[membership_lock(group_id)]) as conn:
        access = await access_group(conn, actor, group_id=group_id)
        if await group_queries.is_banned(conn, group_id, actor.id):
            raise Forbidden("You cannot join this group: its conveners removed you from it.")
        if not can_join_group(actor, access.group, access.membership):
            raise Forbidden("You cannot join this group yourself; ask one of its conveners.")
        await group_queries.upsert_membership(
            conn, group_id=group_id, user_id=actor.id, role="member", now=forum.now()
        )
        await group_queries.take_join_request(conn, group_id, actor.id)  # moot now


async def do_leave_group(forum: Forum, actor: User, group_id: int) -> None:
    async with forum.db.transaction() as conn:
        access = await access_group(conn, actor, group_id=group_id)
        if access.membership is None:
            raise BadRequest("You are not a member of this group.")
        await group_queries.delete_membership(conn, group_id, actor.id)
        told = await forget_answers(forum, conn, group_id, actor.id)
        # Open live pages of a private group must stop receiving it now, not at next reload.
        await forum.publish(conn, AccessChanged(actor.id), *told)


async def do_add_member(
    forum: Forum,
    actor: User | Operator | None,
    group_id: int,
    username: str | None,
    role: str = "member",
) -> User:
    if role not in GROUP_ROLES:
        raise BadRequest("The role must be member or convener.")
    async with forum.db.transaction(locks=[membership_lock(group_id)]) as conn:
        access = None
        if not isinstance(actor, Operator):
            access = await access_group(conn, actor, group_id=group_id)
            if not can_manage_members(actor, access.membership):
                raise Forbidden("Only the group's conveners and moderators can add members.")
        user = await user_queries.get_user_by_username(conn, (username or "").strip())
        if user is None:
            raise NotFound(f"There is no user called {(username or '').strip()!r}.")
        group = access.group if access else await group_queries.get_group(conn, group_id)
        if group is None:
            raise NotFound("There is no such group.")
        _check_role_for(user, group, role)
        if await group_queries.is_banned(conn, group_id, user.id):
            raise BadRequest(f"{user.username} is banned from this group. Lift the ban first.")
        now = forum.now()
        await group_queries.upsert_membership(
            conn, group_id=group_id, user_id=user.id, role=role, now=now
        )
        # A request left waiting could later be accepted and make a convener a member again.
        await group_queries.take_join_request(conn, group_id, user.id)
        await forum.publish(conn, AccessChanged(user.id))  # a new convener gets the review channel
        if isinstance(actor, User):
            await record_action(
                conn,
                actor_id=actor.id,
                action="add_member",
                now=now,
                note=role,
                group_id=group_id,
                target_user_id=user.id,
            )
    return user


async def do_set_group_role(
    forum: Forum, actor: User, group_id: int, username: str | None, role: str | None
) -> User:
    """A convener or staff member makes a member a convener, or a convener a member again."""
    if role not in GROUP_ROLES:
        raise BadRequest("The role must be member or convener.")
    async with forum.db.transaction() as conn:
        access = await access_group(conn, actor, group_id=group_id)
        if not can_manage_members(actor, access.membership):
            raise Forbidden("Only the group's conveners and moderators can change roles.")
        name = (username or "").strip()
        user = await user_queries.get_user_by_username(conn, name)
        if user is None:
            raise NotFound(f"There is no user called {name!r}.")
        _check_role_for(user, access.group, role)
        current = await group_queries.get_membership_role(conn, group_id, user.id)
        if current is None:
            raise BadRequest(f"{user.username} is not a member of this group. Add them first.")
        if current == role:
            return user
        # Only site staff take the role from another convener (who could then be removed);
        # a convener may step down themselves.
        if current == "convener" and user.id != actor.id and not is_staff(actor):
            raise Forbidden("Only site staff take the convener role from someone else.")
        if current == "convener" and await group_queries.list_conveners(conn, group_id) == [
            user.id
        ]:
            raise BadRequest(
                f"{user.username} is the group's only convener. Make someone else a convener first."
            )
        if not await group_queries.set_membership_role(conn, group_id, user.id, role):
            raise BadRequest(f"{user.username} is not a member of this group. Add them first.")
        await record_action(
            conn,
            actor_id=actor.id,
            action="set_group_role",
            now=forum.now(),
            note=f"{current} -> {role}",
            group_id=group_id,
            target_user_id=user.id,
        )
        await forum.publish(conn, AccessChanged(user.id))
    return user


EXCERPT_CHOICES = {"default": None, "yes": True, "no": False}


async def do_set_email_excerpts(
    forum: Forum, actor: User | None, group_id: int, choice: str | None
) -> None:
    """Whether emails about this group's posts quote them: "yes", "no", or "default" (public
    groups do, private groups do not). For its conveners and moderators."""
    if choice not in EXCERPT_CHOICES:
        raise BadRequest("Choose whether emails quote posts: yes, no or default.")
    async with forum.db.transaction() as conn:
        access = await access_group(conn, actor, group_id=group_id)
        if actor is None or not can_manage_members(actor, access.membership):
            raise Forbidden("Only the group's conveners and moderators can change this.")
        await conn.execute(
            "UPDATE groups SET email_excerpts = :v WHERE id = :g",
            {"v": EXCERPT_CHOICES[choice], "g": group_id},
        )
        await record_action(
            conn,
            actor_id=actor.id,
            action="set_email_excerpts",
            now=forum.now(),
            note=choice,
            group_id=group_id,
        )
