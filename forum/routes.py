"""THE url map: every page, API endpoint and static mount, each with a name.

JSON routes come before the HTML routes they resemble, so `/t/x/1.json` never reads as a slug.
A `JsonRoute` answers in JSON, its errors too (forum/web.py); pages answer in HTML unless the
client sends an API key or asks for JSON only.
"""

from __future__ import annotations

from pathlib import Path

from starlette.convertors import Convertor, register_url_convertor
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from forum.api import debates as api_debates
from forum.api import documents as api_documents
from forum.api import drafts as api_drafts
from forum.api import events as api_events
from forum.api import handlers as api
from forum.api import learning as api_learning
from forum.api import likes as api_likes
from forum.api import notifications as api_notifications
from forum.api import people as api_people
from forum.api import search as api_search
from forum.live import live_socket
from forum.static_files import CompressedStatic
from forum.views import (
    accounts,
    debates,
    documents,
    events,
    founding,
    groups,
    home,
    learning,
    likes,
    moving,
    notifications,
    preview,
    profiles,
    review,
    search,
    topics,
)
from forum.web import JsonFallback, JsonRoute

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


class IdConvertor(Convertor[int]):
    """`{name:id}`: a row id. At most ten digits: no row has a longer one (views/common.py:
    path_int answers 404 above 2**31 - 1), and Starlette's own `int` would fail with a server
    error on a path of thousands of digits."""

    regex = "[0-9]{1,10}"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        return str(int(value))


register_url_convertor("id", IdConvertor())

GET, POST, FORM = ["GET"], ["POST"], ["GET", "POST"]

routes: list[BaseRoute] = [
    # --- JSON API (Discourse-compatible) ---
    JsonRoute("/latest.json", api.latest, methods=GET, name="api_latest"),
    JsonRoute("/categories.json", api.categories, methods=GET, name="api_categories"),
    JsonRoute(
        "/c/{group_id:id}/show.json", api.category_show, methods=GET, name="api_category_show"
    ),
    JsonRoute("/c/{group_id:id}.json", api.category_topics, methods=GET, name="api_category"),
    JsonRoute(
        "/c/{slug}/{group_id:id}.json", api.category_topics, methods=GET, name="api_category_slug"
    ),
    JsonRoute("/t/{topic_id:id}.json", api.topic, methods=GET, name="api_topic"),
    JsonRoute("/t/{slug}/{topic_id:id}.json", api.topic, methods=GET, name="api_topic_slug"),
    JsonRoute("/t/{topic_id:id}/posts.json", api.topic_posts, methods=GET, name="api_topic_posts"),
    JsonRoute("/posts", api.create_post, methods=POST, name="api_create_post"),
    JsonRoute("/post_actions", api_likes.create, methods=POST, name="api_like"),
    JsonRoute("/post_actions.json", api_likes.create, methods=POST, name="api_like_json"),
    JsonRoute(
        "/post_actions/{post_id:id}", api_likes.destroy, methods=["DELETE"], name="api_unlike"
    ),
    JsonRoute(
        "/post_actions/{post_id:id}.json",
        api_likes.destroy,
        methods=["DELETE"],
        name="api_unlike_json",
    ),
    JsonRoute("/post_action_users.json", api_likes.users, methods=GET, name="api_likers"),
    JsonRoute("/posts.json", api.create_post, methods=POST, name="api_create_post_json"),
    # Before /users/{username}.json, which "search" would otherwise match.
    JsonRoute("/users/search.json", api_search.users, methods=GET, name="api_users_search"),
    JsonRoute("/users/{username}.json", api.user, methods=GET, name="api_user"),
    JsonRoute(
        "/notifications.json",
        api_notifications.notifications,
        methods=GET,
        name="api_notifications",
    ),
    JsonRoute(
        "/notifications/mark-read.json",
        api_notifications.mark_read,
        methods=["PUT", "POST"],
        name="api_notifications_read",
    ),
    JsonRoute(
        "/t/{topic_id:id}/notifications.json",
        api_notifications.topic_level,
        methods=POST,
        name="api_topic_level",
    ),
    JsonRoute(
        "/category/{group_id:id}/notifications.json",
        api_notifications.category_level,
        methods=POST,
        name="api_category_level",
    ),
    JsonRoute("/topics/timings", api_notifications.topic_timings, methods=POST, name="api_timings"),
    JsonRoute("/search.json", api_search.search, methods=GET, name="api_search"),
    JsonRoute("/debates.json", api_debates.create, methods=POST, name="api_debate_create"),
    JsonRoute("/debates/{debate_id:id}.json", api_debates.show, methods=GET, name="api_debate"),
    *(
        JsonRoute(
            f"/debates/{{debate_id:id}}/{act}.json", handler, methods=POST, name=f"api_debate_{act}"
        )
        for act, handler in (
            ("start", api_debates.start),
            ("close", api_debates.close),
            ("extend", api_debates.extend),
            ("answers", api_debates.answer),
            ("summary", api_debates.summary),
            ("remind", api_debates.remind),
        )
    ),
    JsonRoute(
        "/debates/{debate_id:id}/questions/{number:id}/reveal.json",
        api_debates.reveal,
        methods=POST,
        name="api_debate_reveal",
    ),
    JsonRoute(
        "/debates/{debate_id:id}/answers/{post_id:id}/highlight.json",
        api_debates.highlight,
        methods=POST,
        name="api_debate_highlight",
    ),
    # --- pages ---
    Route("/", home.home, methods=GET, name="home"),
    Route("/healthz", home.healthz, methods=GET, name="healthz"),
    Route("/login", accounts.login, methods=FORM, name="login"),
    Route("/signup", accounts.signup, methods=FORM, name="signup"),
    Route("/logout", accounts.logout, methods=POST, name="logout"),
    Route("/u/{username}", accounts.user_page, methods=GET, name="user"),
    Route(
        "/u/{username}/picture/{version:id}",
        profiles.picture,
        methods=GET,
        name="profile_picture",
    ),
    Route("/my/profile", profiles.my_profile, methods=FORM, name="my_profile"),
    Route(
        "/u/{username}/profile/clear",
        profiles.clear_profile,
        methods=POST,
        name="clear_profile",
    ),
    Route("/my/profile/picture", profiles.upload_picture, methods=POST, name="upload_picture"),
    Route(
        "/my/profile/picture/remove",
        profiles.remove_picture,
        methods=POST,
        name="remove_picture",
    ),
    JsonRoute("/learning.json", api_learning.learning, methods=GET, name="api_learning"),
    Route("/learning", learning.learning_page, methods=GET, name="learning"),
    Route("/learning.atom", learning.learning_atom, methods=GET, name="learning_atom"),
    Route("/learning/{update_id:id}", learning.update_page, methods=GET, name="learning_update"),
    Route(
        "/learning/{update_id:id}/delete",
        learning.delete_update,
        methods=POST,
        name="delete_learning_update",
    ),
    Route("/g/{slug}/learning/new", learning.new_update, methods=FORM, name="new_learning"),
    JsonRoute("/people.json", api_people.people, methods=GET, name="api_people"),
    Route("/people", profiles.people, methods=GET, name="people"),
    Route("/u/{username}/badge", accounts.change_badge, methods=POST, name="change_badge"),
    Route("/u/{username}/badge/verify", accounts.verify_badge, methods=POST, name="verify_badge"),
    Route(
        "/u/{username}/badge/unverify",
        accounts.unverify_badge,
        methods=POST,
        name="unverify_badge",
    ),
    Route("/u/{username}/role", accounts.set_site_role, methods=POST, name="set_site_role"),
    Route("/new-group", groups.new_group, methods=FORM, name="new_group"),
    Route("/g/{slug}", groups.group_page, methods=GET, name="group"),
    Route("/g/{slug}/new-topic", topics.new_topic, methods=FORM, name="new_topic"),
    Route("/g/{slug}/join", groups.join_group, methods=POST, name="join_group"),
    Route("/g/{slug}/leave", groups.leave_group, methods=POST, name="leave_group"),
    Route("/g/{slug}/welcome", groups.dismiss_welcome, methods=POST, name="dismiss_welcome"),
    Route("/g/{slug}/members", groups.members_page, methods=GET, name="group_members"),
    Route("/g/{slug}/members/add", groups.add_member, methods=POST, name="add_member"),
    Route("/g/{slug}/members/role", groups.set_member_role, methods=POST, name="set_member_role"),
    Route("/g/{slug}/members/remove", founding.remove_member, methods=POST, name="remove_member"),
    Route("/g/{slug}/settings", founding.group_settings, methods=FORM, name="group_settings"),
    Route("/g/{slug}/ask", founding.ask_to_join, methods=POST, name="ask_to_join"),
    Route("/g/{slug}/requests", founding.join_requests, methods=GET, name="join_requests"),
    Route(
        "/g/{slug}/requests/decide", founding.decide_request, methods=POST, name="decide_request"
    ),
    Route("/g/{slug}/invites", founding.invites, methods=FORM, name="invites"),
    JsonRoute("/g/{slug}/events.json", api_events.events, methods=GET, name="api_events"),
    Route("/g/{slug}/events", events.events_page, methods=GET, name="events"),
    Route("/g/{slug}/events.ics", events.group_calendar, methods=GET, name="group_calendar"),
    Route("/g/{slug}/events/new", events.new_event, methods=FORM, name="new_event"),
    Route("/g/{slug}/events/{event_id:id}", events.event_page, methods=GET, name="event"),
    Route("/g/{slug}/events/{event_id:id}.ics", events.event_ics, methods=GET, name="event_ics"),
    Route(
        "/g/{slug}/events/{event_id:id}/edit", events.edit_event, methods=FORM, name="edit_event"
    ),
    Route(
        "/g/{slug}/events/{event_id:id}/cancel", events.cancel, methods=POST, name="cancel_event"
    ),
    Route(
        "/g/{slug}/events/{event_id:id}/answer", events.answer, methods=POST, name="answer_event"
    ),
    Route("/g/{slug}/calendar/reset", events.reset_calendar, methods=POST, name="reset_calendar"),
    Route("/calendar/{token}.ics", events.member_calendar, methods=GET, name="member_calendar"),
    JsonRoute(
        "/g/{slug}/documents.json", api_documents.documents, methods=GET, name="api_documents"
    ),
    Route("/g/{slug}/documents", documents.documents_page, methods=GET, name="documents"),
    Route("/g/{slug}/documents/upload", documents.upload, methods=POST, name="upload_document"),
    Route("/g/{slug}/documents/link", documents.add_link, methods=POST, name="add_link_document"),
    Route(
        "/g/{slug}/documents/{document_id:id}",
        documents.document_page,
        methods=GET,
        name="document",
    ),
    Route(
        "/g/{slug}/documents/{document_id:id}/download",
        documents.download,
        methods=GET,
        name="download_document",
    ),
    Route(
        "/g/{slug}/documents/{document_id:id}/remove",
        documents.remove,
        methods=POST,
        name="remove_document",
    ),
    Route("/invite/{token}", founding.invite, methods=FORM, name="invite"),
    Route("/groups/propose", founding.propose_group, methods=FORM, name="propose_group"),
    Route("/unanswered", founding.unanswered, methods=GET, name="unanswered"),
    Route("/proposals", founding.proposals_page, methods=GET, name="proposals"),
    Route(
        "/proposals/{proposal_id:id}/decide",
        founding.decide_proposal,
        methods=POST,
        name="decide_proposal",
    ),
    Route("/g/{slug}/new-debate", debates.new_debate, methods=FORM, name="new_debate"),
    Route("/debates/{debate_id:id}", debates.debate_page, methods=GET, name="debate"),
    Route("/debates/{debate_id:id}.ics", debates.calendar, methods=GET, name="debate_ics"),
    Route(
        "/debates/{debate_id:id}/transcript.md",
        debates.transcript,
        methods=GET,
        name="debate_transcript",
    ),
    *(
        Route(f"/debates/{{debate_id:id}}/{act}", handler, methods=POST, name=f"debate_{act}")
        for act, handler in (
            ("start", debates.start),
            ("close", debates.close),
            ("extend", debates.extend),
            ("reveal", debates.reveal),
            ("answers", debates.answer),
            ("summary", debates.summary),
            ("remind", debates.remind),
        )
    ),
    Route(
        "/debates/{debate_id:id}/answers/{post_id:id}/highlight",
        debates.highlight,
        methods=POST,
        name="debate_highlight",
    ),
    Route("/t/{topic_id:id}", topics.topic_by_id, methods=GET, name="topic_by_id"),
    Route("/t/{slug}/{topic_id:id}", topics.topic_page, methods=GET, name="topic"),
    Route(
        "/t/{slug}/{topic_id:id}/{number:id}",
        notifications.post_link,
        methods=GET,
        name="post_link",
    ),
    Route("/t/{topic_id:id}/reply", topics.reply, methods=FORM, name="reply"),
    Route(
        "/t/{topic_id:id}/notifications",
        notifications.topic_level,
        methods=POST,
        name="topic_level",
    ),
    Route("/t/{topic_id:id}/seen", notifications.topic_seen, methods=GET, name="topic_seen"),
    Route("/search", search.search_page, methods=GET, name="search"),
    Route("/notifications", notifications.notifications_page, methods=GET, name="notifications"),
    Route("/notifications/menu", notifications.bell_menu, methods=GET, name="bell_menu"),
    Route("/notifications/mark-read", notifications.mark_read, methods=POST, name="mark_read"),
    Route("/g/{slug}/notifications", notifications.group_level, methods=POST, name="group_level"),
    Route("/g/{slug}/email-excerpts", groups.email_excerpts, methods=POST, name="email_excerpts"),
    Route("/u/{username}/mute", notifications.mute_user, methods=POST, name="mute_user"),
    Route("/my/email", notifications.email_prefs, methods=FORM, name="email_prefs"),
    Route(
        "/email/unsubscribe/{token}", notifications.unsubscribe, methods=FORM, name="unsubscribe"
    ),
    Route("/t/{topic_id:id}/status", topics.topic_status, methods=POST, name="topic_status"),
    Route("/t/{topic_id:id}/slow-mode", topics.slow_mode, methods=POST, name="slow_mode"),
    Route("/t/{topic_id:id}/move", moving.move_topic, methods=FORM, name="move_topic"),
    Route("/p/{post_id:id}/edit", topics.edit_post, methods=FORM, name="edit_post"),
    JsonRoute("/preview", preview.preview, methods=POST, name="preview"),
    # --- composing (issue 13): the docked reply box's quotes, drafts saved as they are typed ---
    JsonRoute("/t/{topic_id:id}/reply.json", topics.reply_quote, methods=GET, name="reply_quote"),
    JsonRoute("/drafts.json", api_drafts.save, methods=POST, name="drafts"),
    JsonRoute("/drafts/{draft_key}.json", api_drafts.show, methods=GET, name="draft"),
    JsonRoute(
        "/drafts/{draft_key}.json", api_drafts.delete, methods=["DELETE"], name="delete_draft"
    ),
    Route("/p/{post_id:id}/revisions", topics.revisions, methods=GET, name="revisions"),
    Route("/p/{post_id:id}/like", likes.like_post, methods=POST, name="like_post"),
    Route("/p/{post_id:id}/likes", likes.post_likes, methods=GET, name="post_likes"),
    Route("/p/{post_id:id}/flag", review.flag_post, methods=FORM, name="flag_post"),
    Route("/u/{username}/flag", review.flag_user, methods=FORM, name="flag_user"),
    # --- moderation ---
    Route("/review", review.review_queue, methods=GET, name="review_queue"),
    JsonRoute("/review/count.json", review.review_count, methods=GET, name="review_count"),
    Route("/review/log", review.audit_log, methods=GET, name="audit_log"),
    Route("/review/watched-words", review.watched_words, methods=FORM, name="watched_words"),
    Route("/review/{item_id:id}", review.review_item, methods=GET, name="review_item"),
    Route("/review/{item_id:id}", review.review_act, methods=POST, name="review_act"),
    Route("/review/{item_id:id}/claim", review.review_claim, methods=POST, name="review_claim"),
    Route("/my/review", review.my_review, methods=GET, name="my_review"),
    Route(
        "/g/{slug}/hold-first-posts",
        review.hold_first_posts,
        methods=POST,
        name="hold_first_posts",
    ),
    WebSocketRoute("/live", live_socket, name="live"),
    # Any other address ending in .json that no page takes is the API's: not found, in JSON.
    JsonFallback("/{rest:path}.json", api.not_found, name="api_unknown"),
    # Static files only are compressed, once, at start-up (forum/static_files.py).
    Mount(
        "/static",
        app=CompressedStatic(STATIC_DIR),
        name="static",
    ),
]
