"""Markdown rendering for posts: CommonMark with GitHub's tables, strikethrough and bare-URL
links, hard line breaks and no raw HTML, applying the sanitizer's URL policy as it renders.

pyromark (pulldown-cmark, compiled) parses; this module renders its event stream, because
each rule below is a decision about one event. The HTML is that of the markdown-it-py renderer
that cooked posts before (tests/content/legacy_markdown.py; docs/MARKDOWN.md lists the few
differences). Where pulldown-cmark reads the source differently, the source is adjusted: "<"
is hidden before parsing (raw HTML is text), and a few characters are escaped, then parsed
again, where markdown-it saw text (a refused link, markup inside a bare URL).

Images load only from this site or from hosts an admin allowed (settings.image_hosts): any
other image would tell its host the address of every reader, so it becomes a link. Text
nested deeper than the limit is refused, never dropped in silence.

(This module would read better as a package, linkify and URL forms apart; it is one file
because the content package's other files belong to other work.)"""

from __future__ import annotations

import codecs
import html
import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from functools import cache, lru_cache
from itertools import accumulate, pairwise
from typing import Any
from urllib.parse import quote

import pyromark

from forum.content.sanitize import image_host, is_safe_image_url, is_safe_link_url
from forum.errors import BadRequest

# Quotes and lists may open at most this deep, counted as markdown-it counted it (a quote is
# one level, a list two: list and item), so that no post accepted before is refused now.
# pulldown-cmark has no depth limit of its own; this one keeps pages readable.
MAX_NESTING = 15

# Single tildes are parsed as subscript only so that they are not strikethrough (GitHub's
# rule); they are rendered as the tildes they are, as before.
_PARSER = pyromark.Markdown(
    options=pyromark.Options.ENABLE_TABLES
    | pyromark.Options.ENABLE_STRIKETHROUGH
    | pyromark.Options.ENABLE_SUBSCRIPT
)

# Each fixing round can uncover one more fix (a refused link inside the text of another, say);
# real posts need one round or none. Past this the rest is rendered plainly, not looped on.
_MAX_FIX_ROUNDS = 4

_TOO_DEEP = (
    "This post has quotes or lists nested too deeply to be shown (15 quotes, or 7"
    " lists, inside each other at most). Please flatten them."
)


def render_markdown(raw: str, image_hosts: frozenset[str] = frozenset()) -> str:
    """Render post markdown to HTML. Not yet safe to serve: pass it through clean_html.

    Raises BadRequest for quotes or lists nested deeper than MAX_NESTING levels."""
    source = _Source(*_hide_html(_NEWLINE_RE.sub("\n", raw).replace("\0", "\ufffd")))
    for _ in range(_MAX_FIX_ROUNDS):
        escapes = _unsafe_definitions(source)
        pipes: set[int] = set()
        if not escapes:
            render = _Render(source, image_hosts, fixing=True)
            render.run()
            if not render.escapes and not render.pipes:
                return render.html()
            escapes, pipes = render.escapes, render.pipes
        source = source.fixed(escapes, pipes)
    render = _Render(source, image_hosts, fixing=False)
    render.run()
    return render.html()


_NEWLINE_RE = re.compile(r"\r\n?")


# --- Raw HTML is text ----------------------------------------------------------------------
#
# markdown-it ran with html=False: a "<" never opened an HTML block or tag. pulldown-cmark
# always parses HTML, and an HTML block changes the blocks around it, so rendering its events
# as text afterwards would still lose the markdown in and after it. So before parsing each "<"
# is swapped for a stand-in the parser takes as plain punctuation, as it took "<", and swapped
# back in everything the parser hands out. Kept as "<": the autolinks markdown-it made
# (<https://...>, <name@host>) and <destinations> of links and definitions.

_KEEP_LT_RE = re.compile(
    r"<(?:(?P<u>[a-zA-Z][a-zA-Z0-9+.\-]{1,31}:[^<>\x00-\x20]*)"
    r"|(?P<e>[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*))>"
)
_DESTINATION_BEFORE_RE = re.compile(r"\](?:\(|:)[ \t]*\Z")
_POINTY_RE = re.compile(r"<[^<>\n]*>")

# Punctuation of scripts no forum post is written in (Kharoshthi, Manichaean, Avestan,
# Brahmi, cuneiform): a stand-in must count as punctuation, as "<" does, or emphasis next to
# it would change. The first one absent from the post is used.
_STAND_INS = [
    chr(c)
    for first, last in (
        (0x10A50, 0x10A58),
        (0x10AF0, 0x10AF6),
        (0x10B39, 0x10B3F),
        (0x11047, 0x1104D),
        (0x12470, 0x12474),
    )
    for c in range(first, last + 1)
]


def _hide_html(text: str) -> tuple[str, str | None]:
    """`text` with each "<" markdown-it read as text swapped for a stand-in, and the stand-in
    (None when no "<" needs one, or when the post holds every stand-in: then raw HTML is
    parsed as HTML, and its events rendered as text)."""
    if "<" not in text:
        return text, None
    stand_in = next((c for c in _STAND_INS if c not in text), None)
    if stand_in is None:
        return text, None
    parts: list[str] = []
    last = 0
    at = text.find("<")
    while at != -1:
        slash = at
        while slash > last and text[slash - 1] == "\\":
            slash -= 1
        kept = (
            (at - slash) % 2  # "\<" is text already, and "\" before a stand-in would not be
            or (
                _DESTINATION_BEFORE_RE.search(text, max(0, at - 16), at)
                and _POINTY_RE.match(text, at)
            )
            or _is_safe_autolink(_KEEP_LT_RE.match(text, at))
        )
        if not kept:
            parts += (text[last:at], stand_in)
            last = at + 1
        at = text.find("<", at + 1)
    parts.append(text[last:])
    return "".join(parts), stand_in


def _is_safe_autolink(found: re.Match[str] | None) -> bool:
    # An autolink to a URL the policy refuses was text to markdown-it, so its "<" is hidden.
    if found is None:
        return False
    url = found.group("u")
    return is_safe_link_url(normalize_link("mailto:" + found.group("e") if url is None else url))


# --- The source, and what fixing rounds escape in it ---------------------------------------


class _Source:
    """The text the parser reads: the post with "<" hidden (`base`, UTF-8), and with some of
    its ASCII punctuation escaped by fixing rounds (`escapes`, base offsets) and some table
    rows given a leading "|" (`pipes`). An escape is a backslash before the character, but a
    backtick becomes "&#96;": after an unclosed "`" a backslash escapes nothing and "\\`"
    would close a code span (except on a line that opens with "```": there "&#96;" could turn
    the line, which holds a backtick no fence may hold, into a fence)."""

    __slots__ = (
        "_base_at",
        "_shift",
        "_starts",
        "backslashes",
        "base",
        "entities",
        "escapes",
        "parsed",
        "parsed_bytes",
        "pipes",
        "stand_in",
    )

    def __init__(
        self,
        text: str,
        stand_in: str | None = None,
        escapes: frozenset[int] = frozenset(),
        pipes: frozenset[int] = frozenset(),
    ):
        self.base = text.encode()
        self.stand_in = stand_in
        self.escapes = escapes
        self.pipes = pipes
        # For each change: where it starts in `parsed_bytes`, its base offset, and how much
        # longer than the base the parsed text is after it (to map parser offsets to base).
        self._starts: list[int] = []
        self._base_at: list[int] = []
        self._shift: list[int] = []
        self.backslashes: set[int] = set()  # parsed offsets of the backslashes added
        self.entities: set[tuple[int, int]] = set()  # parsed spans of the "&#96;" added
        if not escapes and not pipes:
            self.parsed_bytes = self.base
            self.parsed = text
            return
        pieces: list[bytes] = []
        last = shift = 0
        for at in sorted(escapes | pipes):
            change = self.base[at : at + 1]
            start = at + shift
            if at in pipes:
                change = b"|" + change
            if at in escapes:
                line = self.base.rfind(b"\n", 0, at) + 1
                if change.endswith(b"`") and not _FENCE_LINE_RE.match(self.base, line):
                    change = change[:-1] + b"&#96;"
                    self.entities.add((start + len(change) - 5, start + len(change)))
                else:
                    self.backslashes.add(start + len(change) - 1)
                    change = change[:-1] + b"\\" + change[-1:]
            pieces += (self.base[last:at], change)
            last = at + 1
            shift += len(change) - 1
            self._starts.append(start)
            self._base_at.append(at)
            self._shift.append(shift)
        pieces.append(self.base[last:])
        self.parsed_bytes = b"".join(pieces)
        self.parsed = self.parsed_bytes.decode()

    def fixed(self, escapes: set[int], pipes: set[int]) -> _Source:
        """This source with the characters at base offsets `escapes` escaped as well, and a
        "|" added before those at `pipes`."""
        return _Source(
            self.base.decode(), self.stand_in, self.escapes | escapes, self.pipes | pipes
        )

    def to_base(self, offset: int) -> int:
        """The base offset of a UTF-8 offset into `parsed` (a change maps to its character)."""
        if not self._starts:
            return offset
        i = bisect_right(self._starts, offset) - 1
        if i < 0:
            return offset
        if offset - self._starts[i] <= self._shift[i] - (self._shift[i - 1] if i else 0):
            return self._base_at[i]
        return offset - self._shift[i]

    def restore(self, value: str) -> str:
        """`value` from the parser with "<" put back."""
        if self.stand_in and self.stand_in in value:
            return value.replace(self.stand_in, "<")
        return value

    def line_from(self, start: int, end: int) -> str:
        """The base text from `start` to the end of its line or `end`, with "<" put back."""
        stop = self.base.find(b"\n", start, end)
        return self.restore(self.base[start : end if stop == -1 else stop].decode())

    def around(self, start: int, length: int) -> tuple[str, str]:
        """The characters just before base[start:start+length] and just after it, as
        markdown-it saw them: " " at either end of the text, "<" for the stand-in."""
        before = self.base[max(0, start - 4) : start].decode(errors="ignore")[-1:] or " "
        after = self.base[start + length : start + length + 4].decode(errors="ignore")[:1]
        return self.restore(before), self.restore(after or " ")


# A line that starts with a backtick fence, after any quote or list markers.
_FENCE_LINE_RE = re.compile(rb"(?:[ \t]*(?:>|(?:[-*+]|[0-9]{1,9}[.)])(?=[ \t])))*[ \t]*```")


def _unsafe_definitions(source: _Source) -> set[int]:
    """The "[" of each link definition whose URL the policy refuses, to escape: markdown-it
    did not take those as definitions, so they show as the text they are."""
    if "]:" not in source.parsed:
        return set()
    return {
        source.to_base(definition["span"]["start"])
        for definition in _PARSER.reference_definitions(source.parsed).values()
        if not is_safe_link_url(normalize_link(source.restore(definition["dest"])))
    }


_DELIMITER_CELL_RE = re.compile(rb"^:?-+:?$")
_UNESCAPED_PIPE_RE = re.compile(rb"(?<!\\)\|")


def _is_table_start(header: bytes, delimiter: bytes) -> bool:
    """Whether markdown-it's table rule took these two lines as the head of a table."""
    if len(delimiter) < 2 or delimiter[0] not in b"|-:" or delimiter[1] not in b"|-: \t":
        return False
    if (delimiter[0] == 0x2D and delimiter[1] in b" \t") or delimiter.strip(b"|-: \t"):
        return False
    cells = delimiter.split(b"|")
    columns = 0
    for i, cell in enumerate(cells):
        cell = cell.strip(b" \t")
        if not cell and (i == 0 or i == len(cells) - 1):
            continue
        if not _DELIMITER_CELL_RE.match(cell):
            return False
        columns += 1
    header = header.strip(b" \t")
    if b"|" not in header:
        return False
    heads = _UNESCAPED_PIPE_RE.split(header)  # markdown-it's escapedSplit, near enough
    if heads and not heads[0].strip(b" \t"):
        heads = heads[1:]
    if heads and not heads[-1].strip(b" \t"):
        heads = heads[:-1]
    return 0 < len(heads) == columns


# --- Rendering the events ------------------------------------------------------------------

_DEMOTED = {f"H{n}": f"h{min(n + 2, 6)}" for n in range(1, 7)}
_ALIGN = {
    "Left": ' class="align-left"',
    "Center": ' class="align-center"',
    "Right": ' class="align-right"',
}

_CONTAINERS = frozenset({"BlockQuote", "List", "Item"})
# Blocks whose text markdown-it parsed as one (an item's, in a tight list).
_INLINE_BLOCKS = frozenset({"Paragraph", "Heading", "TableCell", "Item"})

# What markdown-it trimmed from both ends of a paragraph, heading or cell (its mdTrim, which
# is JavaScript's trim() less U+FEFF). pulldown-cmark trims only spaces and tabs.
_TRIM = "\t\n\v\f\r \xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
_TRIM += "\u200a\u2028\u2029\u202f\u205f\u3000"

# ASCII punctuation, which a backslash escapes; less "|", whose escape would change where
# table cells split, and so whether a line is a table at all.
_URL_ESCAPES = frozenset(b"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{}~")
_MAY_LINK_RE = re.compile(r"@|//")
_MARKER_RE = re.compile(rb"[!-/:-@\[-`{-~]")


def _escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def _is_space(char: str) -> bool:
    # markdown-it's isWhiteSpace: Zs, and the ASCII spaces and line ends.
    return char in "\t\n\v\f\r " or unicodedata.category(char) == "Zs"


def _is_punct(char: str) -> bool:
    # markdown-it's isMdAsciiPunct or isPunctChar (Unicode P and S).
    return unicodedata.category(char)[0] in "PS"


@dataclass
class _Link:
    href: str | None  # None: the policy refused the URL; no <a>, in the last round only
    auto_text: str | None = None  # an autolink shows its URL as markdown-it normalised it
    escape_label_end: bool = False  # refused: the fixing round escapes the "(" after its text
    in_image: bool = False  # in an image's description: only its text counts


@dataclass
class _Image:
    dest: str
    title: str
    refused: bool
    alt: list[str] = field(default_factory=list)


Piece = tuple[str, int, int]  # text from the parser, with its span in the parsed bytes


class _Render:
    """One pass over the events of `source`: the HTML, and when `fixing`, the characters to
    escape (and the table rows to give a "|") before the parser reads the source as
    markdown-it did. The HTML of a pass that finds any is not used."""

    def __init__(self, source: _Source, image_hosts: frozenset[str], *, fixing: bool):
        self.source = source
        self.image_hosts = image_hosts
        self.fixing = fixing
        self.escapes: set[int] = set()  # base offsets of characters to escape
        self.pipes: set[int] = set()  # base offsets of table rows to begin with "|"
        self.out: list[str] = []
        self.pieces: list[Piece] = []  # the run of text not yet written
        self.text_at = -1  # where in `out` the last run of plain text went
        self.newline_due = False  # after a block tag: see _open
        self.trim_start = False  # at the start of a paragraph, heading, cell or item
        self.depth = 0
        self.links: list[_Link] = []
        self.images: list[_Image] = []
        # For each open link or image: where the search for the "](" after its text starts.
        self.labels: list[int] = []
        self.strikes: list[bool] = []  # for each open "~~": written as <s>, or as text
        self.code_block = ""  # "fenced" or "indented" inside a code block
        self.code_at_end = False  # a fenced block that runs to the end of the post
        self.aligns: tuple[str, ...] = ()
        self.cell = 0
        self.in_head = False
        self.body_open = False
        self.cell_end = 0  # base offset where the current table cell ends
        self.block = (0, 0)  # base span of the paragraph, heading, cell or item
        self.pretest: bool | None = None  # linkify-it's pretest on that span, once needed
        self._ends_of: list[Piece] | None = None  # the pieces `_ends` holds the ends of
        self._ends: list[int] = []
        self._on_start: dict[str, Callable[[Any, dict[str, int]], None]] = {
            "Paragraph": self._start_paragraph,
            "Heading": self._start_heading,
            "Emphasis": lambda _v, _s: self._inline("<em>"),
            "Strong": lambda _v, _s: self._inline("<strong>"),
            "Strikethrough": lambda _v, _s: self._inline("<s>"),
            "Link": self._start_link,
            "Image": self._start_image,
            "BlockQuote": lambda _v, _s: self._open("<blockquote>"),
            "List": self._start_list,
            "Item": lambda _v, _s: self._open("<li>"),
            "CodeBlock": self._start_code,
            "Table": self._start_table,
            "TableHead": self._start_head,
            "TableRow": self._start_row,
            "TableCell": self._start_cell,
            "HtmlBlock": self._start_paragraph,
        }
        self._on_end: dict[str, Callable[[Any, int], None]] = {
            "Paragraph": self._end_paragraph,
            "HtmlBlock": self._end_paragraph,
            "Heading": lambda tag, _l: self._end_block("</" + _DEMOTED[tag["Heading"]] + ">\n"),
            "Emphasis": lambda _t, _l: self.out.append("</em>"),
            "Strong": lambda _t, _l: self.out.append("</strong>"),
            "Strikethrough": lambda _t, _l: self.out.append("</s>"),
            "Link": self._end_link,
            "Image": self._end_image,
            "BlockQuote": lambda _t, _l: self._close_block("</blockquote>\n"),
            "List": lambda tag, _l: self._close_block("</ol>\n" if tag["List"] else "</ul>\n"),
            "Item": lambda _t, _l: self._end_block("</li>\n"),
            "CodeBlock": self._end_code,
            "Table": self._end_table,
            "TableHead": self._end_head,
            "TableRow": lambda _t, _l: self._close_block("</tr>\n"),
            "TableCell": self._end_cell,
        }

    def html(self) -> str:
        return "".join(self.out)

    def run(self) -> None:
        pieces = self.pieces
        labels = self.labels
        # Events are read by shape, as pyromark documents them (Any: mypy cannot narrow its
        # union of TypedDicts by key, and a cast per event would cost time).
        events: Iterator[tuple[Any, Any]] = _PARSER.events_with_range(self.source.parsed)
        for event, span in events:
            if event.__class__ is str:
                if labels:
                    labels[-1] = span["end"]
                if event != "Rule":
                    self._trailing_whitespace(event, span)
                if pieces:
                    self._flush_text()
                self.trim_start = False
                self._plain_event(event)
                continue
            ((kind, value),) = event.items()
            if kind == "Text":
                pieces.append((value, span["start"], span["end"]))
                if labels:
                    labels[-1] = span["end"]
                continue
            if labels and (kind != "End" or (value != "Link" and value != "Image")):
                labels[-1] = span["end"]
            if (value == "Subscript" or value == "Strikethrough") and self._tildes_as_text(
                kind, value, span
            ):
                continue
            if pieces:
                self._flush_text()
            self.trim_start = False
            if kind == "Start":
                self._start(value, span)
            elif kind == "End":
                self._end(value)
            elif kind == "Code":
                self._code(self.source.restore(value))
            else:  # Html or InlineHtml: only when no stand-in for "<" could be had
                self._code_like_html(self.source.restore(value))
            # Footnotes, task lists, maths and metadata are not enabled: no other event.
        if pieces:
            self._flush_text()

    # Newlines: markdown-it wrote one after an opening block tag unless inline content or its
    # closing tag came next, and one before a block tag that followed inline text. The
    # sanitizer keeps them, so they are reproduced for cooked posts to stay identical.
    def _open(self, tag: str, *, inline_next: bool = False) -> None:
        if self.newline_due or (self.out and not self.out[-1].endswith("\n")):
            self.out.append("\n")
        self.out.append(tag)
        self.newline_due = not inline_next

    def _close(self, tag: str) -> None:
        self.newline_due = False
        self.out.append(tag)

    def _close_block(self, tag: str) -> None:
        # An empty container closes on its own line: <blockquote></blockquote>.
        if not self.newline_due and self.out and not self.out[-1].endswith("\n"):
            self.out.append("\n")
        self._close(tag)

    def _end_block(self, tag: str) -> None:
        if self.text_at == len(self.out) - 1:
            self.out[-1] = self.out[-1].rstrip(_TRIM)
        self._close(tag)

    def _inline(self, markup: str) -> None:
        self.newline_due = False  # inline content in a tight <li> follows its tag directly
        self.out.append(markup)

    def _plain_event(self, event: str) -> None:
        if event == "Rule":
            self._open("<hr>\n", inline_next=True)
        elif self.images:
            self.images[-1].alt.append("\n")
        else:  # SoftBreak or HardBreak: every newline is a line break
            self._inline("<br>\n")

    def _code(self, code: str) -> None:
        if self.images:
            self.images[-1].alt.append(code)
        else:
            self._inline("<code>" + _escape(code) + "</code>")

    def _code_like_html(self, text: str) -> None:
        if self.images:
            self.images[-1].alt.append(text)
        else:
            self._inline(_escape(text).replace("\n", "<br>\n"))

    def _start(self, tag: Any, span: dict[str, int]) -> None:
        if type(tag) is str:
            name: str = tag
            value: Any = None
        else:
            ((name, value),) = tag.items()
        if name in _CONTAINERS:
            if self.depth >= MAX_NESTING:
                raise BadRequest(_TOO_DEEP)
            self.depth += 1
            if self.fixing and name != "Item":
                self._table_first(span["start"])
        elif name == "Link" or name == "Image":
            self.labels.append(span["start"] + (2 if name == "Image" else 1))
        if self.images:  # inside an image only its description counts
            if name == "Image":
                self.images.append(_Image(value["dest_url"], value["title"], self._refused(value)))
            elif name == "Link":
                self._start_link(value, span, quiet=True)
            return
        inline_block = name in _INLINE_BLOCKS
        if inline_block:
            self.block = (self.source.to_base(span["start"]), self.source.to_base(span["end"]))
            self.pretest = None
        self._on_start[name](value, span)
        self.trim_start = inline_block

    def _end(self, tag: Any) -> None:
        name: str = tag if type(tag) is str else next(iter(tag))
        if name in _CONTAINERS:
            self.depth -= 1
        label = self.labels.pop() if name == "Link" or name == "Image" else 0
        if self.images:
            if name == "Image":
                self._end_image(tag, label)
            elif name == "Link":
                self._end_link(tag, label)
            return
        self._on_end[name](tag, label)

    # --- blocks ---

    def _start_paragraph(self, _value: Any, _span: dict[str, int]) -> None:
        self._open("<p>", inline_next=True)

    def _end_paragraph(self, tag: Any, _label: int) -> None:
        self._end_block("</p>\n")
        if self.fixing and tag == "Paragraph":
            self._table_after_text()

    def _start_heading(self, value: Any, span: dict[str, int]) -> None:
        if self.fixing:
            self._table_first(span["start"])
        self._open("<" + _DEMOTED[value["level"]] + ">", inline_next=True)

    def _start_list(self, value: Any, _span: dict[str, int]) -> None:
        if value is None:
            self._open("<ul>")
        else:
            self._open("<ol>" if value == 1 else f'<ol start="{value}">')

    def _start_code(self, value: Any, span: dict[str, int]) -> None:
        fenced = value != "Indented"
        if fenced and self.fixing:
            self._table_first(span["start"])
        language = _code_class(self.source.restore(value["Fenced"])) if fenced else ""
        self._open("<pre><code" + language + ">", inline_next=True)
        self.code_block = "fenced" if fenced else "indented"
        self.code_at_end = fenced and span["end"] == len(self.source.parsed_bytes)

    def _end_code(self, _tag: Any, _label: int) -> None:
        if self.code_block == "indented" and not self.out[-1].endswith(("\n", ">")):
            self.out.append("\n")  # markdown-it ended an indented block with a newline
        self.code_block = ""
        self._close("</code></pre>\n")

    def _start_table(self, value: Any, _span: dict[str, int]) -> None:
        self.aligns = value
        self._open("<table>")

    def _start_head(self, _value: Any, _span: dict[str, int]) -> None:
        self.in_head = True
        self.cell = 0
        self._open("<thead>")
        self._open("<tr>")

    def _end_head(self, _tag: Any, _label: int) -> None:
        self._close_block("</tr>\n")
        self._close_block("</thead>\n")
        self.in_head = False

    def _start_row(self, _value: Any, _span: dict[str, int]) -> None:
        if not self.body_open:  # markdown-it wrote no <tbody> for a table without rows
            self._open("<tbody>")
            self.body_open = True
        self.cell = 0
        self._open("<tr>")

    def _start_cell(self, _value: Any, span: dict[str, int]) -> None:
        # Alignment as a class, not an inline style: the pages' Content-Security-Policy
        # allows no inline styles.
        align = self.aligns[self.cell] if self.cell < len(self.aligns) else "None"
        self._open(
            ("<th" if self.in_head else "<td") + _ALIGN.get(align, "") + ">", inline_next=True
        )
        self.cell_end = self.source.to_base(span["end"])

    def _end_cell(self, _tag: Any, _label: int) -> None:
        self._end_block("</th>\n" if self.in_head else "</td>\n")
        self.cell += 1

    def _end_table(self, _tag: Any, _label: int) -> None:
        if self.body_open:
            self._close_block("</tbody>\n")
            self.body_open = False
        self._close_block("</table>\n")

    def _table_first(self, start: int) -> None:
        """markdown-it tried a table before any other block: "- a | b" over "-|-" was a
        table whose first header is "- a", not a list. Escaping the block's marker makes it
        the same table to the parser."""
        base = self.source.base
        at = self.source.to_base(start)
        line_end = base.find(b"\n", at)
        if line_end == -1 or b"|" not in base[at:line_end]:
            return
        next_end = base.find(b"\n", line_end + 1)
        below = base[line_end + 1 : next_end if next_end != -1 else len(base)]
        prefix = at - (base.rfind(b"\n", 0, at) + 1)
        if below[:prefix].strip(b" \t>"):
            return
        if _is_table_start(base[at:line_end], below[prefix:].lstrip(b" \t")):
            marker = _MARKER_RE.search(base, at, line_end)
            if marker:
                self.escapes.add(marker.start())

    def _table_after_text(self) -> None:
        """markdown-it let a table start on any line of a paragraph, pulldown-cmark only on
        a line that starts with "|". So such a header row is given a leading "|": its cells
        stay the same (a leading pipe only marks where the first one starts)."""
        low, high = self.block
        paragraph = self.source.base[low:high]
        if b"|" not in paragraph or b"\n" not in paragraph:
            return
        lines = paragraph.split(b"\n")
        at = low + len(lines[0]) + 1
        for header, delimiter in pairwise(lines[1:]):
            content = len(header) - len(header.lstrip(b" \t>"))
            if _is_table_start(header[content:], delimiter.lstrip(b" \t>")):
                if header[content:][:1] != b"|":
                    self.pipes.add(at + content)
                return
            at += len(header) + 1

    # --- links and images ---

    def _refused(self, value: dict[str, Any]) -> bool:
        """Whether the policy refuses this link's or image's URL. markdown-it then did not
        make a link at all: the fixing round escapes its "(" (see _escape_label_end)."""
        dest = self.source.restore(value["dest_url"])
        if value["link_type"] == "Email":
            dest = "mailto:" + dest
        if is_safe_link_url(normalize_link(dest)):
            return False
        # The exception: markdown-it made [text]() an <a href=""> (the sanitizer drops href).
        return not (dest == "" and value["link_type"] == "Inline")

    def _escape_label_end(self, label: int) -> None:
        # The "(" after "[text]": the text stays, and "[text]" is still a reference link if
        # one is defined, as in markdown-it. Else (a reference link, refused only in the
        # last round) its "[".
        at = self.source.parsed_bytes.find(b"](", label)
        self.escapes.add(self.source.to_base(at + 1 if at != -1 else label - 1))

    def _start_link(self, value: Any, span: dict[str, int], quiet: bool = False) -> None:
        """Open a link (`quiet`: one in an image's description, which only adds its text)."""
        kind = value["link_type"]
        if self._refused(value):
            autolink = kind == "Autolink" or kind == "Email"
            if autolink and self.fixing:
                # Kept as "<" by _hide_html, yet refused: the <destination> of a link refused
                # in an earlier round. Then it is text, as any other "<".
                self.escapes.add(self.source.to_base(span["start"]))
            self.links.append(_Link(None, None, not autolink, quiet))
            return
        dest = self.source.restore(value["dest_url"])
        auto_text = None
        if kind == "Email":
            auto_text = normalize_link_text(dest)
            dest = "mailto:" + dest
        elif kind == "Autolink":
            auto_text = normalize_link_text(dest)
        href = normalize_link(dest)
        self.links.append(_Link(href, auto_text, in_image=quiet))
        if not quiet:
            title = self.source.restore(value["title"])
            title_attr = f' title="{_escape(title)}"' if title else ""
            self._inline(f'<a href="{_escape(href)}"{title_attr}>')

    def _end_link(self, _tag: Any, label: int) -> None:
        link = self.links.pop()
        if link.href is None:
            if link.escape_label_end and self.fixing:
                self._escape_label_end(label)
        elif not link.in_image:
            self.out.append("</a>")

    def _start_image(self, value: Any, _span: dict[str, int]) -> None:
        self.images.append(_Image(value["dest_url"], value["title"], self._refused(value)))

    def _end_image(self, _tag: Any, label: int) -> None:
        image = self.images.pop()
        if image.refused and self.fixing:
            self._escape_label_end(label)
        if self.images:
            self.images[-1].alt.extend(image.alt)
            return
        alt = _escape("".join(image.alt))
        if image.refused:
            self._inline(alt)
            return
        src = normalize_link(self.source.restore(image.dest))
        if not is_safe_image_url(src):
            # An image we will not load (http, off-site "//", ...) still carries the author's
            # words: show its alt text rather than an empty <img> the sanitizer would leave.
            self._inline(alt)
            return
        host = image_host(src)
        if host is not None and host not in self.image_hosts:
            # Shown as a link: the reader chooses whether that host learns their address.
            text = f"{alt or 'An image'} (image on {_escape(host)})"
            self._inline(f'<a href="{_escape(src)}">{text}</a>')
            return
        title = self.source.restore(image.title)
        title_attr = f' title="{_escape(title)}"' if title else ""
        self._inline(f'<img src="{_escape(src)}" alt="{alt}"{title_attr}>')

    # --- text ---

    def _tildes_as_text(self, kind: str, name: str, span: dict[str, int]) -> bool:
        """Whether these tildes are text to markdown-it, and so added to the run of text:
        a single tilde always (parsed as subscript only so as not to be strikethrough), and
        "~~" that markdown-it's flanking rules would not have let open or close."""
        start, end = span["start"], span["end"]
        if name == "Strikethrough" and kind == "Start":
            struck = self._can_strike(start, end)
            self.strikes.append(struck)
            if struck:
                return False
            at = [start, start + 1]
        elif name == "Strikethrough":
            if self.strikes.pop():
                return False
            at = [end - 2, end - 1]
        else:
            at = [start if kind == "Start" else end - 1]
        # When fixing, the tildes are escaped too: as delimiters they would still bound the
        # emphasis around them ("~**a~*" is no emphasis to the parser), as text in
        # markdown-it does not.
        if self.fixing:
            self.escapes.update(self.source.to_base(i) for i in at)
        self.pieces.extend(("~", i, i + 1) for i in at)
        return True

    def _can_strike(self, start: int, end: int) -> bool:
        # markdown-it's scanDelims for "~~": the opening run must be left-flanking and the
        # closing one right-flanking. pulldown-cmark lets "a~~,b~~" strike; markdown-it not.
        before, after = self.source.around(self.source.to_base(start), 2)
        if _is_space(after) or (_is_punct(after) and not (_is_space(before) or _is_punct(before))):
            return False
        before, after = self.source.around(self.source.to_base(end - 2), 2)
        return not (
            _is_space(before) or (_is_punct(before) and not (_is_space(after) or _is_punct(after)))
        )

    def _trailing_whitespace(self, event: str, span: dict[str, int]) -> None:
        # A line's trailing tabs (and spaces before them), which markdown-it kept in the text
        # before a line break: it dropped only the final spaces. pulldown-cmark drops all.
        parsed = self.source.parsed_bytes
        start = span["start"]
        if event == "HardBreak":
            if parsed[start : start + 1] not in (b" ", b"\t"):
                return  # a backslash before the line end: nothing was trimmed
        else:
            while start > 0 and parsed[start - 1] in b" \t":
                start -= 1
        line_end = parsed.find(b"\n", start)
        kept = parsed[start : line_end if line_end != -1 else len(parsed)].rstrip(b" ")
        if kept:
            self.pieces.append((kept.decode(), start, start + len(kept)))

    def _flush_text(self) -> None:
        pieces = self.pieces
        if len(pieces) == 1 and not (self.images or self.links or self.code_block):
            # The common case: one piece of plain text.
            text = self.source.restore(pieces[0][0])
            if not (self.trim_start and text[:1] in _TRIM) and not _MAY_LINK_RE.search(text):
                self._inline(_escape(text))
                self.text_at = len(self.out) - 1
                self.trim_start = False
                pieces.clear()
                return
        if self.trim_start and pieces[0][0][:1] in _TRIM:
            pieces = _trimmed(pieces)
        joined = (
            "".join(p[0] for p in pieces) if len(pieces) > 1 else pieces[0][0] if pieces else ""
        )
        text = self.source.restore(joined)
        self.trim_start = False
        if not text:
            pass
        elif self.images and self.links and self.links[-1].in_image:
            auto_text = self.links[-1].auto_text
            self.images[-1].alt.append(text if auto_text is None else auto_text)
        elif self.images:
            self.images[-1].alt.append(self._linkified(text, pieces, alt=True))
        elif self.links:
            auto_text = self.links[-1].auto_text
            self._inline(_escape(text if auto_text is None else auto_text))
        elif self.code_block:
            if self.code_at_end and text[text.rfind("\n") + 1 :].isspace():
                # A fence left open at the end of the post: markdown-it dropped a last line
                # of only spaces or tabs.
                text = text[: text.rfind("\n") + 1]
            self._inline(_escape(text))
        else:
            self._inline(self._linkified(text, pieces))
            self.text_at = len(self.out) - 1
        self.pieces.clear()
        self._ends_of = None

    def _linkified(self, text: str, pieces: list[Piece], *, alt: bool = False) -> str:
        """`text` escaped, with its bare URLs as links, as markdown-it's two linkify rules
        made them: URLs typed with "://" as its inline parser met them, then mailto:, "//"
        and e-mail addresses in the text tokens left between. With `alt`, the plain text of
        an image's description: only the first rule ran there, and it showed each URL as
        its link text."""
        if "://" not in text and (alt or not _MAY_LINK_RE.search(text)):
            return text if alt else _escape(text)
        specials = self._specials(pieces)
        parts: list[str] = []
        pending = 0  # where the text markdown-it's inline parser had not yet emitted starts
        colon = text.find("://")
        while colon != -1:
            special = bisect_left(specials, (colon + 1,)) - 1
            start = -1
            if special < 0 or specials[special][1] <= colon:
                after_special = specials[special][1] if special >= 0 else 0
                start = _scheme_start(text, max(pending, after_special), colon)
            url = self._url_at(text, start, pieces) if start != -1 else ""
            if url and is_safe_link_url(href := normalize_link(url)):
                if alt:
                    parts += (text[pending:start], normalize_link_text(url))
                else:
                    parts.append(self._core_run(text, pending, start, specials))
                    parts.append(f'<a href="{_escape(href)}">')
                    parts.append(_escape(normalize_link_text(url)) + "</a>")
                pending = start + len(url)
                colon = text.find("://", pending)
                continue
            colon = text.find("://", colon + 1)
        if alt:
            return "".join(parts) + text[pending:]
        parts.append(self._core_run(text, pending, len(text), specials))
        return "".join(parts)

    def _specials(self, pieces: list[Piece]) -> list[tuple[int, int]]:
        """Where in the run's text markdown-it had "text_special" tokens: an escaped
        character, a backslash before any other character, an entity. Its text tokens ended
        at each, which decides what its linkify rules saw."""
        parsed = self.source.parsed_bytes
        specials: list[tuple[int, int]] = []
        offset = 0
        for piece, begin, end in pieces:
            if end - begin != len(piece.encode()) or parsed[begin:end].decode() != piece:
                if (begin, end) not in self.source.entities:
                    specials.append((offset, offset + len(piece)))  # an entity
                offset += len(piece)
                continue
            scan = 0
            if begin and parsed[begin - 1] == 0x5C:
                if begin - 1 in self.source.backslashes:
                    scan = 1  # escaped by a fixing round: part of a URL, plain text
                else:
                    slashes = 1
                    while begin - slashes > 0 and parsed[begin - slashes - 1] == 0x5C:
                        slashes += 1
                    if slashes % 2:  # the piece starts with the character a backslash escaped
                        specials.append((offset, offset + 1))
                        scan = 1
            slash = piece.find("\\", scan)
            while slash != -1 and slash + 1 < len(piece):
                specials.append((offset + slash, offset + slash + 2))
                slash = piece.find("\\", slash + 2)
            offset += len(piece)
        return specials

    def _url_at(self, text: str, start: int, pieces: list[Piece]) -> str:
        """The URL markdown-it's inline linkify rule took at `start` in the parsed text, if
        the text holds it as typed; else "" (and, when fixing, the escapes that make it so).

        markdown-it took it from the typed source, before any markup in it ("*", "_", "`",
        "[" ... belong to a URL) and with its backslashes and entities as typed. The parser
        may have read some of those as markup or escapes: then the fixing round escapes the
        URL's punctuation, so the parser reads it as the plain text markdown-it saw."""
        # The piece that holds `start` (found by bisection: a run can hold many pieces).
        if self._ends_of is not pieces:
            self._ends_of, self._ends = pieces, list(accumulate(len(p[0]) for p in pieces))
        i = bisect_right(self._ends, start)
        if i == len(pieces):
            return _match_scheme_url(text, start).rstrip("*")  # a final "*" is emphasis
        piece, begin, end = pieces[i]
        offset = self._ends[i] - len(piece)
        if self.source.parsed_bytes[begin:end].decode() != piece:
            # The scheme itself came from an escape or an entity: take the parsed text.
            return _match_scheme_url(text, start).rstrip("*")
        at = self.source.to_base(begin + len(piece[: start - offset].encode()))
        limit = self.cell_end if self.cell_end > at else len(self.source.base)
        limit = min(limit, at + 4 * _LONGEST_URL + 64)  # (UTF-8: up to 4 bytes a character)
        typed = _match_scheme_url(self.source.line_from(at, limit), 0).rstrip("*")
        if text.startswith(typed, start):
            return typed  # (the parsed text can end where the typed source went on)
        if not self.fixing or not typed or not is_safe_link_url(normalize_link(typed)):
            return ""  # markdown-it refused it too; its core rule looks at the text left
        end = at + len(typed.encode())
        region = self.source.base[at:end]
        self.escapes.update(at + i for i, c in enumerate(region) if c in _URL_ESCAPES)
        if region.endswith(b"\\") and self.source.base[end : end + 1] == b"]":
            # The URL took the backslash, but markdown-it had already looked for the end of
            # any link text around it, and to that look "\]" was no end.
            self.escapes.add(end)
        return ""

    def _core_run(self, text: str, start: int, end: int, specials: list[tuple[int, int]]) -> str:
        """text[start:end] escaped, with the links markdown-it's core linkify rule found in
        its text tokens: the stretches between `specials`, which it never linkified."""
        if start >= end:
            return ""
        parts: list[str] = []
        at = start
        after_special = False
        for i in range(bisect_left(specials, (start,)), len(specials)):
            low, high = specials[i]
            if low >= end:
                break
            low, high = max(low, at), min(high, end)
            if low > at:
                parts.append(self._core_linkified(text[at:low], after_special))
            parts.append(_escape(text[low:high]))
            at = high
            after_special = True
        if at < end:
            parts.append(self._core_linkified(text[at:end], after_special))
        return "".join(parts)

    def _core_linkified(self, text: str, after_special: bool) -> str:
        """`text` escaped, with the links markdown-it's core linkify rule found in it."""
        if not _MAY_LINK_RE.search(text):
            return _escape(text)
        links = _core_links(text)
        # markdown-it looked at a block only if linkify-it's quick pretest passed on its
        # source; an e-mail address always passes it ("@"), "//x" may not ("~~//x~~").
        if not links or not self._block_pretest():
            return _mentioned(text)
        # After a text_special token it skipped a link at the very start ("http\://x").
        if after_special and links[0][0] == 0:
            links.pop(0)
        return _linked(text, links)

    def _block_pretest(self) -> bool:
        if self.pretest is None:
            low, high = self.block
            self.pretest = _pretest(self.source.restore(self.source.base[low:high].decode()))
        return self.pretest


def _trimmed(pieces: list[Piece]) -> list[Piece]:
    """`pieces` without the whitespace markdown-it trimmed from the start of a block."""
    while pieces:
        text, begin, end = pieces[0]
        kept = text.lstrip(_TRIM)
        if kept:
            cut = len(text[: len(text) - len(kept)].encode())
            return [(kept, begin + cut, end), *pieces[1:]]
        pieces = pieces[1:]
    return pieces


def _code_class(info: str) -> str:
    # The first word of the fence's info string names the language, as in markdown-it (which
    # decoded escapes and entities in it first); the sanitizer keeps only plausible names.
    info = _unescape_all(info).strip(_TRIM)
    if not info:
        return ""
    language = _TRIM_RUN_RE.split(info, maxsplit=1)[0]
    return f' class="language-{_escape(language)}"'


_TRIM_RUN_RE = re.compile(f"[{re.escape(_TRIM)}]+")
_UNESCAPE_RE = re.compile(
    r"\\([!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])"
    r"|&(#[0-9]{1,7};|#[xX][0-9a-fA-F]{1,6};|[A-Za-z][A-Za-z0-9]{1,31};)"
)


def _unescape_all(text: str) -> str:
    if "\\" not in text and "&" not in text:
        return text

    def one(found: re.Match[str]) -> str:
        if found.group(1) is not None:
            return found.group(1)
        entity = "&" + found.group(2)
        decoded = html.unescape(entity)
        return entity if decoded == entity else decoded

    return _UNESCAPE_RE.sub(one, text)


# --- URLs as markdown-it wrote them (its normalizeLink and normalizeLinkText) --------------
#
# Links keep the exact form old posts were cooked with: percent-encoded, with an
# internationalised host in punycode (so the sanitizer can see hidden characters in it), and
# the text of an autolink decoded back for reading. Ported from mdurl, which markdown-it uses.

_RECODE_HOSTNAME_FOR = ("http:", "https:", "mailto:")
_PROTOCOL_RE = re.compile(r"^([a-z0-9.+-]+:)", re.IGNORECASE)
_PORT_RE = re.compile(r":[0-9]*$")
_HOST_PART_RE = re.compile(r"^[+a-z0-9A-Z_-]{0,63}$")
_HOST_PART_START_RE = re.compile(r"^([+a-z0-9A-Z_-]{0,63})(.*)$")
_HOST_END_RE = re.compile(r"[/?#]")
_NON_HOST_RE = re.compile(r"[%/?;#'{}|\\^`<>\" \r\n\t]")
_SLASHED = frozenset({"http:", "https:", "ftp:", "gopher:", "file:"})


@dataclass
class _Url:
    protocol: str = ""
    slashes: bool = False
    auth: str = ""
    hostname: str | None = None
    port: str = ""
    rest: str = ""

    def format(self, hostname: str | None = None) -> str:
        host = self.hostname if hostname is None else hostname
        if host and ":" in host:
            host = "[" + host + "]"
        return (
            self.protocol
            + ("//" if self.slashes else "")
            + (self.auth + "@" if self.auth else "")
            + (host or "")
            + (":" + self.port if self.port else "")
            + self.rest
        )


def _parse_url(url: str) -> _Url:
    """mdurl.parse(url, slashes_denote_host=True), keeping only what format() puts back."""
    parsed = _Url()
    rest = url.strip()
    proto = ""
    found = _PROTOCOL_RE.match(rest)
    if found:
        proto = found.group()
        parsed.protocol = proto
        rest = rest[len(proto) :]
    hostless = proto == "javascript:"  # case-sensitive in mdurl, as below
    slashes = rest.startswith("//")
    if slashes and not hostless:
        rest = rest[2:]
        parsed.slashes = True
    if hostless or not (slashes or (proto and proto not in _SLASHED)):
        parsed.rest = rest
        return parsed
    host_ends = _HOST_END_RE.search(rest)
    at_sign = rest.rfind("@", 0, host_ends.start() + 1 if host_ends else len(rest))
    if at_sign != -1:
        parsed.auth = rest[:at_sign]
        rest = rest[at_sign + 1 :]
    stop = _NON_HOST_RE.search(rest)
    host_end = stop.start() if stop else len(rest)
    if host_end > 0 and rest[host_end - 1] == ":":
        host_end -= 1
    host, rest = rest[:host_end], rest[host_end:]
    port = _PORT_RE.search(host)
    if port:
        if port.group() != ":":
            parsed.port = port.group()[1:]
        host = host[: -len(port.group())]
    hostname = host
    ipv6 = hostname.startswith("[") and hostname.endswith("]")
    if not ipv6:
        parts = hostname.split(".")
        for i, part in enumerate(parts):
            if not part or _HOST_PART_RE.search(part):
                continue
            if _HOST_PART_RE.search("".join("x" if ord(c) > 127 else c for c in part)):
                continue
            valid, not_host = parts[:i], parts[i + 1 :]
            bit = _HOST_PART_START_RE.search(part)
            if bit:
                valid.append(bit.group(1))
                not_host.insert(0, bit.group(2))
            if not_host:
                rest = ".".join(not_host) + rest
            hostname = ".".join(valid)
            break
    if len(hostname) > 255:
        hostname = ""
    if ipv6:
        hostname = hostname[1:-1]
    parsed.hostname = hostname
    parsed.rest = rest
    return parsed


_ENCODE_RE = re.compile(r"%[0-9A-Fa-f]{2}|[^A-Za-z0-9;/?:@&=+$,\-_.!~*'()#]")


def _encode_char(found: re.Match[str]) -> str:
    char = found.group()
    if len(char) == 3:
        return char  # already percent-encoded
    if "\ud800" <= char <= "\udfff":
        return "%EF%BF%BD"
    return quote(char, safe="")


def _percent_encode(text: str) -> str:
    return _ENCODE_RE.sub(_encode_char, text)


_DECODE_RE = re.compile(r"(%[a-f0-9]{2})+", re.IGNORECASE)
_DECODE_KEEP = frozenset(";/?:@&=+$,#%")


def _decode_run(found: re.Match[str]) -> str:
    run = found.group()
    codes = [int(run[i + 1 : i + 3], 16) for i in range(0, len(run), 3)]
    out: list[str] = []
    i = 0
    while i < len(codes):
        b1 = codes[i]
        if b1 < 0x80:
            char = chr(b1)
            out.append(f"%{b1:02X}" if char in _DECODE_KEEP else char)
            i += 1
            continue
        size = 2 if b1 & 0xE0 == 0xC0 else 3 if b1 & 0xF0 == 0xE0 else 4 if b1 & 0xF8 == 0xF0 else 0
        tail = codes[i + 1 : i + size]
        if size and len(tail) == size - 1 and all(b & 0xC0 == 0x80 for b in tail):
            try:
                out.append(bytes(codes[i : i + size]).decode())
            except UnicodeDecodeError:
                out.append("\ufffd" * size)
            i += size
            continue
        out.append("\ufffd")
        i += 1
    return "".join(out)


_LABEL_SEPARATORS_RE = re.compile(r"[\x2E\u3002\uFF0E\uFF61]")
_NON_ASCII_RE = re.compile(r"[^\0-\x7E]")


def _punycode_host(host: str, encode: bool) -> str:
    parts = host.split("@")
    prefix = ""
    if len(parts) > 1:  # markdown-it's punycode: only the domain of an address
        prefix, host = parts[0] + "@", parts[1]
    labels = _LABEL_SEPARATORS_RE.split(host)
    if encode:
        labels = [
            "xn--" + codecs.encode(label, "punycode").decode()
            if _NON_ASCII_RE.search(label)
            else label
            for label in labels
        ]
    else:
        labels = [
            codecs.decode(label[4:].lower().encode(), "punycode")
            if label.startswith("xn--")
            else label
            for label in labels
        ]
    return prefix + ".".join(labels)


@lru_cache(maxsize=1024)
def normalize_link(url: str) -> str:
    """A link destination as markdown-it wrote it into href (its normalizeLink)."""
    parsed = _parse_url(url)
    hostname = parsed.hostname
    if hostname and (not parsed.protocol or parsed.protocol in _RECODE_HOSTNAME_FOR):
        with suppress(Exception):
            hostname = _punycode_host(hostname, encode=True)
    if not hostname or ":" not in hostname:
        return _percent_encode(parsed.format(hostname))
    encoded = _Url(
        _percent_encode(parsed.protocol),
        parsed.slashes,
        _percent_encode(parsed.auth),
        _percent_encode(hostname),
        parsed.port,
        _percent_encode(parsed.rest),
    )
    return encoded.format()


@lru_cache(maxsize=1024)
def normalize_link_text(url: str) -> str:
    """The text of an autolink as markdown-it showed it (its normalizeLinkText)."""
    parsed = _parse_url(url)
    hostname = parsed.hostname
    if hostname and (not parsed.protocol or parsed.protocol in _RECODE_HOSTNAME_FOR):
        with suppress(Exception):
            hostname = _punycode_host(hostname, encode=False)
    return _DECODE_RE.sub(_decode_run, parsed.format(hostname))


# --- Bare URLs, as linkify-it found them ----------------------------------------------------
#
# Ported from linkify-it-py's patterns with fuzzy links off (so "cook.py" and "www.x.com"
# stay text): URLs with http(s)/ftp/mailto or "//", and e-mail addresses.

_TLDS_2 = (
    "a[cdefgilmnoqrstuwxz]|b[abdefghijmnorstvwyz]|c[acdfghiklmnoruvwxyz]|d[ejkmoz]|"
    "e[cegrstu]|f[ijkmor]|g[abdefghilmnpqrstuwy]|h[kmnrtu]|i[delmnoqrst]|j[emop]|"
    "k[eghimnprwyz]|l[abcikrstuvy]|m[acdeghklmnopqrstuvwxyz]|n[acefgilopruz]|om|"
    "p[aefghklmnrstwy]|qa|r[eosuw]|s[abcdeghijklmnortuvxyz]|t[cdfghjklmnortvwz]|u[agksyz]|"
    "v[aceginu]|w[fs]|y[et]|z[amw]"
)
_TLDS = "biz|com|edu|gov|net|org|pro|web|xxx|aero|asia|coop|info|museum|name|shop|рф"


def _class_of(codes: list[int]) -> str:
    ranges: list[str] = []
    start = prev = codes[0]
    for code in [*codes[1:], -2]:
        if code == prev + 1:
            prev = code
            continue
        ranges.append(re.escape(chr(start)) + ("-" + re.escape(chr(prev)) if prev > start else ""))
        start = prev = code
    return "".join(ranges)


@dataclass(frozen=True)
class _LinkPatterns:
    schema: re.Pattern[str]
    http: re.Pattern[str]
    double_slash: re.Pattern[str]
    mailto: re.Pattern[str]
    email_fuzzy: re.Pattern[str]
    host_fuzzy_test: re.Pattern[str]


@cache
def _patterns() -> _LinkPatterns:
    """linkify-it's patterns, built on first use: the Unicode punctuation class is read from
    unicodedata, which takes some milliseconds."""
    punctuation = _class_of(
        [c for c in range(0x20000) if unicodedata.category(chr(c)).startswith("P")]
    )
    cc = "\\x00-\\x1f\\x7f-\\x9f"
    zcc = f"[\\s{cc}]"
    zpcc = f"[\\s{cc}{punctuation}]"
    separators = "[><\uff5c]"
    letter = f"[^><\uff5c\\s{cc}{punctuation}]"
    auth = f"(?:(?:(?!{zcc}|[@/\\[\\]()]).){{1,50}}@)?"
    port = "(?::(?:6(?:[0-4]\\d{3}|5(?:[0-4]\\d{2}|5(?:[0-2]\\d|3[0-5])))|[1-5]?\\d{1,4}))?"
    email_name = '[\\-;:&=\\+\\$,\\.a-zA-Z0-9_][\\-;:&=\\+\\$,\\"\\.a-zA-Z0-9_]{0,63}'
    xn = "xn--[a-z0-9\\-]{1,59}"
    domain_root = f"(?:{xn}|{letter}{{1,63}})"
    domain = f"(?:{xn}|(?:{letter})|(?:{letter}(?:-|{letter}){{0,61}}{letter}))"
    host = f"(?:(?:(?:{domain})\\.)*{domain})"
    ip4 = "(?:(25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)\\.){3}(25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)"
    tlds = f"{_TLDS}|{_TLDS_2}|{xn}"
    host_fuzzy = f"(?:{ip4}|(?:(?:(?:{domain})\\.)+(?:{tlds})))"
    terminator = f"(?={'$'}|{separators}|{zpcc})(?!-|_|:\\d|\\.-|\\.(?!$|{zpcc}))"
    # linkify-it writes "(?!{zcc}|X)." for these; a negated class means the same (its "."
    # stops at "\n", which \s holds) and runs ten times faster.
    path = (
        "(?:[/?#](?:"
        f"[^\\s{cc}><\uff5c()[\\]{{}}.,\"'?!\\-;]|"
        f"\\[[^\\s{cc}\\]]*\\]|"
        f"\\([^\\s{cc})]*\\)|"
        f"\\{{[^\\s{cc}}}]*\\}}|"
        f'\\"[^\\s{cc}"]+\\"|'
        f"\\'[^\\s{cc}']+\\'|"
        f"\\'(?={letter}|[-])|"
        "\\.{2,}[a-zA-Z0-9%/&]|"
        f"\\.(?!{zcc}|[.]|$)|"
        "\\-+|"
        f",(?!{zcc}|$)|"
        f";(?!{zcc}|$)|"
        f"\\!+(?!{zcc}|[!]|$)|"
        f"\\?(?!{zcc}|[?]|$)"
        ")+|\\/)?"
    )
    schemas = "http:|https:|ftp:|//|mailto:"
    flags = re.IGNORECASE
    return _LinkPatterns(
        schema=re.compile(f"({schemas})", flags),
        http=re.compile(f"\\/\\/{auth}{host}{port}{terminator}{path}", flags),
        double_slash=re.compile(
            f"{auth}(?:localhost|(?:(?:{domain})\\.)+{domain_root}){port}{terminator}{path}",
            flags,
        ),
        mailto=re.compile(f"{email_name}@{host}{terminator}", flags),
        email_fuzzy=re.compile(
            f'(^|{separators}|"|\\(|{zcc})({email_name}@{host_fuzzy}{terminator})', flags
        ),
        host_fuzzy_test=re.compile(
            f"localhost|www\\.|\\.\\d{{1,3}}\\.|(?:\\.(?:{tlds})(?:{zpcc}|>|$))", flags
        ),
    )


def _schema_tail(patterns: _LinkPatterns, schema: str, text: str, at: int) -> int:
    """The length of a valid link after `schema` ending at `at` (0: none). The match looks
    no further than _LONGEST_URL: linkify-it's patterns scan a word to its end for a closing
    bracket, so a long word of URLs would otherwise take quadratic time."""
    schema = schema.lower()
    end = at + _LONGEST_URL
    if schema == "//":
        found = patterns.double_slash.match(text, at, end)
        if not found or (at >= 3 and text[at - 3] in ":/"):
            return 0
        return len(found.group())
    pattern = patterns.mailto if schema == "mailto:" else patterns.http
    found = pattern.match(text, at, end)
    return len(found.group()) if found else 0


# Longer URLs are cut here (markdown-it linked them whole); no real post has one.
_LONGEST_URL = 4096


def _match_scheme_url(text: str, start: int) -> str:
    """The URL with a scheme starting at `start`, as linkify-it's match_at_start found it."""
    patterns = _patterns()
    found = patterns.schema.match(text, start)
    if not found:
        return ""
    length = _schema_tail(patterns, found.group(1), text, found.end())
    return text[start : found.end() + length] if length else ""


def _scheme_start(text: str, pending: int, colon: int) -> int:
    """Where the scheme ending at `colon` starts, as markdown-it's inline linkify rule read
    it from the pending text (the whole run of scheme characters, which must start with a
    letter), or -1. Only the last few characters are read: a longer run is no scheme
    linkify-it knows, and reading back further would make long texts quadratic."""
    low = max(pending, colon - 8)
    start = colon
    while start > low and text[start - 1] in _SCHEME_CHARS:
        start -= 1
    if start == low and low > pending and text[low - 1] in _SCHEME_CHARS:
        return -1
    return start if start < colon and text[start].isascii() and text[start].isalpha() else -1


_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.+-")


def _pretest(block: str) -> bool:
    """linkify-it's pretest, which markdown-it ran on a block's source before linkifying."""
    return "@" in block or bool(_schemas_in(block) or _patterns().host_fuzzy_test.search(block))


def _core_links(text: str) -> list[tuple[int, int, str]]:
    """The links linkify-it's match() found in `text`: (start, end, schema), where schema
    is "" for an e-mail address typed without mailto:."""
    patterns = _patterns()
    found = [
        (start, start + len(schema) + length, schema)
        for start, schema in _schemas_in(text)
        if (length := _schema_tail(patterns, schema, text, start + len(schema)))
    ]
    if "@" in text:
        for email in patterns.email_fuzzy.finditer(text):
            found.append((email.start() + len(email.group(1)), email.end(), ""))
    # The earliest wins, then the longest, a schema link before an e-mail address on a tie;
    # any overlapping an earlier choice is dropped (even if markdown-it then refused that).
    found.sort(key=lambda link: (link[0], -link[1]))
    chosen: list[tuple[int, int, str]] = []
    for link in found:
        if not chosen or link[0] >= chosen[-1][1]:
            chosen.append(link)
    return chosen


_SCHEMA_RE = re.compile(r"(?=(https?:|ftp:|//|mailto:))", re.IGNORECASE)


def _schemas_in(text: str) -> list[tuple[int, str]]:
    """Where linkify-it's schema_search found a schema: its regex, "(^|(?!_)[><\\uff5c]|Z|P|Cc)"
    then the schema, run as a plain search and a look at the character before (the
    regex, with all of Unicode's punctuation in a class, tried that class at every
    position: ten times slower)."""
    found: list[tuple[int, str]] = []
    last_end = 0  # the regex's matches consumed the character before the schema
    for hit in _SCHEMA_RE.finditer(text):
        at = hit.start()
        if at == 0 or (at - 1 >= last_end and _may_precede_schema(text[at - 1])):
            schema = hit.group(1)
            found.append((at, schema))
            last_end = at + len(schema)
    return found


def _may_precede_schema(char: str) -> bool:
    if char == "_":
        return False
    return (
        char in "><\uff5c"
        or unicodedata.category(char)[0] in "ZP"
        or char <= "\x1f"
        or "\x7f" <= char <= "\x9f"
    )


def _linked(text: str, links: list[tuple[int, int, str]]) -> str:
    """`text` escaped, with `links` (from _core_links) made links as markdown-it did."""
    parts: list[str] = []
    last = 0
    for start, end, schema in links:
        raw = text[start:end]
        mailto = schema == "" or schema.lower() == "mailto:"
        url = "mailto:" + raw if schema == "" else raw
        href = normalize_link(url)
        if not is_safe_link_url(href):
            continue
        if mailto and raw.lower().startswith("mailto:"):
            shown = _MAILTO_RE.sub("", normalize_link_text("mailto:" + raw))
        else:
            shown = normalize_link_text(raw)
        parts.append(_mentioned(text[last:start]))
        parts.append(f'<a href="{_escape(href)}">{_escape(shown)}</a>')
        last = end
    parts.append(_mentioned(text[last:]))
    return "".join(parts)


# --- @mentions -------------------------------------------------------------------------------
#
# "@name" in a text run (never in code, a link's text or an image's description, and never the
# middle of an e-mail address, which is linked first) becomes a link to the member's page:
# `<a class="mention" href="/u/name">`. Whether the member exists, and is told, is the write
# path's business (forum/actions/notify.py reads the names back from the cooked HTML).
# A name is what a username may be (forum/actions/accounts.py: 3 to 20 of letters, digits and
# "_.-", starting with a letter or digit), less any "." or "-" ending a sentence after it.

_MENTION_RE = re.compile(r"(?<![A-Za-z0-9_@./\\-])@([A-Za-z0-9][A-Za-z0-9_.-]*)")
_MENTION_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{2,19}")


def _mentioned(text: str) -> str:
    """`text` escaped, with its @mentions made links."""
    if "@" not in text:
        return _escape(text)
    parts: list[str] = []
    last = 0
    for found in _MENTION_RE.finditer(text):
        name = found.group(1).rstrip(".-")
        if not _MENTION_NAME_RE.fullmatch(name):
            continue
        parts.append(_escape(text[last : found.start()]))
        parts.append(f'<a class="mention" href="/u/{name}">@{name}</a>')
        last = found.start(1) + len(name)
    parts.append(_escape(text[last:]))
    return "".join(parts)


_MAILTO_RE = re.compile(r"^mailto:")
