"""Every response carries the protective headers, and no template needs an exception to the
Content-Security-Policy (no inline script, style or event handler). SQLite and PostgreSQL."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from forum.middleware import content_security_policy

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
EXPECTED = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/login",
        "/latest.json",
        "/static/forum.css",
        "/static/live.js",
        "/no-such-page",
        "/t/999999999.json",
        "/u/a%00b",
        "/review",
    ],
)
async def test_every_response_carries_the_protective_headers(client, path: str) -> None:
    r = await client().get(path)
    for name, value in EXPECTED.items():
        assert r.headers.get(name) == value, (path, name)
    policy = r.headers["content-security-policy"]
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ):
        assert directive in policy, (path, directive)
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


async def test_the_review_and_suspend_forms_cannot_be_framed(client, arrange) -> None:
    moderator = await arrange.user(role="moderator")
    c = client()
    await c.login(moderator)
    for path in ("/review", f"/u/{moderator.username}", "/review/log"):
        r = await c.get(path)
        assert r.status_code == 200
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["x-frame-options"] == "DENY"


def test_images_from_other_hosts_are_not_in_the_policy_unless_allowed() -> None:
    assert "img-src 'self';" in content_security_policy(frozenset())
    allowed = content_security_policy(frozenset({"images.example.org"}))
    assert "img-src 'self' https://images.example.org;" in allowed


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.glob("*.html")))
def test_templates_need_no_inline_script_style_or_handler(template: str) -> None:
    text = (TEMPLATES / template).read_text()
    for script in re.findall(r"<script\b[^>]*>", text):
        assert "src=" in script, f"{template}: inline <script>"
    assert "<style" not in text, f"{template}: inline <style>"
    assert not re.search(r"\sstyle=", text), f"{template}: style attribute"
    assert not re.search(r"\son[a-z]+=", text), f"{template}: inline event handler"
    assert "javascript:" not in text, f"{template}: javascript: URL"
