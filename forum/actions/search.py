"""A search as a member or visitor asks it: the input checked (clear messages for empty,
long, punctuation-only or malformed searches), paced per person or address
(`searches_per_minute`: a search costs the database more than a page), and run through
forum/queries/search.py, which keeps to what the searcher may read."""

from __future__ import annotations

from datetime import UTC, datetime

from forum.access import access_group
from forum.context import Forum
from forum.errors import BadRequest, NotAuthenticated, RateLimited
from forum.forms import Input
from forum.queries import search as queries
from forum.queries.search import Found, Search
from forum.queries.users import User

MAX_TERMS_CHARS = 200
PAGE_SIZE = 20


def _date(value: str | None, name: str) -> float | None:
    if not value:
        return None
    try:
        day = datetime.strptime(value.strip(), "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise BadRequest(f"The {name} date must look like 2026-12-31.") from None
    return day.timestamp()


async def check_search(forum: Forum, viewer: User | None, form: Input) -> Search | None:
    """The search asked for, or None when nothing was asked (an empty box)."""
    terms = (form.get("q") or form.get("term") or "").strip()
    if not terms:
        return None
    if len(terms) > MAX_TERMS_CHARS:
        raise BadRequest(f"Please search for at most {MAX_TERMS_CHARS} characters.")
    if not queries.searchable(terms):
        raise BadRequest("Please type at least one word to search for.")
    order = form.get("order") or "relevance"
    if order not in queries.ORDERS:
        raise BadRequest("Order the results by relevance or by latest.")
    within = form.get("in") or ""
    if within not in queries.WITHIN:
        raise BadRequest("Search within topics you started or replied to, or everywhere.")
    if within and viewer is None:
        raise NotAuthenticated("Please log in to search your own topics.")
    group_id = None
    if slug := (form.get("group") or "").strip():
        group = await access_group(forum.db, viewer, slug=slug)  # 404 if not theirs to read
        group_id = group.group.id
    after, before = _date(form.get("after"), "from"), _date(form.get("before"), "to")
    if before is not None:
        before += 86400  # "to" includes its day
    if after is not None and before is not None and after >= before:
        raise BadRequest("The from date must come before the to date.")
    author = (form.get("author") or "").strip().lstrip("@") or None
    if author is not None and len(author) > 40:
        raise BadRequest("That author's name is too long.")
    return Search(terms, group_id, author, after, before, within, order)


def pace_search(forum: Forum, viewer: User | None, address: str, *, names: bool = False) -> None:
    """`names`: the @mention autocomplete, paced apart (each typed letter asks; four times
    the searches' budget), so writing a few names does not use up the searches."""
    kind = "names" if names else "search"
    key = f"{kind}:user:{viewer.id}" if viewer else f"{kind}:addr:{address}"
    limit = forum.settings.searches_per_minute * (4 if names else 1)
    wait = forum.follow_limits.take(key, limit, 60)
    if wait:
        raise RateLimited("That was a lot of searches at once. Please wait.", wait_seconds=wait)


async def do_search(forum: Forum, viewer: User | None, search: Search, page: int) -> Found:
    if not 1 <= page <= 50:
        raise BadRequest("That page of results is out of range.")
    if search.order == "relevance" and (page - 1) * PAGE_SIZE >= queries.RANKED:
        raise BadRequest(
            f"Best matches stop at the newest {queries.RANKED}."
            " Show newest first to see older ones."
        )
    async with forum.db.reads() as conn:
        hits = await queries.search_posts(
            conn, viewer, search, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE
        )
        more, hits = len(hits) > PAGE_SIZE, hits[:PAGE_SIZE]
        if page == 1 and search.order == "relevance":
            # Topics whose titles match lead, through their opening posts.
            titled = await queries.search_titles(conn, viewer, search, limit=5)
            found = {hit.topic_id for hit in hits if hit.post_number == 1}
            missing = [t for t in titled if t not in found]
            if missing:
                extra = await queries.opening_posts(conn, viewer, search, missing)
                hits = extra + hits
    # Relevance ranks the newest RANKED matches; the page that reaches them says so.
    last_ranked = (page - 1) * PAGE_SIZE + len(hits) >= queries.RANKED and not more
    ranked_only = queries.RANKED if search.order == "relevance" and last_ranked else 0
    return Found(hits, more, page, ranked_only)
