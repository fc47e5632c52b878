"""Accounts: sign up, log in and out, API keys."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from forum.auth import hash_password, needs_rehash, new_token, token_hash, verify_password
from forum.db import Database
from forum.errors import BadRequest, NotFound, RateLimited
from forum.queries import users as user_queries
from forum.queries.users import User
from forum.ratelimit import RateLimiter
from forum.rendering import BADGE_LABELS
from forum.settings import Settings

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,19}$")
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
ROLES = ("member", "moderator", "admin")
MIN_PASSWORD = 10


@dataclass(frozen=True)
class Signup:
    username: str
    email: str
    password: str
    badge: str
    role: str = "member"


def check_signup(
    username: str | None,
    email: str | None,
    password: str | None,
    badge: str | None,
    role: str = "member",
) -> Signup:
    username, email, password = (username or "").strip(), (email or "").strip(), password or ""
    errors = []
    if not USERNAME_RE.match(username):
        errors.append(
            "Usernames are 3 to 20 letters, digits, dots, dashes or underscores,"
            " starting with a letter or digit."
        )
    if not EMAIL_RE.match(email) or len(email) > 254:
        errors.append("Please enter a valid email address.")
    if len(password) < MIN_PASSWORD:
        errors.append(f"Passwords need at least {MIN_PASSWORD} characters.")
    elif len(password) > 1000:
        errors.append("That password is too long.")
    if (badge or "other") not in BADGE_LABELS:
        errors.append("Please choose one of the roles listed.")
    if role not in ROLES:
        errors.append(f"The role must be one of {', '.join(ROLES)}.")
    if errors:
        raise BadRequest(*errors)
    return Signup(username, email, password, badge or "other", role)


async def do_create_user(db: Database, signup: Signup) -> User:
    password_hash = await hash_password(signup.password)
    async with db.transaction() as conn:
        taken = await user_queries.username_or_email_taken(conn, signup.username, signup.email)
        if taken:
            raise BadRequest(*[f"That {what} is already registered." for what in taken])
        return await user_queries.insert_user(
            conn,
            username=signup.username,
            email=signup.email,
            password_hash=password_hash,
            role=signup.role,
            badge=signup.badge,
            now=time.time(),
        )


async def do_login(
    db: Database,
    limiter: RateLimiter,
    settings: Settings,
    login: str,
    password: str,
    address: str,
) -> tuple[User, str]:
    """Check the password and open a session; return the user and the new session token."""
    window = settings.login_limit_window_seconds
    keys = [
        (f"login:account:{login.strip().lower()}", settings.login_limit_per_account),
        (f"login:address:{address}", settings.login_limit_per_address),
    ]
    wait = max(limiter.wait_seconds(key, limit, window) for key, limit in keys)
    if wait:
        raise RateLimited(
            f"Too many failed logins. Please try again in {wait} seconds.", wait_seconds=wait
        )
    found = await user_queries.get_login(db, login.strip()) if login.strip() else None
    if found is None or not await verify_password(found[1], password):
        for key, _ in keys:
            limiter.hit(key, window)
        raise BadRequest("That username or password is not right.")
    user, password_hash = found
    limiter.reset(keys[0][0])
    token, now = new_token(), time.time()
    async with db.transaction() as conn:
        if needs_rehash(password_hash):
            await user_queries.update_password_hash(conn, user.id, await hash_password(password))
        await user_queries.insert_session(
            conn,
            token_hash=token_hash(token),
            user_id=user.id,
            now=now,
            expires_at=now + settings.session_days * 86400,
        )
    return user, token


async def do_logout(db: Database, session_token: str) -> None:
    async with db.transaction() as conn:
        await user_queries.delete_session(conn, token_hash(session_token))


async def do_create_api_key(db: Database, username: str) -> str:
    """Make a key for the user and return it; only its hash is kept, so it is shown once."""
    key = new_token()
    async with db.transaction() as conn:
        user = await user_queries.get_user_by_username(conn, username)
        if user is None:
            raise NotFound(f"There is no user called {username}.")
        await user_queries.insert_api_key(
            conn, key_hash=token_hash(key), user_id=user.id, now=time.time()
        )
    return key
