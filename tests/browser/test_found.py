"""Issue 13's "fix what was found", as a person meets each in Chromium: with layout checked by
assertions (no horizontal overflow, no control wrapped over more than two lines), not by eye."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.browser.conftest import NewPage
from tests.conftest import Arrange, unique


async def overflow(page: Page) -> int:
    """How far the page is wider than the window, in CSS pixels (0: no sideways scroll)."""
    width: int = await page.evaluate("document.documentElement.scrollWidth - innerWidth")
    return width


async def test_sign_up_lists_every_problem_at_once(new_page: NewPage, arrange: Arrange) -> None:
    taken = await arrange.user(name="taken")
    page = await new_page(viewport={"width": 360, "height": 800})
    await page.goto("/signup")
    await page.get_by_label("Username", exact=True).fill("x")
    await page.get_by_label("Email").fill("not-an-email")
    await page.get_by_label("Password").fill("short")
    await page.get_by_role("button", name="Create account").click()
    alert = page.get_by_role("alert")
    await expect(alert).to_contain_text("Usernames are 3 to 20 letters")
    await expect(alert).to_contain_text("Please enter a valid email address.")
    await expect(alert).to_contain_text("Passwords need at least")
    # A name already registered is said together with the rest, not after they are fixed.
    await page.get_by_label("Username", exact=True).fill(taken.username)
    await page.get_by_label("Email").fill(f"{unique('n')}@example.org")
    await page.get_by_label("Password").fill("short")
    await page.get_by_role("button", name="Create account").click()
    await expect(alert).to_contain_text("That username is already registered.")
    await expect(alert).to_contain_text("Passwords need at least")
    assert await overflow(page) == 0
