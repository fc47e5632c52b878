"""The write path's round trips (issue 14): a post answers from what its write made, with no
read after it, and the composer's POST leaves the checks to the action, which makes them in
its transaction. Counted per request on each database, statement by statement."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from forum import db as db_module
from forum.actions import posts as post_actions
from forum.actions.accounts import do_create_api_key
from forum.actions.drafts import Draft
from forum.db import Database
from forum.queries import posts as post_queries
from forum.queries import topics as topic_queries
from forum.queries.users import User
from tests.conftest import Arrange, Client, ServerThread, forum_over, settings_for

# The statements of the request being served, where one is being counted.
_counted: ContextVar[list[str] | None] = ContextVar("counted", default=None)


def _record(sql: str) -> None:
    statements = _counted.get()
    if statements is not None:
        statements.append(" ".join(sql.split())[:120])


def _counting(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    async def counted(self: Any, sql: str, params: Any = None) -> Any:
        _record(sql)
        return await method(self, sql, params)

    return counted


def _counting_transaction(method: Callable[..., Any]) -> Callable[..., Any]:
    @asynccontextmanager
    async def transaction(self: Any, *, locks: Any = ()) -> AsyncIterator[Any]:
        _record("BEGIN")  # on PostgreSQL a round trip, its advisory locks taken with it
        async with method(self, locks=locks) as conn:
            yield conn
        _record("COMMIT")

    return transaction


# Every statement passes through one of these: PostgreSQL's pool and its reads go through
# _PgConnection; SQLite's reads outside a transaction through SqliteDatabase.fetch_all.
_STATEMENTS = (
    (db_module._PgConnection, "fetch_all"),
    (db_module._PgConnection, "execute"),
    (db_module._SqliteConnection, "fetch_all"),
    (db_module._SqliteConnection, "execute"),
    (db_module.SqliteDatabase, "fetch_all"),
)
_TRANSACTIONS = (db_module.PostgresDatabase, db_module.SqliteDatabase)


@contextlib.contextmanager
def counting_statements() -> Iterator[None]:
    """Record the statements of the requests a StatementCounter serves (only those: the
    tests' own statements and the server's background tasks have no counter set)."""
    saved: list[tuple[type, str, Any]] = [(c, n, c.__dict__[n]) for c, n in _STATEMENTS]
    saved += [(cls, "transaction", cls.__dict__["transaction"]) for cls in _TRANSACTIONS]
    for cls, name, method in saved:
        setattr(cls, name, (_counting_transaction if name == "transaction" else _counting)(method))
    try:
        yield
    finally:
        for cls, name, method in saved:
            setattr(cls, name, method)


class StatementCounter:
    """An ASGI wrapper that keeps, for each HTTP request, the statements it sent."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests: list[tuple[str, str, list[str]]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        statements: list[str] = []
        self.requests.append((scope["method"], scope["path"], statements))
        token = _counted.set(statements)
        try:
            await self.app(scope, receive, send)
        finally:
            _counted.reset(token)

    def last(self, method: str, path: str) -> list[str]:
        found = [s for m, p, s in self.requests if (m, p) == (method, path)]
        assert found, f"no {method} {path} was served"
        return found[-1]


@dataclass
class Counted:
    server: ServerThread
    counter: StatementCounter


@pytest.fixture(scope="module")
def counted(database_url: str) -> Iterator[Counted]:
    """A server of its own on the test database, counting each request's statements."""
    thread = ServerThread(settings_for(database_url))
    counter = StatementCounter(thread.app)
    thread.server.config.app = counter
    with counting_statements():
        thread.start()
        try:
            yield Counted(thread, counter)
        finally:
            thread.stop()


async def api_headers(db: Database, user: User) -> dict[str, str]:
    key = await do_create_api_key(forum_over(db), user.username)
    return {"Api-Key": key, "Api-Username": user.username}


async def posted_topic(arrange: Arrange) -> tuple[User, Any]:
    author = await arrange.user(name="writer")
    group = await arrange.group(members=(author,))
    written = await arrange.topic(group, author, title="Round trips counted")
    return author, written


# Statements per request, BEGIN and COMMIT counted (on PostgreSQL each is a round trip; on
# SQLite every statement is a call on the loop's own thread). Before issue 14, in order: the
# API's reply and topic re-read their post and topic (19 and 24 on SQLite, 11 and 16 on
# PostgreSQL); the composer read the topic (18, 10), or the group and the membership and
# afterwards the new topic (25, 17), besides what the action reads in its transaction.
API_REPLY = {"sqlite": 17, "postgresql": 9}
FORM_REPLY = {"sqlite": 17, "postgresql": 9}
API_TOPIC = {"sqlite": 22, "postgresql": 14}
FORM_TOPIC = {"sqlite": 23, "postgresql": 15}  # the page reads which group its slug names


async def test_an_api_reply_reads_nothing_after_its_write(counted, arrange, db) -> None:
    author, written = await posted_topic(arrange)
    headers = await api_headers(db, author)
    async with httpx.AsyncClient(base_url=counted.server.base_url, timeout=15) as http:
        for n in range(2):  # the first warms what a session reads once
            r = await http.post(
                "/posts.json",
                json={"topic_id": written.topic_id, "raw": f"Counted reply {n}."},
                headers=headers,
            )
            assert r.status_code == 200, r.text
    statements = counted.counter.last("POST", "/posts.json")
    print(f"\nAPI reply on {db.dialect}: {len(statements)}", *statements, sep="\n  ")
    assert len(statements) == API_REPLY[db.dialect], statements


async def test_a_form_reply_leaves_its_checks_to_the_action(counted, arrange, db) -> None:
    author, written = await posted_topic(arrange)
    c = Client(httpx.AsyncClient(base_url=counted.server.base_url, timeout=15))
    try:
        await c.login(author)
        path = f"/t/{written.topic_id}/reply"
        for n in range(2):
            r = await c.post_form(path, {"raw": f"Counted form reply {n}.", "idempotency_key": ""})
            assert r.status_code == 303, r.text
    finally:
        await c.http.aclose()
    statements = counted.counter.last("POST", path)
    print(f"\nform reply on {db.dialect}: {len(statements)}", *statements, sep="\n  ")
    assert len(statements) == FORM_REPLY[db.dialect], statements


async def test_an_api_topic_reads_nothing_after_its_write(counted, arrange, db) -> None:
    author, written = await posted_topic(arrange)
    headers = await api_headers(db, author)
    group_id = int(
        await db.fetch_val("SELECT group_id FROM topics WHERE id = :t", {"t": written.topic_id})
    )
    async with httpx.AsyncClient(base_url=counted.server.base_url, timeout=15) as http:
        for n in range(2):
            fields = {"category": group_id, "title": f"Counted topic {n}", "raw": "Counted."}
            r = await http.post("/posts.json", json=fields, headers=headers)
            assert r.status_code == 200, r.text
    statements = counted.counter.last("POST", "/posts.json")
    print(f"\nAPI topic on {db.dialect}: {len(statements)}", *statements, sep="\n  ")
    assert len(statements) == API_TOPIC[db.dialect], statements


async def test_a_form_topic_reads_only_its_group(counted, arrange, db) -> None:
    author, written = await posted_topic(arrange)
    slug = await db.fetch_val(
        "SELECT g.slug FROM groups g JOIN topics t ON t.group_id = g.id WHERE t.id = :t",
        {"t": written.topic_id},
    )
    c = Client(httpx.AsyncClient(base_url=counted.server.base_url, timeout=15))
    try:
        await c.login(author)
        path = f"/g/{slug}/new-topic"
        for n in range(2):
            form = {"title": f"Counted form topic {n}", "raw": "Counted.", "idempotency_key": ""}
            r = await c.post_form(path, form)
            assert r.status_code == 303, r.text
    finally:
        await c.http.aclose()
    statements = counted.counter.last("POST", path)
    print(f"\nform topic on {db.dialect}: {len(statements)}", *statements, sep="\n  ")
    assert len(statements) == FORM_TOPIC[db.dialect], statements


# --- what the write made is what a read gives back ---------------------------------------------


async def test_the_posted_post_and_topic_are_what_reads_give(arrange, db) -> None:
    author = await arrange.user(name="writer")
    group = await arrange.group(conveners=(author,))
    opened = await post_actions.do_new_topic(
        arrange.forum, author, group.id, Draft("Opening *words*.", title="As written")
    )
    assert isinstance(opened, post_actions.Posted)
    assert opened.topic == await topic_queries.get_topic(db, opened.topic_id)
    replied = await post_actions.do_reply(
        arrange.forum, author, opened.topic_id, Draft("And **more**.", reply_to_post_number=1)
    )
    assert isinstance(replied, post_actions.Posted)
    assert replied.topic == await topic_queries.get_topic(db, replied.topic_id)
    for written in (opened, replied):
        assert written.post == await post_queries.get_post(db, written.post_id)
        assert (written.topic_id, written.post_id) == (written.post.topic_id, written.post.id)
        assert written.post_number == written.post.post_number


async def read_back(
    http: httpx.AsyncClient, headers: dict[str, str], topic_id: int, post_id: int
) -> dict[str, Any]:
    r = await http.get(f"/t/{topic_id}/posts.json?post_ids[]={post_id}", headers=headers)
    assert r.status_code == 200, r.text
    [post] = r.json()["post_stream"]["posts"]
    return dict(post)


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    return dict(response.json())


async def test_an_api_post_answers_what_reading_it_back_gives(server, arrange, db) -> None:
    # A verified clinician who convenes the group, so every mark an answer carries is set.
    author = await arrange.user(badge="clinician", name="writer")
    await db.execute(
        "UPDATE users SET badge_verified_at = :t WHERE id = :i", {"t": 1.0e9, "i": author.id}
    )
    group = await arrange.group(conveners=(author,))
    headers = await api_headers(db, author)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
        opened = ok(
            await http.post(
                "/posts.json",
                json={"category": group.id, "title": "Answered as written", "raw": "The *1st*."},
                headers=headers,
            )
        )
        reply = {"topic_id": opened["topic_id"], "raw": "To **it**.", "reply_to_post_number": 1}
        replied = ok(await http.post("/posts.json", json=reply, headers=headers))
        for answer, raw in ((opened, "The *1st*."), (replied, "To **it**.")):
            read = await read_back(http, headers, answer["topic_id"], answer["id"])
            assert answer.pop("raw") == raw  # the answer's own: the stream leaves it out
            assert list(answer) == list(read)  # the same fields, in the same order
            for name, value in answer.items():
                assert value == read[name], name
    assert (opened["first_in_group"], replied["first_in_group"]) == (True, False)
    assert opened["badge_verified"] is True and opened["user_title"] == "clinician"
    assert (opened["post_number"], replied["post_number"]) == (1, 2)
    assert replied["reply_to_post_number"] == 1 and replied["topic_slug"] == "answered-as-written"
    assert (opened["version"], opened["actions_summary"]) == (1, [{"id": 2, "count": 0}])


async def test_a_retry_with_its_key_answers_the_first_post_again(server, arrange, db) -> None:
    author, written = await posted_topic(arrange)
    headers = await api_headers(db, author)
    group_id = int(
        await db.fetch_val("SELECT group_id FROM topics WHERE id = :t", {"t": written.topic_id})
    )
    async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
        for fields in (
            {"topic_id": written.topic_id, "raw": "Sent twice."},
            {"category": group_id, "title": "Started twice", "raw": "Sent twice."},
        ):
            keyed = headers | {"Idempotency-Key": secrets.token_hex(8)}
            first = await http.post("/posts.json", json=fields, headers=keyed)
            again = await http.post("/posts.json", json=fields, headers=keyed)
            assert ok(first)["raw"] == "Sent twice."
            assert again.content == first.content  # read back now, byte for byte the same
    assert (
        await db.fetch_val(
            "SELECT count(*) FROM posts WHERE raw = 'Sent twice.' AND user_id = :u",
            {"u": author.id},
        )
        == 2
    )


async def test_a_held_post_answers_as_before(server, arrange, db) -> None:
    member, newcomer = await arrange.user(), await arrange.user(new=True)
    group = await arrange.group(members=(member, newcomer))
    written = await arrange.topic(group, member)
    headers = await api_headers(db, newcomer)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
        for fields in (
            {"topic_id": written.topic_id, "raw": "A newcomer's reply."},
            {"category": group.id, "title": "A newcomer's topic", "raw": "A newcomer's topic."},
        ):
            body = ok(await http.post("/posts.json", json=fields, headers=headers))
            [item] = await db.fetch_all(
                "SELECT id FROM review_items WHERE author_id = :u AND raw = :r",
                {"u": newcomer.id, "r": fields["raw"]},
            )
            assert body == {
                "success": True,
                "action": "enqueued",
                "pending_post": {"id": item["id"], "raw": fields["raw"]},
                "reasons": body["reasons"],
            }
            assert body["reasons"] and all(isinstance(r, str) and r for r in body["reasons"])
    assert (
        await db.fetch_val("SELECT count(*) FROM posts WHERE user_id = :u", {"u": newcomer.id}) == 0
    )


# --- the composer: who may not write is told so as before ---------------------------------------


async def silence(db: Database, user: User) -> None:
    await db.execute(
        "UPDATE users SET silenced_until = :t WHERE id = :i",
        {"t": 4.0e9, "i": user.id},  # far ahead of any clock a test moves
    )


async def test_the_composer_refuses_in_the_words_it_used_before(client, arrange, db) -> None:
    member, moderator = await arrange.user(), await arrange.user(role="moderator")
    outsider = await arrange.user()
    private = await arrange.group(visibility="private", members=(member,))
    inside = await arrange.topic(private, member, "Members only")
    open_group = await arrange.group(members=(member,))
    closing = await arrange.topic(open_group, member, "Closing soon")
    m, o = client(), client()
    await m.login(member)
    await o.login(outsider)
    # The composer a member opened: sent again once the topic closed, refused as before,
    # though the first sending was written.
    page = await m.get(f"/t/{closing.topic_id}/reply")
    key = page.text.split('name="idempotency_key" value="')[1].split('"')[0]
    form = {"raw": "Just in time.", "idempotency_key": key}
    assert (await m.post_form(f"/t/{closing.topic_id}/reply", form)).status_code == 303
    await post_actions.do_set_topic_status(arrange.forum, moderator, closing.topic_id, closed=True)
    r = await m.post_form(f"/t/{closing.topic_id}/reply", form)
    assert r.status_code == 403 and "closed to new replies" in r.text
    # Too long, and not theirs to answer: not found, not "too long".
    long = {"raw": "x" * (arrange.settings.max_post_chars + 1)}
    r = await o.post_form(f"/t/{inside.topic_id}/reply", long)
    assert r.status_code == 404 and "There is no such topic." in r.text
    r = await o.post_form(f"/g/{private.slug}/new-topic", long | {"title": "Let me in"})
    assert r.status_code == 404 and "There is no such group." in r.text
    r = await o.post_form("/g/no-such-group-here/new-topic", {"title": "Nowhere", "raw": "Hi."})
    assert r.status_code == 404 and "There is no such group." in r.text
    # Silenced: where they may not write at all, told that first (as the page did), not
    # the pause; where they may, the pause.
    await silence(db, outsider)
    r = await o.post_form(f"/t/{inside.topic_id}/reply", {"raw": "Quiet?"})
    assert r.status_code == 404 and "There is no such topic." in r.text
    r = await o.post_form(f"/g/{private.slug}/new-topic", {"title": "Quiet?", "raw": "Quiet?"})
    assert r.status_code == 404 and "There is no such group." in r.text
    r = await o.post_form(f"/t/{closing.topic_id}/reply", {"raw": "Quiet?"})
    assert r.status_code == 403 and "closed to new replies" in r.text
    r = await o.post_form(f"/g/{open_group.slug}/new-topic", {"title": "Quiet?", "raw": "Quiet?"})
    assert r.status_code == 403 and "paused your posting" in r.text
    count = await db.fetch_val(
        "SELECT count(*) FROM posts WHERE topic_id IN (:a, :b)",
        {"a": inside.topic_id, "b": closing.topic_id},
    )
    assert count == 3  # the two openings and "Just in time."
