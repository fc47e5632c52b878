"""Browser fixtures: one headless Chromium (Debian's) for the session, a fresh context per page.

Playwright's own browser download does not work here, so the system Chromium is launched. Under
CI=true a missing Chromium fails the run (tests.conftest.unavailable) instead of skipping.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from tests.conftest import ServerThread, unavailable

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

NewPage = Callable[..., Awaitable[Page]]


def chromium_path() -> str:
    if not CHROMIUM.exists():
        unavailable("Chromium")
    return str(CHROMIUM)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_path()
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest_asyncio.fixture(loop_scope="session")
async def new_page(browser: Browser, server: ServerThread) -> AsyncIterator[NewPage]:
    """A factory of pages, each in its own context (own cookies, cache and options)."""
    contexts: list[BrowserContext] = []

    async def make(**options: Any) -> Page:
        context = await browser.new_context(base_url=server.base_url, **options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return await context.new_page()

    yield make
    for context in contexts:
        await context.close()


@pytest_asyncio.fixture(loop_scope="session")
async def page(new_page: NewPage) -> Page:
    """A desktop-sized page with JavaScript on, in a fresh context."""
    return await new_page()
