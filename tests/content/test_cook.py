"""Tests for the post-content pipeline: markdown rendering, sanitizing, cooking, excerpts."""

from html.parser import HTMLParser

import pytest

from forum.content import cook, excerpt
from forum.content.sanitize import ALLOWED_TAGS, clean_html
from forum.errors import BadRequest

REL = 'rel="nofollow ugc noopener"'
ALIGN_STYLES = {"text-align:left", "text-align:center", "text-align:right"}

Element = tuple[str, dict[str, str | None]]


class _ElementCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))


def elements(html: str) -> list[Element]:
    """Every start tag in `html` with its attributes, entities decoded as a browser would."""
    collector = _ElementCollector()
    collector.feed(html)
    collector.close()
    return collector.elements


def tags(html: str, name: str) -> list[dict[str, str | None]]:
    return [attrs for tag, attrs in elements(html) if tag == name]


def assert_inert(html: str) -> None:
    """No element, attribute or URL in `html` can run script."""
    for tag, attrs in elements(html):
        assert tag in ALLOWED_TAGS, f"unexpected <{tag}> in {html!r}"
        for name, value in attrs.items():
            assert not name.startswith("on"), f"event handler {name} in {html!r}"
            if name in ("href", "src"):
                assert value is not None
                scheme = value.strip().lower().split(":", 1)[0]
                assert scheme not in ("javascript", "vbscript", "data"), html
            if name == "style":
                assert value in ALIGN_STYLES, html


# --- CommonMark and extensions -----------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("**bold**", "<p><strong>bold</strong></p>"),
        ("*em*", "<p><em>em</em></p>"),
        ("# Title", "<h3>Title</h3>"),  # post headings sit under the page h1 and author h2
        ("###### Deep", "<h6>Deep</h6>"),
        ("### Small", "<h5>Small</h5>"),
        ("> quoted", "<blockquote>\n<p>quoted</p>\n</blockquote>"),
        ("- one\n- two", "<ul>\n<li>one</li>\n<li>two</li>\n</ul>"),
        ("3. three\n4. four", '<ol start="3">\n<li>three</li>\n<li>four</li>\n</ol>'),
        ("use `x < y` here", "<p>use <code>x &lt; y</code> here</p>"),
        ("above\n\n---\n\nbelow", "<p>above</p>\n<hr>\n<p>below</p>"),
        ("first\n\nsecond", "<p>first</p>\n<p>second</p>"),
        # breaks=True: a single newline is a line break, as forum authors expect.
        ("line one\nline two", "<p>line one<br>\nline two</p>"),
        # typographer off: quotes and dashes stay as typed.
        ('"quoted" -- text', '<p>"quoted" -- text</p>'),
    ],
)
def test_commonmark_basics(raw: str, expected: str) -> None:
    assert cook(raw).strip() == expected


def test_table_with_alignment() -> None:
    cooked = cook("| Drug | Dose |\n|:-----|-----:|\n| A | 5 mg |")
    # Wrapped in a focusable region so a keyboard user can scroll a wide table.
    assert cooked.startswith(
        '<div class="table-scroll" role="region" tabindex="0" aria-label="Table"><table>'
    )
    assert cooked.rstrip().endswith("</table></div>")
    # Alignment is a class: the pages' Content-Security-Policy allows no inline style.
    assert '<th class="align-left">Drug</th>' in cooked
    assert '<td class="align-right">5 mg</td>' in cooked
    assert [attrs for attrs in tags(cooked, "td")] == [
        {"class": "align-left"},
        {"class": "align-right"},
    ]
    assert "style" not in cooked


def test_strikethrough() -> None:
    assert cook("~~cancelled~~ moved") == "<p><s>cancelled</s> moved</p>\n"


def test_bare_url_is_linked_with_rel() -> None:
    cooked = cook("See https://www.nhs.uk/conditions/ for more")
    assert cooked == (
        '<p>See <a href="https://www.nhs.uk/conditions/" rel="nofollow ugc noopener">'
        "https://www.nhs.uk/conditions/</a> for more</p>\n"
    )


def test_markdown_link_gets_rel_and_title() -> None:
    cooked = cook('[guide](https://example.org/guide "The guide")')
    assert tags(cooked, "a") == [
        {"href": "https://example.org/guide", "title": "The guide", "rel": "nofollow ugc noopener"}
    ]


def test_relative_link_kept() -> None:
    assert tags(cook("[topic](/t/123)"), "a") == [
        {"href": "/t/123", "rel": "nofollow ugc noopener"}
    ]


@pytest.mark.parametrize(
    ("raw", "href"),
    [
        ("[mail me](mailto:care@example.org)", "mailto:care@example.org"),
        ("write to care@example.org", "mailto:care@example.org"),
    ],
)
def test_mailto_kept(raw: str, href: str) -> None:
    assert [attrs["href"] for attrs in tags(cook(raw), "a")] == [href]
    assert REL in cook(raw)


def test_fenced_code_keeps_language_and_escapes_content() -> None:
    cooked = cook('```python\nif a < b:\n    print("<b>hi</b>")\n```')
    assert cooked == (
        '<pre><code class="language-python">if a &lt; b:\n'
        '    print("&lt;b&gt;hi&lt;/b&gt;")\n</code></pre>\n'
    )


def test_fenced_code_with_odd_info_string_loses_class() -> None:
    cooked = cook('```x"onmouseover=alert(1)\ncode\n```')
    assert cooked == "<pre><code>code\n</code></pre>\n"


# --- Hostile input through the whole pipeline ---------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        '<p onclick="alert(1)">click</p>',
        "<svg onload=alert(1)>",
        '<iframe src="https://evil.example"></iframe>',
        "<style>body{display:none}</style>",
        '<a href="http://x.example" style="position:fixed;inset:0">x</a>',
        '<a href="javascript:alert(1)">x</a>',
    ],
)
def test_raw_html_is_shown_as_text(raw: str) -> None:
    cooked = cook(raw)
    assert_inert(cooked)
    # Nothing the author typed became an element: only the paragraph wrapper, plus a link
    # where linkify found a bare http(s) URL inside the shown text.
    assert elements(cooked)[0] == ("p", {})
    for tag, attrs in elements(cooked)[1:]:
        assert tag == "a"
        assert str(attrs["href"]).startswith(("http://", "https://"))
    assert cooked.startswith("<p>&lt;")


def test_raw_html_text_is_escaped_verbatim() -> None:
    assert cook("<b>hi</b> & <script>x</script>") == (
        "<p>&lt;b&gt;hi&lt;/b&gt; &amp; &lt;script&gt;x&lt;/script&gt;</p>\n"
    )


@pytest.mark.parametrize(
    "raw",
    [
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](jav&#x09;ascript:alert(1))",
        "[x](&#x6A;avascript:alert(1))",
        "[x](javascript&#58;alert(1))",
        "[x](<javascript:alert(1)>)",
        "<javascript:alert(1)>",
        "[x](vbscript:msgbox(1))",
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "[x][ref]\n\n[ref]: javascript:alert(1)",
        "[x](file:///etc/passwd)",
    ],
)
def test_dangerous_link_schemes_render_as_text(raw: str) -> None:
    cooked = cook(raw)
    assert_inert(cooked)
    assert tags(cooked, "a") == []
    assert "x" in cooked or "javascript" in cooked


@pytest.mark.parametrize(
    "raw",
    [
        "![pic](data:image/png;base64,iVBORw0KGgo=)",
        "![pic](data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=)",
        "![pic](javascript:alert(1))",
    ],
)
def test_dangerous_image_sources_dropped(raw: str) -> None:
    cooked = cook(raw)
    assert_inert(cooked)
    assert tags(cooked, "img") == []


@pytest.mark.parametrize(
    "raw",
    [
        "![pic](http://images.example/a.png)",
        "![pic](//evil.example/a.png)",
        "![pic](HTTP://images.example/a.png)",
    ],
)
def test_insecure_or_offsite_relative_images_become_alt_text(raw: str) -> None:
    cooked = cook(raw)
    assert tags(cooked, "img") == []
    assert cooked == "<p>pic</p>\n"


@pytest.mark.parametrize(
    "src", ["https://images.example/a.png", "/uploads/a.png", "HTTPS://images.example/b.png"]
)
def test_images_from_allowed_hosts_and_this_site_kept(src: str) -> None:
    hosts = frozenset({"images.example"})
    assert tags(cook(f'![a scan]({src} "Scan")', hosts), "img") == [
        {"src": src, "alt": "a scan", "title": "Scan"}
    ]


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("![a scan](https://tracker.example/a.png)", "a scan (image on tracker.example)"),
        ("![](https://tracker.example/a.png)", "An image (image on tracker.example)"),
        ("![x](https://Images.Example.evil/a.png)", "x (image on images.example.evil)"),
    ],
)
def test_images_from_other_hosts_become_links(raw: str, text: str) -> None:
    # Loading them would tell that host the address of every reader.
    cooked = cook(raw, frozenset({"images.example"}))
    assert tags(cooked, "img") == []
    [link] = tags(cooked, "a")
    assert (link["href"] or "").startswith("https://") and f">{text}</a>" in cooked


def test_the_sanitiser_drops_an_image_from_a_host_not_allowed() -> None:
    html = '<p><img src="https://tracker.example/p.png" alt="x"></p>'
    assert "tracker.example" not in clean_html(html)
    assert "tracker.example" in clean_html(html, frozenset({"tracker.example"}))


@pytest.mark.parametrize("raw", ["> " * 16 + "deep", "- " * 8 + "deep", "1. " * 8 + "deep"])
def test_nesting_deeper_than_can_be_shown_is_refused_not_dropped(raw: str) -> None:
    with pytest.raises(BadRequest) as refused:
        cook(raw)
    assert "nested too deeply" in refused.value.messages[0]


@pytest.mark.parametrize("raw", ["> " * 15 + "deep", "- " * 7 + "deep"])
def test_deep_but_allowed_nesting_shows_every_word(raw: str) -> None:
    assert "deep" in cook(raw)


@pytest.mark.parametrize(
    "char",
    [
        "\u200b",  # zero-width space
        "\u200c",  # zero-width non-joiner
        "\u200d",  # zero-width joiner
        "\u2060",  # word joiner
        "\ufeff",  # byte-order mark
        "\u202e",  # right-to-left override
        "\u2066",  # left-to-right isolate
        "\u00ad",  # soft hyphen
    ],
)
@pytest.mark.parametrize(
    "template",
    [
        "[bank](https://exa{c}mple.com/login)",  # host: the renderer punycodes it
        "[bank](https://example.com/lo{c}gin)",  # path: the renderer percent-encodes it
        "https://example.com/lo{c}gin",  # linkified bare URL
    ],
)
def test_urls_with_invisible_characters_dropped(template: str, char: str) -> None:
    cooked = cook(template.format(c=char))
    assert tags(cooked, "a") == []
    # The author's text survives; only the link is refused.
    assert f"gin{char}" in cooked or f"{char}gin" in cooked or f"exa{char}mple" in cooked


def test_image_with_zero_width_space_dropped() -> None:
    assert tags(cook("![x](https://exa\u200bmple.com/a.png)"), "img") == []


# --- The sanitizer on its own: the last line of defence for any HTML ----------------------


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<script>alert(1)</script>ok", "ok"),
        ("<style>p{color:red}</style>ok", "ok"),
        (
            '<img src="/a.png" onerror="alert(1)">',
            '<img src="/a.png">',
        ),
        ('<p onclick="alert(1)">hi</p>', "<p>hi</p>"),
        ('<iframe src="https://evil.example"></iframe>ok', "ok"),
        ('<a href="javascript:alert(1)">x</a>', f"<a {REL}>x</a>"),
        ('<a href="JaVaScRiPt:alert(1)">x</a>', f"<a {REL}>x</a>"),
        ('<a href="jav&#x09;ascript:alert(1)">x</a>', f"<a {REL}>x</a>"),
        ('<a href=" javascript:alert(1)">x</a>', f"<a {REL}>x</a>"),
        ('<a href="jav%09ascript:alert(1)">x</a>', f"<a {REL}>x</a>"),
        ('<a href="vbscript:msgbox(1)">x</a>', f"<a {REL}>x</a>"),
        ('<a href="data:text/html,&lt;script&gt;">x</a>', f"<a {REL}>x</a>"),
        ('<a href="https://exa&#8203;mple.com">x</a>', f"<a {REL}>x</a>"),
        ('<a href="https://xn--example-2z6c.com">x</a>', f"<a {REL}>x</a>"),
        ('<a href="https://example.com/%E2%80%AEfdp.exe">x</a>', f"<a {REL}>x</a>"),
        # A raw C1 control: as a character reference (&#x85;) HTML would remap it to "…".
        ('<a href="https://example.com/\x85">x</a>', f"<a {REL}>x</a>"),
        ('<a href="https://example.com/&#x2066;">x</a>', f"<a {REL}>x</a>"),
        (
            '<a href="http://x.example" style="position:fixed">x</a>',
            f'<a href="http://x.example" {REL}>x</a>',
        ),
        (
            '<a href="https://x.example" rel="opener">x</a>',
            f'<a href="https://x.example" {REL}>x</a>',
        ),
        ('<img src="data:image/png;base64,AAAA">', "<img>"),
        ('<img src="http://x.example/a.png">', "<img>"),
        ('<img src="//evil.example/a.png">', "<img>"),
        ('<img src="/\\evil.example/a.png">', "<img>"),
        ('<ol start="2;x"><li>a</li></ol>', "<ol><li>a</li></ol>"),
        ('<code class="btn-danger">x</code>', "<code>x</code>"),
        ('<p class="x" id="y" style="color:red">x</p>', "<p>x</p>"),
        (
            '<table><tr><td style="text-align:left;background:url(https://t.example)">1</td>'
            "</tr></table>",
            "<table><tbody><tr><td>1</td></tr></tbody></table>",
        ),
        ("<!-- hidden -->ok", "ok"),
    ],
)
def test_clean_html(html: str, expected: str) -> None:
    cleaned = clean_html(html)
    assert cleaned == expected
    assert_inert(cleaned)


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<svg onload=alert(1)><circle></circle></svg>", ""),
        ('<math><mtext><img src=x onerror="alert(1)"></mtext></math>', ""),
        ('<object data="javascript:alert(1)"></object>', ""),
        ('<form action="javascript:alert(1)"><button>go</button></form>', "go"),
        ('<meta http-equiv="refresh" content="0;url=javascript:alert(1)">', ""),
        ('<base href="https://evil.example/">', ""),
        ('<div style="background:url(javascript:alert(1))">x</div>', "x"),
    ],
)
def test_clean_html_removes_active_elements(html: str, expected: str) -> None:
    assert clean_html(html) == expected


# --- Excerpts -----------------------------------------------------------------------------


def test_excerpt_strips_tags_and_decodes_entities() -> None:
    assert excerpt(cook("Fish & **chips** > [peas](https://example.org)")) == (
        "Fish & chips > peas"
    )


def test_excerpt_separates_blocks_and_collapses_whitespace() -> None:
    cooked = cook("# Title\n\nfirst   para\nsecond line\n\n- one\n- two\n\n|a|b|\n|-|-|\n|1|2|")
    assert excerpt(cooked) == "Title first para second line one two a b 1 2"


def test_excerpt_separates_tags_without_newlines() -> None:
    assert excerpt("<p>one<br>two</p><ul><li>a</li><li>b</li></ul><p>x<em>y</em></p>") == (
        "one two a b xy"
    )


def test_excerpt_short_text_unchanged() -> None:
    assert excerpt("<p>short</p>", length=5) == "short"


@pytest.mark.parametrize(
    ("text", "length", "expected"),
    [
        ("alpha beta gamma delta", 14, "alpha beta…"),
        # The budget ends exactly on a whole word: keep it.
        ("alpha beta gamma", 11, "alpha beta…"),
        # Punctuation before the cut is dropped rather than shown as ",…".
        ("Hello, world and more", 8, "Hello…"),
        # One word longer than the budget is cut mid-word instead of vanishing.
        ("a" * 50, 10, "a" * 9 + "…"),
        ("ab cd", 1, "…"),
    ],
)
def test_excerpt_cuts_on_word_boundary(text: str, length: int, expected: str) -> None:
    assert excerpt(f"<p>{text}</p>", length=length) == expected


@pytest.mark.parametrize("length", [20, 57, 100, 200])
def test_excerpt_never_exceeds_length(length: int) -> None:
    cooked = cook("Living with a long-term condition means planning ahead. " * 20)
    result = excerpt(cooked, length=length)
    assert len(result) <= length
    assert result.endswith("…")
    assert result[:-1] == result[:-1].rstrip()


def test_excerpt_rejects_non_positive_length() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        excerpt("<p>x</p>", length=0)


def test_typed_table_html_gets_no_wrapper() -> None:
    assert "table-scroll" not in cook("<table><tr><td>x</td></tr></table>")


def test_bare_file_names_are_not_links() -> None:
    # Fuzzy linking would turn "cook.py" (Paraguay's domain) into a link; only typed URLs link.
    assert "<a" not in cook("see cook.py and e.g. notes.md")
