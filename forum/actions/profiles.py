"""Members' profiles (issue 12): what they tell others (a display name, a few lines about
themselves, their organisation, region and interests), their picture, and who may see it;
and the directory's search, which shows only what each profile allows
(forum/queries/profiles.py)."""

from __future__ import annotations

from typing import BinaryIO

from starlette.concurrency import run_in_threadpool

from forum.actions.documents import TAG, clean_tags
from forum.actions.notify import notify_user
from forum.actions.posts import require_author
from forum.actions.validation import clean_text
from forum.content.pictures import reencode
from forum.context import Forum
from forum.errors import BadRequest, Forbidden, NotFound, RateLimited
from forum.events import AccessChanged
from forum.forms import Input
from forum.permissions import is_staff, outranks
from forum.queries import profiles as queries
from forum.queries import users as user_queries
from forum.queries.audit import record_action
from forum.queries.notifications import Kind
from forum.queries.profiles import VISIBILITIES, DirectoryQuery, Profile, ProfileFields
from forum.queries.users import User
from forum.rendering import BADGE_LABELS
from forum.storage import save

MAX_INTERESTS = 10
MAX_PICTURE_BYTES = 5 * 1024 * 1024
SAVES_PER_HOUR = 30
PICTURES_PER_HOUR = 10


def check_profile(form: Input) -> ProfileFields:
    """Every field's problems at once."""
    errors: list[str] = []
    values: dict[str, str] = {}
    for name, label, most, multiline in (
        ("display_name", "Your name", 60, False),
        ("bio", "About you", 1_000, True),
        ("organisation", "Organisation", 100, False),
        ("region", "Region", 100, False),
    ):
        try:
            text = clean_text(form.get(name), label, most, multiline=multiline, allow_empty=True)
            values[name] = text if multiline else " ".join(text.split())
        except BadRequest as error:
            errors += error.messages
    visibility = form.get("visibility") or queries.DEFAULT_VISIBILITY
    if visibility not in VISIBILITIES:
        errors.append("Choose who may see your profile from the list.")
    interests: tuple[str, ...] = ()
    try:
        interests = clean_tags(form.get("interests"), MAX_INTERESTS, "Your profile", "interest")
    except BadRequest as error:
        errors += error.messages
    if errors:
        raise BadRequest(*errors)
    return ProfileFields(
        values["display_name"],
        values["bio"],
        values["organisation"],
        values["region"],
        visibility,
        interests,
    )


def _paced(forum: Forum, user: User, what: str, most: int) -> None:
    wait = forum.follow_limits.take(f"{what}:{user.id}", most, 3600)
    if wait:
        raise RateLimited(
            "You have changed your profile a lot lately. Please wait.", wait_seconds=wait
        )


async def do_save_profile(forum: Forum, user: User | None, form: Input) -> None:
    member = require_author(user, forum.now())
    fields = check_profile(form)
    _paced(forum, member, "profile", SAVES_PER_HOUR)
    async with forum.db.transaction() as conn:
        await queries.save_profile(conn, member.id, fields, forum.now())
        await forum.publish(conn, AccessChanged(member.id))  # who sees their picture, name


async def do_set_picture(forum: Forum, user: User | None, file: BinaryIO | None, size: int) -> None:
    """Keep the uploaded picture, redrawn (forum/content/pictures.py); the old one goes."""
    member = require_author(user, forum.now())
    if file is None or size == 0:
        raise BadRequest("Choose a picture to upload.")
    file.seek(0)
    data, _ = await run_in_threadpool(reencode, await run_in_threadpool(file.read))
    key = await save(forum.storage, data)
    try:
        async with forum.db.transaction() as conn:
            old = await queries.set_picture(conn, member.id, key, forum.now())
            await forum.publish(conn, AccessChanged(member.id))  # kept pages show the old one
    except BaseException:
        await forum.storage.delete(key)
        raise
    if old:
        await forum.storage.delete(old)


def check_may_upload_picture(forum: Forum, user: User | None) -> None:
    """Who and how often, before the upload is read (each one is decoded: CPU)."""
    member = require_author(user, forum.now())
    _paced(forum, member, "picture", PICTURES_PER_HOUR)


async def do_remove_picture(forum: Forum, user: User | None) -> None:
    member = require_author(user, forum.now())
    async with forum.db.transaction() as conn:
        old = await queries.set_picture(conn, member.id, None, forum.now())
        await forum.publish(conn, AccessChanged(member.id))
    if old:
        await forum.storage.delete(old)


async def do_clear_profile(
    forum: Forum, user: User | None, username: str, reason: str | None
) -> User:
    """A moderator takes everything out of a member's profile (words, interests, picture):
    kept in the moderation log, and the member is told why."""
    moderator = require_author(user, forum.now())
    if not is_staff(moderator):
        raise Forbidden("Only moderators clear a member's profile.")
    why = clean_text(reason, "The reason", 500)
    async with forum.db.transaction() as conn:
        target = await user_queries.get_user_by_username(conn, username)
        if target is None:
            raise NotFound("There is no such member.")
        if outranks(target.role, moderator.role):
            raise Forbidden("You cannot change the profile of someone above you.")
        empty = ProfileFields("", "", "", "", queries.DEFAULT_VISIBILITY, ())
        await queries.save_profile(conn, target.id, empty, forum.now())
        old = await queries.set_picture(conn, target.id, None, forum.now())
        await record_action(
            conn,
            actor_id=moderator.id,
            action="clear_profile",
            target_user_id=target.id,
            note=why,
            now=forum.now(),
        )
        told = await notify_user(
            forum,
            conn,
            target.id,
            Kind.CUSTOM,
            forum.now(),
            message=f"A moderator cleared your profile: {why}",
            url=forum.renderer.url_path("my_profile"),
        )
        await forum.publish(conn, *told, AccessChanged(target.id))
    if old:
        await forum.storage.delete(old)
    return target


DIRECTORY_PER_PAGE = 30


async def find_people(
    forum: Forum, viewer: User | None, asked: DirectoryQuery, page: int
) -> tuple[list[Profile], bool]:
    """One page of the directory as `viewer` may see it, and whether there are more."""
    found = await queries.search_directory(
        forum.db,
        asked,
        viewer,
        is_staff(viewer),
        forum.now(),
        limit=DIRECTORY_PER_PAGE + 1,
        offset=(page - 1) * DIRECTORY_PER_PAGE,
    )
    return found[:DIRECTORY_PER_PAGE], len(found) > DIRECTORY_PER_PAGE


def check_directory(query: Input) -> tuple[DirectoryQuery, int]:
    """The directory's filters from the address, and the page."""
    errors: list[str] = []
    values: dict[str, str] = {}
    for name, label in (
        ("name", "The name"),
        ("organisation", "The organisation"),
        ("region", "The region"),
    ):
        try:
            values[name] = clean_text(
                query.get(name), label, 100, multiline=False, allow_empty=True
            )
        except BadRequest as error:
            errors += error.messages
    interest = (query.get("interest") or "").strip().lower()
    if interest and not TAG.fullmatch(interest):
        errors.append("There is no such interest: interests are letters, digits and hyphens.")
    badge = query.get("badge") or ""
    if badge and badge not in BADGE_LABELS:
        errors.append("Choose a role from the list.")
    page = query.get_int("page") or 1
    if page > 1000:
        errors.append("There is no such page.")
    if errors:
        raise BadRequest(*errors)
    return DirectoryQuery(
        values["name"], interest, badge, values["organisation"], values["region"]
    ), page
