"""Markdown rendering for posts: one shared CommonMark parser with tables, strikethrough,
linkify and hard line breaks, applying the sanitizer's URL policy as it renders."""

from collections.abc import Sequence

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

from forum.content.sanitize import is_safe_image_url, is_safe_link_url


class _PostRenderer(RendererHTML):
    def image(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        token = tokens[idx]
        src = token.attrGet("src")
        if isinstance(src, str) and is_safe_image_url(src):
            return super().image(tokens, idx, options, env)
        # An image we will not load (http, off-site "//", ...) still carries the author's
        # words: show its alt text rather than an empty <img> the sanitizer would leave.
        return escapeHtml(self.renderInlineAsText(token.children or [], options, env))

    def heading_open(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        # A post sits under the page's h1 and its own h2 (the author line), so its headings
        # start at h3: a "# Title" in a post must not compete with the topic's title.
        token = tokens[idx]
        token.tag = _DEMOTED[token.tag]
        return self.renderToken(tokens, idx, options, env)

    def heading_close(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        token = tokens[idx]
        token.tag = _DEMOTED[token.tag]
        return self.renderToken(tokens, idx, options, env)


_DEMOTED = {f"h{n}": f"h{min(n + 2, 6)}" for n in range(1, 7)}


class _PostMarkdown(MarkdownIt):
    def validateLink(self, url: str) -> bool:
        # Same policy as the sanitizer, so a refused URL leaves the markdown as readable text
        # instead of an <a> stripped of its href. markdown-it's own check is a deny-list.
        return is_safe_link_url(url)


# html=False: HTML typed into a post is shown as text, never parsed, so the sanitizer only
# ever sees markup this renderer wrote. breaks=True: forum authors expect a newline to be one.
_MD = _PostMarkdown(
    "commonmark",
    {"html": False, "linkify": True, "breaks": True, "typographer": False},
    renderer_cls=_PostRenderer,
).enable(["table", "strikethrough", "linkify"])
# Only links typed with their scheme: fuzzy matching would turn "cook.py" or "e.g." into links.
_MD.linkify.set({"fuzzy_link": False})  # type: ignore[union-attr]


def render_markdown(raw: str) -> str:
    """Render post markdown to HTML. Not yet safe to serve: pass it through clean_html."""
    # MarkdownIt.render is typed Any (the renderer is pluggable); ours is RendererHTML.
    html: str = _MD.render(raw)
    return html
