"""Thanks on posts (issue 13: Discourse's likes), on SQLite and PostgreSQL: given and taken back
from the page and the Discourse API, counted for every reader and live; who gave them on
request; never on one's own or a hidden post; a private group's thanks stay in it; paced; bad
input refused with nothing written."""

from __future__ import annotations

import re
from typing import Any

from forum.actions.likes import do_like
from forum.errors import RateLimited
from tests.api.test_api import failed, key_for
from tests.conftest import logged_in
from tests.test_live import key_headers, live

PRESSED = re.compile(r'class="link like" aria-pressed="(true|false)"')


def pressed(html: str) -> list[str]:
    return PRESSED.findall(html)


async def like_count(db: Any, post_id: int) -> int:
    return int(await db.fetch_val("SELECT like_count FROM posts WHERE id = :p", {"p": post_id}))


async def test_a_member_thanks_a_post_and_everyone_sees_the_count(client, arrange, db) -> None:
    author, reader = await arrange.user(name="auth"), await arrange.user(name="thanker")
    group = await arrange.group(members=(author, reader))
    written = await arrange.topic(group, author, "Thank you notes", "Here is what helped me.")
    path = f"/t/thank-you-notes/{written.topic_id}"
    c = await logged_in(client, reader)
    assert pressed((await c.get(path)).text) == ["false"]
    r = await c.post_form(f"/p/{written.post_id}/like", {"liked": "yes"})
    assert r.status_code == 303 and r.headers["location"].endswith("/1#post-1")
    page = (await c.get(path)).text
    assert pressed(page) == ["true"]  # the button now takes it back
    assert 'name="liked" value="no"' in page
    # Anyone reading sees the count, linked to who gave it.
    anonymous = (await client().get(path)).text
    assert f'<a href="/p/{written.post_id}/likes">1 thank you<span' in anonymous
    assert pressed(anonymous) == []  # no button without an account
    who = await client().get(f"/p/{written.post_id}/likes")
    assert who.status_code == 200 and reader.username in who.text
    # Twice is once (a double click, two tabs).
    await c.post_form(f"/p/{written.post_id}/like", {"liked": "yes"})
    assert await like_count(db, written.post_id) == 1
    # A second reader makes it two; taking one back makes it one again.
    other = await logged_in(client, await arrange.user(name="other"))
    await other.post_form(f"/p/{written.post_id}/like", {"liked": "yes"})
    assert "2 thanks" in (await client().get(path)).text
    r = await c.post_form(f"/p/{written.post_id}/like", {"liked": "no"})
    assert r.status_code == 303
    assert await like_count(db, written.post_id) == 1
    assert pressed((await c.get(path)).text) == ["false"]
    # From live.js, asking for JSON: the new state in place.
    r = await c.http.post(
        f"/p/{written.post_id}/like",
        data={"liked": "yes", "csrf_token": c.csrf},
        headers={"accept": "application/json"},
    )
    assert r.json() == {"liked": True, "likes": 2, "likes_label": "2 thanks"}


async def test_no_thanks_for_your_own_or_a_hidden_post(client, arrange, db) -> None:
    author, reader = await arrange.user(name="auth"), await arrange.user(name="reader")
    group = await arrange.group(members=(author, reader))
    written = await arrange.topic(group, author, "Own post", "Mine.")
    a = await logged_in(client, author)
    assert pressed((await a.get(f"/t/own-post/{written.topic_id}")).text) == []
    r = await a.post_form(f"/p/{written.post_id}/like", {"liked": "yes"})
    assert r.status_code == 400 and "your own post" in r.text
    await db.execute("UPDATE posts SET hidden_at = 1 WHERE id = :p", {"p": written.post_id})
    c = await logged_in(client, reader)
    assert pressed((await c.get(f"/t/own-post/{written.topic_id}")).text) == []
    r = await c.post_form(f"/p/{written.post_id}/like", {"liked": "yes"})
    assert r.status_code == 400 and "hidden" in r.text
    assert await like_count(db, written.post_id) == 0


async def test_a_private_groups_thanks_stay_in_it(client, arrange, db) -> None:
    author, member = await arrange.user(name="auth"), await arrange.user(name="mem")
    outsider = await arrange.user(name="out")
    private = await arrange.group("private", members=(author, member))
    written = await arrange.topic(private, author, "Private thanks", "Only for us.")
    m = await logged_in(client, member)
    assert (await m.post_form(f"/p/{written.post_id}/like", {"liked": "yes"})).status_code == 303
    o = await logged_in(client, outsider)
    for c in (o, client()):
        assert (await c.get(f"/p/{written.post_id}/likes")).status_code == 404
        r = await c.http.get(f"/post_action_users.json?id={written.post_id}&post_action_type_id=2")
        assert r.status_code == 404 and member.username not in r.text
    r = await o.post_form(f"/p/{written.post_id}/like", {"liked": "yes"})
    assert r.status_code == 404 and "Private thanks" not in r.text
    headers = await key_for(db, outsider)
    r = await o.http.post(
        "/post_actions", json={"id": written.post_id, "post_action_type_id": 2}, headers=headers
    )
    failed(r, 404)
    # Not signed in (with a visitor's own CSRF token): asked to log in, nothing counted.
    visitor = client()
    await visitor.get("/login")  # a visitor's CSRF token
    r = await visitor.post_form(f"/p/{written.post_id}/like", {"liked": "yes"})
    assert r.status_code == 403 and "Please log in" in r.text  # not the CSRF refusal
    assert await like_count(db, written.post_id) == 1


async def test_thanks_are_paced(fresh) -> None:
    site = await fresh(likes_per_day=2)
    author, reader = await site.arrange.user(name="auth"), await site.arrange.user(name="fast")
    group = await site.arrange.group(members=(author, reader))
    written = await site.arrange.topic(group, author, "Many posts", "One.")
    ids = [written.post_id] + [
        (await site.arrange.reply(written.topic_id, author, f"Reply {n}.")).post_id
        for n in range(2)
    ]
    forum = site.arrange.forum
    for post_id in ids[:2]:
        await do_like(forum, reader, post_id, liked=True)
    try:
        await do_like(forum, reader, ids[2], liked=True)
    except RateLimited as refused:
        assert "the limit of 2 thanks a day" in str(refused)
    else:
        raise AssertionError("a third thank-you in a day went through")
    assert await like_count(site.db, ids[2]) == 0
    # Thanking again what is already thanked is not counted, nor refused at the limit.
    again = await do_like(forum, reader, ids[0], liked=True)
    assert again.liked and again.likes == 1
    # Taking thanks back is never refused.
    await do_like(forum, reader, ids[0], liked=False)
    assert await like_count(site.db, ids[0]) == 0


async def test_bad_input_is_refused_and_nothing_is_counted(client, arrange, db) -> None:
    author, reader = await arrange.user(name="auth"), await arrange.user(name="reader")
    group = await arrange.group(members=(author, reader))
    written = await arrange.topic(group, author, "Bad input", "A post.")
    c = await logged_in(client, reader)
    r = await c.post_form(f"/p/{written.post_id}/like", {"liked": "maybe"})
    assert r.status_code == 400 and "liked=yes" in r.text
    r = await c.post_form(f"/p/{written.post_id}/like", {"liked": "yes"}, csrf=False)
    assert r.status_code == 403
    r = await c.post_form("/p/999999999/like", {"liked": "yes"})
    assert r.status_code == 404
    r = await c.http.post(
        f"/p/{written.post_id}/like",
        content=b"liked=yes&csrf_token=" + c.csrf.encode() + b"&x=\xff",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 400
    headers = await key_for(db, reader)
    for body in (
        {"id": written.post_id, "post_action_type_id": 3},
        {"id": written.post_id},
        {"post_action_type_id": 2},
        {"id": "x", "post_action_type_id": 2},
    ):
        failed(await c.http.post("/post_actions", json=body, headers=headers), 400)
    failed(await c.http.get("/post_action_users.json?id=1&post_action_type_id=7"), 400)
    assert await like_count(db, written.post_id) == 0


async def test_the_discourse_api_thanks_and_takes_back(client, arrange, db) -> None:
    author, reader = await arrange.user(name="auth"), await arrange.user(name="apiuser")
    group = await arrange.group(members=(author, reader))
    written = await arrange.topic(group, author, "Api thanks", "A post.")
    headers = await key_for(db, reader)
    http = client().http
    r = await http.post(
        "/post_actions",
        data={"id": str(written.post_id), "post_action_type_id": "2"},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == written.post_id
    assert body["actions_summary"] == [{"id": 2, "count": 1, "acted": True}]
    users = (
        await http.get(f"/post_action_users.json?id={written.post_id}&post_action_type_id=2")
    ).json()
    assert [u["username"] for u in users["post_action_users"]] == [reader.username]
    topic = (await http.get(f"/t/{written.topic_id}.json")).json()
    assert topic["post_stream"]["posts"][0]["actions_summary"][0]["count"] == 1
    r = await http.delete(f"/post_actions/{written.post_id}?post_action_type_id=2", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["actions_summary"] == [{"id": 2, "count": 0, "acted": False}]


async def test_the_count_changes_live_for_every_reader(server, arrange, db) -> None:
    author, reader = await arrange.user(name="auth"), await arrange.user(name="liver")
    group = await arrange.group(members=(author, reader))
    written = await arrange.topic(group, author, "Live thanks", "A post.")
    channel = f"topic:{written.topic_id}"
    async with (
        live(server.base_url) as anonymous,
        live(server.base_url, await key_headers(db, author)) as mine,
    ):
        for c in (anonymous, mine):
            assert (await c.subscribe(channel))["type"] == "subscribed"
        await do_like(arrange.forum, reader, written.post_id, liked=True)
        for c in (anonymous, mine):
            frame = await c.until(lambda f: f.get("kind") == "post.liked", wait=10)
            assert frame["data"]["post_id"] == written.post_id
            assert frame["data"]["likes"] == 1 and frame["data"]["likes_label"] == "1 thank you"
