"""Issue 13's "fix what was found" that need no browser, on SQLite and PostgreSQL: the flag
page shows the post, a profile's recent posts each with their own words, the review card's
page does not link to itself, one's own profile leads to one's posts in review, a favicon."""

from __future__ import annotations

from forum.actions.drafts import Decision
from forum.actions.moderation import do_flag_post, do_review
from tests.conftest import logged_in


async def test_the_flag_page_shows_the_post_being_flagged(client, arrange) -> None:
    author, reader = await arrange.user(name="aut"), await arrange.user(name="rdr")
    group = await arrange.group(members=(author, reader))
    written = await arrange.topic(group, author, "Swimming", "The pool is *warm* on Tuesdays.")
    r = await logged_in(client, reader)
    page = await r.get(f"/p/{written.post_id}/flag")
    assert page.status_code == 200 and "The pool is <em>warm</em> on Tuesdays." in page.text


async def test_a_profile_lists_each_recent_post_with_its_words(client, arrange) -> None:
    author = await arrange.user(name="aut")
    group = await arrange.group(members=(author,))
    written = await arrange.topic(group, author, "Knee exercises", "Straight leg raises.")
    await arrange.reply(written.topic_id, author, "And wall sits, gently.")
    a = await logged_in(client, author)
    page = (await a.get(f"/u/{author.username}")).text
    recent = page.split('class="recent"')[1].split("</ul>")[0]
    assert "Straight leg raises." in recent and "And wall sits, gently." in recent
    assert f'href="/t/knee-exercises/{written.topic_id}/2"' in recent
    assert "opening post" in recent and "post 2" in recent
    # One's own profile leads to one's posts waiting for review.
    assert 'href="/my/review"' in page


async def test_a_review_cards_page_does_not_link_to_itself(client, arrange) -> None:
    moderator, newcomer = await arrange.user(role="moderator"), await arrange.user(new=True)
    group = await arrange.group(members=(newcomer,))
    held = await arrange.topic(group, newcomer, "My first topic", "Hello, everyone here.")
    m = await logged_in(client, moderator)
    queue = await m.get("/review")
    assert f'href="/review/{held.item_id}"' in queue.text
    detail = await m.get(f"/review/{held.item_id}")
    assert detail.status_code == 200 and f'href="/review/{held.item_id}"' not in detail.text


async def test_every_page_has_a_favicon(client) -> None:
    page = await client().get("/")
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page.text
    icon = await client().http.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")


async def test_a_post_a_moderator_edited_before_approving_says_so(client, arrange) -> None:
    moderator, newcomer = await arrange.user(role="moderator"), await arrange.user(new=True)
    group = await arrange.group(members=(newcomer,))
    held = await arrange.topic(group, newcomer, "Help with meds", "Call me on 07700 900123.")
    version = await arrange.db.fetch_val(
        "SELECT version FROM review_items WHERE id = :i", {"i": held.item_id}
    )
    edit = Decision("edit_approve", version, raw="Please reply here rather than by phone.")
    await do_review(arrange.forum, moderator, held.item_id, edit)
    n = await logged_in(client, newcomer)
    mine = (await n.get("/my/review")).text
    assert "Approved after a moderator edited it" in mine and "07700" not in mine
    topic_id = await arrange.db.fetch_val(
        "SELECT topic_id FROM review_items WHERE id = :i", {"i": held.item_id}
    )
    page = (await client().get(f"/t/{topic_id}", follow_redirects=True)).text
    assert "edited by a moderator" in page and "Please reply here rather than by phone." in page
    assert "07700" not in page


async def test_sign_up_never_says_an_email_is_registered_for_free(client, arrange) -> None:
    member = await arrange.user(name="mem")
    visitor = client()
    await visitor.get("/signup")
    refused = await visitor.post_form(
        "/signup",
        {"username": member.username, "email": member.email, "password": "x", "badge": "carer"},
    )
    assert refused.status_code == 400
    assert "That username is already registered." in refused.text  # usernames are public
    assert "email is already registered" not in refused.text


async def test_the_flag_page_never_shows_a_hidden_post(client, arrange) -> None:
    author, reader = await arrange.user(name="aut"), await arrange.user(name="rdr")
    moderator = await arrange.user(role="moderator")
    group = await arrange.group(members=(author, reader))
    written = await arrange.topic(group, author, "Hidden words", "Something now hidden away.")
    await do_flag_post(arrange.forum, moderator, written.post_id, "inappropriate", "")
    r = await logged_in(client, reader)
    page = await r.get(f"/p/{written.post_id}/flag")
    assert "Something now hidden away." not in page.text


async def test_the_header_counts_review_items_without_javascript(client, arrange) -> None:
    convener, newcomer = await arrange.user(name="con"), await arrange.user(new=True)
    moderator, member = await arrange.user(role="moderator"), await arrange.user(name="mem")
    group = await arrange.group(members=(newcomer, member), conveners=(convener,))
    c = await logged_in(client, convener)
    assert "Review<span data-review-count></span>" in (await c.get("/")).text
    await arrange.topic(group, newcomer, "Waiting topic", "Held for a look first.")
    assert "Review<span data-review-count> (1 waiting)</span>" in (await c.get("/")).text
    # Staff count every group's; members have no Review link at all.
    pending = await arrange.db.fetch_val(
        "SELECT count(*) FROM review_items WHERE status = 'pending'"
    )
    m = await logged_in(client, moderator)
    assert f"({pending} waiting)" in (await m.get("/")).text
    assert "data-review-count" not in (await (await logged_in(client, member)).get("/")).text
