"""Login, sign-up and preview limits: bounded, shared by every process, fair to a member who
shares a network with an attacker, and silent about which accounts exist. Each test has a
server and database of its own: the failures it makes must not slow other tests' logins.
SQLite and PostgreSQL (the `database_url` fixture)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

import forum.actions.accounts
import forum.auth
from forum.auth import password_hasher
from tests.conftest import PASSWORD, Client, ServerThread


def browser(made: Any, server: ServerThread | None = None) -> Client:
    return Client(httpx.AsyncClient(base_url=(server or made.server).base_url, timeout=30))


async def fail(c: Client, login: str) -> httpx.Response:
    if not c.csrf:
        await c.get("/login")
    return await c.post_form("/login", {"login": login, "password": "not the password"})


async def test_failed_logins_with_huge_names_are_kept_as_small_digests(fresh) -> None:
    made = await fresh()
    c = browser(made)
    huge = "n" * 200_000
    for _ in range(3):
        r = await fail(c, huge)
        assert r.status_code == 400 and "not right" in r.text
    rows = await made.db.fetch_all("SELECT key FROM rate_events")
    assert rows and all(len(row["key"]) < 60 and "nnnn" not in row["key"] for row in rows)
    await c.http.aclose()


async def test_a_member_on_a_network_under_attack_still_logs_in_on_their_device(fresh) -> None:
    made = await fresh(login_limit_per_address=3)
    member = await made.arrange.user()
    own = browser(made)
    await own.login(member)  # this browser now knows the account (its device cookie)
    await own.post_form("/logout")
    attacker = browser(made)
    for n in range(3):
        assert (await fail(attacker, f"someone{n}")).status_code == 400
    r = await fail(attacker, "someone-else")
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    await own.get("/login")
    r = await own.post_form("/login", {"login": member.username, "password": PASSWORD})
    assert r.status_code == 303  # the right password, on the member's own device
    stranger = browser(made)  # a browser that never logged in here waits, and is told why
    await stranger.get("/login")
    r = await stranger.post_form("/login", {"login": member.username, "password": PASSWORD})
    assert r.status_code == 429 and "Too many failed logins" in r.text
    for c in (own, attacker, stranger):
        await c.http.aclose()


async def test_an_attack_on_one_account_does_not_lock_its_owner_out(fresh) -> None:
    made = await fresh(login_limit_per_account=3)
    member = await made.arrange.user()
    own = browser(made)
    await own.login(member)
    await own.post_form("/logout")
    attacker = browser(made)
    for _ in range(3):
        await fail(attacker, member.username)
    assert (await fail(attacker, member.username)).status_code == 429
    await own.get("/login")
    r = await own.post_form("/login", {"login": member.username, "password": PASSWORD})
    assert r.status_code == 303
    for c in (own, attacker):
        await c.http.aclose()


async def test_login_limits_are_shared_by_every_process(fresh) -> None:
    made = await fresh(login_limit_per_account=3)
    member = await made.arrange.user()
    other = ServerThread(made.server.settings)  # a second node on the same database
    other.start()
    try:
        a, b = browser(made), browser(made, other)
        for _ in range(3):
            assert (await fail(a, member.username)).status_code == 400
        r = await fail(b, member.username)
        assert r.status_code == 429
        await a.http.aclose()
        await b.http.aclose()
    finally:
        other.stop()


async def test_attempts_sent_all_at_once_are_counted_before_they_are_checked(fresh) -> None:
    made = await fresh(login_limit_per_account=3)
    member = await made.arrange.user()
    attackers = [browser(made) for _ in range(12)]
    for c in attackers:
        await c.get("/login")
    answers = await asyncio.gather(
        *(c.post_form("/login", {"login": member.username, "password": "guess"}) for c in attackers)
    )
    codes = sorted(r.status_code for r in answers)
    assert codes.count(400) <= 3 and codes.count(429) >= 9, codes
    for c in attackers:
        await c.http.aclose()


async def test_sign_ups_sent_all_at_once_are_limited_too(fresh) -> None:
    made = await fresh(signups_per_address_per_hour=2)
    forms = [browser(made) for _ in range(8)]
    for c in forms:
        await c.get("/signup")

    async def sign_up(n: int, c: Client) -> int:
        r = await c.post_form(
            "/signup",
            {"username": f"rush{n}", "email": f"rush{n}@example.org", "password": PASSWORD},
        )
        return r.status_code

    codes = await asyncio.gather(*(sign_up(n, c) for n, c in enumerate(forms)))
    assert codes.count(303) <= 2, codes
    made_users = await made.db.fetch_val("SELECT count(*) FROM users WHERE username LIKE 'rush%'")
    assert made_users <= 2
    for c in forms:
        await c.http.aclose()


async def test_unknown_and_known_names_are_checked_alike(
    fresh, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = await fresh()
    member = await made.arrange.user()
    checked: list[str] = []
    real = forum.auth.verify_password  # what the login action looks up as verify_password

    async def watched(password_hash: str, password: str) -> bool:
        checked.append(password_hash.rsplit("$", 2)[0])  # the algorithm and its cost
        return await real(password_hash, password)

    monkeypatch.setattr(forum.actions.accounts, "verify_password", watched)
    cost = password_hasher(made.server.settings).hash("x").rsplit("$", 2)[0]
    c = browser(made)
    for login in (member.username, "nobody-by-this-name", "x" * 5000):
        checked.clear()
        r = await fail(c, login)
        assert r.status_code == 400 and "That username or password is not right." in r.text
        # A password hash at the same cost is checked either way, so the answer takes as
        # long.
        assert checked == [cost]
    await c.http.aclose()


async def test_signups_from_one_address_are_limited(fresh) -> None:
    made = await fresh(signups_per_address_per_hour=2)
    c = browser(made)
    await c.get("/signup")
    for n in range(3):
        r = await c.post_form(
            "/signup",
            {
                "username": f"newcomer{n}",
                "email": f"newcomer{n}@example.org",
                "password": PASSWORD,
                "badge": "patient",
            },
        )
        if n < 2:
            assert r.status_code == 303
            c.http.cookies.delete("forum_session")
            await c.get("/signup")
        else:
            assert r.status_code == 429 and "Too many accounts" in r.text
            assert int(r.headers["retry-after"]) > 0
    made_users = await made.db.fetch_val(
        "SELECT count(*) FROM users WHERE username LIKE 'newcomer%'"
    )
    assert made_users == 2
    await c.http.aclose()


async def test_previews_are_limited_per_person(fresh) -> None:
    made = await fresh(previews_per_minute=3)
    member = await made.arrange.user()
    c = browser(made)
    await c.login(member)
    for n in range(4):
        r = await c.http.post(
            "/preview", json={"raw": f"Draft {n}"}, headers={"X-CSRF-Token": c.csrf}
        )
        if n < 3:
            assert r.status_code == 200
        else:
            assert r.status_code == 429
            assert r.json()["extras"]["wait_seconds"] > 0 and r.headers["retry-after"]
    await c.http.aclose()


async def test_a_username_and_its_email_share_one_count(fresh) -> None:
    made = await fresh(login_limit_per_account=3)
    member = await made.arrange.user()
    attacker = browser(made)
    for login in (member.username, member.email, member.username.upper()):
        assert (await fail(attacker, login)).status_code == 400
    assert (await fail(attacker, member.email)).status_code == 429
    await attacker.http.aclose()
