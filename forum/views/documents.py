"""A group's documents (issue 12): the list with its tags and the forms to add a file or a
link, one document's page, its download, and removing it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from forum.access import GroupAccess, access_group
from forum.actions import documents as actions
from forum.errors import ForumError, NotFound
from forum.forms import Input, query_input, read_input
from forum.pages import DocumentPage, DocumentsPage
from forum.permissions import can_add_document, can_remove_document
from forum.queries import documents as queries
from forum.uploads import read_upload
from forum.views.common import base
from forum.web import (
    forum_of,
    path_int,
    redirect,
    render,
    shown_on_form,
    viewer_of,
    with_retry_after,
)

_TYPED = ("title", "description", "tags", "url")


async def documents_page(
    request: Request,
    *,
    errors: list[str] | None = None,
    status: int = 200,
    typed: Input | None = None,
    adding: str = "",
) -> Response:
    forum, viewer = forum_of(request), viewer_of(request)
    access = await access_group(forum.db, viewer, slug=request.path_params["slug"])
    tag, sort, page = actions.check_listing(query_input(request))
    documents, more = await actions.list_page(forum, access.group.id, tag, sort, page)
    values = {name: (typed.get(name) or "") if typed else "" for name in _TYPED}
    view = DocumentsPage(
        **base(request, f"Documents of {access.group.name}"),
        group=access.group,
        documents=documents,
        tags=await queries.group_tags(forum.db, access.group.id),
        tag=tag,
        sort=sort,
        page=page,
        more=more,
        can_add=can_add_document(viewer, access.membership),
        max_upload_mb=forum.settings.max_upload_bytes // (1024 * 1024),
        values=values,
        adding=adding,
        errors=errors or [],
        removed=request.query_params.get("removed") == "1" and not errors,
    )
    return render(request, view, status)


async def upload(request: Request) -> Response:
    """Add a file: the cheap checks before the body is read, then the body straight to
    storage (forum/uploads.py), then the file's kind and the row."""
    forum, viewer = forum_of(request), viewer_of(request)
    access = await access_group(forum.db, viewer, slug=request.path_params["slug"])
    try:
        author = await actions.check_may_add(forum, viewer, access)
        async with read_upload(request, forum.storage, forum.settings.max_upload_bytes) as sent:
            try:
                document_id = await actions.do_add_file(
                    forum, author, access.group.id, sent.fields, sent.file, sent.filename, sent.size
                )
            except ForumError as error:
                if not shown_on_form(error):
                    raise
                return await _failed(request, error, sent.fields, "file")
    except ForumError as error:
        if not shown_on_form(error):
            raise
        return await _failed(request, error, None, "file")
    return _added(request, access, document_id)


async def add_link(request: Request) -> Response:
    form = await read_input(request)
    forum, viewer = forum_of(request), viewer_of(request)
    access = await access_group(forum.db, viewer, slug=request.path_params["slug"])
    try:
        document_id = await actions.do_add_link(forum, viewer, access.group.id, form)
    except ForumError as error:
        if not shown_on_form(error):
            raise
        return await _failed(request, error, form, "link")
    return _added(request, access, document_id)


async def _failed(
    request: Request, error: ForumError, typed: Input | None, adding: str
) -> Response:
    response = await documents_page(
        request, errors=error.messages, status=error.status_code, typed=typed, adding=adding
    )
    return with_retry_after(response, error.wait_seconds)


def _added(request: Request, access: GroupAccess, document_id: int) -> Response:
    path = request.url_for("document", slug=access.group.slug, document_id=document_id).path
    return redirect(f"{path}?added=1")


async def document_page(request: Request) -> Response:
    forum, viewer = forum_of(request), viewer_of(request)
    async with forum.db.reads() as reads:
        access, document = await actions.readable_document(
            reads, viewer, request.path_params["slug"], path_int(request, "document_id")
        )
    view = DocumentPage(
        **base(request, document.title),
        group=access.group,
        document=document,
        can_remove=can_remove_document(viewer, access.membership, document.user_id),
        added=request.query_params.get("added") == "1",
    )
    return render(request, view)


async def download(request: Request) -> Response:
    """The file, as a download only: never shown in the browser, whatever it holds."""
    forum, viewer = forum_of(request), viewer_of(request)
    async with forum.db.reads() as reads:
        access, document = await actions.readable_document(
            reads, viewer, request.path_params["slug"], path_int(request, "document_id")
        )
    slug = access.group.slug
    if document.storage_key is None:  # a link: its page says where it leads (no redirect)
        return redirect(request.url_for("document", slug=slug, document_id=document.id).path)
    chunks = forum.storage.read(document.storage_key)
    try:
        first = await anext(chunks)
    except (FileNotFoundError, StopAsyncIteration):
        raise NotFound(
            "This document's file is missing. Please tell the group's conveners."
        ) from None

    async def body() -> AsyncIterator[bytes]:
        yield first
        async for chunk in chunks:
            yield chunk

    headers = {
        "Content-Disposition": content_disposition(document.filename or "document"),
        "Content-Length": str(document.size_bytes),
        "X-Content-Type-Options": "nosniff",
        # Should a browser open it anyway: no scripts, no plugins, no same-origin access.
        "Content-Security-Policy": "default-src 'none'; sandbox",
        # Not kept by shared caches (the group may turn private); each use is checked again.
        "Cache-Control": "private, no-cache",
    }
    return StreamingResponse(body(), media_type=document.content_type, headers=headers)


def content_disposition(filename: str) -> str:
    """`attachment`, with the name both as plain ASCII (older clients) and in UTF-8 (RFC 6266)."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


async def remove(request: Request) -> Response:
    await read_input(request)
    forum = forum_of(request)
    access = await actions.do_remove_document(
        forum, viewer_of(request), request.path_params["slug"], path_int(request, "document_id")
    )
    return redirect(request.url_for("documents", slug=access.group.slug).path + "?removed=1")
