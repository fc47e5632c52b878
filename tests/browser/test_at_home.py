"""Issue 13's pages that feel like home, in Chromium at 360 and 1280 px, with layout checked by
assertion: who wrote each post and in what role, thanks given in place, topic lists in
columns, the header on one row with the member's menu, and a confirmation after an action."""

from __future__ import annotations

import re

from playwright.async_api import Locator, expect

from forum.actions import edits, likes
from forum.actions.drafts import PostEdit
from forum.actions.moderation import do_flag_post
from tests.browser.conftest import NewPage
from tests.browser.test_found import axe_clean, overflow
from tests.browser.test_live import log_in
from tests.conftest import Arrange

WIDTHS = (360, 1280)


async def lines_of(control: Locator) -> int:
    """How many lines a control's text takes."""
    lines: int = await control.evaluate(
        "e => Math.round(e.getBoundingClientRect().height"
        " / parseFloat(getComputedStyle(e).lineHeight))"
    )
    return lines


async def top_of(locator: Locator) -> float:
    box = await locator.bounding_box()
    assert box is not None
    return float(box["y"] + box["height"] / 2)


async def test_each_post_says_who_wrote_it_and_thanks_are_given_in_place(
    new_page: NewPage, arrange: Arrange
) -> None:
    starter = await arrange.user(name="starter")
    convener = await arrange.user(name="conv")
    admin = await arrange.user(role="admin", name="adm")
    group = await arrange.group(members=(starter,), conveners=(convener,))
    written = await arrange.topic(group, starter, "Who said what", "How did you prepare?")
    await arrange.reply(written.topic_id, convener, "Walking every day.")
    await arrange.reply(written.topic_id, admin, "Breathing exercises.")
    await arrange.reply(written.topic_id, starter, "Thank you both.")
    for width in WIDTHS:
        page = await new_page(viewport={"width": width, "height": 900})
        await log_in(page, convener)
        await page.goto(f"/t/{written.topic_id}")
        posts = page.locator("article.post")
        await expect(posts).to_have_count(4)
        # An avatar beside every post, hidden from screen readers (the name is beside it).
        await expect(page.locator("article.post > svg.avatar[aria-hidden=true]")).to_have_count(4)
        await expect(page.locator("#post-2 .badge-role")).to_have_text("Convener")
        await expect(page.locator("#post-3 .badge-role")).to_have_text("Admin")
        await expect(page.locator("#post-4 .badge-starter")).to_have_text("Topic starter")
        await expect(page.locator("#post-1 .badge-starter")).to_have_count(0)
        # The number is a link to the post, which lands on it.
        number = page.locator("#post-4 a.when")
        await expect(number).to_contain_text("#4")
        assert (await number.get_attribute("href") or "").endswith(f"/{written.topic_id}/4")
        assert await overflow(page) == 0, width
        for control in await page.locator("#post-1 .post-actions a, #post-1 button").all():
            assert await lines_of(control) <= 2, (width, await control.text_content())
        await axe_clean(page)
        await page.close()

    # Thanks in place: the button is pressed, the count appears, and nothing reloads.
    page = await new_page(viewport={"width": 360, "height": 900})
    await log_in(page, convener)
    await page.goto(f"/t/{written.topic_id}")
    await page.wait_for_function("() => window.forumLive && window.forumLive._socket")
    await page.evaluate("() => { window.stayed = true; }")
    thank = page.get_by_role("button", name="Thank you for post 1")
    await expect(thank).to_have_attribute("aria-pressed", "false")
    await thank.focus()
    await page.keyboard.press("Enter")
    await expect(thank).to_have_attribute("aria-pressed", "true")
    await expect(page.locator("#post-1 .post-likes")).to_contain_text("1 thank you")
    await expect(page.locator("main [aria-live=polite]")).to_contain_text("You thanked post 1.")
    assert await page.evaluate("() => window.stayed === true")
    # Another reader's thanks arrive live.
    await likes.do_like(arrange.forum, admin, written.post_id, liked=True)
    await expect(page.locator("#post-1 .post-likes")).to_contain_text("2 thanks")
    # Who gave them, on request.
    await page.locator("#post-1 .post-likes a").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Who thanked post #1")
    await expect(page.locator("main")).to_contain_text(admin.username)
    await axe_clean(page)


async def test_an_answered_post_opens_in_place(new_page: NewPage, arrange: Arrange) -> None:
    author, other = await arrange.user(name="asker"), await arrange.user(name="answerer")
    group = await arrange.group(members=(author, other))
    written = await arrange.topic(group, author, "In reply", "Does walking help the lungs?")
    await arrange.forum.db.execute(
        "UPDATE posts SET reply_to_post_number = 1 WHERE id = :p",
        {"p": (await arrange.reply(written.topic_id, other, "Yes, it does.")).post_id},
    )
    page = await new_page(viewport={"width": 360, "height": 800})
    await page.goto(f"/t/{written.topic_id}")
    details = page.locator("#post-2 details.reply-to")
    await expect(details.locator("summary")).to_have_text(f"In reply to #1 by {author.username}")
    await expect(details.locator("blockquote")).to_be_hidden()
    await details.locator("summary").focus()
    await page.keyboard.press("Enter")
    await expect(details.locator("blockquote")).to_contain_text("Does walking help the lungs?")


async def test_topic_lists_have_columns_on_a_wide_screen_and_words_on_a_phone(
    new_page: NewPage, arrange: Arrange
) -> None:
    author, reader = await arrange.user(name="lister"), await arrange.user(name="reader")
    group = await arrange.group(members=(author, reader))
    written = await arrange.topic(group, author, "A listed topic", "First.")
    await arrange.reply(written.topic_id, reader, "Second.")
    # Read by one member only (their own posts mark nothing read here).
    await arrange.forum.db.execute(
        "UPDATE topic_users SET last_read_post_number = CASE WHEN user_id = :u THEN 2 ELSE 0 END"
        " WHERE topic_id = :t",
        {"u": reader.id, "t": written.topic_id},
    )
    row = f"#topic-row-{written.topic_id}"
    wide = await new_page(viewport={"width": 1280, "height": 800})
    await wide.goto(f"/g/{group.slug}")
    heads = wide.locator(".topic-heads")
    await expect(heads).to_be_visible()
    for name in ("Topic", "Posters", "Replies", "Readers", "Activity"):
        await expect(heads).to_contain_text(name)
    await expect(wide.locator(f"{row} .replies")).to_have_text("1 reply")
    await expect(wide.locator(f"{row} .readers")).to_have_text("1 reader")
    await expect(wide.locator(f"{row} .posters svg.avatar")).to_have_count(2)
    # Columns: the figures sit on the title's row, each under its heading.
    title_y = await top_of(wide.locator(f"{row} .topic-title"))
    for cell, head in ((".replies", "Replies"), (".readers", "Readers")):
        cell_box = await wide.locator(f"{row} {cell}").bounding_box()
        head_box = await heads.get_by_text(head).bounding_box()
        assert cell_box is not None and head_box is not None
        assert abs(cell_box["x"] + cell_box["width"] - head_box["x"] - head_box["width"]) < 4
        assert abs(await top_of(wide.locator(f"{row} {cell}")) - title_y) < 30
    # The words are said by the heading, and kept for screen readers.
    words = await wide.locator(f"{row} .replies .what").bounding_box()
    assert words is not None and words["width"] <= 1
    assert await overflow(wide) == 0
    phone = await new_page(viewport={"width": 360, "height": 800})
    await phone.goto(f"/g/{group.slug}")
    await expect(phone.locator(".topic-heads")).to_be_hidden()
    await expect(phone.locator(f"{row} .replies .what")).to_be_visible()
    await expect(phone.locator(f"{row} .activity")).to_contain_text(
        f"Last post by {reader.username}"
    )
    assert await overflow(phone) == 0
    await axe_clean(phone)


async def test_the_header_is_one_row_with_the_members_menu(
    new_page: NewPage, arrange: Arrange
) -> None:
    member = await arrange.user(name="menuuser")
    for width in WIDTHS:
        page = await new_page(viewport={"width": width, "height": 800})
        await log_in(page, member)
        nav = page.get_by_role("navigation", name="Site")
        brand = await top_of(nav.locator(".brand"))
        for part in ("[data-bell]", ".user-menu summary", ".search-go"):
            assert abs(await top_of(nav.locator(part)) - brand) < 12, (width, part)
        assert await overflow(page) == 0, width
        # The menu works by keyboard: opened, read, closed with Escape back on its button.
        summary = nav.locator(".user-menu summary")
        await summary.focus()
        await page.keyboard.press("Enter")
        menu = nav.locator(".user-menu ul")
        await expect(menu).to_be_visible()
        for item in ("Your profile", "Your posts", "Your posts waiting for review",
                     "Edit your profile", "Email choices", "Log out"):  # fmt: skip
            await expect(menu).to_contain_text(item)
        box = await menu.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
        await axe_clean(page)
        await page.keyboard.press("Escape")
        await expect(menu).to_be_hidden()
        assert await page.evaluate("() => document.activeElement.tagName") == "SUMMARY"
        # Search on a phone: the button opens the search page.
        await nav.locator(".search-go").click()
        await expect(page).to_have_url(re.compile(r"/search\?q=$"))
        await page.close()


async def test_an_action_is_confirmed_once(new_page: NewPage, arrange: Arrange) -> None:
    member = await arrange.user(name="joiner")
    group = await arrange.group()
    page = await new_page(viewport={"width": 360, "height": 800})
    await log_in(page, member)
    confirmation = page.locator(".confirmation")
    await expect(confirmation).to_have_text("You are logged in.")
    await expect(confirmation).to_have_attribute("role", "status")
    await page.goto(f"/g/{group.slug}")
    await expect(confirmation).to_have_count(0)  # said once
    await page.get_by_role("button", name="Join this group").click()
    await expect(confirmation).to_have_text("You joined the group.")
    await axe_clean(page)
    await page.reload()
    await expect(confirmation).to_have_count(0)


async def test_without_javascript_thanks_menus_and_confirmations_still_work(
    new_page: NewPage, arrange: Arrange
) -> None:
    author, reader = await arrange.user(name="nojsauthor"), await arrange.user(name="nojs")
    group = await arrange.group(members=(author, reader))
    written = await arrange.topic(group, author, "No script", "Plain pages work too.")
    page = await new_page(java_script_enabled=False, viewport={"width": 360, "height": 800})
    await log_in(page, reader)
    await page.goto(f"/t/{written.topic_id}")
    await page.get_by_role("button", name="Thank you for post 1").click()
    await expect(page.locator(".confirmation")).to_have_text("You thanked the post.")
    await expect(page.get_by_role("button", name="Thank you for post 1")).to_have_attribute(
        "aria-pressed", "true"
    )
    await expect(page.locator("#post-1 .post-likes")).to_contain_text("1 thank you")
    # The menu is a <details>: it opens without a script, and logs out.
    await page.locator(".user-menu summary").click()
    await page.get_by_role("button", name="Log out").click()
    await expect(page.locator(".confirmation")).to_have_text("You are logged out.")


async def test_live_changes_keep_a_readers_thanks_and_drop_words_a_moderator_hid(
    new_page: NewPage, arrange: Arrange
) -> None:
    author, reader = await arrange.user(name="hidauthor"), await arrange.user(name="hidreader")
    moderator = await arrange.user(role="moderator", name="hidmod")
    group = await arrange.group(members=(author, reader))
    written = await arrange.topic(group, author, "Live hide", "Words that will be hidden.")
    reply = await arrange.reply(written.topic_id, reader, "Answering that.")
    await arrange.forum.db.execute(
        "UPDATE posts SET reply_to_post_number = 1 WHERE id = :p", {"p": reply.post_id}
    )
    second = await arrange.reply(written.topic_id, author, "A second post to thank.")
    await likes.do_like(arrange.forum, reader, second.post_id, liked=True)
    page = await new_page(viewport={"width": 360, "height": 800})
    await log_in(page, reader)
    await page.goto(f"/t/{written.topic_id}")
    await page.wait_for_function("() => window.forumLive && window.forumLive._socket")
    await page.locator("#post-2 details.reply-to summary").click()
    await expect(page.locator("#post-2 .reply-to")).to_contain_text("Words that will be hidden.")
    # The author edits their thanked post: the reader's pressed button stays theirs.
    await edits.do_edit_post(
        arrange.forum, author, second.post_id, PostEdit("A second post, edited.", 1)
    )
    await expect(page.locator("#post-3 .cooked")).to_contain_text("edited")
    thank = page.get_by_role("button", name="Thank you for post 3")
    await expect(thank).to_have_attribute("aria-pressed", "true")
    await expect(page.locator("#post-3 .post-likes")).to_contain_text("1 thank you")
    # A moderator hides the first post: its words leave the reply that opened it too.
    await do_flag_post(arrange.forum, moderator, written.post_id, "inappropriate", "")
    await expect(page.locator("#post-1 .removed")).to_be_visible()
    await expect(page.locator("#post-2 .reply-to")).to_have_text("In reply to post #1")
    await expect(page.locator("main")).not_to_contain_text("Words that will be hidden.")


async def test_keyboard_shortcuts_can_be_turned_off(new_page: NewPage, arrange: Arrange) -> None:
    author = await arrange.user(name="keysoff")
    group = await arrange.group(members=(author,))
    written = await arrange.topic(group, author, "Keys off", "First post.")
    page = await new_page(viewport={"width": 1280, "height": 800})
    await page.goto(f"/t/{written.topic_id}")
    opener = page.get_by_role("button", name="Keyboard shortcuts")
    await opener.click()
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    await dialog.get_by_label("Use these shortcuts").uncheck()
    await dialog.get_by_role("button", name="Close").click()
    await page.locator("body").press("j")
    assert await page.evaluate("() => document.activeElement.tagName") != "ARTICLE"
    await page.reload()  # remembered
    await page.locator("body").press("?")
    await expect(dialog).to_be_hidden()
    await opener.click()
    await dialog.get_by_label("Use these shortcuts").check()
    await dialog.get_by_role("button", name="Close").click()
    await page.locator("body").press("j")
    assert await page.evaluate("() => document.activeElement.id") == "post-1"
