"""Drafts in Discourse's shape: GET /drafts/{draft_key}.json, POST /drafts.json (draft_key,
data: a JSON object as text, sequence) and DELETE /drafts/{draft_key}.json. The writing box
(static/composer.js) saves through them as its member types; forum/actions/saved_drafts.py
says who may keep which draft."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from forum.actions import saved_drafts as draft_actions
from forum.forms import query_input, read_input
from forum.web import ForumJSON, forum_of, require_viewer, viewer_of


async def show(request: Request) -> Response:
    """{"draft_key", "draft": the data as saved or null, "draft_sequence": 0 when none}."""
    place, found = await draft_actions.read_draft(
        forum_of(request), viewer_of(request), request.path_params["draft_key"]
    )
    return ForumJSON(
        {
            "draft_key": place.key,
            "draft": found.data if found else None,
            "draft_sequence": found.sequence if found else 0,
        }
    )


async def save(request: Request) -> Response:
    """{"success": "OK", "draft_sequence": n}: the sequence the next save names. An empty
    draft is none: it is deleted, and the sequence is 0."""
    viewer = require_viewer(request)  # who first: a signed-out body is never read
    form = await read_input(request)
    sequence = await draft_actions.do_save_draft(
        forum_of(request),
        viewer,
        form.get("draft_key"),
        form.get("data"),
        form.get_int("sequence") or 0,
    )
    return ForumJSON({"success": "OK", "draft_sequence": sequence})


async def delete(request: Request) -> Response:
    """{"success": "OK"}, whether or not there was a draft; `sequence` (in the body or the
    query) deletes only that version of it."""
    viewer = require_viewer(request)
    form = await read_input(request)
    sequence = form.get_int("sequence")
    if sequence is None:
        sequence = query_input(request).get_int("sequence")
    await draft_actions.do_delete_draft(
        forum_of(request), viewer, request.path_params["draft_key"], sequence
    )
    return ForumJSON({"success": "OK"})
