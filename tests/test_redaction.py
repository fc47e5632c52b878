"""Patient data removed for safety is gone from everywhere a reader can reach: revisions,
the live event log (and so any replay), quoting replies, the review queue once an item is
resolved, and images that would tell another host who reads. Moderators can still read what
was removed, marked as such. SQLite and PostgreSQL (the `database_url` fixture)."""

from __future__ import annotations

import json
from typing import Any

from realtime.log import read_after
from tests.conftest import logged_in, unique
from tests.test_live import key_headers, live
from tests.test_moderation import NHS, act, pending_items, setup_topic

GONE = "removed from the history"


async def log_text(db: Any, channel: str) -> str:
    """Everything the live log keeps for a channel, as a replaying reader could get it."""
    return json.dumps([e.data for e in await read_after(db, channel, 0, 10_000)])


async def test_edit_then_approve_removes_the_number_from_every_revision(
    client, arrange, db
) -> None:
    author, _, written = await setup_topic(arrange)
    moderator, reader = await arrange.user(role="moderator"), await arrange.user()
    a, m, r, anon = (
        await logged_in(client, author),
        await logged_in(client, moderator),
        await logged_in(client, reader),
        client(),
    )
    # The author edits the number in and posts anyway: the post is hidden for review.
    edit = await a.post_form(
        f"/p/{written.post_id}/edit",
        {"raw": f"The first post. NHS {NHS}", "version": 1, "post_anyway": "yes"},
    )
    assert edit.status_code == 303
    [item] = await pending_items(db, target_id=written.post_id, kind="post")
    r2 = await act(m, item, "edit_approve", raw="The first post. NHS (removed)")
    assert r2.status_code == 303
    for who in (anon, r, a):
        page = await who.get(f"/p/{written.post_id}/revisions")
        assert page.status_code == 200
        assert NHS not in page.text and GONE in page.text
        topic = await who.get(f"/t/{written.topic_id}", follow_redirects=True)
        assert NHS not in topic.text and "NHS (removed)" in topic.text
    # The moderator still sees what was removed, marked as removed.
    page = await m.get(f"/p/{written.post_id}/revisions")
    assert NHS in page.text and "Only moderators can read it" in page.text
    # Nor does the log keep it, so nobody resuming a live topic is sent it.
    assert NHS not in await log_text(db, f"topic:{written.topic_id}")


async def test_a_moderator_redacting_a_flagged_post_by_editing_removes_it_everywhere(
    server, client, arrange, db
) -> None:
    author, _, written = await setup_topic(arrange)
    name = f"Mrs {unique('Patient')}"  # a name: no automatic check finds it
    post = await arrange.reply(written.topic_id, author, f"{name} in bed 4 had her op today.")
    quoter, flagger = await arrange.user(), await arrange.user()
    moderator = await arrange.user(role="moderator")
    quoting = await arrange.reply(
        written.topic_id, quoter, f"> {name} in bed 4 had her op today.\n\nGood news!"
    )
    await db.execute(
        "UPDATE posts SET reply_to_post_number = :n WHERE id = :p",
        {"n": post.post_number, "p": quoting.post_id},
    )
    unrelated = await arrange.reply(written.topic_id, quoter, "A reply that quotes nobody.")
    f = await logged_in(client, flagger)
    flagged = await f.post_form(f"/p/{post.post_id}/flag", {"reason": "patient_data"})
    assert flagged.status_code == 200
    m = await logged_in(client, moderator)
    form = await m.get(f"/p/{post.post_id}/edit")  # the choice starts ticked
    assert 'name="remove_history" value="yes" checked' in form.text
    edit = await m.post_form(
        f"/p/{post.post_id}/edit",
        {"raw": "A patient in bed 4 had her op today.", "version": 1, "remove_history": "yes"},
    )
    assert edit.status_code == 303
    anon = client()
    history = await anon.get(f"/p/{post.post_id}/revisions")
    assert name not in history.text and GONE in history.text
    topic_page = (await anon.get(f"/t/{written.topic_id}", follow_redirects=True)).text
    assert name not in topic_page  # the reply that quoted it is hidden too ...
    assert "A reply that quotes nobody." in topic_page  # ... and only that one
    hidden = await db.fetch_one("SELECT hidden_at FROM posts WHERE id = :p", {"p": quoting.post_id})
    assert hidden is not None and hidden["hidden_at"] is not None
    visible = await db.fetch_one(
        "SELECT hidden_at FROM posts WHERE id = :p", {"p": unrelated.post_id}
    )
    assert visible is not None and visible["hidden_at"] is None
    [item] = await pending_items(db, target_id=quoting.post_id, kind="post")
    reasons = await db.fetch_all(
        "SELECT reason FROM review_reasons WHERE item_id = :i", {"i": item["id"]}
    )
    assert [x["reason"] for x in reasons] == ["quotes_removed"]
    channel = f"topic:{written.topic_id}"
    assert name not in await log_text(db, channel)
    # A reader replaying the whole topic live is never sent the name.
    async with live(server.base_url) as c:
        await c.subscribe(channel, since=0)
        assert c.events(channel) and name not in json.dumps(c.frames)
    # The API and a quote-reply read the redacted text only.
    api = await anon.get(f"/t/{written.topic_id}.json")
    assert name not in api.text
    quote = await f.get(f"/t/{written.topic_id}/reply?to={post.post_number}")
    assert name not in quote.text


async def test_a_moderators_small_correction_can_keep_the_history(client, arrange, db) -> None:
    author, _, written = await setup_topic(arrange)
    post = await arrange.reply(written.topic_id, author, "Physio on Tuesdya at the clinic.")
    quoter, moderator = await arrange.user(), await arrange.user(role="moderator")
    quoting = await arrange.reply(written.topic_id, quoter, "> Physio on Tuesdya at the clinic.")
    await db.execute(
        "UPDATE posts SET reply_to_post_number = :n WHERE id = :p",
        {"n": post.post_number, "p": quoting.post_id},
    )
    m = await logged_in(client, moderator)
    edit = await m.post_form(
        f"/p/{post.post_id}/edit", {"raw": "Physio on Tuesday at the clinic.", "version": 1}
    )
    assert edit.status_code == 303
    history = await client().get(f"/p/{post.post_id}/revisions")
    assert "Tuesdya" in history.text and GONE not in history.text
    row = await db.fetch_one("SELECT hidden_at FROM posts WHERE id = :p", {"p": quoting.post_id})
    assert row is not None and row["hidden_at"] is None
    log = await m.get("/review/log")
    assert "Edited a post" in log.text


async def test_a_reply_quoting_removed_text_written_before_the_removal_waits(
    client, arrange, db
) -> None:
    author, _, written = await setup_topic(arrange)
    name = f"Ms {unique('Patient')}"
    post = await arrange.reply(written.topic_id, author, f"{name} was discharged today.")
    slow, moderator = await arrange.user(), await arrange.user(role="moderator")
    s = await logged_in(client, slow)
    page = await s.get(f"/t/{written.topic_id}/reply?to={post.post_number}")  # a quote starts
    assert name in page.text
    m = await logged_in(client, moderator)
    await m.post_form(
        f"/p/{post.post_id}/edit",
        {"raw": "A patient was discharged today.", "version": 1, "remove_history": "yes"},
    )
    late = await s.post_form(
        f"/t/{written.topic_id}/reply",
        {
            "raw": f"> {name} was discharged today.\n\nWonderful!",
            "reply_to_post_number": post.post_number,
        },
    )
    assert late.status_code == 303 and "/my/review" in late.headers["location"]
    assert name not in (await client().get(f"/t/{written.topic_id}", follow_redirects=True)).text
    [item] = await pending_items(db, author_id=slow.id)
    reasons = await db.fetch_all(
        "SELECT reason FROM review_reasons WHERE item_id = :i", {"i": item["id"]}
    )
    assert "quotes_removed" in [x["reason"] for x in reasons]
    r = await act(m, item, "approve")
    assert r.status_code == 409 and "quotes text that a moderator removed" in r.text
    r = await act(m, item, "edit_approve", raw="Wonderful!")
    assert r.status_code == 303


async def test_a_title_that_names_a_patient_can_be_edited_out(client, arrange, db) -> None:
    author, group, _ = await setup_topic(arrange)
    moderator = await arrange.user(role="moderator")
    a, m = await logged_in(client, author), await logged_in(client, moderator)
    title = f"About {NHS} and her op"
    r = await a.post_form(
        f"/g/{group.slug}/new-topic", {"title": title, "raw": "Body.", "post_anyway": "yes"}
    )
    assert "/my/review" in r.headers["location"]
    [item] = await pending_items(db, author_id=author.id)
    r = await act(m, item, "edit_approve", raw="Body.", title=f"About {NHS} still")
    assert r.status_code == 400 and "The title: " in r.text  # a moderator's title is checked
    [item] = await pending_items(db, author_id=author.id)
    r = await act(m, item, "edit_approve", raw="Body.", title="About her op")
    assert r.status_code == 303
    topic = await db.fetch_one(
        "SELECT id, title FROM topics WHERE group_id = :g AND title = 'About her op'",
        {"g": group.id},
    )
    assert topic is not None
    # A published title can be changed with the first post, by its author or staff, and the
    # old one leaves the lists' live log too.
    first = await db.fetch_val(
        "SELECT id FROM posts WHERE topic_id = :t AND post_number = 1", {"t": topic["id"]}
    )
    secret = unique("Surname")
    r = await m.post_form(
        f"/p/{first}/edit", {"raw": "Body.", "title": f"Mrs {secret}'s op", "version": 1}
    )
    assert r.status_code == 303
    r = await m.post_form(
        f"/p/{first}/edit",
        {"raw": "Body.", "title": "A patient's op", "version": 1, "remove_history": "yes"},
    )
    assert r.status_code == 303
    for channel in (f"group:{group.id}", "latest"):
        assert secret not in await log_text(db, channel)
    assert secret not in (await client().get(f"/g/{group.slug}")).text
    r = await a.post_form(f"/p/{first}/edit", {"raw": "Body.", "title": f"NHS {NHS}", "version": 1})
    assert r.status_code == 400 and "The title: " in r.text


async def test_an_author_taking_their_number_back_out_removes_it_from_the_history(
    client, arrange, db
) -> None:
    author, _, written = await setup_topic(arrange)
    a = await logged_in(client, author)
    # A number the check misses as typed (dots), then one it finds, both by the author.
    edit = await a.post_form(
        f"/p/{written.post_id}/edit",
        {"raw": f"Update: NHS number {NHS} on my letter.", "version": 1, "post_anyway": "yes"},
    )
    assert edit.status_code == 303
    edit = await a.post_form(
        f"/p/{written.post_id}/edit", {"raw": "Update: my letter came.", "version": 2}
    )
    assert edit.status_code == 303
    await db.execute("UPDATE posts SET hidden_at = NULL WHERE id = :p", {"p": written.post_id})
    history = await client().get(f"/p/{written.post_id}/revisions")
    assert history.status_code == 200
    assert NHS not in history.text and GONE in history.text
    assert "The first post." in history.text  # versions without it stay readable
    assert NHS not in await log_text(db, f"topic:{written.topic_id}")


async def test_approving_a_patient_data_flag_the_author_fixed_clears_the_history(
    client, arrange, db
) -> None:
    author, _, written = await setup_topic(arrange)
    name = f"Mr {unique('Patient')}"  # no automatic check finds a name; a member does
    post = await arrange.reply(written.topic_id, author, f"{name} on ward 3 is my dad.")
    flagger, moderator = await arrange.user(), await arrange.user(role="moderator")
    f, a, m = (
        await logged_in(client, flagger),
        await logged_in(client, author),
        await logged_in(client, moderator),
    )
    await f.post_form(f"/p/{post.post_id}/flag", {"reason": "patient_data"})
    await a.post_form(f"/p/{post.post_id}/edit", {"raw": "My dad is on ward 3.", "version": 1})
    [item] = await pending_items(db, target_id=post.post_id, kind="post")
    assert (await act(m, item, "approve")).status_code == 303
    history = await client().get(f"/p/{post.post_id}/revisions")
    assert name not in history.text and GONE in history.text
    assert "My dad is on ward 3." in history.text


async def test_hidden_and_deleted_posts_leave_the_live_log(server, client, arrange, db) -> None:
    author, _, written = await setup_topic(arrange)
    secret, other = unique("Secretword"), unique("Otherword")
    hidden = await arrange.reply(written.topic_id, author, f"{secret} is in this one.")
    deleted = await arrange.reply(written.topic_id, author, f"{other} is in this one.")
    moderator = await arrange.user(role="moderator")
    m = await logged_in(client, moderator)
    await m.post_form(f"/p/{hidden.post_id}/flag", {"reason": "inappropriate"})
    await m.post_form(f"/p/{deleted.post_id}/flag", {"reason": "inappropriate"})
    [item] = await pending_items(db, target_id=deleted.post_id, kind="post")
    assert (await act(m, item, "delete")).status_code == 303
    channel = f"topic:{written.topic_id}"
    text = await log_text(db, channel)
    assert secret not in text and other not in text
    async with live(server.base_url) as c:
        await c.subscribe(channel, since=0)
        assert secret not in json.dumps(c.frames) and other not in json.dumps(c.frames)
        assert "hidden while a moderator looks at it" in json.dumps(c.frames)


async def test_a_resolved_item_keeps_its_reasons_but_not_its_text(
    server, client, arrange, db
) -> None:
    _, _, written = await setup_topic(arrange)
    author, moderator = await arrange.user(), await arrange.user(role="moderator")
    a, m = await logged_in(client, author), await logged_in(client, moderator)
    items = []
    for text, action in ((f"Rejected: NHS {NHS}", "reject"), (f"Approved: NHS {NHS}", "approve")):
        r = await a.post_form(f"/t/{written.topic_id}/reply", {"raw": text, "post_anyway": "yes"})
        assert "/my/review" in r.headers["location"]
        [item] = await pending_items(db, author_id=author.id)
        items.append(item["id"])
        extra = {"note": "Please take out the number."} if action == "reject" else {}
        assert (await act(m, item, action, **extra)).status_code == 303
        row = await db.fetch_one(
            "SELECT raw, cooked, title, status, resolved_by FROM review_items WHERE id = :i",
            {"i": item["id"]},
        )
        assert row is not None
        assert (row["raw"], row["cooked"], row["title"]) == (None, None, None)
        assert row["resolved_by"] == moderator.id
        reasons = await db.fetch_all(
            "SELECT reason FROM review_reasons WHERE item_id = :i", {"i": item["id"]}
        )
        assert [x["reason"] for x in reasons] == ["privacy"]
    # Neither the review channel's log nor the pages moderators and authors read keep it
    # (other tests' items share the channel: only this test's are read).
    ours = [
        e.data for e in await read_after(db, "review", 0, 100_000) if e.data.get("item_id") in items
    ]
    assert len(ours) >= 4 and NHS not in json.dumps(ours)
    assert NHS not in (await a.get("/my/review")).text
    for item_id in items:
        assert NHS not in (await m.get(f"/review/{item_id}")).text
    async with live(server.base_url, await key_headers(db, moderator)) as c:
        answer = await c.subscribe("review", since=0)
        assert answer["type"] == "subscribed", answer
        replayed = [f for f in c.frames if f.get("data", {}).get("item_id") in items]
        assert replayed and NHS not in json.dumps(replayed)


async def test_images_from_other_hosts_are_links_on_the_page(client, arrange) -> None:
    author, group, _ = await setup_topic(arrange)
    written = await arrange.topic(
        group, author, unique("Pictures"), "![my scan](https://tracker.example/scan.png)"
    )
    page = (await client().get(f"/t/{written.topic_id}", follow_redirects=True)).text
    assert '<img src="https://tracker.example' not in page
    assert 'href="https://tracker.example/scan.png"' in page and "image on tracker.example" in page


async def test_an_allowed_image_host_loads_and_the_policy_admits_it(fresh) -> None:
    made = await fresh(image_hosts="images.nhs.example")
    author = await made.arrange.user()
    group = await made.arrange.group()
    written = await made.arrange.topic(
        group, author, "Pictures", "![a chart](https://images.nhs.example/chart.png)"
    )
    import httpx

    async with httpx.AsyncClient(base_url=made.server.base_url) as http:
        page = await http.get(f"/t/{written.topic_id}", follow_redirects=True)
    assert '<img src="https://images.nhs.example/chart.png"' in page.text
    policy = page.headers["content-security-policy"]
    assert "img-src 'self' https://images.nhs.example;" in policy


async def test_quotes_of_quotes_and_of_hidden_patient_data_are_held_too(
    client, arrange, db
) -> None:
    author, _, written = await setup_topic(arrange)
    name = f"Mr {unique('Patient')}"
    post = await arrange.reply(written.topic_id, author, f"{name} on ward 9 is my uncle.")
    one, two = await arrange.user(), await arrange.user()
    moderator, flagger = await arrange.user(role="moderator"), await arrange.user()
    first = await arrange.reply(written.topic_id, one, f"> {name} on ward 9 is my uncle.\n\nOh!")
    # A quote of the quote, with no "in reply to" link at all.
    second = await arrange.reply(written.topic_id, two, f"> > {name} on ward 9 is my uncle.")
    f = await logged_in(client, flagger)
    await f.post_form(f"/p/{post.post_id}/flag", {"reason": "patient_data"})
    m = await logged_in(client, moderator)
    [item] = await pending_items(db, target_id=post.post_id, kind="post")
    assert (await act(m, item, "hide")).status_code == 303
    page = (await client().get(f"/t/{written.topic_id}", follow_redirects=True)).text
    assert name not in page
    for quoting in (first, second):
        [held] = await pending_items(db, target_id=quoting.post_id, kind="post")
        r = await act(m, held, "approve")  # not with the quote still in it
        assert r.status_code == 409 and "Edit, then approve" in r.text
    [held] = await pending_items(db, target_id=second.post_id, kind="post")
    assert (await act(m, held, "edit_approve", raw="Sorry to hear it.")).status_code == 303


async def test_a_held_edit_that_takes_a_number_out_still_clears_the_history(
    client, arrange, db
) -> None:
    author, _, written = await setup_topic(arrange)
    moderator, admin = await arrange.user(role="moderator"), await arrange.user(role="admin")
    word = unique("Watchword").lower()
    adm = await logged_in(client, admin)
    await adm.post_form("/review/watched-words", {"word": word, "change": "add"})
    a, m = await logged_in(client, author), await logged_in(client, moderator)
    await a.post_form(
        f"/p/{written.post_id}/edit",
        {"raw": f"NHS {NHS} here", "version": 1, "post_anyway": "yes"},
    )
    [item] = await pending_items(db, target_id=written.post_id, kind="post")
    await act(m, item, "ignore")
    # The author swaps the number for a watched word: held for the word only.
    await a.post_form(f"/p/{written.post_id}/edit", {"raw": f"NHS {word} here", "version": 2})
    [item] = await pending_items(db, target_id=written.post_id, kind="post")
    assert (await act(m, item, "approve")).status_code == 303
    history = await client().get(f"/p/{written.post_id}/revisions")
    assert history.status_code == 200 and NHS not in history.text
    await adm.post_form("/review/watched-words", {"word": word, "change": "remove"})


async def test_a_first_post_under_an_approved_title_can_still_be_edited(
    client, arrange, db
) -> None:
    author, group, _ = await setup_topic(arrange)
    moderator = await arrange.user(role="moderator")
    a, m = await logged_in(client, author), await logged_in(client, moderator)
    title = "Our clinic line is 0161 496 0000"  # a number a moderator judged fine
    await a.post_form(
        f"/g/{group.slug}/new-topic", {"title": title, "raw": "Ring them.", "post_anyway": "yes"}
    )
    [item] = await pending_items(db, author_id=author.id)
    assert (await act(m, item, "approve")).status_code == 303
    topic = await db.fetch_one("SELECT id FROM topics WHERE title = :t", {"t": title})
    assert topic is not None
    first = await db.fetch_val(
        "SELECT id FROM posts WHERE topic_id = :t AND post_number = 1", {"t": topic["id"]}
    )
    r = await a.post_form(
        f"/p/{first}/edit", {"raw": "Ring them on weekdays.", "title": title, "version": 1}
    )
    assert r.status_code == 303
