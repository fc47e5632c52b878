"""What a user may do: pure predicates over plain data, used by views, the API, actions and live.

`membership` is the viewer's role in the group ('member' or 'convener'), or None.
"""

from __future__ import annotations

from dataclasses import dataclass

from forum.queries.groups import Group
from forum.queries.posts import Post
from forum.queries.topics import Topic
from forum.queries.users import User
from forum.settings import Settings

STAFF_ROLES = frozenset({"moderator", "admin"})


def is_staff(user: User | None) -> bool:
    return user is not None and user.role in STAFF_ROLES


def is_admin(user: User | None) -> bool:
    return user is not None and user.role == "admin"


def can_read_group(user: User | None, group: Group, membership: str | None) -> bool:
    # A private group is for its members; staff see it so they can moderate it.
    return not group.is_private or membership is not None or is_staff(user)


def can_start_topic(user: User | None, group: Group, membership: str | None) -> bool:
    return user is not None and can_read_group(user, group, membership)


def can_reply(user: User | None, group: Group, membership: str | None, topic: Topic) -> bool:
    if user is None or not can_read_group(user, group, membership):
        return False
    return not topic.closed or is_staff(user)


@dataclass(frozen=True)
class PostFacts:
    """What a post's controls depend on, besides who looks: whose it is and their site role,
    whether it is hidden or removed, and whether its topic is closed. Live events carry these
    (forum/events.py), so a post inserted live gets the controls a reload would give."""

    author_id: int
    author_role: str
    hidden: bool
    deleted: bool
    topic_closed: bool
    # An answer in a hosted debate: answered on the debate's page (no "Quote and reply"),
    # highlighted by one of its hosts (their user ids) or not.
    in_debate: bool = False
    hosts: tuple[int, ...] = ()
    highlighted: bool = False
    first_in_group: bool = False  # the author's first post in the group: "say welcome"

    @classmethod
    def from_data(cls, data: object) -> PostFacts | None:
        """The facts as an event stored them; None if missing or not as written here."""
        if not isinstance(data, dict):
            return None
        hosts = data.get("hosts", ())
        if not isinstance(hosts, (list, tuple)) or not all(isinstance(h, int) for h in hosts):
            return None
        try:
            facts = cls(**(data | {"hosts": tuple(hosts)}))
        except TypeError:
            return None
        values = (
            facts.author_id,
            facts.author_role,
            facts.hidden,
            facts.deleted,
            facts.topic_closed,
            facts.in_debate,
            facts.highlighted,
            facts.first_in_group,
        )
        kinds = (int, str, bool, bool, bool, bool, bool, bool)
        ok = all(isinstance(v, k) for v, k in zip(values, kinds, strict=True))
        return facts if ok else None


def post_facts(
    post: Post, topic: Topic, *, hosts: tuple[int, ...] = (), highlighted: bool = False
) -> PostFacts:
    """`hosts`, `highlighted`: for an answer in a debate (forum/actions/debates.py)."""
    return PostFacts(
        author_id=post.user_id,
        author_role=post.author_role,
        hidden=post.hidden_at is not None,
        deleted=post.deleted_at is not None,
        topic_closed=topic.closed,
        in_debate=topic.is_debate,
        hosts=hosts,
        highlighted=highlighted,
        first_in_group=post.first_in_group,
    )


@dataclass(frozen=True)
class PostControls:
    """The links under a post for one viewer: quote and reply, edit, flag; in a debate, for
    its hosts, "highlight" or "unhighlight" (the button offered), else None."""

    reply: bool = False
    edit: bool = False
    flag: bool = False
    highlight: str | None = None
    welcome: bool = False  # the author's first post here: marked, with "Say welcome"
    like: str | None = None  # "like" or "unlike" (the button offered): others' shown posts

    @property
    def any(self) -> bool:
        return (
            self.reply
            or self.edit
            or self.flag
            or self.highlight is not None
            or self.welcome
            or self.like is not None
        )


NO_CONTROLS = PostControls()


def _can_edit(user: User | None, facts: PostFacts) -> bool:
    if user is None or facts.deleted:
        return False
    if facts.author_id == user.id:
        return not facts.topic_closed or is_staff(user)
    # Staff edit others' posts, but never those of staff above them.
    return is_staff(user) and not outranks(facts.author_role, user.role)


def can_edit_post(user: User | None, post: Post, topic: Topic) -> bool:
    return _can_edit(user, post_facts(post, topic))


def post_controls(viewer: User | None, facts: PostFacts, *, liked: bool = False) -> PostControls:
    """THE rule for a post's controls, for a viewer who can read its topic: the topic page
    and live updates both use it. Anonymous readers get none; members quote and reply (not
    to a hidden post, nor in a closed topic unless staff) and flag others' posts; authors
    and staff edit as can_edit_post says; a member's first post in the group is marked for
    the others to welcome. Signed-in readers thank others' shown posts (`liked`: this viewer
    already has, so the button takes it back; a post arriving live has no thanks yet)."""
    if viewer is None or facts.deleted:
        return NO_CONTROLS
    highlight = None
    hosting = facts.in_debate and viewer.id in facts.hosts and viewer.id != facts.author_id
    if hosting and not facts.hidden and not facts.topic_closed:
        highlight = "unhighlight" if facts.highlighted else "highlight"
    # A debate's answers are written on its page, under their question.
    reply = (
        not facts.in_debate and not facts.hidden and (not facts.topic_closed or is_staff(viewer))
    )
    return PostControls(
        reply=reply,
        edit=_can_edit(viewer, facts),
        flag=viewer.id != facts.author_id,
        highlight=highlight,
        # Marked for the others, who can answer it; the author is not told they are new.
        welcome=reply and facts.first_in_group and viewer.id != facts.author_id,
        like=None
        if viewer.id == facts.author_id or facts.hidden
        else ("unlike" if liked else "like"),
    )


def can_add_document(user: User | None, membership: str | None) -> bool:
    """Add to a group's documents: its members, and site staff."""
    return user is not None and (membership is not None or is_staff(user))


def can_remove_document(user: User | None, membership: str | None, added_by: int) -> bool:
    """Remove one: whoever added it, the group's conveners, site staff."""
    return user is not None and (user.id == added_by or can_moderate(user, membership))


def can_moderate(user: User | None, membership: str | None) -> bool:
    """Moderate a group: site staff, or the group's conveners."""
    return is_staff(user) or membership == "convener"


def can_join_group(user: User | None, group: Group, membership: str | None) -> bool:
    """Join at once: a public group open to all. Private groups are joined by invitation (an
    invite link, or a convener adds the member), not by asking (forum/actions/membership.py)."""
    if user is None or membership is not None or group.is_private or group.joining != "open":
        return False
    return can_hold_group_role(user, group, "member")


def can_see_members(user: User | None, group: Group, membership: str | None) -> bool:
    """The member list: for its members and staff, or for all who may read the group where
    its conveners allow it."""
    if membership is not None or is_staff(user):
        return True
    return group.members_listed == "everyone" and can_read_group(user, group, membership)


def can_ask_to_join(user: User | None, group: Group, membership: str | None) -> bool:
    """A public group whose conveners approve each new member."""
    if user is None or membership is not None or group.is_private or group.joining != "request":
        return False
    return can_hold_group_role(user, group, "member")


def can_manage_members(user: User | None, membership: str | None) -> bool:
    return can_moderate(user, membership)


def can_create_group(user: User | None) -> bool:
    return is_admin(user)


# --- role badges, site roles and guests ------------------------------------------------------

# Only professional roles are checked by a moderator; the others describe lived experience,
# which no one verifies.
VERIFIABLE_BADGES = frozenset({"clinician", "ahp"})


def can_verify_badge(user: User | None, target: User | None = None) -> bool:
    """Verify (or withdraw) a badge: staff, but never their own, so every badge has a witness."""
    if not is_staff(user):
        return False
    return target is None or user is None or target.id != user.id


def can_change_badge(user: User | None, target: User) -> bool:
    return user is not None and user.id == target.id


def can_set_site_role(user: User | None) -> bool:
    return is_admin(user)


# Higher acts on lower: staff never act against staff above them.
ROLE_RANK = {"member": 0, "moderator": 1, "admin": 2}


def outranks(role: str, other_role: str) -> bool:
    """Whether a site role `role` is above `other_role` (a group's conveners are members)."""
    return ROLE_RANK.get(role, 0) > ROLE_RANK.get(other_role, 0)


def can_hold_group_role(user: User, group: Group, role: str) -> bool:
    """Guests (no email, so no way to reach them) join public groups only, and never convene."""
    if not user.is_guest:
        return True
    return not group.is_private and role == "member"


def is_new_account(user: User, now: float, settings: Settings) -> bool:
    """New accounts meet stricter pace limits: too few approved posts yet, or too young."""
    return (
        user.approved_posts < settings.new_account_posts
        or now - user.created_at < settings.new_account_hours * 3600
    )
