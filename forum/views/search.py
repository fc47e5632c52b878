"""The search page (`/search`): the form, with its filters, and one page of results."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from forum.access import readable_groups
from forum.actions import search as search_actions
from forum.errors import BadRequest
from forum.forms import query_input
from forum.pages import SearchPage
from forum.views.common import base
from forum.web import client_address, forum_of, render, viewer_of


async def search_page(request: Request) -> Response:
    forum, viewer = forum_of(request), viewer_of(request)
    form = query_input(request)
    groups = await readable_groups(forum.db, viewer)
    fields = {name: (form.get(name) or "") for name in ("q", "group", "author", "after", "before")}
    fields |= {"in": form.get("in") or "", "order": form.get("order") or "relevance"}
    errors: list[str] = []
    found = None
    try:
        search = await search_actions.check_search(forum, viewer, form)
        if search is not None:
            search_actions.pace_search(forum, viewer, client_address(request))
            page = form.get_int("page") or 1
            found = await search_actions.do_search(forum, viewer, search, page)
    except BadRequest as refused:
        errors = refused.messages
    page_view = SearchPage(
        **base(request, f"Search: {fields['q']}" if fields["q"] else "Search"),
        fields=fields,
        groups=groups,
        found=found,
        errors=errors,
    )
    return render(request, page_view, 400 if errors else 200)
