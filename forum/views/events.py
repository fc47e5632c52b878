"""A group's events (issue 12): the list with the group's calendar feeds, one event with its
answers and who is coming, the conveners' form, and the iCalendar files."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from forum.access import GroupAccess, access_group
from forum.actions import events as actions
from forum.actions.validation import time_zones
from forum.calendar_feeds import event_file, group_feed
from forum.errors import BadRequest, Forbidden, NotFound
from forum.forms import Input, read_input
from forum.pages import EventFormPage, EventPage, EventsPage
from forum.permissions import can_manage_members, is_staff
from forum.queries import events as queries
from forum.queries import groups as group_queries
from forum.queries.events import GroupEvent
from forum.views.common import base
from forum.web import forum_of, path_int, redirect, render, require_viewer, viewer_of

ORGANISERS_ONLY = "Only the group's conveners can schedule and change its events."
UPCOMING_LIMIT = 50
PAST_LIMIT = 20
_FORM_FIELDS = (
    "title",
    "description",
    "starts_at",
    "ends_at",
    "time_zone",
    "online_url",
    "place",
    "capacity",
)


async def _group(request: Request) -> GroupAccess:
    return await access_group(
        forum_of(request).db, viewer_of(request), slug=request.path_params["slug"]
    )


async def _event_of(request: Request, access: GroupAccess) -> GroupEvent:
    """The address's event, of the address's group; a 404 for any other."""
    event_id = path_int(request, "event_id")
    event = await queries.get_event(forum_of(request).db, access.group.id, event_id)
    if event is None:
        raise NotFound("There is no such event.")
    return event


def event_path(request: Request, slug: str, event_id: int) -> str:
    return request.url_for("event", slug=slug, event_id=event_id).path


async def events_page(request: Request) -> Response:
    forum, viewer = forum_of(request), viewer_of(request)
    access = await _group(request)
    group, now = access.group, forum.now()
    private_feed = ""
    if viewer is not None and access.membership is not None:
        key = await queries.feed_key(forum.db, group.id, viewer.id)
        if key is not None:
            token = actions.calendar_token(forum.settings.secret_key, group.id, viewer.id, key)
            private_feed = str(request.url_for("member_calendar", token=token))
    page = EventsPage(
        **base(request, f"Events of {group.name}"),
        group=group,
        upcoming=await queries.list_upcoming(forum.db, group.id, now, UPCOMING_LIMIT),
        past=await queries.list_past(forum.db, group.id, now, PAST_LIMIT),
        debates=[
            d
            for d in await queries.list_debates_for_feed(forum.db, group.id, now, UPCOMING_LIMIT)
            if not d.cancelled
        ],
        can_schedule=can_manage_members(viewer, access.membership),
        public_feed=""
        if group.is_private
        else str(request.url_for("group_calendar", slug=group.slug)),
        private_feed=private_feed,
        reset=request.query_params.get("reset") == "1",
    )
    return render(request, page)


async def event_page(
    request: Request, *, errors: list[str] | None = None, status: int = 200
) -> Response:
    forum, viewer = forum_of(request), viewer_of(request)
    access = await _group(request)
    event = await _event_of(request, access)
    answers = await queries.list_answers(forum.db, event.id)
    mine = next((a.answer for a in answers if viewer and a.user_id == viewer.id), None)
    now = forum.now()
    page = EventPage(
        **base(request, event.title),
        group=access.group,
        event=event,
        going=[a for a in answers if a.answer == "going"],
        waiting=[a for a in answers if a.answer == "waiting"],
        maybe=[a for a in answers if a.answer == "maybe"],
        not_going=sum(1 for a in answers if a.answer == "not_going"),
        mine=mine,
        open=event.cancelled_at is None and event.ends_at > now,
        under_way=event.starts_at <= now < event.ends_at,
        can_answer=viewer is not None and access.membership is not None,
        can_organise=can_manage_members(viewer, access.membership),
        show_names=access.membership is not None or is_staff(viewer),
        choices=actions.CHOICES,
        errors=errors or [],
        saved=request.query_params.get("saved") == "1" and not errors,
    )
    return render(request, page, status)


async def answer(request: Request) -> Response:
    form = await read_input(request)
    forum = forum_of(request)
    access = await _group(request)
    event_id = path_int(request, "event_id")
    try:
        await actions.do_answer(
            forum, viewer_of(request), access.group.id, event_id, form.get("answer")
        )
    except BadRequest as error:
        return await event_page(request, errors=error.messages, status=400)
    return redirect(f"{event_path(request, access.group.slug, event_id)}?saved=1#answer-h")


def _values(form: Input | None, event: GroupEvent | None, zone: str) -> dict[str, str]:
    if form is not None:
        return {name: form.get(name) or "" for name in _FORM_FIELDS}
    if event is None:
        return {name: "" for name in _FORM_FIELDS} | {"time_zone": zone}
    local = actions.local_inputs(event)
    return {
        "title": event.title,
        "description": event.description,
        "starts_at": local[0],
        "ends_at": local[1],
        "time_zone": event.time_zone,
        "online_url": event.online_url or "",
        "place": event.place or "",
        "capacity": str(event.capacity or ""),
    }


async def _form_page(
    request: Request,
    access: GroupAccess,
    event: GroupEvent | None,
    form: Input | None,
    errors: list[str],
) -> Response:
    forum = forum_of(request)
    title = f"Change “{event.title}”" if event else f"Schedule an event in {access.group.name}"
    page = EventFormPage(
        **base(request, title),
        group=access.group,
        event=event,
        values=_values(form, event, forum.settings.time_zone),
        time_zones=time_zones(),
        errors=errors,
    )
    return render(request, page, 400 if errors else 200)


async def new_event(request: Request) -> Response:
    viewer = require_viewer(request)
    access = await _group(request)
    if not can_manage_members(viewer, access.membership):
        raise Forbidden(ORGANISERS_ONLY)
    form, errors = None, []
    if request.method == "POST":
        form = await read_input(request)
        try:
            event_id = await actions.do_schedule_event(
                forum_of(request), viewer, access.group.id, form
            )
        except BadRequest as error:
            errors = error.messages
        else:
            return redirect(f"{event_path(request, access.group.slug, event_id)}?saved=1")
    return await _form_page(request, access, None, form, errors)


async def edit_event(request: Request) -> Response:
    viewer = require_viewer(request)
    access = await _group(request)
    forum = forum_of(request)
    event = await _event_of(request, access)
    if not can_manage_members(viewer, access.membership):
        raise Forbidden(ORGANISERS_ONLY)
    form, errors = None, []
    if request.method == "POST":
        form = await read_input(request)
        try:
            await actions.do_edit_event(forum, viewer, access.group.id, event.id, form)
        except BadRequest as error:
            errors = error.messages
        else:
            return redirect(f"{event_path(request, access.group.slug, event.id)}?saved=1")
    return await _form_page(request, access, event, form, errors)


async def cancel(request: Request) -> Response:
    await read_input(request)
    access = await _group(request)
    event_id = path_int(request, "event_id")
    await actions.do_cancel_event(forum_of(request), viewer_of(request), access.group.id, event_id)
    return redirect(event_path(request, access.group.slug, event_id))


async def event_ics(request: Request) -> Response:
    forum = forum_of(request)
    access = await _group(request)
    event = await _event_of(request, access)
    url = str(request.url_for("event", slug=access.group.slug, event_id=event.id))
    return _calendar_response(
        event_file(event, str(request.base_url), url, forum.now()), f"event-{event.id}.ics"
    )


def _calendar_response(body: bytes, filename: str) -> Response:
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-cache",
        },
    )


async def _feed(request: Request, group_id: int) -> Response:
    forum = forum_of(request)
    group = await group_queries.get_group(forum.db, group_id)
    if group is None:
        raise NotFound("There is no such calendar.")
    since = forum.now() - actions.FEED_DAYS_BACK * 86400
    events = await queries.list_for_feed(forum.db, group.id, since, actions.FEED_LIMIT)
    debates = await queries.list_debates_for_feed(forum.db, group.id, since, actions.FEED_LIMIT)
    body = group_feed(
        group.name,
        [(e, str(request.url_for("event", slug=group.slug, event_id=e.id))) for e in events],
        [(d, str(request.url_for("debate", debate_id=d.id))) for d in debates],
        str(request.base_url),
        forum.now(),
    )
    return _calendar_response(body, f"{group.slug}.ics")


async def group_calendar(request: Request) -> Response:
    """A public group's feed: one address for everyone. A private group has none (each
    member has their own: member_calendar)."""
    access = await access_group(forum_of(request).db, None, slug=request.path_params["slug"])
    return await _feed(request, access.group.id)


async def member_calendar(request: Request) -> Response:
    """A member's private feed: the address is the key, as calendar apps send no login."""
    token = request.path_params["token"]
    group_id, _ = await actions.member_of_feed(forum_of(request), token)
    return await _feed(request, group_id)


async def reset_calendar(request: Request) -> Response:
    await read_input(request)
    access = await _group(request)
    await actions.do_reset_calendar(forum_of(request), viewer_of(request), access.group.id)
    return redirect(request.url_for("events", slug=access.group.slug).path + "?reset=1#feed-h")
