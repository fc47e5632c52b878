"""Tests for the markdown renderer itself: hostile sizes and shapes answer quickly (refused or
rendered, never a blown stack or quadratic time), nesting limits, and the adjustments it makes
so that pyromark reads a post as markdown-it did. Rendering parity with markdown-it over a
corpus is in test_markdown_corpus.py; the whole cooking pipeline in test_cook.py."""

from __future__ import annotations

import random
import re
import time

import pytest

from forum.content import cook
from forum.content.markdown import (
    _STAND_INS,
    MAX_NESTING,
    _core_links,
    _match_scheme_url,
    _schemas_in,
    render_markdown,
)
from forum.content.sanitize import clean_html
from forum.errors import BadRequest

# Posts are at most 32,000 characters (settings.max_post_chars). On this 2-core machine the
# slowest of these takes ~0.15 s; markdown-it-py took over a second for "url parens".
LONGEST = 32_000
BUDGET_S = 2.0

HOSTILE_SHAPES = {
    "10k nested quotes": "> " * 10_000 + "deep",
    "quotes one per line": "\n".join(">" * i for i in range(1, 300)),
    "10k nested lists": "- " * 10_000 + "deep",
    "10k open brackets": "[" * 10_000 + "x",
    "10k brackets closed": "[" * 10_000 + "x" + "]" * 10_000,
    "nested links": "[" * 5_000 + "x" + "](/y)" * 5_000,
    "nested images": "![" * 5_000 + "a" + "](/a.png)" * 3_000,
    "run of stars": "*" * LONGEST,
    "stars and words": "*a " * (LONGEST // 3),
    "nested emphasis": "*a **b " * (LONGEST // 7),
    "run of underscores": "_a" * (LONGEST // 2),
    "tildes": "~~a " * (LONGEST // 4),
    "backticks": "`a" * (LONGEST // 2),
    "less-thans": "<" * LONGEST,
    "open tags": "<a " * (LONGEST // 3),
    "autolinks": "<http://a>" * (LONGEST // 10),
    "refused links": "[x](javascript:a)" * (LONGEST // 17),
    "refused links nested": "[" * 300 + "x" + "](javascript:a)" * 300,
    "refused definitions": "[a]: javascript:x\n" * (LONGEST // 18),
    "bare urls": "https://x.com/a " * (LONGEST // 16),
    "url parens": "http://a.com/(" * (LONGEST // 14),
    "urls with markup": "https://x.com/*a* " * (LONGEST // 18),
    "one long url word": "https://x.com/" + "a*" * (LONGEST // 2),
    "e-mail addresses": "a@b.co " * (LONGEST // 7),
    "schemes": "x://" * (LONGEST // 4),
    "backslashes": "\\" * LONGEST,
    "escapes": "\\*" * (LONGEST // 2),
    "entities": "&amp;" * (LONGEST // 5),
    "long table": "|a|b|\n|-|-|\n" + "|x|y|\n" * 5_000,
    "wide table": "|" + "a|" * 5_000 + "\n|" + "-|" * 5_000,
    "headings": "# x\n" * 8_000,
    "fences": "```\n" * 8_000,
    "everything": "*_~`[<&\\" * (LONGEST // 8),
}


@pytest.mark.parametrize("raw", HOSTILE_SHAPES.values(), ids=HOSTILE_SHAPES.keys())
def test_hostile_input_answers_quickly(raw: str) -> None:
    started = time.perf_counter()
    try:
        html = render_markdown(raw[:LONGEST])
    except BadRequest as refused:
        assert "nested too deeply" in refused.messages[0]
    else:
        assert html
    assert time.perf_counter() - started < BUDGET_S


@pytest.mark.parametrize(
    ("depth", "refused"), [(MAX_NESTING, False), (MAX_NESTING + 1, True), (10_000, True)]
)
def test_quote_depth_limit(depth: int, refused: bool) -> None:
    raw = "> " * depth + "deep"
    if refused:
        with pytest.raises(BadRequest):
            render_markdown(raw)
    else:
        assert "deep" in render_markdown(raw)


def test_lists_count_two_levels_each() -> None:
    # As markdown-it counted them (list and item), so no post accepted before is refused now.
    assert "deep" in render_markdown("- " * 7 + "deep")
    with pytest.raises(BadRequest):
        render_markdown("- " * 8 + "deep")
    assert "deep" in render_markdown("> " * 7 + "- " * 4 + "deep")
    with pytest.raises(BadRequest):
        render_markdown("> " * 8 + "- " * 4 + "deep")


def test_html_is_text_even_without_a_stand_in() -> None:
    # A post holding every stand-in for "<" is parsed with its HTML as HTML; the HTML is still
    # written out as text.
    raw = "".join(_STAND_INS) + "\n\n<div>\n<b>hi</b> <script>x</script>\n</div>"
    html = cook(raw)
    assert "<div>" not in html and "<b>" not in html and "<script>" not in html
    assert "&lt;b&gt;hi&lt;/b&gt;" in html


def test_stand_in_characters_typed_in_a_post_survive() -> None:
    raw = f"{_STAND_INS[0]} and <b> and {_STAND_INS[1]}"
    assert cook(raw) == f"<p>{_STAND_INS[0]} and &lt;b&gt; and {_STAND_INS[1]}</p>\n"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # A table may start on any line of a paragraph, as in markdown-it.
        (
            "Results:\nWeek | Hours\n---|---\n1 | 4",
            "<p>Results:</p>\n<table>\n<thead>\n<tr>\n<th>Week</th>\n<th>Hours</th>\n</tr>\n"
            "</thead>\n<tbody>\n<tr>\n<td>1</td>\n<td>4</td>\n</tr>\n</tbody>\n</table>",
        ),
        # A table comes before a list that its first line would otherwise start.
        (
            "- a | b\n--|--",
            "<table>\n<thead>\n<tr>\n<th>- a</th>\n<th>b</th>\n</tr>\n</thead>\n</table>",
        ),
        # Markup inside a bare URL is part of the URL, as in markdown-it.
        (
            "see https://example.org/*a*b now",
            '<p>see <a href="https://example.org/*a*b" rel="nofollow ugc noopener">'
            "https://example.org/*a*b</a> now</p>",
        ),
        # A single tilde is text; it does not bound the emphasis around it.
        ("~**a~*", "<p>~*<em>a~</em></p>"),
        # Trailing tabs before a line break are kept, as markdown-it kept them.
        ("a\t\nb", "<p>a\t<br>\nb</p>"),
        # A refused link's text stays, with its brackets and URL, as readable text.
        ("[x](javascript:alert(1))", "<p>[x](javascript:alert(1))</p>"),
    ],
)
def test_read_as_markdown_it_read_it(raw: str, expected: str) -> None:
    assert clean_html(render_markdown(raw)).rstrip() == expected


def test_schema_search_matches_linkify_its_regex() -> None:
    # _schemas_in replaces linkify-it's schema_search regex (ten times faster); same hits.
    from linkify_it import LinkifyIt

    regex = re.compile(LinkifyIt().re["schema_search"], re.IGNORECASE)
    rng = random.Random(5)
    pieces = ["http:", "https:", "//", "/", ":", "mailto:", "ftp:", "_", " ", "a", ".", ">"]
    pieces += ["\uff5c", "é", "\x85", "HTTPS:", "\u3000", "\u200b", "~", "h", "ttp", "s:"]
    for _ in range(5_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 12)))
        expected = [(hit.start() + len(hit.group(1)), hit.group(2)) for hit in regex.finditer(text)]
        assert _schemas_in(text) == expected, text


def test_bare_url_matching_matches_linkify_it() -> None:
    # The port of linkify-it's patterns (fuzzy links off, as markdown-it was configured)
    # finds the same links, and the same URL at a given start, as linkify-it-py itself.
    from linkify_it import LinkifyIt

    linkify = LinkifyIt().set({"fuzzy_link": False})
    rng = random.Random(3)
    pieces = ["https://", "http://", "mailto:", "//", "a@b.co", "care@example.org", "x.com"]
    pieces += ["/p", "?q=1", "&r=2", "#f", "(", ")", "[", "]", "'", '"', ".", ",", "!", "?"]
    pieces += ["-", "_", " ", "\n", "é", "www.", "org", "😀", "\u200b", ":", "8080", "user@"]
    for _ in range(3_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 10)))
        expected = [(m.index, m.last_index) for m in linkify.match(text) or []]
        assert [(start, end) for start, end, _ in _core_links(text)] == expected, text
        # markdown-it's inline rule asked for a URL only at a scheme's first letter.
        for start in (i for i, char in enumerate(text) if char.isascii() and char.isalpha()):
            found = linkify.match_at_start(text[start:])
            assert _match_scheme_url(text, start) == (found.raw if found else ""), text
