"""Profiles and the directory (issue 12): a member's own profile form and picture, the
picture as others may see it, and the directory of members."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from forum.actions import profiles as actions
from forum.content.pictures import content_type_of
from forum.errors import ForumError, NotFound
from forum.forms import Input, query_input, read_input
from forum.pages import PeoplePage, ProfileFormPage
from forum.permissions import is_staff
from forum.queries import profiles as queries
from forum.queries import users as user_queries
from forum.queries.profiles import VISIBILITIES, Profile
from forum.rendering import BADGE_LABELS
from forum.uploads import read_upload
from forum.views.common import base
from forum.web import (
    forum_of,
    redirect,
    render,
    require_viewer,
    shown_on_form,
    viewer_of,
    with_retry_after,
)

_FIELDS = ("display_name", "bio", "organisation", "region", "visibility", "interests")


def _values(form: Input | None, profile: Profile | None) -> dict[str, str]:
    if form is not None:
        return {name: form.get(name) or "" for name in _FIELDS}
    if profile is None:
        return {name: "" for name in _FIELDS} | {"visibility": queries.DEFAULT_VISIBILITY}
    return {
        "display_name": profile.display_name,
        "bio": profile.bio,
        "organisation": profile.organisation,
        "region": profile.region,
        "visibility": profile.visibility,
        "interests": ", ".join(profile.interests),
    }


async def my_profile(
    request: Request,
    *,
    errors: list[str] | None = None,
    status: int = 200,
    form: Input | None = None,
) -> Response:
    viewer = require_viewer(request)
    forum = forum_of(request)
    if request.method == "POST" and form is None and errors is None:
        form = await read_input(request)
        try:
            await actions.do_save_profile(forum, viewer, form)
        except ForumError as error:
            if not shown_on_form(error):
                raise
            return with_retry_after(
                await my_profile(
                    request, errors=error.messages, status=error.status_code, form=form
                ),
                error.wait_seconds,
            )
        return redirect(request.url_for("my_profile").path + "?saved=1")
    profile = await queries.get_profile(forum.db, viewer.id, viewer, False)
    assert profile is not None, "one's own profile is always readable"
    page = ProfileFormPage(
        **base(request, "Your profile"),
        profile=profile,
        values=_values(form, profile),
        visibilities=VISIBILITIES,
        max_picture_mb=actions.MAX_PICTURE_BYTES // (1024 * 1024),
        errors=errors or [],
        saved=request.query_params.get("saved") == "1" and not errors,
    )
    return render(request, page, status)


async def upload_picture(request: Request) -> Response:
    viewer = require_viewer(request)
    forum = forum_of(request)
    try:
        actions.check_may_upload_picture(forum, viewer)  # before a byte of the body is read
        async with read_upload(request, forum.storage, actions.MAX_PICTURE_BYTES) as sent:
            await actions.do_set_picture(forum, viewer, sent.file, sent.size)
    except ForumError as error:
        if not shown_on_form(error):
            raise
        response = await my_profile(request, errors=error.messages, status=error.status_code)
        return with_retry_after(response, error.wait_seconds)
    return redirect(request.url_for("my_profile").path + "?saved=1")


async def remove_picture(request: Request) -> Response:
    await read_input(request)
    await actions.do_remove_picture(forum_of(request), require_viewer(request))
    return redirect(request.url_for("my_profile").path + "?saved=1")


async def picture(request: Request) -> Response:
    """A member's picture, for those their profile's setting lets see it; else a 404 (the
    page then shows their initials)."""
    forum, viewer = forum_of(request), viewer_of(request)
    user = await user_queries.get_user_by_username(forum.db, request.path_params["username"])
    if user is None:
        raise NotFound("There is no such picture.")
    profile = await queries.get_profile(forum.db, user.id, viewer, is_staff(viewer))
    key = await queries.picture_key(forum.db, user.id) if profile and profile.has_picture else None
    if key is None:
        raise NotFound("There is no such picture.")
    try:
        data = b"".join([chunk async for chunk in forum.storage.read(key)])
    except FileNotFoundError:
        raise NotFound("There is no such picture.") from None
    return Response(
        data,
        media_type=content_type_of(data),
        headers={
            # The address changes with each new picture; who may see it can change, so
            # only the viewer's own browser keeps it, and not for long.
            "Cache-Control": "private, max-age=3600",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


async def clear_profile(request: Request) -> Response:
    form = await read_input(request)
    target = await actions.do_clear_profile(
        forum_of(request), viewer_of(request), request.path_params["username"], form.get("reason")
    )
    return redirect(request.url_for("user", username=target.username).path)


async def people(request: Request) -> Response:
    forum, viewer = forum_of(request), viewer_of(request)
    query = query_input(request)
    errors: list[str] = []
    try:
        asked, page_number = actions.check_directory(query)
    except ForumError as error:
        errors, asked, page_number = error.messages, queries.DirectoryQuery(), 1
    found, more = (
        ([], False) if errors else await actions.find_people(forum, viewer, asked, page_number)
    )
    page = PeoplePage(
        **base(request, "People"),
        people=found,
        more=more,
        page=page_number,
        asked=asked,
        badges=BADGE_LABELS,
        errors=errors,
    )
    return render(request, page, 400 if errors else 200)
