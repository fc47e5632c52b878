"""Full-text search over posts and topic titles (migrations/0010): FTS5 on SQLite, a tsvector
column with GIN indexes on PostgreSQL. Results come only from groups the searcher may read,
and never from removed posts; hidden posts only for site staff. Held posts are not posts, and
a debate's questions become posts only when revealed, so neither can be found."""

from __future__ import annotations

import re
from dataclasses import dataclass

from forum.db import Connection, Row
from forum.queries._sql import in_list
from forum.queries.notifications import may_read
from forum.queries.users import U_COLUMNS, User

# Marks around matched words in a blurb: control characters no post can hold (posts refuse
# them), so the blurb is escaped first and they become <mark> after (forum/search_text.py).
MARK_START, MARK_END = "\x02", "\x03"

ORDERS = ("relevance", "latest")
WITHIN = ("", "started", "replied")


@dataclass(frozen=True, slots=True)
class Search:
    """A search as asked: `terms` as typed (websearch syntax: words, "phrases", or, -word)."""

    terms: str
    group_id: int | None = None
    author: str | None = None
    after: float | None = None
    before: float | None = None
    within: str = ""  # "started": topics the searcher started; "replied": ones they posted in
    order: str = "relevance"


@dataclass(frozen=True, slots=True)
class PostHit:
    post_id: int
    topic_id: int
    post_number: int
    username: str
    created_at: float
    topic_title: str
    topic_slug: str
    group_id: int
    group_name: str
    blurb: str  # plain text with MARK_START / MARK_END around matches

    @classmethod
    def from_row(cls, row: Row) -> PostHit:
        return cls(
            int(row["id"]),
            int(row["topic_id"]),
            int(row["post_number"]),
            row["username"],
            float(row["created_at"]),
            row["title"],
            row["slug"],
            int(row["group_id"]),
            row["group_name"],
            row["blurb"] or "",
        )


@dataclass(frozen=True, slots=True)
class Found:
    """One page of results."""

    posts: list[PostHit]
    more: bool  # another page follows
    page: int
    ranked_only: int = 0  # the last page of a relevance search that ranked only this many


# --- SQLite's FTS5 query, from the websearch syntax PostgreSQL understands ---------------

_TOKEN_RE = re.compile(r'"([^"]*)"?|(\S+)')
_WORD_RE = re.compile(r"\w+", re.UNICODE)


def fts5_query(terms: str) -> str | None:
    """The FTS5 MATCH expression for what was typed, every word quoted (so nothing typed is
    read as FTS5 syntax): words and "phrases" must all match, `or` between two is either,
    `-word` excludes. None when nothing searchable was typed (only punctuation)."""
    must: list[str] = []
    exclude: list[str] = []
    pending_or = False
    for found in _TOKEN_RE.finditer(terms):
        phrase, word = found.group(1), found.group(2)
        if word is not None and word.lower() == "or" and must:
            pending_or = True
            continue
        negative = word is not None and word.startswith("-") and len(word) > 1
        words = _WORD_RE.findall(phrase if phrase is not None else word.lstrip("-"))
        if not words:
            continue
        expression = '"' + " ".join(words) + '"'
        if negative:
            exclude.append(expression)
        elif pending_or:
            must[-1] = f"({must[-1]} OR {expression})"
            pending_or = False
        else:
            must.append(expression)
    if not must:
        return None
    query = " AND ".join(must)
    for expression in exclude:
        query = f"({query}) NOT {expression}"
    return query


def searchable(terms: str) -> bool:
    return fts5_query(terms) is not None


# --- the queries -----------------------------------------------------------------------------


def _staff(viewer: User | None) -> bool:
    return viewer is not None and viewer.role in ("admin", "moderator")


async def _readable(conn: Connection, viewer: User | None) -> list[int] | None:
    """The groups the searcher may read, None for staff (every group)."""
    if _staff(viewer):
        return None
    sql = "SELECT id FROM groups WHERE visibility = 'public'"
    if viewer is not None:
        sql += " UNION SELECT group_id FROM memberships WHERE user_id = :viewer"
    rows = await conn.fetch_all(sql, {"viewer": viewer.id} if viewer else {})
    return [int(row["id"]) for row in rows]


def _filters(
    search: Search, viewer: User | None, readable: list[int] | None = None, dialect: str = ""
) -> tuple[str, dict[str, object]]:
    """The search's conditions on `p` (a post) and `t` (its topic). `readable`: the groups
    the searcher may read, as _readable found them (a search of several statements reads
    them once); without it a subquery finds them."""
    staff = _staff(viewer)
    clauses = ["p.deleted_at IS NULL"]
    if not staff:
        clauses.append("p.hidden_at IS NULL")
    params: dict[str, object] = {}
    # Only the topic is read for each match (its group is one of a short list, read once),
    # so a window of matches (search_posts) joins no more than it.
    public = "SELECT id FROM groups WHERE visibility = 'public'"
    if readable is not None and dialect == "postgresql":
        clauses.append("t.group_id = ANY(:readable)")  # one statement, however many groups
        params["readable"] = readable
    elif readable is not None:
        listed, listed_params = in_list("readable", readable or [0])
        clauses.append(f"t.group_id IN {listed}")
        params |= listed_params
    elif viewer is None:
        clauses.append(f"t.group_id IN ({public})")
    elif not staff:
        mine = "SELECT group_id FROM memberships WHERE user_id = :viewer"
        clauses.append(f"t.group_id IN ({public} UNION {mine})")
    if viewer is not None:
        params["viewer"] = viewer.id
    if search.group_id is not None:
        clauses.append("t.group_id = :group")
        params["group"] = search.group_id
    if search.author:
        clauses.append("p.user_id = (SELECT id FROM users WHERE lower(username) = lower(:author))")
        params["author"] = search.author
    if search.after is not None:
        clauses.append("p.created_at >= :after")
        params["after"] = search.after
    if search.before is not None:
        clauses.append("p.created_at < :before")
        params["before"] = search.before
    if viewer is not None and search.within == "started":
        clauses.append("t.user_id = :viewer")
    elif viewer is not None and search.within == "replied":
        clauses.append(
            "EXISTS (SELECT 1 FROM posts mine WHERE mine.topic_id = t.id"
            " AND mine.user_id = :viewer AND mine.post_number > 1)"
        )
    return " AND ".join(clauses), params


# A topic through its opening post, so every filter applies to titles as to posts.
_OPENING = " JOIN posts p ON p.topic_id = t.id AND p.post_number = 1"
_JOINS = (
    " JOIN topics t ON t.id = p.topic_id JOIN groups g ON g.id = t.group_id"
    " JOIN users u ON u.id = p.user_id"
)
_COLUMNS = (
    "p.id, p.topic_id, p.post_number, u.username, p.created_at, t.title, t.slug,"
    " g.id AS group_id, g.name AS group_name"
)


# Relevance ranks this many of the newest matches, not every match: a word in 2% of a million
# posts matches 20,000, and reading and ranking them all cost 200 ms (bench/search.py). It is
# a fixed set, so its pages never shift; "latest" pages go back as far as asked. The newest
# matches are found a window of post ids at a time, from the newest down, so a search costs
# about the same whatever the forum's size.
RANKED = 200
FIRST_WINDOW = 20_000  # post ids in the first window; the next is sized by what it found
# A window wider than this is looked up by its words alone (PostgreSQL): it is wide because
# its matches are sparse, and reading a few matches beats walking its ids in the index.
INDEXED_WINDOW = 100_000


async def search_posts(
    conn: Connection, viewer: User | None, search: Search, *, limit: int, offset: int = 0
) -> list[PostHit]:
    """Posts matching, best first (or newest first; by id, the order they were written),
    `limit` from `offset`. "Best" is among the newest RANKED matches: for a forum, the most
    relevant of what was said lately, as search engines weigh freshness."""
    if conn.dialect != "postgresql" and fts5_query(search.terms) is None:
        return []
    latest = search.order == "latest"
    needed = offset + limit if latest else RANKED
    found: list[Row] = []
    readable = await _readable(conn, viewer)
    high = int(await conn.fetch_val("SELECT coalesce(max(id), 0) FROM posts"))
    size = FIRST_WINDOW
    while high > 0 and len(found) < needed and offset < needed:
        low = max(0, high - size)
        wanted = needed - len(found)
        rows = await _window(conn, viewer, readable, search, low, high, wanted, ranked=not latest)
        found += rows  # newest first, window after window
        size = _next_window(needed - len(found), high - low, len(rows))
        high = low
    if not latest:
        found.sort(key=lambda row: (float(row["score"]), int(row["id"])), reverse=True)
    page = [int(row["id"]) for row in found[offset : offset + limit]]
    return await _hits(conn, viewer, readable, search, page)


def _next_window(wanted: int, seen: int, matched: int) -> int:
    """How many post ids the next window spans: as many as should hold the matches still
    wanted at the density this one had (and a quarter more), so a common word stops after a
    window or two and a rare one looks at the rest at once; after a window with none (a
    filter that keeps few, no match at all), four times as many, so no one statement reads
    every older match of a common word."""
    if not matched:
        return seen * 4
    return int(wanted * seen / matched * 1.25) + 1


async def _window(
    conn: Connection,
    viewer: User | None,
    readable: list[int] | None,
    search: Search,
    low: int,
    high: int,
    wanted: int,
    *,
    ranked: bool,
) -> list[Row]:
    """The newest `wanted` matches among posts low < id <= high that the searcher may read,
    newest first: their ids, times and (`ranked`) scores, higher better. Ordered by
    `p.id + 0`: ordered by the id's index, the planner would walk it testing every post."""
    where, params = _filters(search, viewer, readable, conn.dialect)
    params |= {"low": low, "high": high, "wanted": wanted}
    if conn.dialect == "postgresql":
        score = "ts_rank_cd(p.search, q.query)" if ranked else "0"
        ids = "p.id" if high - low <= INDEXED_WINDOW else "(p.id + 0)"  # "+ 0": no index
        sql = (
            f"SELECT p.id, p.created_at, {score} AS score FROM"
            " (SELECT websearch_to_tsquery('english', :terms) AS query) q,"
            # Each match's topic looked up by its key (OFFSET 0 keeps it a lookup): the
            # planner would otherwise read every topic to hash them, for a few hundred.
            " posts p JOIN LATERAL (SELECT id, group_id, user_id FROM topics"
            " WHERE topics.id = p.topic_id OFFSET 0) t ON TRUE"
            f" WHERE p.search @@ q.query AND {ids} > :low AND {ids} <= :high AND {where}"
            " ORDER BY p.id + 0 DESC LIMIT :wanted"
        )
        params["terms"] = search.terms
    else:
        score = "-bm25(search_posts)" if ranked else "0"  # bm25: lower is better
        sql = (
            f"SELECT p.id, p.created_at, {score} AS score FROM search_posts"
            " JOIN posts p ON p.id = search_posts.rowid JOIN topics t ON t.id = p.topic_id"
            " WHERE search_posts MATCH :match AND search_posts.rowid > :low"
            f" AND search_posts.rowid <= :high AND {where} ORDER BY p.id + 0 DESC LIMIT :wanted"
        )
        params["match"] = fts5_query(search.terms)
    return await conn.fetch_all(sql, params)


async def _hits(
    conn: Connection,
    viewer: User | None,
    readable: list[int] | None,
    search: Search,
    post_ids: list[int],
) -> list[PostHit]:
    """These posts (still under the search's filters), in this order, with a blurb of their
    text around what matched (made for the page's posts only: it reads the whole text)."""
    if not post_ids:
        return []
    where, params = _filters(search, viewer, readable, conn.dialect)
    listed, id_params = in_list("hit", post_ids)
    params |= id_params
    if conn.dialect == "postgresql":
        sql = (
            f"SELECT {_COLUMNS}, ts_headline('english', p.raw, websearch_to_tsquery('english',"
            " :terms), concat('StartSel=', chr(2), ', StopSel=', chr(3), ', MaxWords=30,"
            ' MinWords=12, MaxFragments=2, FragmentDelimiter=" … "\')) AS blurb'
            f" FROM posts p{_JOINS} WHERE p.id IN {listed} AND {where}"
        )
        params["terms"] = search.terms
    else:
        sql = (
            f"SELECT {_COLUMNS}, snippet(search_posts, 0, char(2), char(3), ' … ', 24) AS blurb"
            f" FROM search_posts JOIN posts p ON p.id = search_posts.rowid{_JOINS}"
            f" WHERE search_posts MATCH :match AND search_posts.rowid IN {listed} AND {where}"
        )
        params["match"] = fts5_query(search.terms)
    hits = {int(row["id"]): PostHit.from_row(row) for row in await conn.fetch_all(sql, params)}
    return [hits[i] for i in post_ids if i in hits]


async def search_titles(
    conn: Connection, viewer: User | None, search: Search, *, limit: int
) -> list[int]:
    """Ids of topics whose titles match, best first: their opening posts join the results."""
    where, params = _filters(search, viewer)
    params |= {"limit": limit}
    # The title's topic is read through its first post, so every filter applies as to posts.
    if conn.dialect == "postgresql":
        # The matching titles first, from their index: left to itself, the planner walks
        # topics newest first and makes each title's tsvector until five match.
        sql = (
            "WITH matched AS MATERIALIZED (SELECT id FROM topics WHERE"
            " to_tsvector('english', title) @@ websearch_to_tsquery('english', :terms))"
            f" SELECT t.id FROM matched JOIN topics t ON t.id = matched.id{_OPENING}"
            f" WHERE {where} ORDER BY t.bumped_at + 0 DESC LIMIT :limit"  # "+ 0": not by index
        )
        params["terms"] = search.terms
    else:
        query = fts5_query(search.terms)
        if query is None:
            return []
        sql = (
            "SELECT t.id FROM search_topics JOIN topics t ON t.id = search_topics.rowid"
            f"{_OPENING} WHERE search_topics MATCH :match AND {where}"
            " ORDER BY bm25(search_topics), t.bumped_at DESC LIMIT :limit"
        )
        params["match"] = query
    return [int(row["id"]) for row in await conn.fetch_all(sql, params)]


async def opening_posts(
    conn: Connection, viewer: User | None, search: Search, topic_ids: list[int]
) -> list[PostHit]:
    """The opening posts of these topics (found by title), under the same filters, in the
    order given; their blurb is their text's beginning."""
    where, params = _filters(search, viewer)
    listed, id_params = in_list("tid", topic_ids)
    rows = await conn.fetch_all(
        f"SELECT {_COLUMNS}, substr(p.raw, 1, 240) AS blurb FROM posts p{_JOINS}"
        f" WHERE p.post_number = 1 AND p.topic_id IN {listed} AND {where}",
        params | id_params,
    )
    hits = {int(row["topic_id"]): PostHit.from_row(row) for row in rows}
    return [hits[t] for t in topic_ids if t in hits]


async def search_users(
    conn: Connection, term: str, *, limit: int, readers_of: int | None = None
) -> list[User]:
    """Members whose names start with `term` (the @mention autocomplete), shortest first;
    with `readers_of`, only those who may read that group (a mention of anyone else tells
    nobody)."""
    prefix = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    join, readers = "", ""
    if readers_of is not None:
        join, readers = " JOIN groups g ON g.id = :group", f" AND {may_read('u', 'g')}"
    rows = await conn.fetch_all(
        f"SELECT {U_COLUMNS} FROM users u{join} WHERE lower(u.username) LIKE :p ESCAPE '\\'"
        f"{readers} ORDER BY length(u.username), lower(u.username) LIMIT :limit",
        {"p": prefix + "%", "limit": limit, "group": readers_of},
    )
    return [User.from_row(row) for row in rows]
