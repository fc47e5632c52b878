"""The revisions page shows each edit word by word: removed words in <del>, added ones in
<ins>, each named in hidden words for screen readers, and each version as it reads."""

from __future__ import annotations

from html.parser import HTMLParser

from tests.conftest import logged_in


class DiffReader(HTMLParser):
    """Every `div.diff` on a page as (kind, text) pieces, kind 'same', 'added' or 'removed',
    with the hidden words said to screen readers kept apart, as (kind, words)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.diffs: list[list[tuple[str, str]]] = []
        self.spoken: list[tuple[str, str]] = []
        self._depth = 0  # elements open inside the current div.diff; 0: outside one
        self._kind = "same"
        self._hidden = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if self._depth:
            self._depth += 1
            if tag in ("ins", "del"):
                self._kind = "added" if tag == "ins" else "removed"
            self._hidden = self._hidden or "visually-hidden" in classes
        elif tag == "div" and "diff" in classes:
            self._depth = 1
            self.diffs.append([])

    def handle_endtag(self, tag: str) -> None:
        if not self._depth:
            return
        self._depth -= 1
        if tag in ("ins", "del"):
            self._kind = "same"
        if tag == "span":
            self._hidden = False

    def handle_data(self, data: str) -> None:
        if not self._depth:
            return
        if self._hidden:
            self.spoken.append((self._kind, data))
            return
        pieces = self.diffs[-1]
        if pieces and pieces[-1][0] == self._kind:
            pieces[-1] = (self._kind, pieces[-1][1] + data)
        else:
            pieces.append((self._kind, data))


def read_diffs(html: str) -> DiffReader:
    reader = DiffReader()
    reader.feed(html)
    reader.close()
    return reader


async def edited(client, arrange, before: str, after: str):
    """A public topic whose first post was written as `before`, then edited to `after`
    through the edit form; returns the post's id and a client of its author."""
    author = await arrange.user()
    group = await arrange.group()
    written = await arrange.topic(group, author, "Steps", before)
    c = await logged_in(client, author)
    r = await c.post_form(f"/p/{written.post_id}/edit", {"raw": after, "version": "1"})
    assert r.status_code == 303, r.text
    return written.post_id, c


async def test_a_changed_word_is_struck_through_and_the_new_one_added(client, arrange) -> None:
    post_id, _ = await edited(
        client, arrange, "I walk 2000 steps on a bad day.", "I walk 2500 steps on a bad day."
    )
    page = await client().get(f"/p/{post_id}/revisions")
    assert page.status_code == 200
    assert "Version 1" in page.text and "Version 2" in page.text
    seen = read_diffs(page.text)
    assert seen.diffs == [
        [
            ("same", "I walk "),
            ("removed", "2000"),
            ("added", "2500"),
            ("same", " steps on a bad day."),
        ]
    ]
    assert '<del><span class="visually-hidden">Removed: </span>2000<' in page.text
    assert '<ins><span class="visually-hidden">Added: </span>2500<' in page.text
    # Said to screen readers, as del and ins are not announced by all of them.
    assert seen.spoken == [
        ("removed", "Removed: "),
        ("removed", " (end of removal) "),
        ("added", "Added: "),
        ("added", " (end of addition) "),
    ]
    # The first version whole, and each later one as it reads, from its stored cooked HTML.
    assert '<div class="cooked"><p>I walk 2000 steps on a bad day.</p>\n</div>' in page.text
    assert "<summary>Version 2 as it reads</summary>" in page.text
    assert '<div class="cooked"><p>I walk 2500 steps on a bad day.</p>\n</div>' in page.text


async def test_the_diff_keeps_line_breaks_and_names_a_whitespace_change(client, arrange) -> None:
    post_id, _ = await edited(
        client,
        arrange,
        "First paragraph.\n\nSecond one, unchanged.\nLast line.",
        "First paragraph, longer.\n\nSecond one, unchanged.\n\nLast line.",
    )
    page = await client().get(f"/p/{post_id}/revisions")
    [diff] = read_diffs(page.text).diffs
    assert diff == [
        ("same", "First paragraph"),
        ("added", ", longer"),
        ("same", ".\n\nSecond one, unchanged."),
        ("removed", "(line break)\n"),
        ("added", "(line break)\n\n"),
        ("same", "Last line."),
    ]


async def test_the_diff_is_escaped(client, arrange) -> None:
    post_id, _ = await edited(
        client, arrange, "Use a < b here.", "Use <script>alert(1)</script> & b here."
    )
    page = await client().get(f"/p/{post_id}/revisions")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    [diff] = read_diffs(page.text).diffs
    assert diff == [
        ("same", "Use "),
        ("removed", "a <"),
        ("added", "<script>alert(1)</script> &"),
        ("same", " b here."),
    ]
