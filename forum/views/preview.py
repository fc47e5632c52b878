"""The composer's preview: the post as it will look, and warnings about anything in it that
could identify a patient, as the author types (static/composer.js)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from forum.access import access_group, access_topic
from forum.actions.validation import clean_text
from forum.content import cook
from forum.content.offload import off_the_loop
from forum.content.privacy import Finding, find_identifiers
from forum.errors import NotFound, RateLimited
from forum.forms import read_input
from forum.notices import MAX_MENTIONS, mentioned_names
from forum.queries import notifications as notification_queries
from forum.settings import image_host_set
from forum.web import ForumJSON, forum_of, require_viewer, viewer_of


async def preview(request: Request) -> Response:
    """POST {"raw": ..., "title": ...} -> {"cooked", "warnings", "held"}, and
    "title_warnings" when a title was sent; offsets count characters of raw (or the title).

    Only JSON is ever answered, errors too ({"errors": [...]}: a JsonRoute in forum/routes.py),
    whatever the Accept header: the one caller is a script. The text is never logged or kept.
    """
    viewer = require_viewer(request)
    settings = forum_of(request).settings
    form = await read_input(request)
    raw, title = form.get("raw") or "", form.get("title") or ""
    text = clean_text(raw, "The post", settings.max_post_chars, allow_empty=True)
    clean_title = clean_text(
        title, "The title", settings.max_title_chars, allow_empty=True, multiline=False
    )
    # A preview costs what a post costs, and comes with every pause in typing: limited per
    # person on each server, which is where the cost falls.
    limiter = forum_of(request).preview_limits
    wait = limiter.take(f"preview:{viewer.id}", settings.previews_per_minute, 60)
    if wait:
        raise RateLimited("Previews are paused for a moment.", wait_seconds=wait)
    if not text and not clean_title:
        return ForumJSON({"cooked": "", "warnings": [], "held": False})
    hosts = image_host_set(settings)

    def work() -> tuple[str, list[Finding], list[Finding]]:
        # Offsets into raw as sent, not the cleaned text, so the page can select them.
        cooked = cook(text, hosts) if text else ""
        return cooked, find_identifiers(raw), find_identifiers(title)

    cooked, findings, title_findings = await off_the_loop(len(raw) + len(title), work)
    body: dict[str, object] = {
        "cooked": cooked,
        "warnings": [_warning(f) for f in findings],
        # A post with any of these would wait for a moderator (DESIGN.md, safety).
        "held": bool(findings or title_findings),
    }
    if "title" in form.values:
        body["title_warnings"] = [_warning(f) for f in title_findings]
    notes = await mention_notes(request, cooked, form.get_int("topic_id"), form.get_int("group_id"))
    if notes:
        body["notes"] = notes
    return ForumJSON(body)


async def mention_notes(
    request: Request, cooked: str, topic_id: int | None, group_id: int | None
) -> list[str]:
    """What the writer should know about the people their post mentions: names that are no
    member, and members who cannot read where it is posted (neither is told)."""
    names = mentioned_names(cooked)
    if not names:
        return []
    if len(names) > MAX_MENTIONS:
        return [f"You can mention at most {MAX_MENTIONS} people in one post."]
    db, viewer = forum_of(request).db, viewer_of(request)
    try:  # where it will be posted, if the writer may read it (else: no context, no leak)
        if topic_id is not None:
            group_id = (await access_topic(db, viewer, topic_id)).group.id
        elif group_id is not None:
            group_id = (await access_group(db, viewer, group_id=group_id)).group.id
    except NotFound:
        group_id = None
    known = await notification_queries.mentionable(db, names, group_id)
    notes = []
    for name in names:
        if name not in known:
            notes.append(f"@{name}: there is no member of that name, so nobody will be told.")
        elif not known[name]:
            notes.append(f"@{name} cannot read this group, so they will not be told.")
    return notes


def _warning(finding: Finding) -> dict[str, object]:
    return {
        "kind": finding.kind,
        "message": finding.message,
        "start": finding.start,
        "end": finding.end,
    }
