"""Who may do what: the pure predicates, and private groups staying invisible to outsiders."""

from __future__ import annotations

from forum.permissions import can_edit_post, can_read_group, can_reply, can_start_topic
from forum.queries.groups import Group
from forum.queries.posts import Post
from forum.queries.topics import Topic
from forum.queries.users import User


def user(role: str = "member", uid: int = 1) -> User:
    return User(uid, f"u{uid}", f"u{uid}@example.org", role, "patient", 0.0)


def group(visibility: str) -> Group:
    return Group(1, "g", "G", "", visibility, 0, 0, 0.0)


def topic(closed: bool = False) -> Topic:
    return Topic(1, 1, "T", "t", 1, "u1", 0.0, 0.0, 0, 1, "u1", closed, False, "g", "G")


def post(author_id: int) -> Post:
    return Post(1, 1, 1, author_id, "u", "patient", "r", "c", None, 0.0, None, 1)


def test_private_groups_are_for_members_and_staff() -> None:
    private = group("private")
    assert not can_read_group(None, private, None)
    assert not can_read_group(user(), private, None)
    assert can_read_group(user(), private, "member")
    assert can_read_group(user("moderator"), private, None)
    assert can_read_group(None, group("public"), None)


def test_posting_needs_an_account_and_an_open_topic() -> None:
    public = group("public")
    assert not can_start_topic(None, public, None)
    assert can_start_topic(user(), public, None)
    assert can_reply(user(), public, None, topic())
    assert not can_reply(user(), public, None, topic(closed=True))
    assert can_reply(user("admin"), public, None, topic(closed=True))


def test_only_the_author_or_staff_edit_and_not_once_closed() -> None:
    assert can_edit_post(user(uid=7), post(7), topic())
    assert not can_edit_post(user(uid=8), post(7), topic())
    assert not can_edit_post(user(uid=7), post(7), topic(closed=True))
    assert can_edit_post(user("moderator", uid=9), post(7), topic(closed=True))
    assert not can_edit_post(None, post(7), topic())


async def test_private_group_is_invisible_to_outsiders_everywhere(client, arrange) -> None:
    member, outsider = await arrange.user(), await arrange.user()
    private = await arrange.group("private", members=(member,))
    written = await arrange.topic(
        private, member, "Confidential convener notes", "A private matter"
    )
    outsider_client, member_client, anonymous = client(), client(), client()
    await outsider_client.login(outsider)
    await member_client.login(member)
    for c in (outsider_client, anonymous):
        home = await c.get("/")
        assert "Confidential convener notes" not in home.text and private.name not in home.text
        for path in (
            f"/g/{private.slug}",
            f"/t/confidential-convener-notes/{written.topic_id}",
            f"/t/{written.topic_id}",
            f"/p/{written.post_id}/revisions",
            f"/g/{private.slug}/members",
        ):
            r = await c.get(path)
            assert r.status_code == 404, path
            assert "A private matter" not in r.text
        profile = await c.get(f"/u/{member.username}")
        assert "Confidential convener notes" not in profile.text
    r = await outsider_client.post_form(f"/t/{written.topic_id}/reply", {"raw": "let me in"})
    assert r.status_code == 404
    r = await outsider_client.post_form(f"/g/{private.slug}/join")
    assert r.status_code == 404
    home = await member_client.get("/")
    assert "Confidential convener notes" in home.text
    profile = await member_client.get(f"/u/{member.username}")
    assert "Confidential convener notes" in profile.text
    page = await member_client.get(f"/t/confidential-convener-notes/{written.topic_id}")
    assert page.status_code == 200 and "A private matter" in page.text


async def test_join_and_leave_a_public_group(client, arrange) -> None:
    ana = await arrange.user()
    group = await arrange.group()
    c = client()
    await c.login(ana)
    page = await c.get(f"/g/{group.slug}")
    assert "Join this group" in page.text
    assert (await c.post_form(f"/g/{group.slug}/join")).status_code == 303
    page = await c.get(f"/g/{group.slug}")
    assert "You are a member" in page.text and "Leave this group" in page.text
    members = await c.get(f"/g/{group.slug}/members")
    assert ana.username in members.text
    assert (await c.post_form(f"/g/{group.slug}/leave")).status_code == 303
    assert "Join this group" in (await c.get(f"/g/{group.slug}")).text


async def test_conveners_add_members_to_a_private_group(client, arrange) -> None:
    convener, newcomer, member = (await arrange.user(), await arrange.user(), await arrange.user())
    private = await arrange.group("private", members=(member,), conveners=(convener,))
    c, m, n = client(), client(), client()
    await c.login(convener)
    await m.login(member)
    await n.login(newcomer)
    assert (await n.get(f"/g/{private.slug}")).status_code == 404
    r = await m.post_form(f"/g/{private.slug}/members/add", {"username": newcomer.username})
    assert r.status_code == 403  # a plain member cannot invite
    r = await c.post_form(f"/g/{private.slug}/members/add", {"username": "no-such-person"})
    assert r.status_code == 404
    r = await c.post_form(f"/g/{private.slug}/members/add", {"username": newcomer.username})
    assert r.status_code == 303
    assert (await n.get(f"/g/{private.slug}")).status_code == 200


async def test_only_admins_create_groups(client, arrange) -> None:
    admin, member = await arrange.user(role="admin"), await arrange.user()
    a, m = client(), client()
    await a.login(admin)
    await m.login(member)
    assert (await m.get("/new-group")).status_code == 403
    slug = f"admin-made-{admin.id}"
    r = await a.post_form(
        "/new-group",
        {"name": "Admin made", "slug": slug, "visibility": "private", "description": "x"},
    )
    assert r.status_code == 303 and r.headers["location"] == f"/g/{slug}"
    assert (await m.get(f"/g/{slug}")).status_code == 404
    r = await a.post_form("/new-group", {"name": "Again", "slug": slug, "visibility": "public"})
    assert r.status_code == 400 and "already uses that web address" in r.text


async def test_profiles_count_only_posts_the_viewer_may_read(client, arrange) -> None:
    member, outsider = await arrange.user(), await arrange.user()
    private = await arrange.group("private", members=(member,))
    public = await arrange.group()
    await arrange.topic(private, member, "Hidden", "in private")
    await arrange.topic(public, member, "Shown", "in public")
    o, m = client(), client()
    await o.login(outsider)
    await m.login(member)
    assert "· 1 post</p>" in (await o.get(f"/u/{member.username}")).text
    assert "· 2 posts</p>" in (await m.get(f"/u/{member.username}")).text
    assert (await o.get(f"/users/{member.username}.json")).json()["user"]["post_count"] == 1
