"""Issue 13's pages that feel like home, over HTTP on SQLite and PostgreSQL: what the new
marks may show and to whom (an answered post's words, a member's picture), the home page's
groups and New topic, and confirmations that say only the forum's own words, once."""

from __future__ import annotations

from typing import Any

from tests.conftest import logged_in


def behind_the_forums_back(server: Any) -> None:
    """The database was changed directly, with no event: drop the pages the server keeps for
    anonymous readers, as the event of a real action would have."""
    server.app.state.page_cache.clear()


async def test_an_answered_post_hidden_by_a_moderator_is_not_quoted(
    server, client, arrange, db
) -> None:
    author, other = await arrange.user(name="asker"), await arrange.user(name="answerer")
    group = await arrange.group(members=(author, other))
    written = await arrange.topic(group, author, "Quoted", "Something a moderator hid.")
    reply = await arrange.reply(written.topic_id, other, "An answer.")
    await db.execute(
        "UPDATE posts SET reply_to_post_number = 1 WHERE id = :p", {"p": reply.post_id}
    )
    path = f"/t/quoted/{written.topic_id}"
    shown = (await client().get(path)).text
    assert f"<summary>In reply to #1 by {author.username}</summary>" in shown
    await db.execute("UPDATE posts SET hidden_at = 1 WHERE id = :p", {"p": written.post_id})
    behind_the_forums_back(server)
    page = (await client().get(path)).text
    assert "Something a moderator hid." not in page
    assert "In reply to <a" in page  # still says which post it answers, with no words of it


async def test_a_picture_beside_posts_only_when_the_profile_is_for_everyone(
    server, client, arrange, db
) -> None:
    author = await arrange.user(name="pictured")
    group = await arrange.group(members=(author,))
    written = await arrange.topic(group, author, "Pictured", "Hello.")
    path = f"/t/pictured/{written.topic_id}"
    picture = f'src="/u/{author.username}/picture/'
    for visibility, shown in (("members", False), ("shared_groups", False), ("everyone", True)):
        await db.execute(
            "INSERT INTO profiles (user_id, visibility, picture_key, picture_version, updated_at)"
            " VALUES (:u, :v, 'k', 3, 0) ON CONFLICT (user_id) DO UPDATE SET visibility = :v",
            {"u": author.id, "v": visibility},
        )
        behind_the_forums_back(server)
        page = (await client().get(path)).text
        assert (picture in page) is shown, visibility
        post = page[page.index('<article class="post" id="post-1"') :]
        initials = '<svg class="avatar" aria-hidden="true"'
        assert post.startswith(initials, post.index(">") + 2) is not shown, visibility


async def test_home_shows_the_members_groups_and_a_new_topic_button(client, arrange) -> None:
    member = await arrange.user(name="homer")
    first = await arrange.group(members=(member,))
    c = await logged_in(client, member)
    home = (await c.get("/")).text
    assert f'href="/g/{first.slug}/new-topic">New topic<span' in home
    assert "Your groups" in home
    second = await arrange.group(members=(member,))
    home = (await c.get("/")).text
    for group in (first, second):
        assert f'href="/g/{group.slug}/new-topic"><span class="visually-hidden">New topic' in home
    anonymous = (await client().get("/")).text
    assert "New topic" not in anonymous and "Your groups" not in anonymous


async def test_a_confirmation_says_only_the_forums_words_once(client, arrange) -> None:
    member = await arrange.user(name="confirmed")
    group = await arrange.group()
    c = await logged_in(client, member)
    r = await c.post_form(f"/g/{group.slug}/join")
    assert r.status_code == 303 and "said=joined" in r.headers["set-cookie"]
    page = await c.get(r.headers["location"])
    assert '<p class="confirmation" role="status" data-said>You joined the group.</p>' in page.text
    assert 'said=""' in page.headers["set-cookie"]  # cleared: a reload does not say it again
    assert "You joined the group." not in (await c.get(f"/g/{group.slug}")).text
    # A cookie set by anyone else names nothing the forum says.
    forged = client()
    forged.http.cookies.set("said", "<script>alert(1)</script>")
    page = await forged.get("/")
    assert "confirmation" not in page.text and "alert(1)" not in page.text
