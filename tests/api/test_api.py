"""The JSON API as an existing Discourse client sees it, against a real server on each database.

Shapes and the exact content type of every answer, API-key and cookie authentication, CSRF,
errors that are JSON and never redirects, private groups, and keyset pagination of topic lists.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from forum.actions import posts as post_actions
from forum.actions.accounts import do_create_api_key
from forum.actions.drafts import Draft
from forum.db import Database
from forum.queries.groups import Group
from forum.queries.users import User
from tests.conftest import Arrange, ServerThread, forum_over, unique

JSON_TYPE = "application/json; charset=utf-8"
ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
POST_KEYS = {
    "id", "username", "cooked", "post_number", "topic_id", "created_at", "reply_to_post_number",
}  # fmt: skip
TOPIC_LIST_KEYS = {
    "id", "title", "fancy_title", "slug", "posts_count", "reply_count", "highest_post_number",
    "created_at", "last_posted_at", "bumped_at", "pinned", "closed", "category_id",
}  # fmt: skip
CATEGORY_KEYS = {
    "id", "name", "slug", "description", "topic_count", "post_count", "read_restricted",
    "topic_url",
}  # fmt: skip
HUGE_ID = "99999999999999999999"  # beyond a 64-bit integer


# --- helpers ---------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def http(server: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    """A bare API client: no cookies kept between tests, and redirects are never followed."""
    async with httpx.AsyncClient(
        base_url=server.base_url, timeout=15, follow_redirects=False
    ) as client:
        yield client


def ok(response: httpx.Response) -> Any:
    """The body of a successful JSON answer, after checking its status and exact content type."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == JSON_TYPE
    return response.json()


def failed(response: httpx.Response, status: int) -> list[str]:
    """The messages of a JSON error, after checking it is one with this status."""
    assert not response.is_redirect, response.headers.get("location")
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == JSON_TYPE
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("errors"), list), body
    assert body["errors"] and all(isinstance(e, str) and e for e in body["errors"]), body
    return list(body["errors"])


async def key_for(db: Database, owner: User, act_as: str | None = None) -> dict[str, str]:
    """Discourse API headers with a new key of `owner`, acting as `act_as` (default: owner)."""
    key = await do_create_api_key(forum_over(db), owner.username)
    return {"Api-Key": key, "Api-Username": act_as or owner.username}


async def count_posts(db: Database, topic_id: int) -> int:
    return int(
        await db.fetch_val("SELECT count(*) FROM posts WHERE topic_id = :t", {"t": topic_id})
    )


async def count_topics(db: Database, group_id: int) -> int:
    return int(
        await db.fetch_val("SELECT count(*) FROM topics WHERE group_id = :g", {"g": group_id})
    )


async def count_raw(db: Database, raw: str) -> int:
    return int(await db.fetch_val("SELECT count(*) FROM posts WHERE raw = :r", {"r": raw}))


async def post_ids_of(db: Database, topic_id: int) -> list[int]:
    rows = await db.fetch_all(
        "SELECT id FROM posts WHERE topic_id = :t ORDER BY post_number", {"t": topic_id}
    )
    return [int(r["id"]) for r in rows]


def topic_ids(body: dict[str, Any]) -> list[int]:
    return [t["id"] for t in body["topic_list"]["topics"]]


def send(
    http: httpx.AsyncClient,
    path: str,
    fields: dict[str, Any],
    encoding: str,
    headers: dict[str, str] | None = None,
) -> Any:
    """POST `fields` as a JSON body or as a form body."""
    if encoding == "json":
        return http.post(path, json=fields, headers=headers)
    return http.post(path, data={k: str(v) for k, v in fields.items()}, headers=headers)


class Scene:
    """A public group with a member, a topic of three posts, and that member's API headers."""

    member: User
    group: Group
    topic_id: int
    post_ids: list[int]
    headers: dict[str, str]


@pytest_asyncio.fixture
async def scene(arrange: Arrange, db: Database) -> Scene:
    s = Scene()
    s.member = await arrange.user(name="member")
    s.group = await arrange.group(members=(s.member,))
    first = await arrange.topic(s.group, s.member, title="Living well with it", raw="Hello *all*.")
    await arrange.reply(first.topic_id, s.member, raw="A second post.")
    await post_actions.do_reply(
        arrange.forum,
        s.member,
        first.topic_id,
        Draft("Answering the first.", reply_to_post_number=1),
    )
    s.topic_id = first.topic_id
    s.post_ids = await post_ids_of(db, first.topic_id)
    s.headers = await key_for(db, s.member)
    return s


# --- reading ---------------------------------------------------------------------------------


async def test_latest_lists_the_newest_topic_first(
    http: httpx.AsyncClient, server: ServerThread, scene: Scene
) -> None:
    body = ok(await http.get("/latest.json"))
    topic_list = body["topic_list"]
    assert topic_list["per_page"] == server.settings.topics_per_page
    assert topic_list["can_create_topic"] is False
    first = topic_list["topics"][0]
    assert set(first) >= TOPIC_LIST_KEYS
    assert first["id"] == scene.topic_id
    assert first["title"] == "Living well with it"
    assert first["slug"] == "living-well-with-it"
    assert first["category_id"] == scene.group.id
    assert (first["posts_count"], first["reply_count"], first["highest_post_number"]) == (3, 2, 3)
    assert first["last_poster_username"] == scene.member.username
    assert ISO_TIME.match(first["created_at"]) and ISO_TIME.match(first["bumped_at"])
    assert scene.member.username in [u["username"] for u in body["users"]]
    signed_in = ok(await http.get("/latest.json", headers=scene.headers))
    assert signed_in["topic_list"]["can_create_topic"] is True


async def test_categories_lists_groups_as_categories(http: httpx.AsyncClient, scene: Scene) -> None:
    body = ok(await http.get("/categories.json"))
    categories = body["category_list"]["categories"]
    by_id = {c["id"]: c for c in categories}
    category = by_id[scene.group.id]
    assert set(category) >= CATEGORY_KEYS
    assert category["slug"] == scene.group.slug
    assert category["name"] == scene.group.name
    assert category["description"] == "A test group."
    assert category["topic_count"] == 1
    assert category["read_restricted"] is False
    assert category["topic_url"] == f"/c/{scene.group.id}.json"


async def test_category_post_count_includes_opening_posts(
    http: httpx.AsyncClient, scene: Scene
) -> None:
    category = ok(await http.get(f"/c/{scene.group.id}/show.json"))["category"]
    assert category["post_count"] == 3  # the opening post and two replies


async def test_category_topics_by_id_and_by_slug(
    http: httpx.AsyncClient, arrange: Arrange, scene: Scene
) -> None:
    second = await arrange.topic(scene.group, scene.member, title="Another one")
    expected = [second.topic_id, scene.topic_id]  # most recently bumped first
    by_id = ok(await http.get(f"/c/{scene.group.id}.json"))
    assert topic_ids(by_id) == expected
    assert all(t["category_id"] == scene.group.id for t in by_id["topic_list"]["topics"])
    assert "more_topics_url" not in by_id["topic_list"]
    by_slug = ok(await http.get(f"/c/{scene.group.slug}/{scene.group.id}.json"))
    assert topic_ids(by_slug) == expected
    failed(await http.get(f"/c/not-{scene.group.slug}/{scene.group.id}.json"), 404)


async def test_category_show(http: httpx.AsyncClient, scene: Scene) -> None:
    body = ok(await http.get(f"/c/{scene.group.id}/show.json"))
    category = body["category"]
    assert set(category) >= CATEGORY_KEYS
    assert (category["id"], category["slug"]) == (scene.group.id, scene.group.slug)
    assert category["topic_count"] == 1


@pytest.mark.parametrize("form", ["/t/{id}.json", "/t/{slug}/{id}.json"])
async def test_topic_shape(http: httpx.AsyncClient, scene: Scene, form: str) -> None:
    path = form.format(id=scene.topic_id, slug="living-well-with-it")
    body = ok(await http.get(path))
    assert (body["id"], body["title"], body["slug"]) == (
        scene.topic_id,
        "Living well with it",
        "living-well-with-it",
    )
    assert (body["posts_count"], body["category_id"], body["closed"]) == (3, scene.group.id, False)
    stream = body["post_stream"]
    assert stream["stream"] == scene.post_ids
    posts = stream["posts"]
    assert all(set(p) >= POST_KEYS for p in posts)
    assert [p["id"] for p in posts] == scene.post_ids
    assert [p["post_number"] for p in posts] == [1, 2, 3]
    assert [p["reply_to_post_number"] for p in posts] == [None, None, 1]
    assert {p["topic_id"] for p in posts} == {scene.topic_id}
    assert {p["username"] for p in posts} == {scene.member.username}
    assert posts[0]["cooked"].strip() == "<p>Hello <em>all</em>.</p>"
    assert all(ISO_TIME.match(p["created_at"]) for p in posts)
    assert "raw" not in posts[0]
    assert body["details"]["created_by"]["username"] == scene.member.username
    assert body["details"]["can_create_post"] is False  # anonymous


async def test_topic_stream_lists_every_post_beyond_the_first_page(
    http: httpx.AsyncClient, server: ServerThread, arrange: Arrange, db: Database, scene: Scene
) -> None:
    per_page = server.settings.posts_per_page
    for n in range(per_page):
        await arrange.reply(scene.topic_id, scene.member, raw=f"Reply number {n}.")
    all_ids = await post_ids_of(db, scene.topic_id)
    body = ok(await http.get(f"/t/{scene.topic_id}.json"))
    assert body["post_stream"]["stream"] == all_ids
    assert [p["id"] for p in body["post_stream"]["posts"]] == all_ids[:per_page]
    # A client loads the rest of the stream by id, Rails-style.
    rest = all_ids[per_page:]
    query = "&".join(f"post_ids[]={i}" for i in rest)
    more = ok(await http.get(f"/t/{scene.topic_id}/posts.json?{query}"))
    assert [p["id"] for p in more["post_stream"]["posts"]] == rest


async def test_topic_posts_by_ids_and_first_page(
    http: httpx.AsyncClient, arrange: Arrange, scene: Scene
) -> None:
    p1, p2, p3 = scene.post_ids
    # Literal brackets, out of order: the answer comes in post order.
    body = ok(await http.get(f"/t/{scene.topic_id}/posts.json?post_ids[]={p3}&post_ids[]={p1}"))
    assert body["id"] == scene.topic_id
    posts = body["post_stream"]["posts"]
    assert all(set(p) >= POST_KEYS for p in posts)
    assert [(p["id"], p["post_number"]) for p in posts] == [(p1, 1), (p3, 3)]
    # Percent-encoded brackets, as most HTTP libraries send them.
    encoded = ok(
        await http.get(f"/t/{scene.topic_id}/posts.json", params=[("post_ids[]", str(p2))])
    )
    assert [p["id"] for p in encoded["post_stream"]["posts"]] == [p2]
    # Without ids: the first page of the topic.
    plain = ok(await http.get(f"/t/{scene.topic_id}/posts.json"))
    assert [p["id"] for p in plain["post_stream"]["posts"]] == [p1, p2, p3]
    # Ids of another topic's posts are not served through this one.
    other = await arrange.topic(scene.group, scene.member, raw="Elsewhere.")
    mixed = f"/t/{scene.topic_id}/posts.json?post_ids[]={other.post_id}&post_ids[]={p2}"
    assert [p["id"] for p in ok(await http.get(mixed))["post_stream"]["posts"]] == [p2]
    failed(await http.get(f"/t/{scene.topic_id}/posts.json?post_ids[]=abc"), 400)


async def test_user(http: httpx.AsyncClient, scene: Scene) -> None:
    body = ok(await http.get(f"/users/{scene.member.username}.json"))
    user = body["user"]
    assert (user["id"], user["username"]) == (scene.member.id, scene.member.username)
    assert user["post_count"] == 3
    assert (user["admin"], user["moderator"]) == (False, False)
    assert ISO_TIME.match(user["created_at"])
    upper = ok(await http.get(f"/users/{scene.member.username.upper()}.json"))
    assert upper["user"]["id"] == scene.member.id


@pytest.mark.parametrize(
    "path",
    [
        "/t/987654321.json",
        "/t/some-slug/987654321.json",
        "/t/987654321/posts.json",
        "/c/987654321.json",
        "/c/some-slug/987654321.json",
        "/c/987654321/show.json",
        "/users/nobody-by-that-name.json",
        "/nope.json",
        "/t/1/nope.json",
    ],
)
async def test_unknown_things_are_404_json(
    http: httpx.AsyncClient, scene: Scene, path: str
) -> None:
    failed(await http.get(path), 404)
    failed(await http.get(path, headers=scene.headers), 404)


async def settle(response: httpx.Response) -> httpx.Response:
    """After a 500, let the server thread finish logging its traceback before we go on.

    CPython 3.11's `ast` state is shared between threads (python/cpython#106905), and both
    uvicorn's traceback and pytest's failure report parse source with it: run together they
    can crash pytest with `SystemError: AST constructor recursion depth mismatch`.
    """
    if response.status_code >= 500:
        await asyncio.sleep(0.3)
    return response


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"/t/{HUGE_ID}.json", None),
        ("GET", f"/c/{HUGE_ID}.json", None),
        ("GET", f"/t/{HUGE_ID}/posts.json", None),
        ("GET", f"/t/{{topic}}/posts.json?post_ids[]={HUGE_ID}", None),
        ("GET", f"/t/{{topic}}/posts.json?post_number={HUGE_ID}", None),
        ("GET", f"/latest.json?before=1000000000.5_{HUGE_ID}", None),
        ("POST", "/posts.json", f'{{"topic_id": {HUGE_ID}, "raw": "Overflowing."}}'),
        ("POST", "/posts.json", f'{{"category": {HUGE_ID}, "title": "Big", "raw": "Big."}}'),
    ],
    ids=["topic", "category", "topic-posts", "post-ids", "post-number", "cursor", "reply",
         "new-topic"],
)  # fmt: skip
async def test_numbers_beyond_the_integer_range_are_4xx_not_500(
    http: httpx.AsyncClient, scene: Scene, method: str, path: str, body: str | None
) -> None:
    response = await settle(
        await http.request(
            method,
            path.replace("{topic}", str(scene.topic_id)),
            content=body,
            headers=scene.headers | {"Content-Type": "application/json"},
        )
    )
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == JSON_TYPE


@pytest.mark.parametrize("field", ["raw", "title"])
async def test_lone_surrogates_in_json_are_400(
    http: httpx.AsyncClient, db: Database, scene: Scene, field: str
) -> None:
    fields = {"title": "A fine title", "raw": "A fine post.", "category": str(scene.group.id)}
    fields[field] = "half a character: \\ud800"
    body = "{" + ", ".join(f'"{k}": "{v}"' for k, v in fields.items()) + "}"
    headers = scene.headers | {"Content-Type": "application/json"}
    response = await settle(await http.post("/posts.json", content=body, headers=headers))
    assert await count_topics(db, scene.group.id) == 1
    failed(response, 400)


async def test_wrong_method_is_405_json(http: httpx.AsyncClient) -> None:
    failed(await http.get("/posts.json"), 405)
    failed(await http.post("/latest.json", json={}), 405)


# --- writing with an API key ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "encoding"), [("/posts.json", "json"), ("/posts", "form"), ("/posts", "json")]
)
async def test_api_key_starts_a_topic(
    http: httpx.AsyncClient, db: Database, scene: Scene, path: str, encoding: str
) -> None:
    title = f"Topic {unique('t')}"
    fields = {"title": title, "raw": "Our **first** meeting.", "category": scene.group.id}
    post = ok(await send(http, path, fields, encoding, scene.headers))
    assert set(post) >= POST_KEYS
    assert (post["post_number"], post["username"]) == (1, scene.member.username)
    assert post["raw"] == "Our **first** meeting."
    assert post["cooked"].strip() == "<p>Our <strong>first</strong> meeting.</p>"
    assert post["reply_to_post_number"] is None
    assert await count_posts(db, post["topic_id"]) == 1
    topic = ok(await http.get(f"/t/{post['topic_id']}.json"))
    assert (topic["title"], topic["category_id"]) == (title, scene.group.id)
    assert topic["post_stream"]["stream"] == [post["id"]]
    assert topic["post_stream"]["posts"][0]["cooked"] == post["cooked"]


@pytest.mark.parametrize(
    ("path", "encoding"), [("/posts", "json"), ("/posts", "form"), ("/posts.json", "form")]
)
async def test_api_key_replies(
    http: httpx.AsyncClient, scene: Scene, path: str, encoding: str
) -> None:
    fields = {"topic_id": scene.topic_id, "raw": "Agreed, _thank you_.", "reply_to_post_number": 2}
    post = ok(await send(http, path, fields, encoding, scene.headers))
    assert set(post) >= POST_KEYS
    assert (post["topic_id"], post["post_number"]) == (scene.topic_id, 4)
    assert (post["username"], post["reply_to_post_number"]) == (scene.member.username, 2)
    assert post["cooked"].strip() == "<p>Agreed, <em>thank you</em>.</p>"
    topic = ok(await http.get(f"/t/{scene.topic_id}.json"))
    assert topic["post_stream"]["stream"] == [*scene.post_ids, post["id"]]
    shown = topic["post_stream"]["posts"][-1]
    assert (shown["id"], shown["cooked"], shown["reply_to_post_number"]) == (
        post["id"],
        post["cooked"],
        2,
    )


async def test_api_key_without_username_acts_as_its_owner(
    http: httpx.AsyncClient, scene: Scene
) -> None:
    headers = {"Api-Key": scene.headers["Api-Key"]}
    post = ok(
        await http.post(
            "/posts.json", json={"topic_id": scene.topic_id, "raw": "Me."}, headers=headers
        )
    )
    assert post["username"] == scene.member.username


async def test_json_body_with_a_charset_parameter_is_accepted(
    http: httpx.AsyncClient, scene: Scene
) -> None:
    headers = scene.headers | {"Content-Type": "application/json; charset=utf-8"}
    body = f'{{"topic_id": {scene.topic_id}, "raw": "Café ☕"}}'.encode()
    post = ok(await http.post("/posts.json", content=body, headers=headers))
    assert (post["raw"], post["post_number"]) == ("Café ☕", 4)


@pytest.mark.parametrize(
    "headers",
    [
        {"Api-Key": "not-a-key"},
        {"Api-Key": "not-a-key", "Api-Username": "system"},
        {"Api-Key": ""},
    ],
)
async def test_wrong_api_key_is_403_and_writes_nothing(
    http: httpx.AsyncClient, db: Database, scene: Scene, headers: dict[str, str]
) -> None:
    for path, encoding in (("/posts.json", "json"), ("/posts", "form")):
        response = await send(
            http, path, {"topic_id": scene.topic_id, "raw": "Sneaky."}, encoding, headers
        )
        assert not response.is_redirect
        assert response.status_code == 403
        assert response.json() == {"errors": ["Invalid API key or username."]}
    response = await http.get("/latest.json", headers=headers)
    assert response.status_code == 403
    assert await count_posts(db, scene.topic_id) == 3


async def test_wrong_api_key_error_has_the_json_content_type(
    http: httpx.AsyncClient, scene: Scene
) -> None:
    failed(await http.get("/latest.json", headers={"Api-Key": "not-a-key"}), 403)


async def test_member_key_cannot_act_as_someone_else(
    http: httpx.AsyncClient, arrange: Arrange, db: Database, scene: Scene
) -> None:
    other = await arrange.user(name="other")
    headers = await key_for(db, scene.member, act_as=other.username)
    response = await http.post(
        "/posts.json", json={"topic_id": scene.topic_id, "raw": "As you."}, headers=headers
    )
    assert not response.is_redirect
    assert response.status_code == 403
    assert response.json()["errors"]
    assert await count_posts(db, scene.topic_id) == 3


async def test_admin_key_posts_as_the_named_user(
    http: httpx.AsyncClient, arrange: Arrange, db: Database, scene: Scene
) -> None:
    admin = await arrange.user(role="admin", name="admin")
    headers = await key_for(db, admin, act_as=scene.member.username.upper())
    post = ok(
        await http.post(
            "/posts.json", json={"topic_id": scene.topic_id, "raw": "On behalf."}, headers=headers
        )
    )
    assert (post["username"], post["user_id"]) == (scene.member.username, scene.member.id)
    author = await db.fetch_val("SELECT user_id FROM posts WHERE id = :p", {"p": post["id"]})
    assert int(author) == scene.member.id
    # An admin naming nobody is refused rather than posting as the admin.
    nobody = await key_for(db, admin, act_as="no-such-user-here")
    response = await http.post(
        "/posts.json", json={"topic_id": scene.topic_id, "raw": "Ghost."}, headers=nobody
    )
    assert response.status_code == 403
    assert await count_raw(db, "Ghost.") == 0


# --- cookies, CSRF and anonymous callers ----------------------------------------------------


async def test_cookie_json_post_needs_the_csrf_header(
    client: Any, db: Database, scene: Scene
) -> None:
    browser = client()
    await browser.login(scene.member)
    assert browser.csrf
    http: httpx.AsyncClient = browser.http
    raw = f"From the browser {unique('r')}."
    fields = {"topic_id": scene.topic_id, "raw": raw}
    failed(await http.post("/posts.json", json=fields, follow_redirects=False), 403)
    failed(await http.post("/posts.json", json=fields, headers={"X-CSRF-Token": "0" * 64}), 403)
    failed(await http.post("/posts", data=fields, follow_redirects=False), 403)
    assert await count_raw(db, raw) == 0
    post = ok(await http.post("/posts.json", json=fields, headers={"X-CSRF-Token": browser.csrf}))
    assert (post["username"], post["raw"], post["post_number"]) == (scene.member.username, raw, 4)
    assert await count_raw(db, raw) == 1


async def test_anonymous_post_is_403_json(client: Any, db: Database, scene: Scene) -> None:
    visitor = client()
    await visitor.get("/login")  # the login page carries an anonymous visitor's CSRF token
    assert visitor.csrf
    http: httpx.AsyncClient = visitor.http
    reply = {"topic_id": scene.topic_id, "raw": "Anonymous reply."}
    new_topic = {"title": "Anonymous topic", "raw": "Anonymous post.", "category": scene.group.id}
    for fields in (reply, new_topic):
        failed(await http.post("/posts", json=fields, follow_redirects=False), 403)
        failed(await http.post("/posts.json", data=fields, follow_redirects=False), 403)
        with_token = await http.post(
            "/posts", json=fields, follow_redirects=False, headers={"X-CSRF-Token": visitor.csrf}
        )
        failed(with_token, 403)
    assert await count_posts(db, scene.topic_id) == 3
    assert await count_topics(db, scene.group.id) == 1


# --- refusals that write nothing ------------------------------------------------------------


def _reply(raw: str) -> dict[str, Any]:
    return {"topic_id": "{topic}", "raw": raw}


def _topic(title: str, raw: str) -> dict[str, Any]:
    return {"title": title, "raw": raw, "category": "{group}"}


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        (_reply(""), 400),
        (_reply("   \n\t "), 400),
        ({"topic_id": "{topic}"}, 400),
        (_reply("x" * 32_001), 400),
        (_reply("nul \x00 inside"), 400),
        (_topic("t" * 256, "A fine post."), 400),
        (_topic("", "A fine post."), 400),
        (_topic("A fine title", ""), 400),
        (_topic("Two\nlines", "A fine post."), 400),
        ({"title": "No category", "raw": "A fine post."}, 400),
        ({"topic_id": "abc", "raw": "A fine post."}, 400),
        ({"topic_id": "{topic}", "raw": "A fine post.", "reply_to_post_number": 99}, 400),
        (_reply("The topic is unknown.") | {"topic_id": 987654321}, 404),
        (_topic("Unknown group", "A fine post.") | {"category": 987654321}, 404),
    ],
    ids=[
        "empty-raw", "blank-raw", "missing-raw", "raw-too-long", "nul-in-raw", "title-too-long",
        "empty-title", "topic-empty-raw", "multiline-title", "no-category", "bad-topic-id",
        "bad-reply-to", "unknown-topic", "unknown-category",
    ],
)  # fmt: skip
@pytest.mark.parametrize("encoding", ["json", "form"])
async def test_invalid_posts_are_refused_and_not_written(
    http: httpx.AsyncClient,
    db: Database,
    scene: Scene,
    fields: dict[str, Any],
    status: int,
    encoding: str,
) -> None:
    filled = {
        k: {"{topic}": scene.topic_id, "{group}": scene.group.id}.get(v, v)
        for k, v in fields.items()
    }
    failed(await send(http, "/posts.json", filled, encoding, scene.headers), status)
    assert await count_posts(db, scene.topic_id) == 3
    assert await count_topics(db, scene.group.id) == 1


async def test_longest_title_and_post_are_accepted(
    http: httpx.AsyncClient, server: ServerThread, scene: Scene
) -> None:
    """The limits refuse one more than the most, not the most itself."""
    title = "t" * server.settings.max_title_chars
    raw = "r" * server.settings.max_post_chars
    post = ok(
        await http.post(
            "/posts.json",
            json={"title": title, "raw": raw, "category": scene.group.id},
            headers=scene.headers,
        )
    )
    assert len(post["raw"]) == server.settings.max_post_chars
    topic = ok(await http.get(f"/t/{post['topic_id']}.json"))
    assert topic["title"] == title


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b'{"topic_id": {topic}, "raw": "bad \xff\xfe bytes"}'),
        ("application/json", b"\xff\xfe"),
        ("application/x-www-form-urlencoded", b"topic_id={topic}&raw=bad+\xff\xfe+bytes"),
        ("application/x-www-form-urlencoded", b"topic_id={topic}&raw=bad+%FF%FE+bytes"),
        ("application/json", b'{"topic_id": {topic}, "raw": "surrogate \xed\xa0\x80 bytes"}'),
        ("application/x-www-form-urlencoded", b"topic_id={topic}&raw=surrogate+%ED%A0%80"),
        ("application/json", b"this is not json {"),
        ("application/json", b'{"topic_id": {topic}, "raw": "unterminated'),
        ("application/json", b'["topic_id", {topic}]'),
        ("application/json", b'{"topic_id": {topic}, "raw": {"nested": "object"}}'),
    ],
    ids=[
        "json-bad-utf8", "bare-bad-utf8", "form-bad-utf8", "form-escaped-bad-utf8",
        "json-surrogate-bytes", "form-escaped-surrogate", "garbage",
        "truncated-json", "json-array", "json-nested",
    ],
)  # fmt: skip
async def test_undecodable_bodies_are_400(
    http: httpx.AsyncClient, db: Database, scene: Scene, content_type: str, body: bytes
) -> None:
    content = body.replace(b"{topic}", str(scene.topic_id).encode())
    headers = scene.headers | {"Content-Type": content_type}
    failed(await http.post("/posts.json", content=content, headers=headers), 400)
    assert await count_posts(db, scene.topic_id) == 3


async def test_other_body_types_are_415(
    http: httpx.AsyncClient, db: Database, scene: Scene
) -> None:
    headers = scene.headers | {"Content-Type": "text/plain"}
    failed(await http.post("/posts.json", content=b"hello", headers=headers), 415)
    assert await count_posts(db, scene.topic_id) == 3


async def test_bodies_over_the_limit_are_413(
    http: httpx.AsyncClient, server: ServerThread, db: Database, scene: Scene
) -> None:
    limit = server.settings.max_body_bytes
    raw = "x" * limit  # the other fields take the body over the limit
    fields = {"topic_id": scene.topic_id, "raw": raw}
    failed(await http.post("/posts.json", json=fields, headers=scene.headers), 413)
    failed(await http.post("/posts", data=fields, headers=scene.headers), 413)

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the server must count
        yield f'{{"topic_id": {scene.topic_id}, "raw": "'.encode()
        for _ in range(limit // 8192 + 1):
            yield b"y" * 8192
        yield b'"}'

    headers = scene.headers | {"Content-Type": "application/json"}
    failed(await http.post("/posts.json", content=chunks(), headers=headers), 413)
    assert await count_posts(db, scene.topic_id) == 3


async def test_closed_topic_refuses_replies(
    http: httpx.AsyncClient, arrange: Arrange, db: Database, scene: Scene
) -> None:
    moderator = await arrange.user(role="moderator", name="mod")
    await post_actions.do_set_topic_status(arrange.forum, moderator, scene.topic_id, closed=True)
    topic = ok(await http.get(f"/t/{scene.topic_id}.json", headers=scene.headers))
    assert topic["closed"] is True
    assert topic["details"]["can_create_post"] is False
    for encoding in ("json", "form"):
        fields = {"topic_id": scene.topic_id, "raw": "Too late."}
        failed(await send(http, "/posts.json", fields, encoding, scene.headers), 403)
    assert await count_posts(db, scene.topic_id) == 3
    # Staff may still reply to a closed topic.
    staff = await key_for(db, moderator)
    post = ok(
        await http.post(
            "/posts", json={"topic_id": scene.topic_id, "raw": "Closing note."}, headers=staff
        )
    )
    assert (post["post_number"], post["username"]) == (4, moderator.username)


async def test_closed_topic_tells_staff_they_can_still_reply(
    http: httpx.AsyncClient, arrange: Arrange, db: Database, scene: Scene
) -> None:
    moderator = await arrange.user(role="moderator", name="mod")
    await post_actions.do_set_topic_status(arrange.forum, moderator, scene.topic_id, closed=True)
    topic = ok(await http.get(f"/t/{scene.topic_id}.json", headers=await key_for(db, moderator)))
    assert topic["details"]["can_create_post"] is True


# --- private groups -------------------------------------------------------------------------


async def test_private_group_is_invisible_to_outsiders(
    http: httpx.AsyncClient, arrange: Arrange, db: Database, scene: Scene
) -> None:
    insider = await arrange.user(name="insider")
    outsider = await arrange.user(name="outsider")
    private = await arrange.group(visibility="private", members=(insider,))
    secret = await arrange.topic(private, insider, title="Private matters", raw="Just us.")
    reply = await arrange.reply(secret.topic_id, insider, raw="Still just us.")
    gid, tid = private.id, secret.topic_id
    hidden_paths = [
        f"/c/{gid}.json",
        f"/c/{private.slug}/{gid}.json",
        f"/c/{gid}/show.json",
        f"/t/{tid}.json",
        f"/t/private-matters/{tid}.json",
        f"/t/{tid}/posts.json",
        f"/t/{tid}/posts.json?post_ids[]={reply.post_id}",
    ]
    outsiders = {"anonymous": {}, "outsider": await key_for(db, outsider)}
    for who, headers in outsiders.items():
        latest = ok(await http.get("/latest.json", headers=headers))
        assert tid not in topic_ids(latest), who
        categories = ok(await http.get("/categories.json", headers=headers))
        assert gid not in [c["id"] for c in categories["category_list"]["categories"]], who
        for path in hidden_paths:
            failed(await http.get(path, headers=headers), 404)
        # A public topic's stream does not hand out the private posts by id either.
        leak = f"/t/{scene.topic_id}/posts.json?post_ids[]={reply.post_id}"
        assert ok(await http.get(leak, headers=headers))["post_stream"]["posts"] == [], who
        # Nor does the author's profile count what they wrote there.
        profile = ok(await http.get(f"/users/{insider.username}.json", headers=headers))
        assert profile["user"]["post_count"] == 0, who
    outsider_headers = outsiders["outsider"]
    failed(
        await http.post(
            "/posts.json", json={"topic_id": tid, "raw": "Let me in."}, headers=outsider_headers
        ),
        404,
    )
    failed(
        await http.post(
            "/posts.json",
            json={"title": "Intruding", "raw": "Hello.", "category": gid},
            headers=outsider_headers,
        ),
        404,
    )
    assert await count_posts(db, tid) == 2
    assert await count_topics(db, gid) == 1

    member = await key_for(db, insider)
    assert topic_ids(ok(await http.get("/latest.json", headers=member)))[0] == tid
    categories = ok(await http.get("/categories.json", headers=member))
    shown = {c["id"]: c for c in categories["category_list"]["categories"]}
    assert shown[gid]["read_restricted"] is True
    assert topic_ids(ok(await http.get(f"/c/{gid}.json", headers=member))) == [tid]
    assert ok(await http.get(f"/c/{gid}/show.json", headers=member))["category"]["id"] == gid
    topic = ok(await http.get(f"/t/{tid}.json", headers=member))
    assert topic["post_stream"]["stream"] == [secret.post_id, reply.post_id]
    by_id = ok(await http.get(f"/t/{tid}/posts.json?post_ids[]={reply.post_id}", headers=member))
    profile = ok(await http.get(f"/users/{insider.username}.json", headers=member))
    assert profile["user"]["post_count"] == 2
    assert [p["id"] for p in by_id["post_stream"]["posts"]] == [reply.post_id]
    post = ok(
        await http.post(
            "/posts.json", json={"topic_id": tid, "raw": "Members only."}, headers=member
        )
    )
    assert post["post_number"] == 3


# --- keyset pagination ----------------------------------------------------------------------


async def read_all_pages(
    http: httpx.AsyncClient, path: str, per_page: int
) -> tuple[list[list[int]], list[str]]:
    """Follow more_topics_url from `path` to the end; the pages' ids and the urls followed."""
    pages: list[list[int]] = []
    urls = [path]
    while True:
        body = ok(await http.get(urls[-1]))
        ids = topic_ids(body)
        assert len(ids) <= per_page
        pages.append(ids)
        more = body["topic_list"].get("more_topics_url")
        if more is None:
            return pages, urls
        assert len(ids) == per_page  # a page with a next page is full
        assert more not in urls, "more_topics_url does not advance"
        urls.append(more)


async def test_category_pages_follow_on_without_gaps_or_duplicates(
    http: httpx.AsyncClient, server: ServerThread, arrange: Arrange, scene: Scene
) -> None:
    per_page = server.settings.topics_per_page
    group = await arrange.group()
    made = [
        (await arrange.topic(group, scene.member, title=f"Topic {n}")).topic_id
        for n in range(per_page + 3)
    ]
    pages, urls = await read_all_pages(http, f"/c/{group.id}.json", per_page)
    assert [len(p) for p in pages] == [per_page, 3]
    assert urls[1].startswith(f"/c/{group.id}.json?")
    assert [i for page in pages for i in page] == made[::-1]  # newest first, each once
    by_slug, _ = await read_all_pages(http, f"/c/{group.slug}/{group.id}.json", per_page)
    assert by_slug == pages


async def test_pages_stay_exact_when_topics_share_a_bump_time(
    http: httpx.AsyncClient, server: ServerThread, arrange: Arrange, db: Database, scene: Scene
) -> None:
    per_page = server.settings.topics_per_page
    group = await arrange.group()
    made = [
        (await arrange.topic(group, scene.member, title=f"Tied {n}")).topic_id
        for n in range(per_page + 3)
    ]
    async with db.transaction() as conn:  # long ago, all at the same instant
        await conn.execute(
            "UPDATE topics SET bumped_at = 1000000000.25 WHERE group_id = :g", {"g": group.id}
        )
    pages, _ = await read_all_pages(http, f"/c/{group.id}.json", per_page)
    assert [len(p) for p in pages] == [per_page, 3]
    assert [i for page in pages for i in page] == sorted(made, reverse=True)


async def test_latest_pages_follow_on_without_gaps_or_duplicates(
    http: httpx.AsyncClient, server: ServerThread, arrange: Arrange, db: Database, scene: Scene
) -> None:
    per_page = server.settings.topics_per_page
    group = await arrange.group()
    for n in range(per_page + 3):
        await arrange.topic(group, scene.member, title=f"Latest {n}")
    pages, urls = await read_all_pages(http, "/latest.json", per_page)
    assert len(pages) >= 2 and urls[1].startswith("/latest.json?")
    seen = [i for page in pages for i in page]
    assert len(seen) == len(set(seen))
    rows = await db.fetch_all(
        "SELECT t.id FROM topics t JOIN groups g ON g.id = t.group_id"
        " WHERE g.visibility = 'public' ORDER BY t.bumped_at DESC, t.id DESC"
    )
    assert seen == [int(r["id"]) for r in rows]
    failed(await http.get("/latest.json?before=not-a-cursor"), 400)


async def test_json_routes_answer_in_json_before_routing_too(http: httpx.AsyncClient) -> None:
    """A request refused before it reaches its route (a NUL in the address) is answered as
    that route speaks: JSON for the API and the preview, a page for pages."""
    assert failed(await http.get("/latest.json?x=%00"), 400)
    assert failed(await http.post("/preview?x=%00", data={"raw": "x"}), 400)
    page = await http.get("/?x=%00")
    assert page.status_code == 400 and page.headers["content-type"].startswith("text/html")
