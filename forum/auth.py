"""Who you are: password hashing, server-side sessions, API keys and CSRF tokens.

A request is authenticated once, by `AuthMiddleware`, which puts an `Auth` in the scope state.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from argon2 import PasswordHasher, Type, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, Signer
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from forum.context import Forum
from forum.queries import users as user_queries
from forum.queries.users import User
from forum.settings import Settings

SESSION_COOKIE = "forum_session"
ANON_COOKIE = "forum_anon"
DEVICE_COOKIE = "forum_device"  # which account this browser last logged in to (signed)

_checker = PasswordHasher()  # checks a hash at the cost written in it, whatever that is


@lru_cache(maxsize=4)
def _hasher(memory_kib: int, time_cost: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)


def password_hasher(settings: Settings) -> PasswordHasher:
    """argon2id at the settings' cost (RFC 9106's second recommendation by default: 64 MiB,
    3 passes). The cost is written into every hash, so any hasher checks any hash."""
    return _hasher(settings.password_memory_kib, settings.password_time_cost)


async def hash_password(settings: Settings, password: str) -> str:
    # argon2 costs a fifth of a second of CPU by design: keep it off the event loop.
    return await asyncio.to_thread(password_hasher(settings).hash, password)


async def verify_password(password_hash: str, password: str) -> bool:
    try:
        return await asyncio.to_thread(_checker.verify, password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


_dummy_hashes: dict[tuple[int, int], str] = {}


async def dummy_password_hash(settings: Settings) -> str:
    """A hash no password matches, at the settings' cost, checked for unknown login names so
    that they take as long to refuse as a known name with a wrong password (no account list
    by timing)."""
    cost = (settings.password_memory_kib, settings.password_time_cost)
    if cost not in _dummy_hashes:
        _dummy_hashes[cost] = await hash_password(settings, secrets.token_urlsafe(32))
    return _dummy_hashes[cost]


def rehash_cost(settings: Settings, password_hash: str) -> Settings | None:
    """The cost to store this password at again, when it was hashed at less than the
    settings' in memory or passes (the cost was raised since): each at the higher of the two,
    so a login never lowers either. None: keep it as it is."""
    try:
        made = extract_parameters(password_hash)
    except InvalidHashError:
        return settings
    if made.type is not Type.ID:
        return settings
    memory = max(made.memory_cost, settings.password_memory_kib)
    passes = max(made.time_cost, settings.password_time_cost)
    if (memory, passes) == (made.memory_cost, made.time_cost):
        return None
    return replace(settings, password_memory_kib=memory, password_time_cost=passes)


def token_hash(token: str) -> str:
    """Only hashes of session tokens and API keys are stored: a leaked table logs nobody in."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Auth:
    user: User | None
    method: str | None  # "session", "api_key" or None
    csrf_token: str
    session_token: str | None = None
    key_hash: str | None = None  # the API key's, for checking it again (forum/live.py)
    key_owner_id: int | None = None  # whose key it is: an admin's may act as someone else
    unread_notifications: int = 0  # the header's bell, read with the session
    bell_head: int = 0  # the last event of the member's channel when the bell was counted
    unanswered: int = 0  # topics waiting for an answer in the groups they convene
    review_waiting: int = 0  # review items waiting for a moderator or convener (the header)

    @property
    def bell_since(self) -> str:
        """Where a page's live updates of the bell resume ("user:<id>=<event id>")."""
        # Even from 0: a member's very first notification is on no channel yet.
        return f"user:{self.user.id}={self.bell_head}" if self.user else ""

    @property
    def needs_csrf(self) -> bool:
        # API keys are not sent by browsers on their own, so they cannot be forged cross-site.
        return self.method != "api_key"


def csrf_token_for(secret: str, basis: str) -> str:
    return hmac.new(secret.encode(), f"csrf|{basis}".encode(), hashlib.sha256).hexdigest()


def seen_signature(secret: str, csrf_token: str, topic_id: int, upto: int) -> str:
    """Signs a topic page's no-JavaScript reading report (`/t/{id}/seen`) for the session
    that rendered it: a link from another site, which cannot know it, reports nothing."""
    basis = f"seen|{csrf_token}|{topic_id}|{upto}"
    return hmac.new(secret.encode(), basis.encode(), hashlib.sha256).hexdigest()[:24]


def check_csrf(auth: Auth, supplied: str | None) -> bool:
    if not auth.needs_csrf:
        return True
    return supplied is not None and hmac.compare_digest(auth.csrf_token, supplied)


def sign_session(secret: str, token: str) -> str:
    return Signer(secret, salt="forum.session").sign(token).decode()


def unsign_session(secret: str, value: str) -> str | None:
    try:
        return Signer(secret, salt="forum.session").unsign(value).decode()
    except BadSignature:
        return None


def session_cookie_header(value: str, *, max_age: int, secure: bool) -> str:
    cookie = f"{SESSION_COOKIE}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax"
    return cookie + ("; Secure" if secure else "")


class AuthMiddleware:
    """Resolve the viewer from the session cookie or the API key headers, once per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        state: Any = scope["app"].state
        conn = HTTPConnection(scope)
        secret: str = state.forum.settings.secret_key
        api_key = conn.headers.get("api-key")
        new_anon: str | None = None
        if api_key is not None:
            key_hash = token_hash(api_key)
            user, owner_id, refusal = await api_key_user(
                state.forum.db, key_hash, conn.headers.get("api-username"), state.forum.now()
            )
            if user is None:
                if scope["type"] == "http":
                    # Here, not at the top: forum/web.py reads requests through this module.
                    from forum.web import ForumJSON

                    response = ForumJSON({"errors": [refusal]}, 403)
                    await response(scope, receive, send)
                else:
                    await send({"type": "websocket.close", "code": 1008})
                return
            auth = Auth(user, "api_key", "", key_hash=key_hash, key_owner_id=owner_id)
        else:
            auth, new_anon = await _cookie_auth(state.forum, secret, conn.cookies)
        scope.setdefault("state", {})["auth"] = auth
        if new_anon is None or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        secure = conn.url.scheme == "https"

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                cookie = f"{ANON_COOKIE}={new_anon}; Path=/; HttpOnly; SameSite=Lax"
                headers = list(message.get("headers", []))
                headers.append((b"set-cookie", (cookie + ("; Secure" if secure else "")).encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def is_suspended(user: User, now: float) -> bool:
    return user.suspended_until is not None and user.suspended_until > now


def is_silenced(user: User, now: float) -> bool:
    return user.silenced_until is not None and user.silenced_until > now


async def _cookie_auth(
    forum: Forum, secret: str, cookies: dict[str, str]
) -> tuple[Auth, str | None]:
    raw = cookies.get(SESSION_COOKIE)
    token = unsign_session(secret, raw) if raw else None
    if token is not None:
        found = await user_queries.get_session(forum.db, token_hash(token), forum.now())
        # A suspension deletes sessions; one set another way (the database, a script)
        # still admits nobody.
        if found is not None and not is_suspended(found.user, forum.now()):
            csrf = csrf_token_for(secret, token)
            auth = Auth(
                found.user,
                "session",
                csrf,
                token,
                unread_notifications=found.unread,
                bell_head=found.bell_head,
                unanswered=found.unanswered,
                review_waiting=found.review_waiting,
            )
            return auth, None
    # Anonymous visitors get a random cookie so their login and signup forms carry a CSRF token.
    anon = cookies.get(ANON_COOKIE)
    new_anon = None
    if not anon or len(anon) > 64:
        anon = new_anon = new_token()
    return Auth(None, None, csrf_token_for(secret, "anon|" + anon)), new_anon


INVALID_KEY = "Invalid API key or username."


async def api_key_user(
    db: Any, key_hash: str, api_username: str | None, now: float
) -> tuple[User | None, int | None, str]:
    """Whom an API key acts as: (user, the key owner's id, "") or (None, None, why not).

    A key acts only while its owner is in good standing: a suspended or silenced owner's key
    acts as nobody, not even through Api-Username. As in Discourse, an admin's key may act
    as any user named in Api-Username, who must not be suspended either."""
    owner = await user_queries.get_api_key_user(db, key_hash)
    if owner is None:
        return None, None, INVALID_KEY
    if is_suspended(owner, now) or is_silenced(owner, now):
        return None, None, "This API key's account is suspended or silenced, so it cannot be used."
    user: User | None = owner
    if api_username and api_username.lower() != owner.username.lower():
        if owner.role != "admin" or len(api_username) > 100:
            return None, None, INVALID_KEY
        user = await user_queries.get_user_by_username(db, api_username)
    if user is None:
        return None, None, INVALID_KEY
    if is_suspended(user, now):
        return None, None, "This account is suspended."
    return user, owner.id, ""


@dataclass(frozen=True)
class Device:
    """A browser that logged in to an account: the account, and a random token of its own
    (each login makes a new one), so each device has its own count of failed logins."""

    user_id: int
    token: str


def device_cookie_header(secret: str, user_id: int, *, secure: bool) -> str:
    """Remembers, signed, that this browser logged in to this account: its later logins are
    not held back by failures from others on the same network (actions/accounts.do_login)."""
    value = Signer(secret, salt="forum.device").sign(f"{user_id}.{new_token()}").decode()
    cookie = f"{DEVICE_COOKIE}={value}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax"
    return cookie + ("; Secure" if secure else "")


def device_of(secret: str, value: str | None) -> Device | None:
    if not value or len(value) > 200:
        return None
    try:
        text = Signer(secret, salt="forum.device").unsign(value).decode()
    except BadSignature:
        return None
    user_id, _, token = text.partition(".")
    return Device(int(user_id), token) if user_id.isdigit() and token else None


def clear_session_cookie(response: Response, secure: bool) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", secure=secure, httponly=True, samesite="lax")
