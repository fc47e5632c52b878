"""A group's documents (issue 12): members add a file or a link, with a title, a description
and tags; whoever added one, the group's conveners and staff remove it.

A file is checked twice over before it is kept: its size as it arrives (forum/uploads.py),
then its kind from its content (forum/content/filetypes.py). It is committed to storage just
before the row that names it is written; should that transaction fail, the stored file is
removed again, so no file is kept that no document names.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath
from typing import BinaryIO
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool

from forum.access import GroupAccess, access_group
from forum.actions.debates import refuse_identifiers
from forum.actions.posts import require_author
from forum.actions.validation import clean_text, clean_title
from forum.content.filetypes import FileKind, check_kind
from forum.context import Forum
from forum.db import Connection
from forum.errors import BadRequest, Forbidden, NotFound
from forum.forms import Input
from forum.pace import check_pace
from forum.permissions import can_add_document, can_remove_document
from forum.queries import documents as queries
from forum.queries.audit import record_action
from forum.queries.documents import Document, NewDocument
from forum.queries.users import User

MAX_TITLE_CHARS = 200
MAX_DESCRIPTION_CHARS = 2_000
MAX_URL_CHARS = 2_000
MAX_TAGS = 5
TAG = re.compile(r"[a-z0-9][a-z0-9-]{0,29}")
_MAX_FILENAME = 150


@dataclass(frozen=True)
class Described:
    """A document's words, checked."""

    title: str
    description: str
    tags: tuple[str, ...]


def clean_tags(
    text: str | None, most: int = MAX_TAGS, what: str = "A document", kind: str = "tag"
) -> tuple[str, ...]:
    """Tags as typed, comma-separated: lower case, spaces as hyphens, each used once
    (profiles' interests are such tags too)."""
    tags: list[str] = []
    for part in (text or "").split(","):
        tag = "-".join(part.strip().lower().split())
        if not tag or tag in tags:
            continue
        if not TAG.fullmatch(tag):
            raise BadRequest(
                f"The {kind} “{tag[:40]}” cannot be used: {kind}s are up to 30 letters,"
                " digits and hyphens, separated by commas."
            )
        tags.append(tag)
    if len(tags) > most:
        raise BadRequest(f"{what} can have at most {most} {kind}s.")
    return tuple(tags)


def clean_tag_filter(text: str | None) -> str | None:
    """A tag to filter the list by, from the address: None if empty; a 400 if no tag could
    be written so (rather than an empty list that looks like a real answer)."""
    if not text:
        return None
    if not TAG.fullmatch(text):
        raise BadRequest("There is no such tag.")
    return text


PER_PAGE = 30


def check_listing(query: Input) -> tuple[str | None, str, int]:
    """The list's tag, order and page from the address; a 400 for what no link makes."""
    tag = clean_tag_filter(query.get("tag"))
    sort = query.get("sort") or "date"
    if sort not in queries.SORTS:
        raise BadRequest("Sort by date or by title.")
    page = query.get_int("page") or 1
    if page > 1000:
        raise BadRequest("There is no such page.")
    return tag, sort, page


async def list_page(
    forum: Forum, group_id: int, tag: str | None, sort: str, page: int
) -> tuple[list[Document], bool]:
    """One page of the group's documents, and whether there are more."""
    found = await queries.list_documents(
        forum.db, group_id, tag=tag, sort=sort, limit=PER_PAGE + 1, offset=(page - 1) * PER_PAGE
    )
    return found[:PER_PAGE], len(found) > PER_PAGE


def clean_url(text: str | None) -> str:
    url = (text or "").strip()
    if not url:
        raise BadRequest("Give the link's address, starting https:// or http://.")
    if len(url) > MAX_URL_CHARS or any(c.isspace() or ord(c) < 32 for c in url):
        raise BadRequest("The link's address is not one we can use.")
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # "http://[x": not an address at all
        raise BadRequest("The link's address is not one we can use.") from None
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise BadRequest("The link's address must start https:// or http:// and name a site.")
    return url


def clean_filename(name: str) -> str:
    """The name a file is offered for download under: the uploader's, without any folder,
    control characters or quotes, at most 150 characters (its extension kept)."""
    base = PureWindowsPath(PurePosixPath(name).name).name  # a browser may send a full path
    base = "".join(
        c for c in unicodedata.normalize("NFC", base) if unicodedata.category(c)[0] != "C"
    )
    base = base.replace('"', "'").strip(" .") or "document"
    if len(base) > _MAX_FILENAME:
        stem, dot, extension = base.rpartition(".")
        keep = _MAX_FILENAME - len(extension) - 1
        base = (
            f"{stem[:keep]}.{extension}" if dot and len(extension) <= 10 else base[:_MAX_FILENAME]
        )
    return base


def check_described(fields: Input) -> Described:
    """The title, description and tags, every problem at once."""
    errors: list[str] = []
    title, description = "", ""
    tags: tuple[str, ...] = ()
    try:
        title = clean_title(fields.get("title"), MAX_TITLE_CHARS)
    except BadRequest as error:
        errors += error.messages
    try:
        description = clean_text(
            fields.get("description"), "The description", MAX_DESCRIPTION_CHARS, allow_empty=True
        )
    except BadRequest as error:
        errors += error.messages
    try:
        tags = clean_tags(fields.get("tags"))
    except BadRequest as error:
        errors += error.messages
    if not errors:
        try:
            refuse_identifiers(f"{title}\n{description}", "A document")
        except BadRequest as error:
            errors += error.messages
    if errors:
        raise BadRequest(*errors)
    return Described(title, description, tags)


def check_adder(forum: Forum, user: User | None, access: GroupAccess) -> User:
    """Signed in, not paused, and a member of the group (or staff)."""
    author = require_author(user, forum.now())
    if not can_add_document(author, access.membership):
        raise Forbidden("Only the group's members can add documents. Join the group first.")
    return author


async def check_may_add(forum: Forum, user: User | None, access: GroupAccess) -> User:
    """The cheap checks before an upload's body is read: who, where (`access`, as the page
    read it), pace. The write's transaction checks all three again."""
    author = check_adder(forum, user, access)
    async with forum.db.reads() as reads:
        await check_pace(reads, forum.settings, author, "document", forum.now(), record=False)
    return author


async def _add(forum: Forum, user: User | None, group_id: int, new: NewDocument) -> int:
    async with forum.db.transaction() as conn:
        access = await access_group(conn, user, group_id=group_id)
        author = check_adder(forum, user, access)
        await check_pace(conn, forum.settings, author, "document", forum.now())
        return await queries.insert_document(conn, new, forum.now())


async def do_add_link(forum: Forum, user: User | None, group_id: int, fields: Input) -> int:
    author = require_author(user, forum.now())
    errors: list[str] = []
    described = None
    try:
        described = check_described(fields)
    except BadRequest as error:
        errors += error.messages
    url = ""
    try:
        url = clean_url(fields.get("url"))
    except BadRequest as error:
        errors += error.messages
    if errors:
        raise BadRequest(*errors)
    assert described is not None
    new = NewDocument(
        group_id, author.id, described.title, described.description, described.tags, url=url
    )
    return await _add(forum, author, group_id, new)


async def do_add_file(
    forum: Forum,
    user: User | None,
    group_id: int,
    fields: Input,
    file: BinaryIO | None,
    filename: str,
    size: int,
) -> int:
    """Keep an uploaded file (in storage's temporary `file`) as a document of the group."""
    author = require_author(user, forum.now())
    errors: list[str] = []
    described, kind = None, None
    try:
        described = check_described(fields)
    except BadRequest as error:
        errors += error.messages
    if file is None:
        errors.append("Choose a file to upload.")
    elif size == 0:
        errors.append("The file is empty.")
    else:
        try:
            # The name checked is the one it will be offered under: a browser's "x.js." is
            # "x.js" once cleaned, and must agree with the content as such.
            kind = await run_in_threadpool(check_kind, file, clean_filename(filename))
        except BadRequest as error:
            errors += error.messages
    if errors:
        raise BadRequest(*errors)
    assert described is not None and kind is not None and file is not None
    key = await forum.storage.commit(file)
    try:
        return await _add(
            forum,
            author,
            group_id,
            _file_document(author, group_id, described, kind, filename, size, key),
        )
    except BaseException:
        await forum.storage.delete(key)
        raise


def _file_document(
    author: User,
    group_id: int,
    described: Described,
    kind: FileKind,
    filename: str,
    size: int,
    key: str,
) -> NewDocument:
    name = clean_filename(filename)
    if "." not in name.strip("."):
        name += kind.extensions[0]
    return NewDocument(
        group_id,
        author.id,
        described.title,
        described.description,
        described.tags,
        storage_key=key,
        filename=name,
        content_type=kind.content_type,
        size_bytes=size,
    )


async def readable_document(
    conn: Connection, user: User | None, slug: str, document_id: int
) -> tuple[GroupAccess, Document]:
    """The document with its group, if this viewer may read the group; else a 404."""
    access = await access_group(conn, user, slug=slug)
    document = await queries.get_document(conn, access.group.id, document_id)
    if document is None:
        raise NotFound("There is no such document.")
    return access, document


async def do_remove_document(
    forum: Forum, user: User | None, slug: str, document_id: int
) -> GroupAccess:
    """Remove a document; its file goes from storage once the row has gone."""
    actor = require_author(user, forum.now())
    async with forum.db.transaction() as conn:
        access, document = await readable_document(conn, actor, slug, document_id)
        if not can_remove_document(actor, access.membership, document.user_id):
            raise Forbidden("Only whoever added a document, and the group's conveners, remove it.")
        await queries.delete_document(conn, document.id)
        if document.user_id != actor.id:
            await record_action(
                conn,
                actor_id=actor.id,
                action="remove_document",
                group_id=access.group.id,
                target_user_id=document.user_id,
                note=document.title[:100],
                now=forum.now(),
            )
    if document.storage_key:
        await forum.storage.delete(document.storage_key)
    return access
