"""Every route and the live channel, sent every kind of malformed value: never a 500.

Table-driven over forum/routes.py, so a new route is covered the day it is added: its path
parameters are filled from VALID (a new parameter name fails here until it has a value),
every method it takes is tried as an anonymous visitor, a signed-in member and an admin's
API key, with bad path values, bad query values and bad bodies. Each answer must be a clear
4xx (JSON with "errors" for API callers, a page for browsers), or a success; and the server
must still answer afterwards. Runs on SQLite and PostgreSQL, on a server and database of its
own (the failed logins it makes must not slow other tests' logins).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.routing import Mount, Route, WebSocketRoute

from forum.actions.debates import do_reveal_question, do_start_debate
from forum.actions.documents import do_add_link
from forum.actions.events import do_schedule_event
from forum.actions.learning import do_post_update
from forum.emails import unsubscribe_token
from forum.forms import Input
from forum.routes import routes
from tests.conftest import PASSWORD, Client
from tests.test_debates import iso, schedule
from tests.test_live import key_headers, live

# Values a path parameter may take that reach deep code: the ids of real rows.
VALID_NAMES = (
    "slug",
    "group_id",
    "topic_id",
    "post_id",
    "username",
    "item_id",
    "path",
    "debate_id",
    "number",
    "token",
)

BAD_INTS = ["0", "2147483648", "9" * 30, "9" * 5000]
BAD_STRINGS = ["a%00b", "%ff%fe", "x" * 3000, "..%2F..%2Fetc", "%E2%80%AE%00", "%C0%AF"]

QUERY_NAMES = [
    "before", "after", "to", "next", "status", "post_ids[]", "post_number", "account", "q",
    "group", "author", "order", "in", "page", "limit", "term", "upto", "saved", "sent",
    "topic_id", "group_id", "category_id", "show", "tag", "sort", "interest", "badge",
    "organisation", "region", "name", "id", "post_action_type_id", "sequence",
]  # fmt: skip
BAD_QUERY_VALUES = ["%00", "9" * 5000, "-1", "1e999", "%ff", "x" * 5000, "nan_1", "inf_9"]

# Every form field any handler reads.
FIELDS = [
    "raw", "title", "category", "topic_id", "reply_to_post_number", "login", "password",
    "username", "email", "badge", "account", "role", "note", "reason", "action", "version",
    "penalty", "word", "change", "claim", "seconds", "posts", "name", "slug", "description",
    "visibility", "next", "post_anyway", "idempotency_key", "csrf_token", "question", "minutes",
    "highlighted", "remind", "starts_at", "ends_at", "time_zone", "questions", "hosts", "number",
    "level", "notification_level", "id", "immediate", "digest", "excerpts", "muted", "back",
    "timings[1]", "timings[99999999999]", "decision", "message", "withdraw", "revoke", "days",
    "uses", "joining", "members_listed", "aim", "approach", "audience", "measures", "conveners",
    "unanswered_hours", "url", "tags", "online_url", "place", "capacity", "answer",
    "display_name", "bio", "organisation", "region", "interests", "summary", "sources",
    "liked", "post_action_type_id", "draft_key", "data", "sequence",
]  # fmt: skip


@dataclass(frozen=True)
class Body:
    name: str
    content: bytes
    content_type: str


def bodies(csrf: str) -> Iterator[Body]:
    def form(value: str) -> bytes:
        fields: list[tuple[str, str | int | float | bool | None]] = [
            (f, value) for f in FIELDS if f != "csrf_token"
        ]
        pairs = [*fields, ("csrf_token", csrf)]
        return httpx.QueryParams(pairs).__str__().encode()

    def as_json(value: Any) -> bytes:
        data = {f: value for f in FIELDS if f != "csrf_token"} | {"csrf_token": csrf}
        return json.dumps(data).encode()

    yield Body("form with NUL", form("a\x00b"), "application/x-www-form-urlencoded")
    yield Body("form with 5000 digits", form("9" * 5000), "application/x-www-form-urlencoded")
    yield Body("form with -1", form("-1"), "application/x-www-form-urlencoded")
    yield Body("form, long text", form("x" * 8000), "application/x-www-form-urlencoded")
    invalid = b"raw=%ff%fe&title=%c3&csrf_token=" + csrf.encode()
    yield Body("form, invalid UTF-8", invalid, "application/x-www-form-urlencoded")
    yield Body("raw invalid UTF-8", b"raw=\xff\xfe\xfd", "application/x-www-form-urlencoded")
    yield Body("JSON nested 50,000 deep", b"[" * 50_000 + b"]" * 50_000, "application/json")
    yield Body("JSON number of 5000 digits", b'{"raw": ' + b"9" * 5000 + b"}", "application/json")
    yield Body("JSON with NUL", as_json("a\x00b"), "application/json")
    yield Body("JSON lone surrogate", b'{"raw": "\\ud800", "title": "\\udfff"}', "application/json")
    yield Body("JSON huge integers", as_json(10**40), "application/json")
    yield Body("JSON objects as values", as_json({"a": [1, {"b": 2}]}), "application/json")
    yield Body("JSON lists as values", as_json(["a", "b"] * 100), "application/json")
    yield Body("JSON array body", b"[1, 2, 3]", "application/json")
    yield Body("JSON floats", as_json(1e308), "application/json")
    yield Body("not JSON", b"{not json", "application/json")
    yield Body("oversize", b"raw=" + b"x" * 300_000, "application/x-www-form-urlencoded")
    yield Body("text/plain", b"hello", "text/plain")
    yield Body("multipart", b"--x\r\n\r\n--x--", "multipart/form-data; boundary=x")
    yield Body("empty", b"", "application/x-www-form-urlencoded")


def fill(route: Route, values: dict[str, str]) -> str:
    path = route.path_format
    for name in route.param_convertors:
        path = path.replace("{" + name + "}", values[name])
    return path


def path_variants(route: Route, valid: dict[str, str]) -> Iterator[str]:
    """The route with valid values, then with each parameter bad in turn."""
    missing = set(route.param_convertors) - set(valid)
    assert not missing, f"{route.path}: add a valid value for {missing} to VALID in this test"
    yield fill(route, valid)
    for name, convertor in route.param_convertors.items():
        bad = BAD_INTS if "0-9" in convertor.regex else BAD_STRINGS
        for value in bad:
            yield fill(route, valid | {name: value})


def check(response: httpx.Response, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code} {response.text[:300]}"
    if response.status_code >= 400:
        content_type = response.headers.get("content-type", "")
        assert content_type.startswith(("application/json", "text/html")), what
        if content_type.startswith("application/json"):
            assert isinstance(response.json().get("errors"), list), what


@pytest.fixture
async def world(fresh: Any) -> Any:
    # Login limits out of the way: these requests fail thousands of times on purpose.
    made = await fresh(login_limit_per_account=100_000, login_limit_per_address=100_000)
    arrange = made.arrange
    member, admin = await arrange.user(), await arrange.user(role="admin")
    group = await arrange.group(members=(member,))
    written = await arrange.topic(group, member, "A topic", "The first post.")
    newcomer = await arrange.user(new=True)
    held = await arrange.reply(written.topic_id, newcomer, "Waiting for review.")
    debate = await schedule(arrange.forum, admin, group)
    await do_start_debate(arrange.forum, admin, debate.id)
    await do_reveal_question(arrange.forum, admin, debate.id, 1)
    shared = Input({"title": ["Leaflet"], "url": ["https://example.org/"], "tags": ["a, b"]})
    document_id = await do_add_link(arrange.forum, admin, group.id, shared)
    start = arrange.forum.now() + 86400
    meeting = {
        "title": ["Meeting"],
        "starts_at": [iso(start)],
        "ends_at": [iso(start + 3600)],
        "place": ["The hall"],
        "capacity": ["1"],
    }
    event_id = await do_schedule_event(arrange.forum, admin, group.id, Input(meeting))
    learned = Input({"title": ["Learned"], "summary": ["What we learned."]})
    update_id = await do_post_update(arrange.forum, admin, group.id, learned)
    valid = {
        "slug": group.slug,
        "group_id": str(group.id),
        "topic_id": str(written.topic_id),
        "post_id": str(written.post_id),
        "username": member.username,
        "item_id": str(held.item_id),
        "path": "forum.css",
        "rest": "no/such/thing",
        "debate_id": str(debate.id),
        "number": "2",
        "token": unsubscribe_token(arrange.settings.secret_key, member.id, "digest"),
        "proposal_id": "1",
        "document_id": str(document_id),
        "event_id": str(event_id),
        "version": "1",
        "update_id": str(update_id),
        "draft_key": f"topic_{written.topic_id}",
    }
    return made, member, admin, valid


async def clients(made: Any, member: Any, admin: Any) -> list[tuple[str, Client, dict[str, str]]]:
    anonymous = Client(httpx.AsyncClient(base_url=made.server.base_url, timeout=30))
    await anonymous.get("/login")  # an anonymous CSRF token, so forms get past the check
    signed_in = Client(httpx.AsyncClient(base_url=made.server.base_url, timeout=30))
    await signed_in.login(member.username, PASSWORD)
    keyed = Client(httpx.AsyncClient(base_url=made.server.base_url, timeout=30))
    return [
        ("anonymous", anonymous, {}),
        ("member", signed_in, {}),
        ("admin key", keyed, await key_headers(made.db, admin)),
    ]


# The routes in this many shares, each a test of its own, so the two workers split the sweep.
SHARES = 4


@pytest.mark.parametrize("share", range(SHARES))
async def test_no_route_answers_a_malformed_request_with_a_server_error(
    world: Any, share: int
) -> None:
    made, member, admin, valid = world
    callers = await clients(made, member, admin)
    tried = 0
    try:
        for route in routes[share::SHARES]:
            if isinstance(route, WebSocketRoute):
                continue  # the live channel has its own test below
            if isinstance(route, Mount):
                for path in ("/static/%00", "/static/..%2F..%2Fforum%2Fapp.py", "/static/x" * 50):
                    check(await callers[0][1].http.get(path), path)
                continue
            assert isinstance(route, Route)
            methods = sorted((route.methods or {"GET"}) - {"HEAD"})
            for path in path_variants(route, valid):
                for who, c, headers in callers:
                    for method in methods:
                        what = f"{who} {method} {path[:80]}"
                        if method == "GET":
                            check(await c.http.get(path, headers=headers), what)
                            tried += 1
                            continue
                        body = f"raw=x&csrf_token={c.csrf}".encode()
                        r = await c.http.request(
                            method,
                            path,
                            content=body,
                            headers=headers | {"content-type": "application/x-www-form-urlencoded"},
                        )
                        check(r, what)
                        tried += 1
            path = fill(route, valid)
            for who, c, headers in callers:
                if "GET" in (route.methods or set()):
                    for value in BAD_QUERY_VALUES:
                        # In thirds: all at once, the longest values pass a URL's limit.
                        third = -(-len(QUERY_NAMES) // 3)
                        for start in range(0, len(QUERY_NAMES), third):
                            names = QUERY_NAMES[start : start + third]
                            query = "&".join(f"{name}={value}" for name in names)
                            what = f"{who} GET {path}?{query[:60]}"
                            check(await c.http.get(f"{path}?{query}", headers=headers), what)
                            tried += 1
                if "POST" in (route.methods or set()):
                    for bad in bodies(c.csrf):
                        r = await c.http.post(
                            path,
                            content=bad.content,
                            headers=headers | {"content-type": bad.content_type},
                        )
                        check(r, f"{who} POST {path} {bad.name}")
                        tried += 1
        assert tried > 1000 // SHARES  # the table really ran
        assert (await callers[0][1].http.get("/healthz")).text == "ok"
    finally:
        for _, c, _ in callers:
            await c.http.aclose()


def bad_frames() -> Iterator[str | bytes]:
    yield "[" * 60_000
    yield '{"type": "subscribe", "channel": "topic:1", "since": ' + "9" * 5000 + "}"
    yield '{"type": "subscribe", "channel": "topic:99999999999999999999"}'
    yield '{"type": "subscribe", "channel": "group:99999999999999999999", "since": 1}'
    yield '{"type": "subscribe", "channel": "topic:0", "since": 9223372036854775807}'
    yield '{"type": "subscribe", "channel": "topic:-1"}'
    yield '{"type": "subscribe", "channel": "user:1"}'
    yield '{"type": "subscribe", "channel": "access"}'
    yield '{"type": "subscribe", "channel": "review:1"}'
    yield '{"type": "subscribe", "channel": "topic:1\\u0000"}'
    yield '{"type": "subscribe", "channel": "\\ud800"}'
    yield '{"type": "presence", "channel": "latest", "state": "viewing"}'
    yield '{"type": "ping", "extra": ' + "[" * 1000 + "]" * 1000 + "}"
    yield b"\xff\xfe not utf-8"
    yield json.dumps({"type": "subscribe", "channel": "x" * 60_000})


async def test_the_live_channel_answers_every_malformed_frame_and_stays_open(world: Any) -> None:
    made, member, admin, _ = world
    for headers in ({}, await key_headers(made.db, member), await key_headers(made.db, admin)):
        for n, frame in enumerate(bad_frames()):
            # A socket each: more than 5 bad frames in 30 s close a socket (tested elsewhere).
            async with live(made.server.base_url, headers, max_size=None) as c:
                await c.ws.send(frame)
                answer = await c.next()
                assert answer["type"] in ("error", "subscribed", "resync", "pong"), (n, answer)
                if answer["type"] == "error":
                    assert answer["code"] in ("bad_request", "forbidden"), (n, answer)
                await c.send({"type": "ping"})
                assert (await c.until(lambda f: f["type"] == "pong"))["type"] == "pong"


@pytest.mark.parametrize(
    "email", ["a\x07b@example.org", "ab@exa\x1bmple.org", "ab@example.org\u202e", "a\u200bb@x.org"]
)
async def test_a_signup_email_with_control_or_invisible_characters_is_refused(
    client, db, email: str
) -> None:
    c = client()
    await c.get("/signup")
    name = f"ctl{abs(hash(email)) % 10**8}"
    r = await c.post_form(
        "/signup",
        {"username": name, "email": email, "password": PASSWORD, "badge": "patient"},
    )
    assert r.status_code == 400 and "valid email address" in r.text
    assert await db.fetch_val("SELECT count(*) FROM users WHERE username = :u", {"u": name}) == 0
