"""HTML sanitizer for cooked posts: the tag/attribute allow-list, the URL policy for links and
images, and the one shared nh3.Cleaner that enforces them."""

import re
import unicodedata
from functools import lru_cache, partial
from urllib.parse import unquote, urlsplit

import nh3

# Only what our markdown renderer emits. Raw HTML is never rendered (it is shown as text),
# so a tag markdown cannot produce would be dead allow-list surface.
ALLOWED_TAGS: frozenset[str] = frozenset(
    {
        "p",
        "br",
        "strong",
        "em",
        "s",
        "code",
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
        "hr",
        "a",
        "img",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
    }
)

# href, src, class and start are further checked by value in _filter_attribute.
# `rel` is absent on purpose: nh3 sets it itself (LINK_REL) and refuses a config that allows it.
ALLOWED_ATTRIBUTES: dict[str, frozenset[str]] = {
    "a": frozenset({"href", "title", "class"}),
    "img": frozenset({"src", "alt", "title"}),
    "ol": frozenset({"start"}),
    "code": frozenset({"class"}),
}

# Table alignment is the one presentational attribute markdown emits; the renderer writes it
# as one of these classes (no inline styles: the pages' CSP forbids them).
_ALIGN_CLASSES = frozenset({"align-left", "align-center", "align-right"})
_TAG_ATTRIBUTE_VALUES: dict[str, dict[str, frozenset[str]]] = {
    "th": {"class": _ALIGN_CLASSES},
    "td": {"class": _ALIGN_CLASSES},
}

LINK_SCHEMES: frozenset[str] = frozenset({"http", "https", "mailto"})

# nofollow + ugc: user-generated links must not pass search ranking to spammers.
LINK_REL = "nofollow ugc noopener"

# Fenced-code info strings are user text; only a plausible language name may become a class,
# so a post cannot borrow the site's own CSS classes.
_LANGUAGE_CLASS_RE = re.compile(r"language-[A-Za-z0-9_+#.-]{1,40}")
_START_RE = re.compile(r"[0-9]{1,9}")
# Anything before the first ':' that comes ahead of any '/', '?' or '#' is treated as a scheme,
# even if a browser would call it a relative path; false rejections are cheaper than guessing.
_SCHEME_RE = re.compile(r"([^/?#]*):")
_ASCII_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")

# Controls, format characters (zero-width, bidi overrides/isolates, BOM, soft hyphen, word
# joiner, tag characters) and line/paragraph separators: invisible, so they let a link show
# one address and go to another, or smuggle a scheme past a naive check.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def _has_hidden_chars(text: str) -> bool:
    return any(unicodedata.category(ch) in _HIDDEN_CATEGORIES for ch in text)


def _url_hides_characters(url: str) -> bool:
    """True if the URL hides characters raw, percent-encoded or in a punycode host label.

    The markdown renderer percent-encodes and punycodes link destinations before we see them
    (as markdown-it did), so checking only the raw string would miss every zero-width space
    typed into a post.
    Encoded controls are refused too: real links do not need them (the rare mailto body with
    %0A is not worth keeping a second, looser rule for).
    """
    if url.isascii():
        if _ASCII_CONTROL_RE.search(url):
            return True
    elif _has_hidden_chars(url):
        return True
    if "%" in url and _has_hidden_chars(unquote(url)):
        return True
    if "xn--" in url.lower():
        try:
            host = urlsplit(url).hostname or ""
        except ValueError:
            return True
        for label in host.split("."):
            if not label.startswith("xn--"):
                continue
            try:
                decoded = label[4:].encode("ascii").decode("punycode")
            except UnicodeError:
                return True  # Not a real IDN label; no browser would resolve it as meant.
            if _has_hidden_chars(decoded):
                return True
    return False


def is_safe_link_url(url: str) -> bool:
    """Whether `url` may be a link target: http, https, mailto or relative, nothing hidden."""
    # A backslash is read as '/' by browsers, turning "/\\host" into an off-site URL.
    if not url or "\\" in url or _url_hides_characters(url):
        return False
    scheme = _SCHEME_RE.match(url)
    return scheme is None or scheme.group(1).lower() in LINK_SCHEMES


def is_safe_image_url(url: str) -> bool:
    """Whether `url` may be an image source: https, or a same-site path starting with one '/'.

    Plain http would be mixed content, and protocol-relative '//host' is off-site while
    looking local.
    """
    if not is_safe_link_url(url):
        return False
    if url[:8].lower() == "https://":
        return True
    return url.startswith("/") and not url.startswith("//")


def image_host(url: str) -> str | None:
    """The lower-case host of an absolute https image URL; None for a same-site path."""
    if url[:8].lower() != "https://":
        return None
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def _filter_attribute(
    image_hosts: frozenset[str], tag: str, attribute: str, value: str
) -> str | None:
    """Value checks nh3 cannot express; returning None drops just that attribute."""
    # nh3 also calls this for attributes it will drop anyway (and for the rel it adds);
    # passing those through unchanged is harmless.
    if attribute == "href":
        return value if is_safe_link_url(value) else None
    if attribute == "src":
        host = image_host(value)
        allowed = host is None or host in image_hosts
        return value if allowed and is_safe_image_url(value) else None
    if attribute == "class":
        if tag in ("th", "td"):
            return value if value in _ALIGN_CLASSES else None
        if tag == "a":  # an @mention (forum/content/markdown.py); nothing else
            return value if value == "mention" else None
        return value if tag == "code" and _LANGUAGE_CLASS_RE.fullmatch(value) else None
    if attribute == "start":
        return value if _START_RE.fullmatch(value) else None
    return value


@lru_cache(maxsize=8)
def _cleaner(image_hosts: frozenset[str]) -> nh3.Cleaner:
    """Built once per allowed-image-host list: compiling the allow-list per call would
    dominate the cost of cleaning a post.

    An <a> whose href is refused keeps its text and loses only the attribute; an anchor
    without href is not a link. (Our markdown renderer applies the same URL policy, so that
    case only arises for HTML that did not come from it.) An <img> from a host not allowed
    loses its src, a second line behind the renderer, which turns it into a link."""
    return nh3.Cleaner(
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        tag_attribute_values=_TAG_ATTRIBUTE_VALUES,
        attribute_filter=partial(_filter_attribute, image_hosts),
        url_schemes=LINK_SCHEMES,
        link_rel=LINK_REL,
        strip_comments=True,
    )


def clean_html(html: str, image_hosts: frozenset[str] = frozenset()) -> str:
    """Reduce `html` to the forum's allow-list; the output is safe to serve as-is."""
    return _cleaner(image_hosts).clean(html)
