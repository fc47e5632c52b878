"""A group's documents over the JSON API: `GET /g/{slug}/documents.json` (ours; Discourse
has no document store), with the list page's `tag`, `sort` and `page`."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from forum.access import access_group
from forum.actions import documents as actions
from forum.forms import query_input
from forum.queries import documents as queries
from forum.queries.documents import Document
from forum.rendering import iso_time
from forum.web import ForumJSON, forum_of, viewer_of


def document_json(request: Request, slug: str, document: Document) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": document.id,
        "title": document.title,
        "description": document.description,
        "tags": list(document.tags),
        "username": document.username,
        "created_at": iso_time(document.created_at),
        "url": request.url_for("document", slug=slug, document_id=document.id).path,
    }
    if document.is_link:
        body |= {"kind": "link", "link": document.url}
    else:
        download = request.url_for("download_document", slug=slug, document_id=document.id)
        body |= {
            "kind": "file",
            "download_url": download.path,
            "filename": document.filename,
            "content_type": document.content_type,
            "size": document.size_bytes,
        }
    return body


async def documents(request: Request) -> Response:
    forum = forum_of(request)
    access = await access_group(forum.db, viewer_of(request), slug=request.path_params["slug"])
    tag, sort, page = actions.check_listing(query_input(request))
    found, more = await actions.list_page(forum, access.group.id, tag, sort, page)
    slug = access.group.slug
    return ForumJSON(
        {
            "documents": [document_json(request, slug, d) for d in found],
            "tags": [
                {"name": name, "count": count}
                for name, count in await queries.group_tags(forum.db, access.group.id)
            ],
            "more": more,
        }
    )
