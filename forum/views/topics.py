"""Topic pages and the composer: read a topic, start one, reply, quote, edit, see revisions."""

from __future__ import annotations

import secrets
from collections.abc import Collection
from functools import lru_cache
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from forum.access import TopicAccess, access_group, access_post, access_topic
from forum.actions import edits as edit_actions
from forum.actions import posts as post_actions
from forum.actions.drafts import Draft, PostEdit
from forum.actions.holds import Held, PrivacyWarning
from forum.auth import seen_signature
from forum.content.cook import excerpt
from forum.content.diff import word_diff
from forum.content.offload import off_the_loop
from forum.db import Database
from forum.errors import BadRequest, Conflict, Forbidden, ForumError, NotFound, RateLimited
from forum.forms import query_input, read_input
from forum.pace import SLOW_MODE_CHOICES
from forum.page_cache import share_page
from forum.pages import (
    ComposerPage,
    PostItem,
    ReplyTarget,
    RevisionEntry,
    RevisionsPage,
    TopicPage,
)
from forum.permissions import (
    can_edit_post,
    can_moderate,
    can_reply,
    can_start_topic,
    is_staff,
    post_controls,
    post_facts,
)
from forum.queries import debates as debate_queries
from forum.queries import groups as group_queries
from forum.queries import likes as like_queries
from forum.queries import posts as post_queries
from forum.queries import reading as reading_queries
from forum.queries import topics as topic_queries
from forum.queries.groups import Group
from forum.queries.notifications import Level
from forum.queries.posts import Post, Revision
from forum.queries.topics import Topic
from forum.queries.users import User
from forum.views.common import base, live_since, seen_on_page
from forum.web import ForumJSON, forum_of, path_int, redirect, render, require_viewer, viewer_of


def topic_url(request: Request, topic: Topic, post_number: int | None = None) -> str:
    path = request.url_for("topic", slug=topic.slug, topic_id=topic.id).path
    if post_number is None:
        return path
    per_page = forum_of(request).settings.posts_per_page
    # Land on the page that holds the post: pages start after a multiple of the page size.
    after = ((post_number - 1) // per_page) * per_page
    return (f"{path}?after={after}" if after else path) + f"#post-{post_number}"


async def topic_page(request: Request) -> Response:
    db, viewer = forum_of(request).db, viewer_of(request)
    access = await access_topic(db, viewer, path_int(request, "topic_id"))
    topic, per_page = access.topic, forum_of(request).settings.posts_per_page
    if topic.is_debate:
        return await redirect_to_debate(request, topic)
    if request.path_params["slug"] != topic.slug:
        return redirect(topic_url(request, topic))
    query = query_input(request)
    before, after = query.get_int("before"), query.get_int("after")
    reading = await reading_queries.get_reading(db, viewer.id, topic.id) if viewer else None
    # Where the reader left off: the first post after the last they read, if any is unread.
    first_unread = None
    if reading is not None and 0 < reading.last_read < topic.highest_post_number:
        first_unread = reading.last_read + 1
        if before is None and after is None:  # opening the topic lands on the page holding it
            after = ((first_unread - 1) // per_page) * per_page
    if before is not None:
        posts = await post_queries.list_posts_before(db, topic.id, before, per_page)
    else:
        posts = await post_queries.list_posts(db, topic.id, after or 0, per_page)
    if not posts and (before or after):
        raise NotFound("There are no posts on that page.")
    first, last = (posts[0].post_number, posts[-1].post_number) if posts else (1, 0)
    level, fields = None, base(request, topic.title)
    if viewer is not None:
        level = reading.level if reading else Level.NORMAL
        fields |= await seen_on_page(request, viewer, topic.id, range(first, last + 1))
    page = TopicPage(
        **fields,
        live_since=await live_since(request, f"topic:{topic.id}"),
        topic=topic,
        group=access.group,
        posts=await post_items(db, viewer, topic, posts),
        prev_before=first if first > 1 else None,
        next_after=last if last < topic.highest_post_number else None,
        can_reply=can_reply(viewer, access.group, access.membership, topic),
        can_moderate=can_moderate(viewer, access.membership),
        idempotency_key=new_idempotency_key() if viewer else "",
        can_see_hidden=is_staff(viewer),
        level=level,
        first_unread=first_unread if first_unread and first <= first_unread <= last else None,
        seen_sig=(
            seen_signature(
                forum_of(request).settings.secret_key, fields["csrf_token"], topic.id, last
            )
            if viewer is not None and posts
            else ""
        ),
    )
    if viewer is None and not access.group.is_private:
        share_page(request, f"topic:{topic.id}")
    return render(request, page)


@lru_cache(maxsize=2048)
def reply_excerpt(cooked_start: str) -> str:
    """The start of an answered post, as a reply opens it in place: parsing HTML costs more
    than the rest of a post's page, and the same few posts are answered on every view."""
    return excerpt(cooked_start, 300)


async def post_items(
    db: Database, viewer: User | None, topic: Topic, posts: list[Post]
) -> list[PostItem]:
    """A page's posts with this viewer's controls and, for a reply, the post it answers."""
    liked, shown = await read_for_items(db, viewer, topic, posts)
    return build_items(viewer, topic, posts, liked, shown)


async def read_for_items(
    db: Database, viewer: User | None, topic: Topic, posts: list[Post]
) -> tuple[set[int], dict[int, Post]]:
    """What `build_items` needs beyond the posts: the viewer's own thanks (read only where a
    post has any) and, by number, the posts the page's replies answer (read only when not on
    this page)."""
    thanked = [p.id for p in posts if p.like_count]
    liked = await like_queries.liked_among(db, viewer.id, thanked) if viewer and thanked else set()
    shown = {p.post_number: p for p in posts}
    wanted = {p.reply_to_post_number for p in posts if p.reply_to_post_number} - shown.keys()
    if wanted and not topic.is_debate:
        shown |= {
            p.post_number: p
            for p in await post_queries.list_posts_numbered(db, topic.id, sorted(wanted))
        }
    return liked, shown


def build_items(
    viewer: User | None,
    topic: Topic,
    posts: list[Post],
    liked: Collection[int],
    shown: dict[int, Post],
) -> list[PostItem]:
    items = []
    for post in posts:
        target = shown.get(post.reply_to_post_number or 0)
        reply = (
            ReplyTarget(target.username, reply_excerpt(target.cooked[:4096]))
            if target is not None and target.visible and not topic.is_debate
            else None
        )
        controls = post_controls(viewer, post_facts(post, topic), liked=post.id in liked)
        items.append(PostItem(post, controls, reply))
    return items


async def topic_by_id(request: Request) -> Response:
    access = await access_topic(
        forum_of(request).db, viewer_of(request), path_int(request, "topic_id")
    )
    if access.topic.is_debate:
        return await redirect_to_debate(request, access.topic)
    return redirect(topic_url(request, access.topic))


async def redirect_to_debate(request: Request, topic: Topic) -> Response:
    """A debate's topic is read, and answered, on the debate's page."""
    debate_id = await debate_queries.get_debate_id_of_topic(forum_of(request).db, topic.id)
    if debate_id is None:
        raise NotFound("There is no such debate.")
    return redirect(request.url_for("debate", debate_id=debate_id).path)


# --- the composer ---------------------------------------------------------------------------


def _composer(
    request: Request,
    group: Group,
    heading: str,
    errors: list[str],
    status: int = 400,
    **fields: Any,
) -> Response:
    """New topic, reply and edit share one composer, shown with what was typed and why not
    (`status`: 400, or 429 when the author must wait before trying again)."""
    # A key per composed post: sent twice (a double click, a retry after an error), the
    # post is written once. Kept when the composer is shown again, as the post is not yet.
    fields.setdefault("idempotency_key", new_idempotency_key())
    page = ComposerPage(
        **base(request, heading), heading=heading, group=group, errors=errors, **fields
    )
    return render(request, page, status if errors else 200)


async def new_topic(request: Request) -> Response:
    db, viewer = forum_of(request).db, require_viewer(request)
    slug = request.path_params["slug"]

    async def may_start_topic() -> Group:
        """The page's check, in the words of the action's own (check_new_topic)."""
        access = await access_group(db, viewer, slug=slug)
        if not can_start_topic(viewer, access.group, access.membership):
            raise Forbidden("You cannot start topics in this group.")
        return access.group

    title = raw = key = ""
    errors: list[str] = []
    status = 400
    warned = False
    if request.method == "POST":
        # As a reply (see `reply`): the action checks who may start a topic here, in its
        # transaction; the page reads only which group its address names, and checks as
        # before only where the action's answer is not a topic just started.
        named = await group_queries.get_group_by_slug(db, slug)
        if named is None:
            raise NotFound("There is no such group.")
        form = await read_input(request)
        title, raw = form.get("title") or "", form.get("raw") or ""
        key = form.get("idempotency_key") or ""
        try:
            written = await post_actions.do_new_topic(
                forum_of(request),
                viewer,
                named.id,
                Draft(
                    raw,
                    title=title,
                    confirmed=form.get("post_anyway") == "yes",
                    idempotency_key=key,
                ),
            )
        except ForumError as error:
            group = await may_start_topic()
            errors, status, warned = on_the_composer(error)
        else:
            if isinstance(written, post_actions.Posted):
                return redirect(topic_url(request, written.topic), "topic")
            await may_start_topic()
            if isinstance(written, Held):
                return redirect(held_url(request, written))
            topic = await topic_queries.get_topic(db, written.topic_id)
            assert topic is not None
            return redirect(topic_url(request, topic), "topic")
    else:
        group = await may_start_topic()
    return _composer(
        request,
        group,
        f"New topic in {group.name}",
        errors,
        status,
        action=request.url_for("new_topic", slug=group.slug).path,
        show_title=True,
        title_value=title,
        raw_value=raw,
        privacy_warning=warned,
        idempotency_key=key or new_idempotency_key(),
    )


def on_the_composer(error: ForumError) -> tuple[list[str], int, bool]:
    """A refused post shown again on its form: the messages, the status (the pace limit's
    429, else 400) and whether it is a privacy warning; anything else (a right, a missing
    thing) is raised on to its error page."""
    if isinstance(error, RateLimited):
        return error.messages, error.status_code, False
    if isinstance(error, BadRequest):
        return error.messages, 400, isinstance(error, PrivacyWarning)
    raise error


def new_idempotency_key() -> str:
    return secrets.token_urlsafe(16)


def held_url(request: Request, held: Held) -> str:
    """Where an author lands when their post waits for review: what happened and why."""
    return request.url_for("my_review").path + f"#item-{held.item_id}"


def quote(post: Post) -> str:
    quoted = "\n".join(f"> {line}" if line else ">" for line in post.raw.splitlines())
    return f"> **{post.username}** wrote (post {post.post_number}):\n>\n{quoted}\n\n"


def require_reply(viewer: User, access: TopicAccess) -> None:
    """The reply page's check, in the words the action's own (check_reply) uses."""
    if not can_reply(viewer, access.group, access.membership, access.topic):
        raise Forbidden(
            "This topic is closed to new replies."
            if access.topic.closed
            else "You cannot reply in this group."
        )


async def reply_quote(request: Request) -> Response:
    """GET /t/{id}/reply.json?to=N: the quote the reply page starts with, for the reply box
    docked on the topic page (static/dock.js), under the reply page's rules."""
    db, viewer = forum_of(request).db, require_viewer(request)
    access = await access_topic(db, viewer, path_int(request, "topic_id"))
    require_reply(viewer, access)
    to = query_input(request).get_int("to")
    quoted = await post_queries.get_post_by_number(db, access.topic.id, to) if to else None
    if quoted is None or not quoted.visible or access.topic.is_debate:
        raise NotFound("There is no such post in this topic.")
    return ForumJSON(
        {
            "raw": quote(quoted),
            "reply_to_post_number": quoted.post_number,
            "username": quoted.username,
        }
    )


async def reply(request: Request) -> Response:
    db, viewer = forum_of(request).db, require_viewer(request)
    topic_id = path_int(request, "topic_id")
    errors: list[str] = []
    status = 400
    warned = False
    key = ""
    if request.method == "POST":
        form = await read_input(request)
        raw, to = form.get("raw") or "", form.get_int("reply_to_post_number")
        key = form.get("idempotency_key") or ""
        # The action checks who may reply, in its transaction. The page's own checks come
        # only where its answer is not a reply just written: first, so that who may not reply
        # is told so, as before, and not what else the action found (a silenced author's
        # pause, an ended debate, a text too long); and before a held or earlier reply.
        try:
            written = await post_actions.do_reply(
                forum_of(request),
                viewer,
                topic_id,
                Draft(
                    raw,
                    reply_to_post_number=to,
                    confirmed=form.get("post_anyway") == "yes",
                    idempotency_key=key,
                ),
            )
        except ForumError as error:
            access = await access_topic(db, viewer, topic_id)
            require_reply(viewer, access)
            errors, status, warned = on_the_composer(error)
        else:
            if isinstance(written, post_actions.Posted):
                return redirect(topic_url(request, written.topic, written.post_number), "posted")
            access = await access_topic(db, viewer, topic_id)
            require_reply(viewer, access)
            if isinstance(written, Held):
                return redirect(held_url(request, written))
            return redirect(topic_url(request, access.topic, written.post_number), "posted")
    else:
        access = await access_topic(db, viewer, topic_id)
        if access.topic.is_debate:
            return await redirect_to_debate(request, access.topic)
        require_reply(viewer, access)
        to = query_input(request).get_int("to")
        raw = ""
    topic = access.topic
    quoted = await post_queries.get_post_by_number(db, topic.id, to) if to else None
    if quoted is not None and not quoted.visible:
        quoted = None  # a hidden or removed post is not quoted back into the thread
    if quoted is None:
        if to and request.method == "GET":
            raise NotFound("There is no such post in this topic.")
        to = None
    elif request.method == "GET":
        raw = quote(quoted)
    return _composer(
        request,
        access.group,
        f"Reply to {topic.title}",
        errors,
        status,
        action=request.url_for("reply", topic_id=topic.id).path,
        topic=topic,
        raw_value=raw,
        reply_to_post_number=to,
        quoted=quoted,
        privacy_warning=warned,
        idempotency_key=key or new_idempotency_key(),
    )


async def edit_post(request: Request) -> Response:
    db, viewer = forum_of(request).db, require_viewer(request)
    post, access = await access_post(db, viewer, path_int(request, "post_id"))
    if not can_edit_post(viewer, post, access.topic):
        raise Forbidden("You can only edit your own posts.")
    errors: list[str] = []
    status, warned = 400, False
    raw, version = post.raw, post.version
    title: str | None = access.topic.title
    first = post.post_number == 1  # the first post's editor may change the title too
    # A moderator editing someone's post chooses whether the earlier versions leave the
    # history (taking out patient details) or stay (fixing a typo); it starts chosen.
    offer_redaction = is_staff(viewer) and viewer.id != post.user_id
    redact = offer_redaction
    if request.method == "POST":
        form = await read_input(request)
        raw, version = form.get("raw") or "", form.get_int("version") or post.version
        title = form.get("title") if first else None
        redact = form.get("remove_history") == "yes"
        try:
            await edit_actions.do_edit_post(
                forum_of(request),
                viewer,
                post.id,
                PostEdit(
                    raw,
                    version,
                    title=title,
                    confirmed=form.get("post_anyway") == "yes",
                    redact=redact,
                ),
            )
        except (BadRequest, Conflict) as error:
            errors, warned = error.messages, isinstance(error, PrivacyWarning)
        except RateLimited as error:
            errors, status = error.messages, error.status_code
        else:
            return redirect(topic_url(request, access.topic, post.post_number), "saved")
    return _composer(
        request,
        access.group,
        f"Edit post {post.post_number} in {access.topic.title}",
        errors,
        status,
        action=request.url_for("edit_post", post_id=post.id).path,
        topic=access.topic,
        raw_value=raw,
        version=version,
        privacy_warning=warned,
        show_title=first,
        title_value=title or "",
        offer_redaction=offer_redaction,
        redact_value=redact,
    )


def revision_entries(history: list[Revision], moderator: bool) -> list[RevisionEntry]:
    """What the history page shows of each version. A redacted version is, for readers, a
    line saying it was removed, and no diff touches it: the next version readers may see is
    compared with the last one before it. Moderators see every version, removed ones marked."""
    entries: list[RevisionEntry] = []
    shown: Revision | None = None
    for revision in history:
        removed = revision.redacted_at is not None
        if removed and not moderator:
            entries.append(RevisionEntry(revision, removed=True, diff=None, readable=False))
            continue
        diff = word_diff(shown.raw, revision.raw) if shown is not None else None
        entries.append(RevisionEntry(revision, removed=removed, diff=diff, readable=True))
        shown = revision
    return entries


MAX_REVISIONS_SHOWN = 20


async def revisions(request: Request) -> Response:
    db, viewer = forum_of(request).db, viewer_of(request)
    post, access = await access_post(db, viewer, path_int(request, "post_id"))
    if not post.visible and not is_staff(viewer):
        # Hidden for a reason (often patient data): for site moderators only, as what was
        # removed from a history is (a group's conveners see its review items while pending).
        raise NotFound("This post is hidden or was removed by a moderator.")
    # What was removed for safety is for site moderators only: a group's conveners are
    # members like any other.
    staff = is_staff(viewer)
    history = await post_queries.list_revisions(db, post.id, with_redacted=staff)
    # The latest versions only: each diff is bounded, and so is the page's sum of them.
    earlier = max(0, len(history) - MAX_REVISIONS_SHOWN)
    history = history[earlier:]
    # Each diff is bounded (forum/content/diff.py), but a long post edited often makes many.
    entries = await off_the_loop(
        sum(len(revision.raw) for revision in history),
        lambda: revision_entries(history, staff),
    )
    page = RevisionsPage(
        **base(request, f"Edit history of post {post.post_number}"),
        post=post,
        topic=access.topic,
        revisions=entries,
        earlier=earlier,
    )
    return render(request, page)


async def topic_status(request: Request) -> Response:
    form = await read_input(request)
    db, viewer = forum_of(request).db, require_viewer(request)
    topic_id = path_int(request, "topic_id")
    flags = {
        "close": ("closed", True),
        "open": ("closed", False),
        "pin": ("pinned", True),
        "unpin": ("pinned", False),
    }
    change = flags.get(form.get("change") or "")
    if change is None:
        raise BadRequest("Choose close, open, pin or unpin.")
    await post_actions.do_set_topic_status(
        forum_of(request), viewer, topic_id, **{change[0]: change[1]}
    )
    access = await access_topic(db, viewer, topic_id)
    return redirect(topic_url(request, access.topic))


async def slow_mode(request: Request) -> Response:
    form = await read_input(request)
    db, viewer = forum_of(request).db, require_viewer(request)
    topic_id = path_int(request, "topic_id")
    allowed = {str(seconds): seconds for seconds, _ in SLOW_MODE_CHOICES}
    seconds = allowed.get(form.get("seconds") or "")
    if seconds is None:
        raise BadRequest("Choose one of the slow-mode settings offered.")
    await post_actions.do_set_slow_mode(forum_of(request), viewer, topic_id, seconds)
    access = await access_topic(db, viewer, topic_id)
    return redirect(topic_url(request, access.topic))
