"""Moderation pages: the live review queue, an item with its history, the audit log, watched
words, the flag forms, and an author's own held posts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from forum.access import access_group, access_post
from forum.actions import moderation as moderation_actions
from forum.actions.drafts import Decision
from forum.errors import BadRequest, Conflict, Forbidden
from forum.forms import query_input, read_input
from forum.moderation import can_review
from forum.pages import (
    AuditPage,
    FlagPage,
    MyReviewPage,
    ReviewItemPage,
    ReviewQueuePage,
    WatchedWordsPage,
)
from forum.permissions import is_staff
from forum.queries import review as review_queries
from forum.queries.audit import list_actions, list_item_history
from forum.queries.review import Item
from forum.queries.users import User
from forum.views.common import base, live_since
from forum.web import ForumJSON, forum_of, path_int, redirect, render, require_viewer, speaks_json

QUEUE_LIMIT = 100
AUDIT_PAGE = 50


async def _scope(request: Request) -> tuple[User, list[int] | None]:
    """The reviewer and the groups they review (None: every group, for staff)."""
    viewer = require_viewer(request)
    if not can_review(viewer):
        raise Forbidden("Only moderators and group conveners can open the review queue.")
    if is_staff(viewer):
        return viewer, None
    return viewer, await review_queries.convened_group_ids(forum_of(request).db, viewer.id)


async def review_queue(request: Request) -> Response:
    viewer, groups = await _scope(request)
    db = forum_of(request).db
    pending = query_input(request).get("status") != "resolved"
    # The channel's head first: an item arriving while the list is read comes live after it.
    since = await live_since(request, "review")
    items = await review_queries.list_items(
        db, group_ids=groups, pending=pending, limit=QUEUE_LIMIT
    )
    count = await review_queries.count_pending(db, groups)
    page = ReviewQueuePage(
        **base(request, "Review queue"),
        live_since=since,
        items=items,
        pending=pending,
        pending_count=count,
        is_staff=is_staff(viewer),
    )
    return render(request, page)


async def review_count(request: Request) -> Response:
    """The header's live count: live.js asks again whenever the review channel stirs."""
    _, groups = await _scope(request)
    return ForumJSON({"pending": await review_queries.count_pending(forum_of(request).db, groups)})


async def review_item(request: Request) -> Response:
    viewer = require_viewer(request)
    db = forum_of(request).db
    # A read: the database itself, not a transaction (which on SQLite takes the write lock).
    item = await moderation_actions.reviewable_item(db, viewer, path_int(request, "item_id"))
    return await _item_page(request, item, [])


async def _item_page(
    request: Request, item: Item, errors: list[str], raw: str | None = None
) -> Response:
    viewer = require_viewer(request)
    page = ReviewItemPage(
        **base(request, f"Review item {item.id}"),
        item=item,
        history=await list_item_history(forum_of(request).db, item.id),
        is_staff=is_staff(viewer),
        errors=errors,
        raw_value=raw if raw is not None else (item.raw or ""),
    )
    return render(request, page, 409 if errors and item.status != "pending" else 200)


async def review_act(request: Request) -> Response:
    form = await read_input(request)
    viewer, db = require_viewer(request), forum_of(request).db
    item_id = path_int(request, "item_id")
    editing = form.get("action") == "edit_approve"
    raw = form.get("raw") if editing else None
    try:
        decision = Decision(
            form.get("action"),
            form.get_int("version"),
            note=form.get("note"),
            raw=raw,
            title=form.get("title") if editing else None,
            penalty=form.get("penalty"),
        )
        item = await moderation_actions.do_review(forum_of(request), viewer, item_id, decision)
    except (Conflict, BadRequest) as error:
        if speaks_json(request):
            raise
        # A browser sees the item as it is now, with why nothing was done.
        current = await moderation_actions.reviewable_item(db, viewer, item_id)
        response = await _item_page(request, current, error.messages, raw)
        response.status_code = error.status_code
        return response
    if speaks_json(request):
        return ForumJSON({"item": review_item_json(item)})
    return redirect(request.url_for("review_queue").path, "decided")


async def review_claim(request: Request) -> Response:
    form = await read_input(request)
    await moderation_actions.do_claim(
        forum_of(request),
        require_viewer(request),
        path_int(request, "item_id"),
        claim=form.get("claim") != "no",
    )
    if speaks_json(request):
        return ForumJSON({"success": True})
    anchor = f"#review-item-{request.path_params['item_id']}"
    return redirect(request.url_for("review_queue").path + anchor)


async def audit_log(request: Request) -> Response:
    _, groups = await _scope(request)
    before = query_input(request).get_int("before")
    entries = await list_actions(
        forum_of(request).db, group_ids=groups, before_id=before, limit=AUDIT_PAGE + 1
    )
    more = len(entries) > AUDIT_PAGE
    entries = entries[:AUDIT_PAGE]
    page = AuditPage(
        **base(request, "Moderation log"),
        entries=entries,
        next_before=entries[-1].id if more else None,
    )
    return render(request, page)


async def watched_words(request: Request) -> Response:
    viewer, db = require_viewer(request), forum_of(request).db
    if not is_staff(viewer):
        raise Forbidden("Only site moderators can change the watched words.")
    errors: list[str] = []
    if request.method == "POST":
        form = await read_input(request)
        try:
            await moderation_actions.do_watch_word(
                forum_of(request), viewer, form.get("word"), add=form.get("change") != "remove"
            )
        except BadRequest as error:
            errors = error.messages
        else:
            return redirect(request.url_for("watched_words").path)
    page = WatchedWordsPage(
        **base(request, "Watched words"),
        words=await review_queries.list_watched_words(db),
        errors=errors,
    )
    return render(request, page, 400 if errors else 200)


async def flag_post(request: Request) -> Response:
    viewer, db = require_viewer(request), forum_of(request).db
    post, access = await access_post(db, viewer, path_int(request, "post_id"))
    topic = access.topic
    back = request.url_for("topic", slug=topic.slug, topic_id=topic.id).path
    back += f"#post-{post.post_number}"
    what = f"post {post.post_number} by {post.username} in “{topic.title}”"
    action = request.url_for("flag_post", post_id=post.id).path

    async def flag(reason: str | None, note: str | None) -> None:
        await moderation_actions.do_flag_post(
            forum_of(request),
            viewer,
            post.id,
            reason,
            note,
        )

    shown = post.cooked if post.visible else ""
    return await _flag_form(request, action, what, back, flag, shown)


async def flag_user(request: Request) -> Response:
    viewer = require_viewer(request)
    username = request.path_params["username"]
    back = request.url_for("user", username=username).path
    action = request.url_for("flag_user", username=username).path

    async def flag(reason: str | None, note: str | None) -> None:
        await moderation_actions.do_flag_user(
            forum_of(request),
            viewer,
            username,
            reason,
            note,
        )

    return await _flag_form(request, action, f"the account {username}", back, flag)


async def _flag_form(
    request: Request,
    action: str,
    what: str,
    back: str,
    flag: Callable[[str | None, str | None], Awaitable[None]],
    flagged_html: str = "",
) -> Response:
    errors: list[str] = []
    reason = note = ""
    done, status = False, 200
    if request.method == "POST":
        form = await read_input(request)
        reason, note = form.get("reason") or "", form.get("note") or ""
        try:
            await flag(reason, note)
        except (BadRequest, Conflict) as error:
            if speaks_json(request):
                raise
            errors, status = error.messages, error.status_code
        else:
            if speaks_json(request):
                return ForumJSON({"success": True})
            done = True
    page = FlagPage(
        **base(request, "Flag " + what),
        action=action,
        what=what,
        back=back,
        flagged_html=flagged_html,
        errors=errors,
        reason_value=reason,
        note_value=note,
        done=done,
    )
    return render(request, page, status)


async def my_review(request: Request) -> Response:
    viewer = require_viewer(request)
    items = await review_queries.list_authored(forum_of(request).db, viewer.id, 50)
    return render(request, MyReviewPage(**base(request, "Your posts in review"), items=items))


async def hold_first_posts(request: Request) -> Response:
    form = await read_input(request)
    viewer, db = require_viewer(request), forum_of(request).db
    access = await access_group(db, viewer, slug=request.path_params["slug"])
    await moderation_actions.do_set_hold_first_posts(
        forum_of(request), viewer, access.group.id, form.get_int("posts")
    )
    return redirect(request.url_for("group", slug=access.group.slug).path)


def review_item_json(item: Item) -> dict[str, object]:
    """A review item as moderators' API clients see it after a decision."""
    return {
        "id": item.id,
        "kind": item.kind,
        "status": item.status,
        "version": item.version,
        "group_id": item.group_id,
        "topic_id": item.topic_id,
        "target_id": item.target_id,
        "author": item.author_username,
        "claimed_by": item.claimed_by_username,
        "resolved_by": item.resolved_by_username,
        "reasons": [r.reason for r in item.reasons],
    }
