"""Group pages: a group's topics, joining and leaving, members and their roles, new groups."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from forum.access import access_group
from forum.actions import groups as group_actions
from forum.actions.debates import can_schedule_debate
from forum.actions.founding import STATEMENT_QUESTIONS
from forum.actions.welcome import do_dismiss_welcome
from forum.db import Database
from forum.errors import BadRequest, Forbidden
from forum.forms import read_input
from forum.page_cache import share_page
from forum.pages import DebateLists, GroupPage, MembersPage, NewGroupPage
from forum.permissions import (
    can_ask_to_join,
    can_create_group,
    can_join_group,
    can_manage_members,
    can_see_members,
    can_start_topic,
    is_staff,
)
from forum.queries import debates as debate_queries
from forum.queries import events as event_queries
from forum.queries import groups as group_queries
from forum.queries import notifications as notification_queries
from forum.queries import topics as topic_queries
from forum.views.common import base, list_reading, live_since
from forum.web import forum_of, redirect, render, require_viewer, topic_page_of, viewer_of


async def group_page(request: Request) -> Response:
    db, viewer = forum_of(request).db, viewer_of(request)
    access = await access_group(db, viewer, slug=request.path_params["slug"])
    group = access.group
    # "Unanswered": the topics nobody but their author has replied to yet.
    unanswered = request.query_params.get("show") == "unanswered"
    topics, next_cursor = await topic_page_of(
        request,
        lambda before, n: (
            topic_queries.list_unanswered_page(db, group.id, before, n)
            if unanswered
            else topic_queries.list_topics(db, [group.id], before, n)
        ),
        forum_of(request).settings.topics_per_page,
    )
    first_page = "before" not in request.query_params and not unanswered
    pinned = await topic_queries.list_pinned(db, group.id) if first_page else []
    pinned_ids = {t.id for t in pinned}
    now = forum_of(request).now()
    debates = await debate_lists(db, group.id, now) if first_page else None
    events = await event_queries.list_upcoming(db, group.id, now, 3) if first_page else []
    can_manage = can_manage_members(viewer, access.membership)
    # The viewer's request to join, waiting or declined, and whether they are banned; a new
    # member's invitation to say hello.
    asked, banned = "", False
    welcome = False
    if viewer is not None and access.membership == "member":
        welcome = await group_queries.needs_welcome(db, group, viewer.id)
    if viewer is not None and access.membership is None:
        asked, banned = await group_queries.standing(db, group.id, viewer.id)
    page = GroupPage(
        **base(request, group.name),
        live_since=await live_since(request, f"group:{group.id}"),
        group=group,
        membership=access.membership,
        pinned=pinned,
        topics=[t for t in topics if t.id not in pinned_ids],
        next_cursor=next_cursor,
        can_start_topic=can_start_topic(viewer, group, access.membership),
        can_join=can_join_group(viewer, group, access.membership) and not banned,
        can_ask=can_ask_to_join(viewer, group, access.membership) and not banned,
        questions=STATEMENT_QUESTIONS,
        welcome=welcome,
        asked=asked,
        banned=banned,
        can_manage=can_manage,
        request_count=await group_queries.count_join_requests(db, group.id) if can_manage else 0,
        can_see_members=can_see_members(viewer, group, access.membership),
        unanswered=unanswered,
        debates=debates or DebateLists([], [], []),
        events=events,
        can_schedule=can_schedule_debate(viewer, access.membership),
        level=await notification_queries.group_level(db, viewer.id, group.id) if viewer else None,
        **await list_reading(request, [*pinned, *topics]),
    )
    if viewer is None and not group.is_private:
        share_page(request, f"group:{group.id}")
    return render(request, page)


async def debate_lists(db: Database, group_id: int, now: float) -> DebateLists:
    """The group's debates: live now, to come (soonest first), and the latest past ones."""
    return DebateLists(
        await debate_queries.list_live(db, [group_id], now),
        await debate_queries.list_upcoming(db, [group_id], now),
        await debate_queries.list_past(db, [group_id], now),
    )


async def join_group(request: Request) -> Response:
    await read_input(request)
    viewer = require_viewer(request)
    access = await access_group(forum_of(request).db, viewer, slug=request.path_params["slug"])
    await group_actions.do_join_group(forum_of(request), viewer, access.group.id)
    return redirect(request.url_for("group", slug=access.group.slug).path, "joined")


async def dismiss_welcome(request: Request) -> Response:
    await read_input(request)
    viewer = require_viewer(request)
    access = await access_group(forum_of(request).db, viewer, slug=request.path_params["slug"])
    await do_dismiss_welcome(forum_of(request), viewer, access.group.id)
    return redirect(request.url_for("group", slug=access.group.slug).path)


async def leave_group(request: Request) -> Response:
    await read_input(request)
    viewer = require_viewer(request)
    access = await access_group(forum_of(request).db, viewer, slug=request.path_params["slug"])
    await group_actions.do_leave_group(forum_of(request), viewer, access.group.id)
    return redirect(request.url_for("home").path, "left")


async def members_page(request: Request, errors: list[str] | None = None) -> Response:
    db, viewer = forum_of(request).db, viewer_of(request)
    access = await access_group(db, viewer, slug=request.path_params["slug"])
    if not can_see_members(viewer, access.group, access.membership):
        raise Forbidden("Only the group's members can see who else belongs to it.")
    members = await group_queries.list_members(db, access.group.id)
    can_manage = can_manage_members(viewer, access.membership)
    page = MembersPage(
        **base(request, f"Members of {access.group.name}"),
        group=access.group,
        members=members,
        can_manage=can_manage,
        errors=errors or [],
        bans=[dict(row) for row in await group_queries.list_bans(db, access.group.id)]
        if can_manage
        else [],
        can_remove_conveners=is_staff(viewer),
    )
    return render(request, page, 400 if errors else 200)


async def add_member(request: Request) -> Response:
    form = await read_input(request)
    viewer = require_viewer(request)
    access = await access_group(forum_of(request).db, viewer, slug=request.path_params["slug"])
    try:
        await group_actions.do_add_member(
            forum_of(request),
            viewer,
            access.group.id,
            form.get("username"),
            form.get("role") or "member",
        )
    except BadRequest as error:
        return await members_page(request, error.messages)
    return redirect(request.url_for("group_members", slug=access.group.slug).path)


async def set_member_role(request: Request) -> Response:
    form = await read_input(request)
    viewer = require_viewer(request)
    access = await access_group(forum_of(request).db, viewer, slug=request.path_params["slug"])
    try:
        await group_actions.do_set_group_role(
            forum_of(request), viewer, access.group.id, form.get("username"), form.get("role")
        )
    except BadRequest as error:
        return await members_page(request, error.messages)
    return redirect(request.url_for("group_members", slug=access.group.slug).path)


async def new_group(request: Request) -> Response:
    viewer = require_viewer(request)
    if not can_create_group(viewer):
        raise Forbidden("Only administrators can create groups.")
    fields: dict[str, Any] = {
        "name_value": "",
        "slug_value": "",
        "description_value": "",
        "visibility_value": "public",
    }
    errors: list[str] = []
    if request.method == "POST":
        form = await read_input(request)
        fields = {
            "name_value": form.get("name") or "",
            "slug_value": form.get("slug") or "",
            "description_value": form.get("description") or "",
            "visibility_value": form.get("visibility") or "",
        }
        try:
            group = await group_actions.do_create_group(
                forum_of(request),
                viewer,
                name=form.get("name"),
                slug=form.get("slug"),
                description=form.get("description"),
                visibility=form.get("visibility"),
            )
        except BadRequest as error:
            errors = error.messages
        else:
            return redirect(request.url_for("group", slug=group.slug).path)
    page = NewGroupPage(**base(request, "New group"), errors=errors, **fields)
    return render(request, page, 400 if errors else 200)


async def email_excerpts(request: Request) -> Response:
    form = await read_input(request)
    viewer = require_viewer(request)
    access = await access_group(forum_of(request).db, viewer, slug=request.path_params["slug"])
    await group_actions.do_set_email_excerpts(
        forum_of(request), viewer, access.group.id, form.get("excerpts")
    )
    return redirect(request.url_for("group", slug=access.group.slug).path + "#email-excerpts")
