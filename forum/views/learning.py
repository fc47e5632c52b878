"""Sharing learning (issue 12): the site-wide Learning page, one update, the conveners' form,
and the Atom feed."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from forum.access import access_group, readable_groups
from forum.actions import learning as actions
from forum.errors import BadRequest, Forbidden, ForumError, NotFound
from forum.forms import Input, query_input, read_input
from forum.learning_feed import atom_feed
from forum.pages import LearningFormPage, LearningPage, LearningUpdatePage
from forum.permissions import can_manage_members
from forum.queries import learning as queries
from forum.views.common import base
from forum.web import (
    forum_of,
    path_int,
    redirect,
    render,
    require_viewer,
    shown_on_form,
    viewer_of,
    with_retry_after,
)

FEED_ENTRIES = 30


async def learning_page(request: Request) -> Response:
    forum, viewer = forum_of(request), viewer_of(request)
    query = query_input(request)
    page = query.get_int("page") or 1
    if page > 1000:
        raise BadRequest("There is no such page.")
    readable = await readable_groups(forum.db, viewer)
    only = query.get("group")
    if only:
        readable = [g for g in readable if g.slug == only]
        if not readable:
            raise NotFound("There is no such group.")
    updates = await queries.list_updates(
        forum.db,
        [g.id for g in readable],
        limit=actions.PER_PAGE + 1,
        offset=(page - 1) * actions.PER_PAGE,
    )
    view = LearningPage(
        **base(request, "What our groups learned"),
        updates=updates[: actions.PER_PAGE],
        more=len(updates) > actions.PER_PAGE,
        page=page,
        group=readable[0] if only else None,
        removed=request.query_params.get("removed") == "1",
    )
    return render(request, view)


async def update_page(request: Request) -> Response:
    forum, viewer = forum_of(request), viewer_of(request)
    update = await queries.get_update(forum.db, path_int(request, "update_id"))
    if update is None:
        raise NotFound("There is no such update.")
    try:
        access = await access_group(forum.db, viewer, group_id=update.group_id)
    except NotFound:
        raise NotFound("There is no such update.") from None
    view = LearningUpdatePage(
        **base(request, update.title),
        update=update,
        can_remove=can_manage_members(viewer, access.membership),
        posted=request.query_params.get("posted") == "1",
    )
    return render(request, view)


async def new_update(
    request: Request, *, form: Input | None = None, errors: list[str] | None = None
) -> Response:
    viewer = require_viewer(request)
    forum = forum_of(request)
    access = await access_group(forum.db, viewer, slug=request.path_params["slug"])
    if request.method == "POST" and form is None:
        form = await read_input(request)
        try:
            update_id = await actions.do_post_update(forum, viewer, access.group.id, form)
        except ForumError as error:
            if not shown_on_form(error):
                raise
            response = await new_update(request, form=form, errors=error.messages)
            response.status_code = error.status_code
            return with_retry_after(response, error.wait_seconds)
        path = request.url_for("learning_update", update_id=update_id).path
        return redirect(f"{path}?posted=1")
    if not can_manage_members(viewer, access.membership):
        raise Forbidden("Only the group's conveners post its learning updates.")
    values = {
        name: (form.get(name) or "") if form else "" for name in ("title", "summary", "sources")
    }
    view = LearningFormPage(
        **base(request, f"Share what {access.group.name} learned"),
        group=access.group,
        values=values,
        errors=errors or [],
    )
    return render(request, view, 400 if errors else 200)


async def delete_update(request: Request) -> Response:
    await read_input(request)
    await actions.do_delete_update(
        forum_of(request), viewer_of(request), path_int(request, "update_id")
    )
    return redirect(request.url_for("learning").path + "?removed=1")


async def learning_atom(request: Request) -> Response:
    """Public groups' updates only: the feed is read without a login."""
    forum = forum_of(request)
    public = [g.id for g in await readable_groups(forum.db, None)]
    updates = await queries.list_updates(forum.db, public, limit=FEED_ENTRIES)
    body = atom_feed(
        [(u, str(request.url_for("learning_update", update_id=u.id))) for u in updates],
        str(request.url_for("learning_atom")),
        str(request.url_for("learning")),
        forum.now(),
    )
    return Response(body, media_type="application/atom+xml; charset=utf-8")
