"""Post cooking: raw markdown to the safe HTML stored with a post, and plain-text excerpts
of that HTML for topic lists and the JSON API."""

import re
from html.parser import HTMLParser

from forum.content.markdown import render_markdown
from forum.content.sanitize import clean_html

ELLIPSIS = "…"

# Tags whose boundaries separate words; without a space "<p>a</p><p>b</p>" would read "ab".
_BLOCK_TAGS = frozenset(
    {
        "p",
        "br",
        "hr",
        "pre",
        "blockquote",
        "ul",
        "ol",
        "li",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
    }
)
_WHITESPACE_RE = re.compile(r"\s+")
# Trailing punctuation looks wrong before an ellipsis ("word,…").
_TRAILING = " \t\n,;:.!?([{-\u2013\u2014"  # ... plus en and em dash


def cook(raw: str, image_hosts: frozenset[str] = frozenset()) -> str:
    """Turn a post's raw markdown into the sanitized HTML to store and serve; `image_hosts`:
    the hosts whose images may load (others become links). BadRequest for markdown nested
    deeper than can be shown."""
    html = clean_html(render_markdown(raw, image_hosts), image_hosts)
    # A wide table scrolls inside a box that keyboard users can focus (WCAG 2.1.1). Added after
    # sanitising, which would strip tabindex; every <table> here is one our renderer wrote,
    # because HTML typed into a post is escaped, never parsed.
    return html.replace("<table>", _TABLE_SCROLL + "<table>").replace("</table>", "</table></div>")


_TABLE_SCROLL = '<div class="table-scroll" role="region" tabindex="0" aria-label="Table">'


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _plain_text(cooked: str) -> str:
    extractor = _TextExtractor()
    extractor.feed(cooked)
    extractor.close()
    return _WHITESPACE_RE.sub(" ", "".join(extractor.parts)).strip()


def excerpt(cooked: str, length: int = 200) -> str:
    """Plain text of cooked HTML, at most `length` characters, cut on a word boundary with "…".

    The result is text, not HTML: entities are decoded, so escape it wherever it is
    inserted into markup (Jinja's autoescape does).
    """
    if length < 1:
        raise ValueError("excerpt length must be at least 1")
    text = _plain_text(cooked)
    if len(text) <= length:
        return text
    budget = length - len(ELLIPSIS)
    # Look one character past the budget: a space there means the budget ends on a whole word.
    boundary = text.rfind(" ", 0, budget + 1)
    head = text[:boundary] if boundary > 0 else text[:budget]
    # A single word longer than the budget is cut mid-word rather than dropped.
    return (head.rstrip(_TRAILING) or text[:budget]) + ELLIPSIS
