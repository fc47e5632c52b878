"""The typed context of every page: a template is given exactly these fields and no others."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from forum.content.diff import Segment
from forum.permissions import PostControls
from forum.queries.audit import AuditEntry
from forum.queries.debates import Debate
from forum.queries.documents import Document
from forum.queries.events import Answer, FeedDebate, GroupEvent
from forum.queries.groups import Group, Invite
from forum.queries.learning import LearningUpdate
from forum.queries.likes import Liker
from forum.queries.notifications import Level, Notification
from forum.queries.outbox import EmailPrefs
from forum.queries.posts import Post, Revision
from forum.queries.profiles import DirectoryQuery, Profile
from forum.queries.proposals import Proposal
from forum.queries.reading import Reading
from forum.queries.review import Item
from forum.queries.search import Found
from forum.queries.topics import Topic
from forum.queries.users import User


@dataclass(frozen=True, kw_only=True)
class Page:
    template: ClassVar[str]
    title: str
    viewer: User | None
    csrf_token: str
    live_since: str = ""  # "channel=id ..." heads at render time, so live.js resumes exactly
    unread_notifications: int = 0  # the header's bell (signed-in viewers)
    bell_since: str = ""  # "user:<id>=id": where the bell's live updates resume
    unanswered_count: int = 0  # a convener's topics waiting for an answer (the header)
    review_waiting: int = 0  # items waiting in the review queue (the header, without JS too)
    confirmation: str = ""  # what the last action did, said once (forum/confirmations.py)


@dataclass(frozen=True, kw_only=True)
class ErrorPage(Page):
    template: ClassVar[str] = "error.html"
    status_code: int
    messages: list[str]


@dataclass(frozen=True, kw_only=True)
class HomePage(Page):
    template: ClassVar[str] = "home.html"
    groups: list[Group]
    topics: list[Topic]
    next_cursor: str | None
    live_debates: list[Debate] = field(default_factory=list)
    my_groups: list[Group] = field(default_factory=list)  # the viewer's (New topic in one)
    reading: dict[int, Reading] = field(default_factory=dict)  # the viewer's, by topic id
    new_since: float = 0.0  # topics created since, not yet opened by the viewer, are new
    readers: dict[int, int] = field(default_factory=dict)  # members who opened each topic


@dataclass(frozen=True, kw_only=True)
class GroupPage(Page):
    template: ClassVar[str] = "group.html"
    group: Group
    membership: str | None
    pinned: list[Topic]
    topics: list[Topic]
    next_cursor: str | None
    can_start_topic: bool
    can_join: bool
    can_manage: bool
    can_ask: bool = False  # a group whose conveners approve each member
    asked: str = ""  # the viewer's request: "waiting", "declined" (lately) or ""
    banned: bool = False  # the viewer may not join again
    welcome: bool = False  # invite the (new) member to introduce themselves
    questions: dict[str, str] = field(default_factory=dict)  # the statement's, by field
    request_count: int = 0  # requests waiting, for those who manage the group
    can_see_members: bool = False
    unanswered: bool = False  # the list shows only topics nobody but their author answered
    debates: DebateLists = field(default_factory=lambda: DebateLists([], [], []))
    events: list[GroupEvent] = field(default_factory=list)  # the next few to come
    can_schedule: bool = False
    level: Level | None = None  # how closely the viewer follows the group (None: signed out)
    reading: dict[int, Reading] = field(default_factory=dict)  # the viewer's, by topic id
    new_since: float = 0.0  # topics created since, not yet opened by the viewer, are new
    readers: dict[int, int] = field(default_factory=dict)  # members who opened each topic


@dataclass(frozen=True)
class DebateLists:
    """A group's debates as its page lists them: live now, to come, and past."""

    live: list[Debate]
    upcoming: list[Debate]
    past: list[Debate]

    @property
    def any(self) -> bool:
        return bool(self.live or self.upcoming or self.past)


@dataclass(frozen=True)
class ReplyTarget:
    """The shown post a reply answers: its author and the start of its text, opened in place."""

    username: str
    excerpt: str


@dataclass(frozen=True)
class PostItem:
    post: Post
    controls: PostControls  # permissions.post_controls for this page's viewer
    reply: ReplyTarget | None = None  # the post it answers, if shown


@dataclass(frozen=True, kw_only=True)
class TopicPage(Page):
    template: ClassVar[str] = "topic.html"
    topic: Topic
    group: Group
    posts: list[PostItem]
    prev_before: int | None
    next_after: int | None
    can_reply: bool
    can_moderate: bool
    idempotency_key: str  # the inline reply form's (views/topics.py: new_idempotency_key)
    can_see_hidden: bool = False  # site staff: a hidden post may hold what must not be read
    level: Level | None = None  # how closely the viewer follows the topic (None: signed out)
    first_unread: int | None = None  # the first post new to the viewer, when on this page
    seen_sig: str = ""  # signs the page's no-JavaScript reading report (auth.seen_signature)


@dataclass(frozen=True, kw_only=True)
class ComposerPage(Page):
    """New topic, reply and edit all share one composer, shown with what was typed and why not."""

    template: ClassVar[str] = "composer.html"
    heading: str
    action: str
    group: Group
    raw_value: str
    topic: Topic | None = None
    show_title: bool = False
    title_value: str = ""
    privacy_warning: bool = False  # offer "post anyway" (it then waits for a moderator)
    reply_to_post_number: int | None = None
    version: int | None = None
    errors: list[str] = field(default_factory=list)
    quoted: Post | None = None
    idempotency_key: str = ""
    offer_redaction: bool = False  # a moderator editing someone's post: remove the history?
    redact_value: bool = False


@dataclass(frozen=True)
class RevisionEntry:
    revision: Revision
    removed: bool  # taken out of the history for safety
    diff: list[Segment] | None  # by word, against the last version shown; None: show it whole
    readable: bool  # False: only that it was removed (its text is for moderators)


@dataclass(frozen=True, kw_only=True)
class RevisionsPage(Page):
    template: ClassVar[str] = "revisions.html"
    post: Post
    topic: Topic
    revisions: list[RevisionEntry]
    earlier: int = 0  # older versions not shown


@dataclass(frozen=True, kw_only=True)
class LoginPage(Page):
    template: ClassVar[str] = "login.html"
    login_value: str
    next_path: str
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class SignupPage(Page):
    template: ClassVar[str] = "signup.html"
    username_value: str
    email_value: str
    badge_value: str
    badges: list[tuple[str, str]]
    guest_value: bool = False
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class UserPage(Page):
    template: ClassVar[str] = "user.html"
    user: User
    post_count: int
    recent: list[dict[str, object]]
    badge_verified: bool  # a professional badge a moderator has checked
    verified_on: str  # the date it was verified, "" if it is not
    verified_by: str | None  # who verified it: shown to staff only
    badges: list[tuple[str, str]]
    roles: list[tuple[str, str]]
    can_change_badge: bool
    can_verify_badge: bool  # the badge is verifiable and the viewer may verify it
    can_set_role: bool
    errors: list[str] = field(default_factory=list)
    muted: bool | None = None  # whether the viewer has muted this member (None: they cannot)
    profile: Profile | None = None  # what they tell others, if the viewer may see it


@dataclass(frozen=True, kw_only=True)
class ProfileFormPage(Page):
    template: ClassVar[str] = "profile_form.html"
    profile: Profile  # one's own, always readable
    values: dict[str, str]
    visibilities: dict[str, str]
    max_picture_mb: int
    errors: list[str] = field(default_factory=list)
    saved: bool = False


@dataclass(frozen=True, kw_only=True)
class PeoplePage(Page):
    template: ClassVar[str] = "people.html"
    people: list[Profile]
    more: bool
    page: int
    asked: DirectoryQuery
    badges: dict[str, str]
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class SearchPage(Page):
    template: ClassVar[str] = "search.html"
    fields: dict[str, str]  # the form as asked
    groups: list[Group]  # those the viewer may read, for the group filter
    found: Found | None  # None: nothing asked yet, or a refusal (errors)
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class EmailPrefsPage(Page):
    template: ClassVar[str] = "email_prefs.html"
    prefs: EmailPrefs
    email_on: bool  # the forum sends email at all (an SMTP server is set)
    saved: bool = False


@dataclass(frozen=True, kw_only=True)
class UnsubscribePage(Page):
    template: ClassVar[str] = "unsubscribe.html"
    token: str
    what: str  # "immediate" or "digest"
    done: bool


@dataclass(frozen=True, kw_only=True)
class NotificationsPage(Page):
    template: ClassVar[str] = "notifications.html"
    notifications: list[Notification]
    older_than: int | None  # the id to page on from, if more follow
    muted: list[str]  # the members the viewer has muted


@dataclass(frozen=True, kw_only=True)
class NewGroupPage(Page):
    template: ClassVar[str] = "new_group.html"
    name_value: str
    slug_value: str
    description_value: str
    visibility_value: str
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class MembersPage(Page):
    template: ClassVar[str] = "members.html"
    group: Group
    members: list[dict[str, object]]
    can_manage: bool  # add members and change their role (member or convener)
    errors: list[str] = field(default_factory=list)
    bans: list[dict[str, object]] = field(default_factory=list)  # for those who manage it
    can_remove_conveners: bool = False  # site staff


# --- founding and running groups (issue 12) ----------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ProposeGroupPage(Page):
    template: ClassVar[str] = "propose_group.html"
    values: dict[str, str]  # what was typed, shown again with the errors
    questions: dict[str, str]  # the core statement's four questions, by field
    own: list[Proposal]  # the viewer's earlier proposals and what became of them
    errors: list[str] = field(default_factory=list)
    sent: bool = False  # just proposed


@dataclass(frozen=True, kw_only=True)
class ProposalsPage(Page):
    template: ClassVar[str] = "proposals.html"
    pending: list[Proposal]
    decided: list[Proposal]
    questions: dict[str, str]
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class GroupSettingsPage(Page):
    template: ClassVar[str] = "group_settings.html"
    group: Group
    values: dict[str, str]
    questions: dict[str, str]
    errors: list[str] = field(default_factory=list)
    saved: bool = False
    can_change_visibility: bool = False  # site admins choose who can read a group


@dataclass(frozen=True, kw_only=True)
class MoveTopicPage(Page):
    """Moving a topic to another group: the groups this mover may move it into."""

    template: ClassVar[str] = "move_topic.html"
    topic: Topic
    group: Group
    targets: list[Group]
    chosen: int | None = None
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class JoinRequestsPage(Page):
    template: ClassVar[str] = "join_requests.html"
    group: Group
    requests: list[dict[str, object]]
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class InvitesPage(Page):
    template: ClassVar[str] = "invites.html"
    group: Group
    invites: list[Invite]
    days_left: dict[int, int]  # by invite id
    new_link: str = ""  # a link just made: shown this once (only its hash is kept)
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class UnansweredPage(Page):
    template: ClassVar[str] = "unanswered.html"
    topics: list[Topic]  # oldest first
    more: bool  # more wait than the page shows (the oldest are shown)


@dataclass(frozen=True, kw_only=True)
class DocumentsPage(Page):
    template: ClassVar[str] = "documents.html"
    group: Group
    documents: list[Document]
    tags: list[tuple[str, int]]  # the group's tags, most used first, with their counts
    tag: str | None  # the list is of this tag's documents
    sort: str  # "date" or "title"
    page: int
    more: bool
    can_add: bool
    max_upload_mb: int
    values: dict[str, str]  # what was typed into a form refused
    adding: str = ""  # the form refused: "file" or "link"
    errors: list[str] = field(default_factory=list)
    removed: bool = False


@dataclass(frozen=True, kw_only=True)
class DocumentPage(Page):
    template: ClassVar[str] = "document.html"
    group: Group
    document: Document
    can_remove: bool
    added: bool = False  # just added: say so


@dataclass(frozen=True, kw_only=True)
class EventsPage(Page):
    template: ClassVar[str] = "events.html"
    group: Group
    upcoming: list[GroupEvent]  # soonest first
    past: list[GroupEvent]  # latest first
    debates: list[FeedDebate]  # hosted debates to come
    can_schedule: bool
    public_feed: str  # a public group's feed address for all ("" for a private group)
    private_feed: str  # the viewer's own feed address, if a member
    reset: bool = False  # the private address was just replaced


@dataclass(frozen=True, kw_only=True)
class EventPage(Page):
    template: ClassVar[str] = "event.html"
    group: Group
    event: GroupEvent
    going: list[Answer]
    waiting: list[Answer]  # in turn
    maybe: list[Answer]
    not_going: int
    mine: str | None  # the viewer's answer
    open: bool  # not cancelled, not over: answers taken
    under_way: bool
    can_answer: bool  # a member
    can_organise: bool
    show_names: bool  # who answered: for members and staff; others see the counts
    choices: dict[str, str]
    errors: list[str] = field(default_factory=list)
    saved: bool = False


@dataclass(frozen=True, kw_only=True)
class EventFormPage(Page):
    template: ClassVar[str] = "event_form.html"
    group: Group
    event: GroupEvent | None  # None: a new one
    values: dict[str, str]
    time_zones: list[str]
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class LearningPage(Page):
    template: ClassVar[str] = "learning.html"
    updates: list[LearningUpdate]
    more: bool
    page: int
    group: Group | None  # the list is of this group's updates
    removed: bool = False


@dataclass(frozen=True, kw_only=True)
class LearningUpdatePage(Page):
    template: ClassVar[str] = "learning_update.html"
    update: LearningUpdate
    can_remove: bool
    posted: bool = False


@dataclass(frozen=True, kw_only=True)
class LearningFormPage(Page):
    template: ClassVar[str] = "learning_form.html"
    group: Group
    values: dict[str, str]
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class InvitePage(Page):
    template: ClassVar[str] = "invite.html"
    group: Group
    token: str
    usable: bool
    why_not: str
    membership: str | None
    hide_group: bool = False  # a dead link to a private group names it to nobody


# --- moderation -----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ReviewQueuePage(Page):
    template: ClassVar[str] = "review.html"
    items: list[Item]
    pending: bool  # the waiting items, or the recently resolved ones
    pending_count: int
    is_staff: bool


@dataclass(frozen=True, kw_only=True)
class ReviewItemPage(Page):
    template: ClassVar[str] = "review_item.html"
    item: Item
    history: list[AuditEntry]
    is_staff: bool
    errors: list[str] = field(default_factory=list)
    raw_value: str = ""


@dataclass(frozen=True, kw_only=True)
class AuditPage(Page):
    template: ClassVar[str] = "audit.html"
    entries: list[AuditEntry]
    next_before: int | None


@dataclass(frozen=True, kw_only=True)
class WatchedWordsPage(Page):
    template: ClassVar[str] = "watched_words.html"
    words: list[str]
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class FlagPage(Page):
    template: ClassVar[str] = "flag.html"
    action: str
    what: str  # "post 3 by ana in Walking after surgery" / "the account ana"
    back: str
    flagged_html: str = ""  # the post being flagged, as its page shows it (cooked, safe)
    errors: list[str] = field(default_factory=list)
    reason_value: str = ""
    note_value: str = ""
    done: bool = False


@dataclass(frozen=True, kw_only=True)
class MyReviewPage(Page):
    template: ClassVar[str] = "my_review.html"
    items: list[Item]


@dataclass(frozen=True)
class AnswerItem:
    """An answer on a debate's page: the post, this viewer's controls, and its marks."""

    post: Post
    controls: PostControls
    highlighted: bool
    by_host: bool


@dataclass(frozen=True)
class QuestionItem:
    number: int
    cooked: str  # its post's HTML once revealed; the prepared text, escaped, before
    revealed: bool
    answers: list[AnswerItem]
    answerers: int


@dataclass(frozen=True, kw_only=True)
class DebatePage(Page):
    """A debate in any state: the lobby before it starts, the live page, the transcript."""

    template: ClassVar[str] = "debate.html"
    debate: Debate
    topic: Topic
    group: Group
    state: str
    description: str  # the first post's HTML
    questions: list[QuestionItem]  # revealed ones in order (closed: in transcript order)
    prepared: list[QuestionItem]  # not yet revealed: for hosts, conveners and staff only
    hidden_count: int  # how many are still to come, told to everyone
    next_question: int | None
    is_host: bool
    can_answer: bool
    reminded: bool
    can_see_hidden: bool
    idempotency_key: str
    answer_count: int
    summary_value: str = ""
    raw_value: str = ""
    errors: list[str] = field(default_factory=list)
    privacy_warning: bool = False
    chosen_question: int | None = None
    extend_choices: tuple[int, ...] = (5, 10, 15, 30, 60)


@dataclass(frozen=True, kw_only=True)
class DebateFormPage(Page):
    """Scheduling a debate in a group."""

    template: ClassVar[str] = "debate_form.html"
    group: Group
    errors: list[str]
    values: dict[str, str]
    questions: list[str]
    time_zones: list[str]


@dataclass(frozen=True, kw_only=True)
class PostLikesPage(Page):
    """Who thanked a post (forum/views/likes.py)."""

    template: ClassVar[str] = "post_likes.html"
    post: Post
    topic: Topic
    likers: list[Liker]
