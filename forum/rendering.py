"""The Jinja2 environment: pages render a typed context (forum/pages.py); posts one partial.

`_post.html` is the ONE post partial, used by topic pages and by live events alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import fields
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from forum import moderation, pace
from forum.avatars import avatar
from forum.content import excerpt, filetypes
from forum.notices import notification_text, notification_url
from forum.pages import Page
from forum.permissions import NO_CONTROLS, PostControls
from forum.queries.notifications import FOLLOW_HINTS, LEVEL_NAMES, Notification
from forum.queries.posts import Post
from forum.queries.profiles import Profile
from forum.queries.review import Item
from forum.queries.search import MARK_END, MARK_START
from forum.queries.topics import Topic

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"

BADGE_LABELS = {
    "patient": "Patient",
    "carer": "Carer",
    "clinician": "Clinician",
    "ahp": "Allied health professional",
    "researcher": "Researcher",
    "organisation": "Charity or organisation",
    "other": "Other",
}


@lru_cache(maxsize=8192)
def iso_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def friendly_time(ts: float, now: float | None = None) -> str:
    seconds = (now or time.time()) - ts
    if seconds < 60:
        return "just now"
    for unit, size in (("minute", 60), ("hour", 3600), ("day", 86400)):
        limit = {"minute": 3600, "hour": 86400, "day": 7 * 86400}[unit]
        if seconds < limit:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return datetime.fromtimestamp(ts, UTC).strftime("%-d %b %Y")


def long_date(ts: float) -> str:
    """For messages that say until when: "3 December 2026 at 14:05 UTC"."""
    return _long_date(ts)


@lru_cache(maxsize=8192)
def _long_date(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%-d %B %Y at %H:%M UTC")


def file_size(size: int | None) -> str:
    """A file's size in the units people read: "820 KB", "4.2 MB"."""
    n = size or 0
    if n < 1024:
        return f"{n} bytes" if n != 1 else "1 byte"
    if n < 1024 * 1024:
        return f"{round(n / 1024):,} KB"
    return f"{n / (1024 * 1024):.1f} MB"


def time_tag(ts: float) -> Markup:
    # An f-string of escaped parts: what Markup.format makes, at a fraction of its cost (it
    # runs for every post on a page and twice for every reply's live events).
    iso, full, friendly = escape(iso_time(ts)), escape(_long_date(ts)), escape(friendly_time(ts))
    return Markup(f'<time datetime="{iso}" title="{full}">{friendly}</time>')


def posts_label(count: int) -> str:
    """ "1 post", "12 posts": under a topic's title, on the page and live."""
    return f"{count} post" if count == 1 else f"{count} posts"


def role_marks(site_role: str, group_role: str) -> list[str]:
    """What a post's author does here, said beside their badge: the site's staff and the
    group's conveners."""
    marks = {"admin": ["Admin"], "moderator": ["Moderator"]}.get(site_role, [])
    return marks + (["Convener"] if group_role == "convener" else [])


def likes_label(count: int) -> str:
    """ "1 thank you", "3 thanks": beside a post, on the page and live ('' for none)."""
    if count <= 0:
        return ""
    return "1 thank you" if count == 1 else f"{count} thanks"


def local_time(ts: float, zone: ZoneInfo) -> Markup:
    """A moment as a reader without JavaScript sees it, in the forum's zone, the zone named:
    "Tuesday 8 December 2026, 19:00 GMT". live.js rewrites it in the reader's own zone."""
    when = datetime.fromtimestamp(ts, zone)
    text = when.strftime("%A %-d %B %Y, %H:%M ") + (when.tzname() or "")
    return Markup('<time datetime="{}" data-local>{}</time>').format(iso_time(ts), text)


def blurb_html(blurb: str) -> Markup:
    """A search result's text: escaped, its matched words marked (forum/queries/search.py
    puts control characters no post can hold around them)."""
    text = str(escape(blurb))
    return Markup(text.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>"))


def participants_label(count: int) -> str:
    """ "1 person taking part", "12 people taking part": on a debate's page, and live."""
    return f"{count} person taking part" if count == 1 else f"{count} people taking part"


class Renderer:
    def __init__(self, url_path: Callable[..., str], time_zone: str = "Europe/London") -> None:
        self.url_path = url_path  # a route's path by name and parameters (routes.py)
        zone = ZoneInfo(time_zone)
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES_DIR),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,  # a missing context field is a bug, not an empty string
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,  # templates change only with a deploy; no stat per include
        )
        self.env.globals |= {
            "url": url_path,
            "badge_label": BADGE_LABELS.get,
            "moderation": moderation,
            "pace": pace,
            "posts_label": posts_label,
            "likes_label": likes_label,
            "participants_label": participants_label,
            "notification_text": notification_text,
            "notification_url": lambda n: notification_url(n, url_path),
            "level_names": LEVEL_NAMES,
            "follow_hints": FOLLOW_HINTS,
            "avatar": self.avatar,
            "author_avatar": self.author_avatar,
            "role_marks": role_marks,
        }
        self.env.filters |= {
            "time_tag": time_tag,
            "iso_time": iso_time,
            "local_time": lambda ts: local_time(ts, zone),
            "blurb": blurb_html,
            "file_size": file_size,
            "excerpt": excerpt,
            "file_kind": filetypes.label_of,
            "host_of": lambda url: urlsplit(url).hostname or "",
        }
        self._post_template = self.env.get_template("_post.html")
        self._post_actions_template = self.env.get_template("_post_actions.html")
        self._topic_row_template = self.env.get_template("_topic_row.html")
        self._review_item_template = self.env.get_template("_review_item.html")
        self._question_template = self.env.get_template("_debate_question.html")
        self._notification_template = self.env.get_template("_notification.html")

    def avatar(self, profile: Profile, size: int = 48) -> Markup:
        """A member's picture, or their initials (forum/avatars.py)."""
        picture = (
            self.url_path(
                "profile_picture", username=profile.username, version=profile.picture_version
            )
            if profile.has_picture
            else ""
        )
        return avatar(profile.username, profile.display_name, picture, size)

    def author_avatar(self, username: str, picture_version: int, size: int = 40) -> Markup:
        """Beside a post or in a list: the author's public picture (Post.picture_version),
        else their initials."""
        picture = (
            self.url_path("profile_picture", username=username, version=picture_version)
            if picture_version
            else ""
        )
        return avatar(username, "", picture, size)

    def render(self, page: Page) -> str:
        context = {f.name: getattr(page, f.name) for f in fields(page)}
        return self.env.get_template(page.template).render(context)

    def render_topic_row(self, topic: Topic) -> str:
        """A topic's row as lists show it, for live events (the group link shown)."""
        return self._topic_row_template.render(topic=topic, show_group=True)

    def render_post(
        self, post: Post, topic: Topic, *, highlighted: bool = False, by_host: bool = False
    ) -> str:
        """The post partial with no controls and no hidden text: as live events carry it.
        Each viewer's controls are added as it is delivered (render_post_actions).
        `highlighted`, `by_host`: an answer in a debate, as its page marks it."""
        return self._post_template.render(
            post=post,
            topic=topic,
            controls=NO_CONTROLS,
            can_see_hidden=False,
            highlighted=highlighted,
            by_host=by_host,
        )

    def render_question(self, debate_id: int, number: int, cooked: str, post_number: int) -> str:
        """A debate's question as its page shows it once revealed, no answers yet."""
        return self._question_template.render(
            debate_id=debate_id,
            question={"number": number, "cooked": cooked, "post_number": post_number},
            answers=[],
            answered=0,
        )

    def render_email(self, template: str, **context: object) -> str:
        """An email's HTML part (templates/email/: inline styles, which mail needs and pages
        never have)."""
        return self.env.get_template(template).render(**context)

    def render_notification(self, notification: Notification) -> str:
        """A notification as the bell's list and the notifications page show it."""
        return self._notification_template.render(n=notification)

    def render_post_actions(
        self,
        post_id: int,
        topic_id: int,
        post_number: int,
        controls: PostControls,
        debate_id: int | None = None,
    ) -> str:
        """A post's controls for one viewer: the same partial _post.html includes. Its forms'
        CSRF field is empty: live.js fills in the viewer's token."""
        post = {"id": post_id, "topic_id": topic_id, "post_number": post_number}
        return self._post_actions_template.render(
            post=post, controls=controls, debate_id=debate_id, csrf_token=""
        )

    def render_review_item(self, item: Item, *, for_staff: bool) -> str:
        """An item's card in the review queue as site staff, or a group's conveners, see it
        (conveners get no staff-only actions); live.js fills in the viewer's CSRF token."""
        return self._review_item_template.render(item=item, csrf_token="", is_staff=for_staff)
