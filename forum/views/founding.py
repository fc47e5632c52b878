"""Founding and running groups (issue 12): proposing a group, the admins' list of proposals,
a group's settings, requests to join, invite links, and removing or banning members."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from forum.access import GroupAccess, access_group
from forum.actions import founding, membership
from forum.errors import BadRequest, Conflict, Forbidden, ForumError
from forum.forms import Input, read_input
from forum.pages import (
    GroupSettingsPage,
    InvitePage,
    InvitesPage,
    JoinRequestsPage,
    ProposalsPage,
    ProposeGroupPage,
    UnansweredPage,
)
from forum.permissions import can_manage_members, is_admin, is_staff
from forum.queries import groups as group_queries
from forum.queries import proposals as proposal_queries
from forum.queries import topics as topic_queries
from forum.queries.proposals import STATEMENT_FIELDS
from forum.views.common import base, live_since
from forum.views.groups import members_page
from forum.web import forum_of, path_int, redirect, render, require_viewer, viewer_of

_PROPOSAL_FIELDS = ("name", "slug", "description", *STATEMENT_FIELDS, "visibility", "conveners")


def _typed(form: Input | None, names: tuple[str, ...]) -> dict[str, str]:
    return {name: (form.get(name) or "") if form else "" for name in names}


# --- proposing a group --------------------------------------------------------------------------


async def propose_group(request: Request) -> Response:
    viewer = require_viewer(request)
    forum = forum_of(request)
    form, errors, status = None, [], 200
    if request.method == "POST":
        form = await read_input(request)
        try:
            await founding.do_propose_group(forum, viewer, form)
        except ForumError as error:
            errors, status = error.messages, error.status_code
        else:
            return redirect(request.url_for("propose_group").path + "?sent=1")
    values = _typed(form, _PROPOSAL_FIELDS)
    values["visibility"] = values["visibility"] or "public"
    page = ProposeGroupPage(
        **base(request, "Propose a group"),
        values=values,
        questions=founding.STATEMENT_QUESTIONS,
        own=await proposal_queries.list_own(forum.db, viewer.id),
        errors=errors,
        sent=request.query_params.get("sent") == "1" and not errors,
    )
    return render(request, page, status)


async def proposals_page(
    request: Request, errors: list[str] | None = None, status: int = 400
) -> Response:
    viewer = require_viewer(request)
    if not is_admin(viewer):
        raise Forbidden("Only administrators decide on proposed groups.")
    db = forum_of(request).db
    page = ProposalsPage(
        **base(request, "Proposed groups"),
        pending=await proposal_queries.list_proposals(db, pending=True),
        decided=await proposal_queries.list_proposals(db, pending=False, limit=20),
        questions=founding.STATEMENT_QUESTIONS,
        errors=errors or [],
    )
    return render(request, page, status if errors else 200)


async def decide_proposal(request: Request) -> Response:
    form = await read_input(request)
    viewer = require_viewer(request)
    forum, proposal_id = forum_of(request), path_int(request, "proposal_id")
    decision = form.get("decision")
    try:
        if decision == "approve":
            group = await founding.do_approve_proposal(forum, viewer, proposal_id)
            return redirect(request.url_for("group", slug=group.slug).path)
        if decision != "decline":
            raise BadRequest("Choose to approve or decline the proposal.")
        await founding.do_decline_proposal(forum, viewer, proposal_id, form.get("reason"))
    except (BadRequest, Conflict) as error:
        if not is_admin(viewer):
            raise
        return await proposals_page(request, error.messages, error.status_code)
    return redirect(request.url_for("proposals").path)


# --- a group's settings -------------------------------------------------------------------------

_SETTINGS_FIELDS = (
    "description",
    *STATEMENT_FIELDS,
    "joining",
    "members_listed",
    "unanswered_hours",
    "visibility",
)


async def _managed_group(request: Request) -> GroupAccess:
    viewer = require_viewer(request)
    access = await access_group(forum_of(request).db, viewer, slug=request.path_params["slug"])
    if not can_manage_members(viewer, access.membership):
        raise Forbidden("Only the group's conveners can see this page.")
    return access


async def group_settings(request: Request) -> Response:
    access = await _managed_group(request)
    group, errors, status = access.group, [], 200
    values = {name: str(getattr(group, name)) for name in _SETTINGS_FIELDS}
    if request.method == "POST":
        form = await read_input(request)
        values = _typed(form, _SETTINGS_FIELDS)
        try:
            await founding.do_edit_group(forum_of(request), viewer_of(request), group.id, form)
        except ForumError as error:
            errors, status = error.messages, error.status_code
        else:
            return redirect(request.url_for("group_settings", slug=group.slug).path + "?saved=1")
    page = GroupSettingsPage(
        **base(request, f"Settings of {group.name}"),
        group=group,
        values=values,
        questions=founding.STATEMENT_QUESTIONS,
        errors=errors,
        saved=request.query_params.get("saved") == "1" and not errors,
        can_change_visibility=founding.can_change_visibility(viewer_of(request)),
    )
    return render(request, page, status)


# --- topics waiting for an answer ---------------------------------------------------------------


LIST_LIMIT = 100


async def unanswered(request: Request) -> Response:
    """The topics waiting for a first answer in every group the viewer convenes (site staff:
    every group), oldest first; rows leave live as answers come."""
    viewer = require_viewer(request)
    forum = forum_of(request)
    if is_staff(viewer):
        group_ids = [g.id for g in await group_queries.list_groups(forum.db)]
    else:
        roles = await group_queries.get_memberships(forum.db, viewer.id)
        group_ids = [g for g, role in roles.items() if role == "convener"]
    if not group_ids:
        raise Forbidden("This page is for the conveners of a group.")
    topics = await topic_queries.list_unanswered(forum.db, group_ids, forum.now(), LIST_LIMIT)
    page = UnansweredPage(
        **base(request, "Waiting for an answer"),
        # The review channel (every page of a convener's follows it) carries the answers,
        # each to the conveners of its group only (forum/live.py).
        live_since=await live_since(request, "review"),
        topics=topics,
        more=len(topics) == LIST_LIMIT,
    )
    return render(request, page)


# --- asking to join -----------------------------------------------------------------------------


async def ask_to_join(request: Request) -> Response:
    form = await read_input(request)
    viewer = require_viewer(request)
    access = await access_group(forum_of(request).db, viewer, slug=request.path_params["slug"])
    forum = forum_of(request)
    if form.get("withdraw") == "yes":
        await membership.do_withdraw_request(forum, viewer, access.group.id)
    else:
        await membership.do_ask_to_join(forum, viewer, access.group.id, form.get("message"))
    return redirect(request.url_for("group", slug=access.group.slug).path)


async def join_requests(request: Request, errors: list[str] | None = None) -> Response:
    access = await _managed_group(request)
    requests = await group_queries.list_join_requests(forum_of(request).db, access.group.id)
    page = JoinRequestsPage(
        **base(request, f"Requests to join {access.group.name}"),
        group=access.group,
        requests=[dict(row) for row in requests],
        errors=errors or [],
    )
    return render(request, page, 400 if errors else 200)


async def decide_request(request: Request) -> Response:
    form = await read_input(request)
    access = await _managed_group(request)
    decision = form.get("decision")
    if decision not in ("approve", "decline"):
        raise BadRequest("Choose to accept or decline the request.")
    try:
        await membership.do_decide_request(
            forum_of(request),
            viewer_of(request),
            access.group.id,
            form.get("username"),
            decision == "approve",
        )
    except BadRequest as error:
        return await join_requests(request, error.messages)
    return redirect(request.url_for("join_requests", slug=access.group.slug).path)


# --- invite links -------------------------------------------------------------------------------


async def invites_page(
    request: Request, *, new_link: str = "", errors: list[str] | None = None
) -> Response:
    access = await _managed_group(request)
    forum = forum_of(request)
    invites = await group_queries.list_invites(forum.db, access.group.id, forum.now())
    page = InvitesPage(
        **base(request, f"Invite links for {access.group.name}"),
        group=access.group,
        invites=invites,
        days_left={i.id: membership.invite_days_left(i, forum.now()) for i in invites},
        new_link=new_link,
        errors=errors or [],
    )
    return render(request, page, 400 if errors else 200)


async def invites(request: Request) -> Response:
    if request.method == "GET":
        return await invites_page(request)
    form = await read_input(request)
    access = await _managed_group(request)
    forum = forum_of(request)
    if form.get("revoke"):
        await membership.do_revoke_invite(
            forum, viewer_of(request), access.group.id, form.get_int("revoke") or 0
        )
        return redirect(request.url_for("invites", slug=access.group.slug).path)
    try:
        made = await membership.do_create_invite(
            forum, viewer_of(request), access.group.id, form.get_int("days"), form.get_int("uses")
        )
    except BadRequest as error:
        return await invites_page(request, errors=error.messages)
    # Shown in this response only (never in a URL that a log or a browser's history keeps).
    link = str(request.url_for("invite", token=made.token))
    return await invites_page(request, new_link=link)


async def invite(request: Request) -> Response:
    """An invite link: what it leads to (GET), and joining by it (POST)."""
    forum, viewer = forum_of(request), viewer_of(request)
    token = request.path_params["token"]
    if request.method == "POST":
        await read_input(request)
        group = await membership.do_join_by_invite(forum, require_viewer(request), token)
        return redirect(request.url_for("group", slug=group.slug).path)
    found = await membership.check_invite(forum, token)
    role = (
        await group_queries.get_membership_role(forum.db, found.group.id, viewer.id)
        if viewer
        else None
    )
    # A link that no longer works names a private group to nobody (a member removed since
    # keeps their old link).
    hidden = not found.usable and found.group.is_private
    page = InvitePage(
        **base(request, "This invite link does not work" if hidden else f"Join {found.group.name}"),
        hide_group=hidden,
        group=found.group,
        token=token,
        usable=found.usable,
        why_not=found.why_not,
        membership=role,
    )
    return render(request, page, 200 if found.usable else 410)


# --- removing and banning members ---------------------------------------------------------------


async def remove_member(request: Request) -> Response:
    form = await read_input(request)
    access = await _managed_group(request)
    action = form.get("action")
    try:
        if action == "lift_ban":
            await membership.do_lift_ban(
                forum_of(request), viewer_of(request), access.group.id, form.get("username")
            )
        elif action in ("remove", "ban"):
            await membership.do_remove_member(
                forum_of(request),
                viewer_of(request),
                access.group.id,
                form.get("username"),
                ban=action == "ban",
                reason=form.get("reason"),
            )
        else:
            raise BadRequest("Choose to remove, ban, or lift a ban.")
    except BadRequest as error:
        return await members_page(request, error.messages)
    return redirect(request.url_for("group_members", slug=access.group.slug).path)
