"""Moving a topic, and making a group private, in a real browser at phone and desktop widths:
reached from the topic page and the group's settings, used with the keyboard alone, with no
accessibility violations (axe); a reader on the topic's page is told it moved."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.browser.conftest import NewPage
from tests.browser.test_live import axe_violations, live_page
from tests.browser.test_pages import log_in
from tests.conftest import Arrange, unique

WIDTHS = ({"width": 360, "height": 740}, {"width": 1280, "height": 800})


async def no_violations(page: Page) -> None:
    violations, report = await axe_violations(page)
    assert violations == 0, report


async def test_a_moderator_moves_a_topic_with_the_keyboard(
    new_page: NewPage, arrange: Arrange
) -> None:
    moderator, author = await arrange.user(role="moderator"), await arrange.user(name="aut")
    for viewport in WIDTHS:
        old = await arrange.group(members=(author,))
        new = await arrange.group()
        title = f"Sleep after chemo {unique('t')}"
        written = await arrange.topic(old, author, title)
        slug = await arrange.db.fetch_val(
            "SELECT slug FROM topics WHERE id = :t", {"t": written.topic_id}
        )
        path = f"/t/{slug}/{written.topic_id}"
        reader = await live_page(new_page, path, viewport=viewport)

        page = await new_page(viewport=viewport)
        await log_in(page, moderator)
        await page.goto(path)
        await page.get_by_role("link", name="Move this topic to another group").click()
        await expect(
            page.get_by_role("heading", name="Move this topic to another group")
        ).to_be_visible()
        await no_violations(page)
        choice = page.get_by_role("radio", name=new.name)
        await choice.focus()
        await page.keyboard.press("Space")
        await expect(choice).to_be_checked()
        await page.keyboard.press("Tab")
        await expect(page.get_by_role("button", name="Move topic")).to_be_focused()
        await page.keyboard.press("Enter")
        await expect(page).to_have_url(f"{page.url.split('/t/')[0]}{path}")
        crumbs = page.get_by_role("navigation", name="Breadcrumb")
        await expect(crumbs).to_have_text(new.name)
        await expect(page.get_by_text("The topic is in its new group now.")).to_be_visible()

        # The reader who had the page open is told, politely, with a way to reload.
        await expect(reader.locator(".live-status")).to_contain_text(
            "This topic was moved to another group."
        )
        await expect(reader.get_by_role("button", name="Reload")).to_be_visible()
        await no_violations(reader)


async def test_nothing_chosen_is_said_on_the_form(new_page: NewPage, arrange: Arrange) -> None:
    """Past the browser's own check (an old browser has none), the server says what is
    missing, on the form."""
    moderator, author = await arrange.user(role="moderator"), await arrange.user()
    old = await arrange.group(members=(author,))
    written = await arrange.topic(old, author)
    page = await new_page(viewport=WIDTHS[0])
    await log_in(page, moderator)
    await page.goto(f"/t/{written.topic_id}/move")
    await page.locator("form.narrow").evaluate("form => { form.noValidate = true; }")
    await page.get_by_role("button", name="Move topic").click()
    await expect(page.get_by_role("alert")).to_contain_text(
        "Choose the group to move the topic to."
    )
    await no_violations(page)


async def test_an_admin_makes_a_group_private_with_the_keyboard(
    new_page: NewPage, arrange: Arrange
) -> None:
    admin, convener = await arrange.user(role="admin"), await arrange.user(name="con")
    for viewport in WIDTHS:
        group = await arrange.group(conveners=(convener,))
        page = await new_page(viewport=viewport)
        await log_in(page, admin)
        await page.goto(f"/g/{group.slug}/settings")
        readers = page.get_by_role("group", name="Who can read this group?")
        await expect(readers.get_by_role("radio", name="Anyone", exact=False)).to_be_checked()
        await no_violations(page)
        private = readers.get_by_role("radio", name="Members only", exact=False)
        await private.focus()
        await page.keyboard.press("Space")
        await expect(private).to_be_checked()
        await page.get_by_role("button", name="Save").focus()
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("status")).to_contain_text("Saved.")
        await expect(readers.get_by_role("radio", name="Members only", exact=False)).to_be_checked()
        await expect(
            page.get_by_role("radio", name="By invitation only", exact=False)
        ).to_be_checked()

        # A visitor who is not signed in finds no group there now.
        visitor = await new_page(viewport=viewport)
        answer = await visitor.goto(f"/g/{group.slug}")
        assert answer is not None and answer.status == 404

        # Its convener (not an admin) reads the setting as text, not as a control.
        convening = await new_page(viewport=viewport)
        await log_in(convening, convener)
        await convening.goto(f"/g/{group.slug}/settings")
        await expect(
            convening.get_by_text("Only a site administrator can change this.")
        ).to_be_visible()
        await expect(convening.locator("input[name=visibility]")).to_have_count(0)
        await no_violations(convening)
