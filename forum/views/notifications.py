"""The notifications page, the bell's menu, a post's permalink, and the forms that choose
what a member is told of (following a topic or group, muting a member, marking read)."""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from forum import emails
from forum.access import access_group, access_topic
from forum.actions import following
from forum.auth import seen_signature
from forum.errors import NotFound
from forum.forms import query_input, read_body, read_input
from forum.pages import EmailPrefsPage, NotificationsPage, UnsubscribePage
from forum.queries import notifications as queries
from forum.queries import outbox
from forum.views.common import base
from forum.views.topics import redirect_to_debate, topic_url
from forum.web import (
    auth_of,
    forum_of,
    path_int,
    redirect,
    render,
    require_viewer,
    safe_next,
    viewer_of,
)

PAGE_SIZE = 30
MENU_SIZE = 8


async def notifications_page(request: Request) -> Response:
    forum, viewer = forum_of(request), require_viewer(request)
    before = query_input(request).get_int("before")
    found = await queries.list_notifications(
        forum.db, viewer.id, limit=PAGE_SIZE + 1, before_id=before
    )
    page = NotificationsPage(
        **base(request, "Notifications"),
        notifications=found[:PAGE_SIZE],
        older_than=found[PAGE_SIZE - 1].id if len(found) > PAGE_SIZE else None,
        muted=await queries.muted_usernames(forum.db, viewer.id),
    )
    return render(request, page)


async def bell_menu(request: Request) -> Response:
    """The newest notifications as the bell's menu lists them (an HTML fragment live.js
    fetches when the menu opens; without JavaScript the bell leads to the page)."""
    forum, viewer = forum_of(request), require_viewer(request)
    found = await queries.list_notifications(forum.db, viewer.id, limit=MENU_SIZE)
    items = "".join(forum.renderer.render_notification(n) for n in found)
    return HTMLResponse(items, headers={"Cache-Control": "no-store"})


async def mark_read(request: Request) -> Response:
    forum, viewer = forum_of(request), require_viewer(request)
    form = await read_input(request)
    await following.do_mark_read(forum, viewer, form.get_int("id"))
    return redirect(safe_next(form.get("back"), request.url_for("notifications").path))


async def post_link(request: Request) -> Response:
    """/t/slug/id/N: the page of the topic that holds post N (or the debate's page)."""
    forum, viewer = forum_of(request), viewer_of(request)
    access = await access_topic(forum.db, viewer, path_int(request, "topic_id"))
    if access.topic.is_debate:
        return await redirect_to_debate(request, access.topic)
    number = min(max(path_int(request, "number"), 1), max(access.topic.highest_post_number, 1))
    return redirect(topic_url(request, access.topic, number))


async def topic_level(request: Request) -> Response:
    forum, viewer = forum_of(request), require_viewer(request)
    topic_id = path_int(request, "topic_id")
    form = await read_input(request)
    await following.do_set_topic_level(
        forum, viewer, topic_id, following.parse_level(form.get("level"))
    )
    access = await access_topic(forum.db, viewer, topic_id)
    return redirect(topic_url(request, access.topic) + "#follow", "following")


async def group_level(request: Request) -> Response:
    forum, viewer = forum_of(request), require_viewer(request)
    access = await access_group(forum.db, viewer, slug=request.path_params["slug"])
    form = await read_input(request)
    await following.do_set_group_level(
        forum, viewer, access.group.id, following.parse_level(form.get("level"))
    )
    return redirect(request.url_for("group", slug=access.group.slug).path + "#follow", "following")


async def mute_user(request: Request) -> Response:
    forum, viewer = forum_of(request), require_viewer(request)
    form = await read_input(request)
    muted = form.get("muted", "yes") != "no"
    other = await following.do_mute_user(forum, viewer, request.path_params["username"], muted)
    if form.get("back") == "notifications":
        return redirect(request.url_for("notifications").path + "#muted")
    return redirect(request.url_for("user", username=other.username).path + "#mute")


# --- reading ---------------------------------------------------------------------------------

# A transparent 1x1 GIF: the answer to the page's <noscript> image.
_PIXEL = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)


async def topic_seen(request: Request) -> Response:
    """/t/{id}/seen?upto=N&sig=S, loaded by a page without JavaScript: the reader has read
    the posts it showed. Signed for the session that rendered the page (auth.seen_signature):
    a link from another site reports nothing."""
    forum, viewer = forum_of(request), viewer_of(request)
    query = query_input(request)
    upto, topic_id = query.get_int("upto"), path_int(request, "topic_id")
    csrf = auth_of(request).csrf_token
    expected = seen_signature(forum.settings.secret_key, csrf, topic_id, upto or 0)
    sig = query.get("sig") or ""
    if viewer is not None and upto and sig.isascii() and hmac.compare_digest(sig, expected):
        await following.do_record_reading(forum, viewer, topic_id, upto)
    return Response(_PIXEL, media_type="image/gif", headers={"Cache-Control": "no-store"})


# --- email -----------------------------------------------------------------------------------


async def email_prefs(request: Request) -> Response:
    forum, viewer = forum_of(request), require_viewer(request)
    saved = False
    if request.method == "POST":
        form = await read_input(request)
        await following.do_set_email_prefs(
            forum,
            viewer,
            immediate=form.get("immediate") == "yes",
            digest=form.get("digest") or "off",
        )
        return redirect(request.url_for("email_prefs").path + "?saved=1")
    saved = query_input(request).get("saved") == "1"
    page = EmailPrefsPage(
        **base(request, "Email"),
        prefs=await outbox.get_prefs(forum.db, viewer.id),
        email_on=bool(forum.settings.smtp_host),
        saved=saved,
    )
    return render(request, page)


async def unsubscribe(request: Request) -> Response:
    """GET: a page with one button (a link scanner opening the link changes nothing).
    POST: the change, from that button or from a mail client's one-click unsubscribe
    (RFC 8058: `List-Unsubscribe=One-Click`, no cookie and no CSRF token: the signed link
    is the proof)."""
    forum, token = forum_of(request), request.path_params["token"]
    found = emails.read_unsubscribe_token(forum.settings.secret_key, token)
    if found is None:
        raise NotFound("That unsubscribe link is not valid.")
    done = False
    if request.method == "POST":
        # The body is not read as a form: mail clients send `List-Unsubscribe=One-Click` as
        # urlencoded or as multipart (RFC 8058 allows both); its size is still bounded.
        await read_body(request, forum.settings.max_body_bytes)
        await following.do_unsubscribe(forum, token)
        done = True
    page = UnsubscribePage(**base(request, "Unsubscribe"), token=token, what=found[1], done=done)
    return render(request, page)
