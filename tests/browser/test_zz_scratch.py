import pytest
from axe_playwright_python.async_playwright import Axe
from tests.browser.test_pages import AXE_PAGES, world  # noqa

@pytest.mark.parametrize("name", AXE_PAGES)
async def test_exp(page, world, name):
    await AXE_PAGES[name](page, world)
    results = await Axe().run(page, options={"runOnly": {"type": "tag", "values": ["experimental", "best-practice", "wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}})
    print(name, results.violations_count, [v["id"] for v in results.response["violations"]])
