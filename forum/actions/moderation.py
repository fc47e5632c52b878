"""Moderation changes: flags, claims, the review decisions, watched words.

Every decision checks the item's version inside its transaction, so when two moderators act
on one item the second is told who got there first (409) and nothing is done twice. Every
decision writes the audit log and its live events in the same transaction.
"""

from __future__ import annotations

from dataclasses import replace

from forum.access import TopicAccess, access_group, access_post, access_topic
from forum.actions.debate_state import check_answer
from forum.actions.drafts import Applied, Decision, ReviewEdit, Text
from forum.actions.edits import check_title
from forum.actions.holds import (
    open_post_item,
    publish_post_change,
    publish_review_change,
    removed_quote_hold,
)
from forum.actions.notify import notify_user, queue_mentions_on_approval
from forum.actions.posts import prepare, publish_reply, publish_topic, require_author
from forum.actions.redaction import (
    PRIVACY_REASONS,
    hold_quoting_posts,
    redact_history,
)
from forum.actions.validation import clean_text
from forum.auth import is_silenced, is_suspended
from forum.context import Forum
from forum.db import Connection
from forum.errors import BadRequest, Conflict, Forbidden, NotAuthenticated, NotFound
from forum.events import AccessChanged, Event, ReviewOutcome, replace_review_html
from forum.moderation import (
    ACTION_STATUS,
    ACTIONS,
    FLAG_REASONS,
    PENALTY_HOURS,
    can_review_item,
    flag_score,
    removed_lines,
)
from forum.pace import check_pace
from forum.permissions import (
    can_moderate,
    can_reply,
    can_start_topic,
    is_staff,
    outranks,
)
from forum.queries import groups as group_queries
from forum.queries import posts as post_queries
from forum.queries import review as review_queries
from forum.queries import topics as topic_queries
from forum.queries import users as user_queries
from forum.queries.audit import record_action
from forum.queries.notifications import Kind
from forum.queries.posts import Post
from forum.queries.review import Item
from forum.queries.users import User

MAX_NOTE_CHARS = 1000
MAX_HELD_FIRST_POSTS = 5
STAFF_ONLY_ACTIONS = frozenset({"silence", "suspend"})


def _require_user(user: User | None) -> User:
    if user is None:
        raise NotAuthenticated("Please log in first.")
    return user


def check_flag(reason: str | None, note: str | None) -> tuple[str, str]:
    if reason not in FLAG_REASONS:
        raise BadRequest("Choose why you are flagging this.")
    clean_note = clean_text(note or "", "The note", MAX_NOTE_CHARS, allow_empty=True)
    if reason == "other" and not clean_note:
        raise BadRequest("Please say what is wrong, so a moderator knows what to look for.")
    return reason, clean_note


# --- flags ----------------------------------------------------------------------------------


async def do_flag_post(
    forum: Forum,
    user: User | None,
    post_id: int,
    reason: str | None,
    note: str | None,
) -> None:
    flagger = require_author(user, forum.now())  # a silenced member reads, not flags
    clean_reason, clean_note = check_flag(reason, note)
    async with forum.db.transaction() as conn:
        post, access = await access_post(conn, flagger, post_id)
        if post.user_id == flagger.id:
            raise BadRequest("You cannot flag your own post. You can edit it instead.")
        if post.deleted_at is not None:
            raise BadRequest("That post has already been removed.")
        now = forum.now()
        await check_pace(conn, forum.settings, flagger, "flag", now)
        item = await review_queries.find_item(conn, "post", post.id)
        if post.hidden_at is not None and (item is None or item.status != "pending"):
            raise BadRequest("A moderator has already hidden this post.")
        item_id = await open_post_item(conn, post, access.group.id, item, now)
        score = await _add_flag(
            conn, item_id, flagger, clean_reason, clean_note, now, "post", post.author_role
        )
        if score >= forum.settings.flag_hide_score and post.hidden_at is None:
            # Enough people (or one moderator) think it should not be seen: hide it now, and
            # let the review decide whether it comes back.
            await _set_hidden(forum, conn, post, access.topic, now)
        await publish_review_change(forum, conn, item_id)


async def do_flag_user(
    forum: Forum,
    user: User | None,
    username: str,
    reason: str | None,
    note: str | None,
) -> None:
    flagger = require_author(user, forum.now())  # a silenced member reads, not flags
    clean_reason, clean_note = check_flag(reason, note)
    async with forum.db.transaction() as conn:
        target = await user_queries.get_user_by_username(conn, username)
        if target is None:
            raise NotFound("There is no such member.")
        if target.id == flagger.id:
            raise BadRequest("You cannot flag your own account.")
        now = forum.now()
        await check_pace(conn, forum.settings, flagger, "flag", now)
        item_id = await review_queries.insert_item(
            conn,
            kind="user",
            target_id=target.id,
            group_id=None,
            topic_id=None,
            author_id=target.id,
            now=now,
        )  # an account's one item: made, or found again (the unique index)
        await review_queries.reopen_item(conn, item_id, now)
        await _add_flag(conn, item_id, flagger, clean_reason, clean_note, now, "account")
        await publish_review_change(forum, conn, item_id)


async def _add_flag(
    conn: Connection,
    item_id: int,
    flagger: User,
    reason: str,
    note: str,
    now: float,
    what: str,
    author_role: str = "member",
) -> float:
    """Add one member's flag; the item's score after it."""
    score = await review_queries.add_reason(
        conn,
        item_id=item_id,
        user_id=flagger.id,
        reason=reason,
        note=note,
        score=flag_score(flagger, author_role),
        now=now,
    )
    if score is None:
        raise Conflict(f"You have already flagged this {what}. A moderator will look at it.")
    return score


# --- the queue ------------------------------------------------------------------------------


async def reviewable_item(conn: Connection, user: User | None, item_id: int) -> Item:
    """The item if this user may review it. Not found if they may not see it at all."""
    reviewer = _require_user(user)
    item = await review_queries.get_item(conn, item_id)
    staff = is_staff(reviewer)
    convened = [] if staff else await review_queries.convened_group_ids(conn, reviewer.id)
    if not staff and not convened:
        raise Forbidden("Only moderators and group conveners can review posts.")
    if item is None or not can_review_item(reviewer, item.group_id, convened):
        raise NotFound("There is no such item in your review queue.")
    return item


def check_not_own(reviewer: User, item: Item) -> None:
    if item.author_id == reviewer.id:
        raise Forbidden("This is about you: another moderator needs to review it.")


async def do_claim(forum: Forum, user: User | None, item_id: int, *, claim: bool) -> None:
    """ "Sam is reviewing": a claim tells other moderators, it does not lock them out."""
    async with forum.db.transaction() as conn:
        item = await reviewable_item(conn, user, item_id)
        if item.status != "pending":
            raise Conflict(
                f"Already handled by {item.resolved_by_username or 'another moderator'}."
            )
        reviewer = _require_user(user)
        await review_queries.claim_item(conn, item.id, reviewer.id if claim else None, forum.now())
        await publish_review_change(forum, conn, item.id)


def check_review(
    reviewer: User,
    item: Item,
    action: str | None,
    expected_version: int | None,
    note: str,
    raw: str | None,
    penalty: str | None,
) -> int | None:
    """May this reviewer take this action on this item, with these details? The hours of a
    silence or suspension, if it is one."""
    check_not_own(reviewer, item)
    if action not in ACTIONS[item.kind]:
        raise BadRequest("Choose one of the actions offered for this item.")
    against = action in STAFF_ONLY_ACTIONS or (
        item.kind != "queued" and action not in ("approve", "ignore")
    )
    if against and outranks(item.author_role, reviewer.role):
        # Staff never act against staff above them (a group's conveners are members). Not
        # publishing a held post takes nothing away from anyone, so any reviewer may.
        who = "an administrator" if item.author_role == "admin" else "a site moderator"
        raise Forbidden(f"Only {who} can do that, as {item.author_username} is {who}.")
    if action in STAFF_ONLY_ACTIONS and not is_staff(reviewer):
        raise Forbidden("Only site moderators can silence or suspend an account.")
    if action == "approve" and "quotes_removed" in {r.reason for r in item.reasons}:
        raise Conflict(
            "This post quotes text that a moderator removed from another post. Use"
            " “Edit, then approve” to take the quote out first."
        )
    if action == "reject" and not note:
        raise BadRequest("Please give the author a reason, so they know what to change.")
    if action == "edit_approve" and not raw:
        raise BadRequest("The edited post is empty.")
    hours = PENALTY_HOURS.get(penalty or "")
    if action in STAFF_ONLY_ACTIONS and hours is None:
        raise BadRequest("Choose how long the " + action + " lasts.")
    if expected_version is None:
        raise BadRequest("This form is out of date. Please reload the review queue.")
    return hours


async def do_review(forum: Forum, user: User | None, item_id: int, decision: Decision) -> Item:
    """Resolve an item with one action; returns the item as it is afterwards."""
    # Cheap checks first, on reads: who, size, which item, what action; markdown after.
    reviewer = _require_user(user)
    action, expected_version, penalty = decision.action, decision.expected_version, decision.penalty
    settings = forum.settings
    clean_note = clean_text(decision.note or "", "The reason", MAX_NOTE_CHARS, allow_empty=True)
    raw = decision.raw
    clean_raw = clean_text(raw, "The post", settings.max_post_chars) if raw else None
    title = decision.title
    clean_title = check_title(settings, title) if title and action == "edit_approve" else None
    item = await reviewable_item(forum.db, reviewer, item_id)
    check_review(reviewer, item, action, expected_version, clean_note, clean_raw, penalty)
    cooked = (await prepare(settings, None, clean_raw)).cooked if clean_raw else None
    # A text may cook to nothing (a link definition alone): still an edit, as before.
    text = Text(clean_raw, cooked) if clean_raw and cooked is not None else None
    edit = ReviewEdit(text, clean_title)
    async with forum.db.transaction() as conn:
        item = await reviewable_item(conn, user, item_id)
        hours = check_review(
            reviewer, item, action, expected_version, clean_note, clean_raw, penalty
        )
        assert action is not None and expected_version is not None
        now = forum.now()
        if not await review_queries.resolve_item(
            conn,
            item_id=item.id,
            expected_version=expected_version,
            status=ACTION_STATUS[action],
            resolved_by=reviewer.id,
            note=clean_note,
            now=now,
        ):
            await _refuse_stale(conn, item.id)
        item = replace(item, resolution_note=clean_note)
        outcome = await _apply(forum, conn, reviewer, item, action, edit, now)
        if action in STAFF_ONLY_ACTIONS:
            assert hours is not None
            until = now + hours * 3600
            await review_queries.set_standing(
                conn,
                item.author_id,
                **(
                    {"silenced_until": until} if action == "silence" else {"suspended_until": until}
                ),
            )
            # Open sockets are checked again at once: a suspension closes them.
            await forum.publish(conn, AccessChanged(item.author_id))
        await record_action(
            conn,
            actor_id=reviewer.id,
            action=f"{action} ({penalty})" if action in STAFF_ONLY_ACTIONS else action,
            item_id=item.id,
            group_id=item.group_id,
            target_user_id=item.author_id,
            post_id=item.target_id if item.kind == "post" else outcome.post_id,
            topic_id=item.topic_id,
            note=clean_note,
            now=now,
        )
        if outcome.message:
            status = ACTION_STATUS[action]
            # Kept as a notification too: the author may not be looking when it happens.
            kept = await outcome_notice(forum, conn, item, status, outcome, now)
            await forum.publish(
                conn, ReviewOutcome(item.author_id, item.id, status, outcome.message), *kept
            )
        # Resolved: the text it was about leaves the queue and the queue's log (the reasons
        # and who decided stay). Published, it lives in the post; refused, nowhere.
        await review_queries.clear_item_text(conn, item.id)
        changed = await publish_review_change(forum, conn, item.id)
        await replace_review_html(conn, changed)
        done = await review_queries.get_item(conn, item.id)
        assert done is not None
        return done


async def outcome_notice(
    forum: Forum, conn: Connection, item: Item, status: str, outcome: Applied, now: float
) -> list[Event]:
    """The author's notification of what became of their post: approved ones lead to it."""
    post = await post_queries.get_post(conn, outcome.post_id) if outcome.post_id else None
    topic = await topic_queries.get_topic(conn, post.topic_id) if post else None
    published = status == "approved" and post is not None and post.visible
    return await notify_user(
        forum,
        conn,
        item.author_id,
        Kind.POST_APPROVED if published else Kind.CUSTOM,
        now,
        message=outcome.message,
        topic=topic if published else None,
        post_id=post.id if published and post else None,
        post_number=post.post_number if published and post else None,
    )


async def _refuse_stale(conn: Connection, item_id: int) -> None:
    now_item = await review_queries.get_item(conn, item_id)
    assert now_item is not None
    if now_item.status != "pending":
        who = now_item.resolved_by_username or "another moderator"
        raise Conflict(f"Already handled by {who}.")
    raise Conflict(
        "This item changed while you were looking at it (a new flag or an edit)."
        " Please read it again before you decide."
    )


async def _apply(
    forum: Forum,
    conn: Connection,
    reviewer: User,
    item: Item,
    action: str,
    edit: ReviewEdit,
    now: float,
) -> Applied:
    """Do what the action means for the item's kind."""
    note = item.resolution_note
    if item.kind == "queued":
        return await _apply_queued(forum, conn, item, action, edit, now)
    if item.kind == "post" and item.target_id is not None:
        post = await post_queries.get_post(conn, item.target_id)
        if post is None:
            return Applied("", None)
        access = await access_topic(conn, reviewer, post.topic_id)
        about_patients = bool({r.reason for r in item.reasons} & PRIVACY_REASONS)
        if action in ("approve", "edit_approve"):
            if action == "edit_approve":
                post = await _moderator_edit(forum, conn, reviewer, post, access.topic, edit, now)
            message = ""
            if post.hidden_at is not None:
                await _set_hidden(forum, conn, post, access.topic, None)
                post = replace(post, hidden_at=None)
                await queue_mentions_on_approval(conn, post, now=now)
                message = "A moderator looked at your post and it is visible again."
            # A moderator's edit removed something; an approved patient-data item may have
            # had it in an earlier version: either way, the history keeps only what is
            # approved now (moderators can still read the rest).
            if action == "edit_approve" or about_patients:
                await redact_history(forum, conn, post, access.topic, by=reviewer.id, now=now)
            return Applied(message, post.id)
        if action == "ignore":
            return Applied("", post.id)
        if action == "delete":
            await review_queries.set_post_deleted(conn, post.id, now)
            removed = replace(post, deleted_at=now)
            await publish_post_change(forum, conn, removed, access.topic, scrub=True)
            message = "A moderator removed one of your posts."
        else:  # reject, hide, silence, suspend
            if post.hidden_at is None and post.deleted_at is None:
                await _set_hidden(forum, conn, post, access.topic, now)
            reason = f" The reason: {note}" if note else ""
            message = f"A moderator hid one of your posts.{reason}"
        if about_patients:  # what quotes it would show what was taken away
            removed_text = removed_lines([post.raw], [])
            await hold_quoting_posts(forum, conn, post, access.topic, removed_text, now)
        return Applied(message, post.id)
    return Applied("", None)  # an account: the standing change is made by the caller


async def _apply_queued(
    forum: Forum,
    conn: Connection,
    item: Item,
    action: str,
    edit: ReviewEdit,
    now: float,
) -> Applied:
    if action not in ("approve", "edit_approve"):
        reason = f" The reason: {item.resolution_note}" if item.resolution_note else ""
        return Applied(f"A moderator did not publish your post.{reason}", None)
    text = Text(item.raw or "", item.cooked or "")
    if action == "edit_approve" and edit.text is not None:
        text = edit.text
        await review_queries.set_item_content(
            conn, item.id, raw=text.raw, cooked=text.cooked, now=now
        )
    author = await _author_may_still_post(conn, item, now)
    if item.topic_id is None:
        assert item.group_id is not None
        title = (action == "edit_approve" and edit.title) or item.title or "Untitled"
        written = await publish_topic(forum, conn, author, item.group_id, title, text, now)
    else:
        access = await _still_open(conn, author, item.topic_id)
        reply_to = item.reply_to_post_number
        answering = None
        if access.topic.is_debate:  # an answer: only while its debate is live
            answering = await check_answer(forum, conn, access, reply_to, now)
        if await removed_quote_hold(conn, access.topic, text.raw):
            raise Conflict(
                f"This reply quotes text that was removed from post {reply_to}. Edit the quote"
                " out, then approve."
            )
        written = await publish_reply(
            forum, conn, author, access.topic, text, reply_to, now, answering=answering
        )
    await review_queries.set_target(conn, item.id, written.post_id, written.topic_id)
    if action == "edit_approve" and edit.text is not None and edit.text.raw != (item.raw or ""):
        await post_queries.mark_edited_by_moderator(conn, written.post_id)
        await review_queries.mark_item_edited(conn, item.id)
    edited = " after a small edit" if action == "edit_approve" else ""
    return Applied(f"A moderator approved your post{edited}. It is now published.", written.post_id)


async def _author_may_still_post(conn: Connection, item: Item, now: float) -> User:
    """A held post is published as its author could post it now, not when they wrote it:
    a suspension, a silence or a lost membership since then stops it (409, nothing done)."""
    author = await user_queries.get_user(conn, item.author_id)
    if author is None:
        raise Conflict("The author's account no longer exists.")
    if is_suspended(author, now):
        raise Conflict(
            f"{author.username} was suspended after writing this, so it cannot be published."
            " Reject it instead."
        )
    if is_silenced(author, now):
        raise Conflict(
            f"{author.username} was silenced after writing this, so it cannot be published"
            " now. Reject it, or wait until the silence ends."
        )
    if item.topic_id is None and item.group_id is not None:
        try:
            group = await access_group(conn, author, group_id=item.group_id)
        except NotFound:
            group = None
        if group is None or not can_start_topic(author, group.group, group.membership):
            raise Conflict(f"{author.username} can no longer start topics in this group.")
    return author


async def _still_open(conn: Connection, author: User, topic_id: int) -> TopicAccess:
    """The reply's topic, if its author could still reply there now."""
    try:
        access = await access_topic(conn, author, topic_id)
    except NotFound:
        raise Conflict(
            "The author can no longer read the topic this reply belongs to (it was removed,"
            " or they left its group). Reject the reply instead."
        ) from None
    if not can_reply(author, access.group, access.membership, access.topic):
        if access.topic.closed:
            raise Conflict(
                "The topic was closed after this reply was written. Reopen the topic to"
                " publish it, or reject the reply."
            )
        raise Conflict("The author can no longer reply in this group. Reject the reply instead.")
    return access


async def _moderator_edit(
    forum: Forum,
    conn: Connection,
    editor: User,
    post: Post,
    topic: topic_queries.Topic,
    edit: ReviewEdit,
    now: float,
) -> Post:
    assert edit.text is not None
    raw, cooked = edit.text.raw, edit.text.cooked
    if raw == post.raw:
        return post
    version = await post_queries.update_post_content(
        conn, post_id=post.id, expected_version=post.version, raw=raw, cooked=cooked, now=now
    )
    if version is None:
        raise Conflict("The post changed while you were editing it. Please look again.")
    await post_queries.insert_revision(
        conn, post_id=post.id, version=version, raw=raw, cooked=cooked, user_id=editor.id, now=now
    )
    edited = replace(post, raw=raw, cooked=cooked, edited_at=now, version=version)
    await publish_post_change(forum, conn, edited, topic)
    return edited


async def _set_hidden(
    forum: Forum,
    conn: Connection,
    post: Post,
    topic: topic_queries.Topic,
    hidden_at: float | None,
) -> None:
    await review_queries.set_post_hidden(conn, post.id, hidden_at)
    # Hidden: readers resuming from the log must not be sent the text the page now hides.
    changed = replace(post, hidden_at=hidden_at)
    await publish_post_change(forum, conn, changed, topic, scrub=hidden_at is not None)


# --- watched words --------------------------------------------------------------------------


async def do_watch_word(forum: Forum, user: User | None, word: str | None, *, add: bool) -> None:
    actor = _require_user(user)
    if not is_staff(actor):
        raise Forbidden("Only site moderators can change the watched words.")
    clean = " ".join(clean_text(word, "The word", 100).split())
    async with forum.db.transaction() as conn:
        now = forum.now()
        if add:
            if not await review_queries.add_watched_word(conn, clean, actor.id, now):
                raise BadRequest(f"“{clean}” is already watched.")
        elif not await review_queries.remove_watched_word(conn, clean):
            raise NotFound(f"“{clean}” is not on the list.")
        await record_action(
            conn,
            actor_id=actor.id,
            action="watch_word" if add else "unwatch_word",
            note=clean,
            now=now,
        )


async def do_set_hold_first_posts(
    forum: Forum, user: User | None, group_id: int, posts: int | None
) -> None:
    """How many of a new account's first posts wait for review in this group."""
    actor = _require_user(user)
    if posts is None or not 0 <= posts <= MAX_HELD_FIRST_POSTS:
        raise BadRequest(f"Choose a number from 0 to {MAX_HELD_FIRST_POSTS}.")
    async with forum.db.transaction() as conn:
        access = await access_group(conn, actor, group_id=group_id)
        if not can_moderate(actor, access.membership):
            raise Forbidden("Only moderators and the group's conveners can change this.")
        await group_queries.set_hold_first_posts(conn, group_id, posts)
        await record_action(
            conn,
            actor_id=actor.id,
            action="hold_first_posts",
            group_id=group_id,
            note=str(posts),
            now=forum.now(),
        )
