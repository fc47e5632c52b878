"""Moderation rules: what is held for review and why, what flags weigh, who reviews what.

Pure functions over plain data, as permissions.py is; forum/actions/moderation.py makes the
changes. Nobody is exempt from the identifiable-data check; staff are exempt from the
new-account hold (DESIGN.md, "Roles and pace").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from forum.content.privacy import describe, find_identifiers
from forum.permissions import is_staff, outranks
from forum.queries.groups import Group
from forum.queries.users import User

# Flags a member may raise, in the words the flag form shows.
FLAG_REASONS: dict[str, str] = {
    "patient_data": "It contains information that could identify a patient",
    "inappropriate": "It is inappropriate, rude or unsafe",
    "spam": "It is spam or advertising",
    "off_topic": "It is off topic for this group",
    "other": "Something else (please say what)",
}

# Every reason an item can be in the queue, as moderators read it.
REASON_LABELS: dict[str, str] = {
    "patient_data": "Flagged: may identify a patient",
    "inappropriate": "Flagged: inappropriate",
    "spam": "Flagged: spam",
    "off_topic": "Flagged: off topic",
    "other": "Flagged: something else",
    "privacy": "Identifiable-data check",
    "watched_word": "Watched word",
    "new_account": "First posts of a new account",
    "guest": "First posts of a guest account",
    "quotes_removed": "Quotes text a moderator removed from another post",
}

# Why a post waits, as its author reads it (never who flagged it).
AUTHOR_REASONS: dict[str, str] = {
    "privacy": "It may contain something that identifies a person.",
    "watched_word": "It uses words this forum checks before publishing.",
    "new_account": "The first posts of a new account are read by a moderator first.",
    "guest": "The first posts of a guest account are read by a moderator first.",
    "quotes_removed": "It quotes text that a moderator removed from another post.",
}

# What a moderator may do to each kind of item. Every action resolves the item.
ACTIONS: dict[str, tuple[str, ...]] = {
    "queued": ("approve", "edit_approve", "reject", "silence", "suspend"),
    "post": ("approve", "edit_approve", "reject", "hide", "delete", "ignore", "silence", "suspend"),
    "user": ("approve", "ignore", "silence", "suspend"),
}

# What each entry of the moderation log says, in words (forum/queries/audit.py keeps codes).
LOG_LABELS: dict[str, str] = {
    "moved_topic": "Moved a topic",
    "made_group_private": "Made the group readable by members only",
    "made_group_public": "Made the group readable by everyone",
    "approve": "Approved a post",
    "edit_approve": "Edited, then approved a post",
    "reject": "Rejected a post",
    "hide": "Hid a post",
    "delete": "Deleted a post",
    "ignore": "Dismissed flags",
    "silence": "Silenced a member",
    "suspend": "Suspended a member",
    "add_member": "Added a member",
    "approve_group": "Approved a proposed group",
    "decline_group": "Declined a proposed group",
    "approve_join": "Accepted a request to join",
    "ban_member": "Banned a member",
    "remove_member": "Removed a member",
    "lift_ban": "Lifted a ban",
    "invite": "Made an invite link",
    "join_by_invite": "Joined by an invite link",
    "clear_profile": "Cleared a profile",
    "remove_document": "Removed a document",
    "edit_group": "Changed the group's settings",
    "edit_post": "Edited a post",
    "remove_versions": "Removed earlier versions of a post",
    "retitle": "Changed a topic's title",
    "set_group_role": "Changed a member's role in the group",
    "set_role": "Changed a member's site role",
    "slow_mode": "Set slow mode",
    "hold_first_posts": "Changed the review of first posts by new members",
    "set_email_excerpts": "Changed whether emails quote posts",
    "verify_badge": "Verified a role badge",
    "unverify_badge": "Took back a badge's verification",
    "watch_word": "Watched a word",
    "unwatch_word": "Stopped watching a word",
    "schedule_debate": "Scheduled a debate",
    "start_debate": "Started a debate",
    "close_debate": "Closed a debate",
    "extend_debate": "Extended a debate",
    "summarise_debate": "Summarised a debate",
    "highlight_answer": "Highlighted an answer",
    "unhighlight_answer": "Took back a highlight",
}


def log_label(action: str) -> str:
    """An entry's action in words; "silence (a week)" keeps its penalty; an unknown code (a
    newer version's) still reads as words."""
    code, _, rest = action.partition(" ")
    label = LOG_LABELS.get(code, code.replace("_", " ").capitalize())
    return f"{label} {rest}" if rest else label


ACTION_LABELS: dict[str, str] = {
    "approve": "Approve",
    "edit_approve": "Edit, then approve",
    "reject": "Reject and tell the author why",
    "hide": "Hide the post",
    "delete": "Delete the post",
    "ignore": "Ignore (no action needed)",
    "silence": "Silence the author",
    "suspend": "Suspend the author",
}

# The item's status after each action.
ACTION_STATUS: dict[str, str] = {
    "approve": "approved",
    "edit_approve": "approved",
    "reject": "rejected",
    "hide": "rejected",
    "delete": "rejected",
    "ignore": "ignored",
    "silence": "rejected",
    "suspend": "rejected",
}

# Silence and suspension lengths offered, in hours.
PENALTY_HOURS: dict[str, int] = {
    "1 day": 24,
    "3 days": 72,
    "1 week": 168,
    "4 weeks": 672,
    "1 year": 8760,
}


@dataclass(frozen=True)
class Hold:
    """One reason to hold a post before it is published, with what the author is told."""

    reason: str
    note: str  # for moderators: never the identifying text itself
    messages: tuple[str, ...]  # for the author


def first_posts_to_hold(user: User, group: Group) -> int:
    # Guests always wait for their first post to be seen, even in a group that trusts new
    # members straight away.
    return max(group.hold_first_posts, 1) if user.is_guest else group.hold_first_posts


def post_text(title: str | None, raw: str | None) -> str:
    """What the content checks read: a title can name a patient as well as a body can."""
    return f"{title}\n\n{raw or ''}" if title else raw or ""


def privacy_hold(text: str) -> Hold | None:
    """The identifiable-data check: nobody is exempt. Pure and the costliest rule, so actions
    run it only once their checks pass, as they cook markdown (forum/actions/posts.py)."""
    findings = find_identifiers(text)
    if not findings:
        return None
    kinds = sorted({f.label for f in findings})
    return Hold("privacy", "Looks like " + ", ".join(kinds), tuple(describe(findings)))


def watched_hold(text: str, watched_words: Iterable[str]) -> Hold | None:
    words = matched_words(text, watched_words)
    if not words:
        return None
    return Hold(
        "watched_word", ", ".join(words), ("It uses words this forum checks before publishing.",)
    )


def first_posts_hold(user: User, group: Group, membership: str | None) -> Hold | None:
    """The first N posts of a new (or guest) account wait; staff and conveners do not."""
    if is_staff(user) or membership == "convener":
        return None
    if user.approved_posts >= first_posts_to_hold(user, group):
        return None
    kind = "guest" if user.is_guest else "new"
    return Hold(
        "guest" if user.is_guest else "new_account",
        f"{user.approved_posts} posts approved so far",
        (f"The first posts of a {kind} account are read by a moderator before they appear.",),
    )


def quotes_removed_hold(post_number: int | None = None) -> Hold:
    where = f"post {post_number}" if post_number else "another post"
    return Hold(
        "quotes_removed",
        f"quotes text removed from {where}",
        ("It quotes text that a moderator removed from another post.",),
    )


# A quoted line shorter than this ("Thanks", "> ok") is too common to say it came from
# the removed text.
MIN_QUOTE_CHARS = 8
# Line pairs compared in part (a quote may be trimmed) before only whole lines count: keeps
# the check within a few milliseconds whatever a post's history holds.
MAX_QUOTE_PAIRS = 20_000
_SPACES = re.compile(r"\s+")


def _normal(line: str) -> str:
    return _SPACES.sub(" ", line.strip().lstrip(">").strip()).lower()


def removed_lines(old_texts: Iterable[str], kept_texts: Iterable[str]) -> set[str]:
    """Lines of the removed versions that no text still readable has (the current one, the
    versions left in the history), normalised: what a quote must not repeat. Lines still
    public elsewhere are not "removed", so an author cannot hide replies by editing a line
    out and back."""
    kept = {_normal(line) for text in kept_texts for line in text.splitlines()}
    return {
        normal
        for text in old_texts
        for line in text.splitlines()
        if len(normal := _normal(line)) >= MIN_QUOTE_CHARS and normal not in kept
    }


def quoted_lines(raw: str) -> list[str]:
    """A post's quoted lines (`> ...`) long enough to tell where they came from, normalised."""
    return [
        normal
        for line in raw.splitlines()
        if line.lstrip().startswith(">") and len(normal := _normal(line)) >= MIN_QUOTE_CHARS
    ]


def quotes_any(raw: str, removed: set[str]) -> bool:
    """Whether a post's quoted lines repeat any of the removed lines, whole or in part (a
    quote may be trimmed)."""
    if not removed:
        return False
    quoted = quoted_lines(raw)
    if any(line in removed for line in quoted):
        return True
    if len(quoted) * len(removed) > MAX_QUOTE_PAIRS:
        return False  # whole lines only (above): partial matches would cost too much
    return any(line in gone or gone in line for line in quoted for gone in removed)


def matched_words(raw: str, watched_words: Iterable[str]) -> list[str]:
    """Watched words found in the text, whole words, any case."""
    found = []
    for word in watched_words:
        if re.search(rf"(?<!\w){re.escape(word)}(?!\w)", raw, re.IGNORECASE):
            found.append(word)
    return found


def flag_score(flagger: User, author_role: str = "member") -> float:
    # A moderator's flag is a decision, not a hint: it hides the post at once, unless the
    # author outranks them (staff never act against staff above them): then it is one flag.
    if is_staff(flagger) and not outranks(author_role, flagger.role):
        return 100.0
    return 1.0


def can_review_item(user: User | None, group_id: int | None, convened: Iterable[int]) -> bool:
    """Staff review everything; conveners only their own groups' posts (not accounts)."""
    if is_staff(user):
        return True
    return user is not None and group_id is not None and group_id in set(convened)


def can_review(user: User | None) -> bool:
    """May open the review queue at all."""
    return is_staff(user) or (user is not None and user.convenes > 0)
