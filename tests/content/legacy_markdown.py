"""The markdown-it-py renderer that cooked every post before the switch to pyromark, kept
only to check that markdown written before the switch still renders the same
(tests/content/test_markdown_corpus.py). Not used by the app; markdown-it-py, mdit-py-plugins
and linkify-it-py are dev dependencies for this reason alone.

Moved here unchanged from forum/content/markdown.py, except for the name of the entry point
(`render_legacy_markdown`)."""

from collections.abc import Sequence

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

from forum.content.sanitize import image_host, is_safe_image_url, is_safe_link_url
from forum.errors import BadRequest

# Quotes and lists may open at most this deep (in parser levels: a quote is one, a list two,
# list and item). The parser stops rendering, silently, at 20; refusing a little earlier
# means nothing written is ever lost unseen.
MAX_NESTING = 15
_CONTAINERS = frozenset(
    {"blockquote_open", "bullet_list_open", "ordered_list_open", "list_item_open"}
)


class _PostRenderer(RendererHTML):
    def image(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        token = tokens[idx]
        src = token.attrGet("src")
        alt = escapeHtml(self.renderInlineAsText(token.children or [], options, env))
        if not isinstance(src, str) or not is_safe_image_url(src):
            # An image we will not load (http, off-site "//", ...) still carries the author's
            # words: show its alt text rather than an empty <img> the sanitizer would leave.
            return alt
        host = image_host(src)
        if host is not None and host not in env.get("image_hosts", ()):
            # Shown as a link: the reader chooses whether that host learns their address.
            text = f"{alt or 'An image'} (image on {escapeHtml(host)})"
            return f'<a href="{escapeHtml(src)}">{text}</a>'
        return super().image(tokens, idx, options, env)

    def _aligned(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        # Table alignment as a class, not an inline style: the pages' Content-Security-Policy
        # allows no inline styles.
        token = tokens[idx]
        style = token.attrGet("style")
        if isinstance(style, str) and style.startswith("text-align:"):
            token.attrs.pop("style", None)
            token.attrSet("class", "align-" + style.removeprefix("text-align:"))
        return self.renderToken(tokens, idx, options, env)

    th_open = td_open = _aligned

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


def render_legacy_markdown(raw: str, image_hosts: frozenset[str] = frozenset()) -> str:
    """Render post markdown to HTML. Not yet safe to serve: pass it through clean_html.

    Raises BadRequest for quotes or lists nested deeper than MAX_NESTING levels."""
    env: EnvType = {"image_hosts": image_hosts}
    tokens = _MD.parse(raw, env)
    if any(t.type in _CONTAINERS and t.level >= MAX_NESTING for t in tokens):
        raise BadRequest(
            "This post has quotes or lists nested too deeply to be shown (15 quotes, or 7"
            " lists, inside each other at most). Please flatten them."
        )
    # MarkdownIt's renderer is typed Any (it is pluggable); ours is RendererHTML.
    html: str = _MD.renderer.render(tokens, _MD.options, env)
    return html
