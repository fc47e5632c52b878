"""Markdown written before the switch from markdown-it-py to pyromark cooks the same.

Every post of the corpus (tests/content/markdown_corpus.py) is rendered by the old renderer
(tests/content/legacy_markdown.py) and by the new one, both through the same sanitiser, and the
HTML compared. The only differences allowed are those in DIFFERENCES, each with its reason and
the posts that show it; docs/MARKDOWN.md lists the same ones, and a test keeps the two lists in
step. A listed post must still differ, so the list cannot outlive the difference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from markdown_it.common.normalize_url import normalizeLink, normalizeLinkText

from forum.content.markdown import normalize_link, normalize_link_text, render_markdown
from forum.content.sanitize import clean_html
from forum.errors import BadRequest
from tests.content.legacy_markdown import render_legacy_markdown
from tests.content.markdown_corpus import IMAGE_HOSTS, corpus

DOCS = Path(__file__).resolve().parents[2] / "docs" / "MARKDOWN.md"


@dataclass(frozen=True)
class Difference:
    name: str  # as it appears, in bold, in docs/MARKDOWN.md
    reason: str
    examples: tuple[str, ...]


DIFFERENCES: tuple[Difference, ...] = (
    Difference(
        "Indented line after a table",
        "markdown-it ended a table at a line indented by four or more spaces (the line then"
        " became a code block); pulldown-cmark, as GitHub does, makes it one more row. The"
        " renderer can only escape characters the parser reads, and no escape ends a table.",
        ("| a | b |\n|---|---|\n| 1 | 2 |\n    indented after the table",),
    ),
    Difference(
        "Tilde runs that do not pair as two and two",
        "markdown-it split a run of three or more tildes into pairs and let a pair close"
        " across a single tilde; pulldown-cmark (and GitHub) strike only when the opening and"
        " closing runs are both exactly two and no single tilde intervenes: `~~a~~~`,"
        " `~~a~ b~~` and `~~~a~~~` (not at a line's start) stay as typed.",
        ("~~one~~ ~two~ ~~~three~~~", "~~a~ b~~", "~~a~~~"),
    ),
    Difference(
        "Bare URLs longer than 4,096 characters",
        "linking stops at 4,096 characters so that a long word of URLs cannot take"
        " quadratic time; markdown-it linked the whole URL (in about a second for 32,000"
        " characters).",
        ("https://example.org/" + "a" * 5000,),
    ),
)

ALLOWED = {example: difference for difference in DIFFERENCES for example in difference.examples}
POSTS = list(dict.fromkeys([*corpus(), *ALLOWED]))


def cooked(render: object, raw: str) -> str:
    """Sanitised HTML as cook() stores it, or the refusal; the one normalisation is the
    whitespace at the very end, which no page shows."""
    assert callable(render)
    try:
        return clean_html(render(raw, IMAGE_HOSTS), IMAGE_HOSTS).rstrip()
    except BadRequest as refused:
        return f"refused: {refused.messages[0]}"


MENTION_LINK_RE = re.compile(
    r'<a class="mention" href="/u/[^"]+" rel="nofollow ugc noopener">(@[^<]+)</a>'
)


def _id(index: int, raw: str) -> str:
    return f"{index}-" + re.sub(r"\W+", "_", raw[:24]).strip("_")


@pytest.mark.parametrize("raw", POSTS, ids=[_id(i, raw) for i, raw in enumerate(POSTS)])
def test_post_cooks_as_before(raw: str) -> None:
    before = cooked(render_legacy_markdown, raw)
    # @mentions came after the switch (issue 11): a mention's link is read as its text, and
    # everything around it must be as before.
    after = MENTION_LINK_RE.sub(r"\1", cooked(render_markdown, raw))
    difference = ALLOWED.get(raw)
    if difference is None:
        assert after == before
    else:
        # Listed as a known difference: it must still be one (or be taken off the list).
        assert after != before, f"no longer differs: {difference.name}"


def test_the_corpus_is_a_few_hundred_posts() -> None:
    assert len(POSTS) >= 300


def test_docs_list_the_same_differences() -> None:
    listed = set(re.findall(r"^\d+\. \*\*(.+?)\*\*", DOCS.read_text(), flags=re.MULTILINE))
    assert listed == {difference.name for difference in DIFFERENCES}


# The renderer writes link URLs exactly as markdown-it did (a port of its normalizeLink and
# normalizeLinkText, which come from mdurl), so links in old posts keep their href.
URLS = (
    "https://example.org/a b",
    "https://exämple.org/päth?q=ü#frag",
    "HTTPS://Bücher.Example/x",
    "mailto:jö@exämple.org",
    "//cdn.exämple.org/x.js",
    "/relative/päth",
    "https://example.org/%E2%9C%93/%zz/%",
    "https://user:pass@example.org:8080/p",
    "https://[::1]:80/x",
    "https://xn--exmple-cua.org/",
    "https://xn--invalid-.org/",
    "http://@host/x",
    "http://host:/x",
    "https://" + "a" * 300 + ".org/",
    "javascript:alert(1)",
    "JavaScript://host/%0A",
    "  https://example.org/spaced  ",
    "https://example.org/\u200b",
    "https://exa\u200bmple.com/login",
    "https://example.org/a\\b`c{d}|e^f",
    "skype:name?call",
    "https://a.b.c.d.example/é.",
    "https://example.org/%F0%9F%98%80%C3",
    "https://example.org/#%23%3B",
)


@pytest.mark.parametrize("url", URLS)
def test_link_urls_normalised_as_markdown_it_did(url: str) -> None:
    assert normalize_link(url) == normalizeLink(url)
    assert normalize_link_text(url) == normalizeLinkText(url)
