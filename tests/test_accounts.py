"""Sign up, log in and out, sessions, CSRF and login rate limits, as a browser sees them."""

from __future__ import annotations

import secrets
from dataclasses import replace

import httpx
import pytest

from forum.actions.accounts import LoginAttempt, do_login
from forum.auth import hash_password, password_hasher, rehash_cost, verify_password
from forum.errors import BadRequest, RateLimited
from forum.queries.users import count_users, get_user_by_username
from forum.settings import Settings
from tests.conftest import PASSWORD, Client, unique


async def test_sign_up_logs_you_in_with_a_safe_cookie(client, db) -> None:
    c = client()
    await c.get("/signup")
    name = unique("ana")
    r = await c.post_form(
        "/signup",
        {"username": name, "email": f"{name}@example.org", "password": PASSWORD, "badge": "carer"},
    )
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    home = await c.get("/")
    assert f'<span class="who">{name}</span>' in home.text and "Log out" in home.text
    user = await get_user_by_username(db, name)
    assert user is not None and user.badge == "carer" and user.role == "member"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"username": "x"}, "Usernames are 3 to 20"),
        ({"email": "not-an-email"}, "valid email address"),
        ({"password": "short"}, "at least 10 characters"),
        ({"badge": "surgeon-general"}, "choose one of the roles"),
    ],
)
async def test_sign_up_with_bad_details_explains_and_writes_nothing(
    client, db, fields, message
) -> None:
    c = client()
    await c.get("/signup")
    name = unique("ben")
    form = {
        "username": name,
        "email": f"{name}@example.org",
        "password": PASSWORD,
        "badge": "patient",
    } | fields
    before = await count_users(db)
    r = await c.post_form("/signup", form)
    assert r.status_code == 400
    assert message in r.text
    assert 'role="alert"' in r.text
    assert await count_users(db) == before


async def test_duplicate_username_in_another_case_is_refused(client, arrange) -> None:
    existing = await arrange.user()
    c = client()
    await c.get("/signup")
    r = await c.post_form(
        "/signup",
        {
            "username": existing.username.swapcase(),
            "email": f"{unique('e')}@example.org",
            "password": PASSWORD,
        },
    )
    assert r.status_code == 400
    assert "That username is already registered." in r.text


async def test_log_in_and_out_revokes_the_session(client, arrange) -> None:
    user = await arrange.user()
    c = client()
    await c.login(user)
    session_cookie = c.http.cookies.get("forum_session")
    assert session_cookie
    r = await c.post_form("/logout")
    assert r.status_code == 303
    # The old cookie, replayed, no longer identifies anyone: the session is gone server-side.
    replay = client()
    replay.http.cookies.set("forum_session", session_cookie)
    page = await replay.get("/")
    assert "Log out" not in page.text and "Log in" in page.text


async def test_wrong_password_is_refused_without_saying_which_part(client, arrange) -> None:
    user = await arrange.user()
    c = client()
    await c.get("/login")
    r = await c.post_form("/login", {"login": user.username, "password": "wrong password!"})
    assert r.status_code == 400
    assert "That username or password is not right." in r.text
    assert "forum_session" not in r.headers.get("set-cookie", "")


async def test_login_by_email_and_return_to_the_page_you_came_from(client, arrange) -> None:
    user = await arrange.user()
    c = client()
    await c.get("/login?next=/g/somewhere")
    r = await c.post_form(
        "/login", {"login": user.email.upper(), "password": PASSWORD, "next": "/g/somewhere"}
    )
    assert r.status_code == 303 and r.headers["location"] == "/g/somewhere"


async def test_login_never_redirects_off_site(client, arrange) -> None:
    user = await arrange.user()
    c = client()
    await c.get("/login")
    r = await c.post_form(
        "/login", {"login": user.username, "password": PASSWORD, "next": "//evil.example/x"}
    )
    assert r.headers["location"] == "/"


async def test_a_form_without_its_csrf_token_is_refused(client, arrange, db) -> None:
    user = await arrange.user()
    group = await arrange.group()
    c = client()
    await c.login(user)
    r = await c.post_form(
        f"/g/{group.slug}/new-topic",
        {"title": "No token", "raw": "Should not be written"},
        csrf=False,
    )
    assert r.status_code == 403
    assert "did not come from this site" in r.text
    r = await c.post_form(
        f"/g/{group.slug}/new-topic",
        {"title": "Wrong", "raw": "x", "csrf_token": "0" * 64},
        csrf=False,
    )
    assert r.status_code == 403
    count = await db.fetch_val("SELECT count(*) FROM topics WHERE group_id = :g", {"g": group.id})
    assert count == 0


async def test_repeated_failed_logins_on_one_account_are_slowed(client, arrange, server) -> None:
    user = await arrange.user()
    c = client()
    await c.get("/login")
    limit = server.settings.login_limit_per_account
    for _ in range(limit):
        r = await c.post_form("/login", {"login": user.username, "password": "not it at all"})
        assert r.status_code == 400
    r = await c.post_form("/login", {"login": user.username, "password": PASSWORD})
    assert r.status_code == 429
    assert "Too many failed logins" in r.text and int(r.headers["retry-after"]) > 0


async def test_failed_logins_from_one_address_are_slowed(arrange, db, server) -> None:
    settings = replace(server.settings, login_limit_per_address=3)
    forum = replace(arrange.forum, settings=settings)
    address = f"192.0.2.{secrets.randbelow(250)}-{secrets.token_hex(4)}"
    users = [await arrange.user() for _ in range(4)]
    for user in users[:3]:
        with pytest.raises(BadRequest):
            await do_login(forum, LoginAttempt(user.username, "wrong!", address))
    with pytest.raises(RateLimited) as caught:
        await do_login(forum, LoginAttempt(users[3].username, PASSWORD, address))
    assert caught.value.wait_seconds and caught.value.wait_seconds > 0
    # Another address is not held back by the first one's failures.
    logged_in, token = await do_login(
        forum, LoginAttempt(users[3].username, PASSWORD, address + "-other")
    )
    assert logged_in.id == users[3].id and token


async def test_a_members_only_link_leads_through_login_and_back(client, arrange) -> None:
    user = await arrange.user()
    group = await arrange.group()
    written = await arrange.topic(group, user, "Shared link", "first")
    c = client()
    r = await c.get(f"/t/{written.topic_id}/reply?to=1")
    assert r.status_code == 303
    assert r.headers["location"] == f"/login?next=%2Ft%2F{written.topic_id}%2Freply%3Fto%3D1"
    await c.get(r.headers["location"])
    r = await c.post_form(
        "/login",
        {"login": user.username, "password": PASSWORD, "next": f"/t/{written.topic_id}/reply?to=1"},
    )
    assert r.headers["location"] == f"/t/{written.topic_id}/reply?to=1"


@pytest.mark.parametrize(
    ("stored", "after"),
    [
        ((1024, 1), "m=2048,t=2"),  # the cost was raised since: stored again at today's
        ((4096, 3), "m=4096,t=3"),  # higher than today's: kept as it is
        ((4096, 1), "m=4096,t=2"),  # each at the higher of the two: memory is not lowered
    ],
)
async def test_a_login_stores_a_password_again_at_no_lower_cost(
    fresh, stored: tuple[int, int], after: str
) -> None:
    """Today's cost is 2 MiB and 2 passes: members keep logging in with their password,
    whatever it was stored at, and no login ever lowers what it is stored at."""
    made = await fresh(password_memory_kib=2048, password_time_cost=2)
    member = await made.arrange.user()
    memory, passes = stored
    kept = await hash_password(
        Settings(password_memory_kib=memory, password_time_cost=passes), PASSWORD
    )
    await made.db.execute(
        "UPDATE users SET password_hash = :hash WHERE id = :id", {"hash": kept, "id": member.id}
    )
    c = Client(httpx.AsyncClient(base_url=made.server.base_url))
    try:
        await c.login(member)
        now = await made.db.fetch_val(
            "SELECT password_hash FROM users WHERE id = :id", {"id": member.id}
        )
        assert now.startswith(f"$argon2id$v=19${after},")
        assert (now == kept) == (stored == (4096, 3))  # rewritten only when raised
        assert await verify_password(now, PASSWORD)
        await c.http.post("/logout", data={"csrf_token": c.csrf})
        await c.login(member)  # and again, with what was stored
    finally:
        await c.http.aclose()


def test_passwords_are_hashed_at_least_at_owasp_cost_by_default() -> None:
    # OWASP's floor for argon2id: 19 MiB of memory and 2 passes.
    settings = Settings()
    assert settings.password_memory_kib >= 19 * 1024 and settings.password_time_cost >= 2
    assert rehash_cost(settings, password_hasher(settings).hash("x" * 10)) is None
    weaker = password_hasher(replace(settings, password_time_cost=1)).hash("x")
    assert rehash_cost(settings, weaker) == settings
