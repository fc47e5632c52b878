"""Accounts: sign up (members and guests), log in and out, API keys, role badges, site roles."""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass

from forum.auth import (
    Device,
    dummy_password_hash,
    hash_password,
    is_suspended,
    new_token,
    rehash_cost,
    token_hash,
    verify_password,
)
from forum.context import Forum
from forum.db import Connection
from forum.errors import BadRequest, Conflict, Forbidden, NotFound, RateLimited
from forum.events import AccessChanged
from forum.permissions import (
    VERIFIABLE_BADGES,
    can_change_badge,
    can_set_site_role,
    can_verify_badge,
)
from forum.queries import users as user_queries
from forum.queries.audit import record_action
from forum.queries.users import User
from forum.ratelimit import limit_key, shared_forget, shared_reset, shared_take
from forum.rendering import BADGE_LABELS, long_date

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,19}$")
# No spaces, and no control or invisible format characters (a bidi override can make an
# address read as another): every part is printable.
EMAIL_RE = re.compile(r"^[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]{2,}$")
ROLES = ("member", "moderator", "admin")
MIN_PASSWORD = 10
# Guests give no email; the column is unique and required, so each gets an address that can
# never be delivered (RFC 2606 reserves .invalid) and is never shown.
GUEST_EMAIL_DOMAIN = "guest.invalid"


def _has_invisible(text: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in text)


@dataclass(frozen=True)
class Signup:
    username: str
    email: str
    password: str
    badge: str
    role: str = "member"
    is_guest: bool = False


def check_signup(
    username: str | None,
    email: str | None,
    password: str | None,
    badge: str | None,
    role: str = "member",
    *,
    guest: bool = False,
) -> Signup:
    username, email, password = (username or "").strip(), (email or "").strip(), password or ""
    if guest:
        # Whatever was typed in the email box is not kept: a guest chose not to give one.
        email = f"guest-{secrets.token_hex(12)}@{GUEST_EMAIL_DOMAIN}"
    errors = []
    if not USERNAME_RE.match(username):
        errors.append(
            "Usernames are 3 to 20 letters, digits, dots, dashes or underscores,"
            " starting with a letter or digit."
        )
    if not EMAIL_RE.match(email) or len(email) > 254 or _has_invisible(email):
        errors.append("Please enter a valid email address.")
    if len(password) < MIN_PASSWORD:
        errors.append(f"Passwords need at least {MIN_PASSWORD} characters.")
    elif len(password) > 1000:
        errors.append("That password is too long.")
    if (badge or "other") not in BADGE_LABELS:
        errors.append("Please choose one of the roles listed.")
    if role not in ROLES:
        errors.append(f"The role must be one of {', '.join(ROLES)}.")
    elif guest and role != "member":
        errors.append("Guest accounts cannot be moderators or administrators.")
    if errors:
        raise BadRequest(*errors)
    return Signup(username, email, password, badge or "other", role, guest)


async def check_signup_fully(
    forum: Forum,
    username: str | None,
    email: str | None,
    password: str | None,
    badge: str | None,
    *,
    guest: bool = False,
) -> Signup:
    """check_signup, and whether the username is taken, in one answer: the sign-up form lists
    every problem at once, so nobody fixes one to meet the next. Usernames are public (every
    profile shows one); whether an email is registered is said only by do_create_user, after
    the address's sign-up turn is taken, so this cannot be used to test emails for free."""
    try:
        return check_signup(username, email, password, badge, guest=guest)
    except BadRequest as error:
        async with forum.db.reads() as reads:
            taken = await user_queries.username_or_email_taken(reads, (username or "").strip(), "")
        named = ["That username is already registered."] if "username" in taken else []
        raise BadRequest(*error.messages, *named) from None


async def do_create_user(forum: Forum, signup: Signup) -> User:
    password_hash = await hash_password(forum.settings, signup.password)
    async with forum.db.transaction() as conn:
        taken = await user_queries.username_or_email_taken(conn, signup.username, signup.email)
        if taken:
            raise BadRequest(*[f"That {what} is already registered." for what in taken])
        user = await user_queries.insert_user(
            conn,
            username=signup.username,
            email=signup.email,
            password_hash=password_hash,
            role=signup.role,
            badge=signup.badge,
            now=forum.now(),
        )
        if signup.is_guest:
            user = await user_queries.mark_guest(conn, user.id)
        return user


# The longest login name worth looking up: an email address is at most 254 characters.
MAX_LOGIN_CHARS = 254
# A browser that logged in to the account before is held by its own count, and by a count
# per account this many times the usual one: a copied device cookie cannot guess without end.
TRUSTED_ACCOUNT_FACTOR = 5


@dataclass(frozen=True)
class LoginAttempt:
    """What a login form sends, and where from. `device`: the account this browser last
    logged in to and its own random token (from its signed device cookie), if any."""

    login: str
    password: str
    address: str
    device: Device | None = None


async def do_login(forum: Forum, attempt: LoginAttempt) -> tuple[User, str]:
    """Check the password and open a session; return the user and the new session token.

    Attempts are counted in the database (every process shares the count) before the
    password is checked, per account and per address; one that succeeds is taken back. A
    browser that has logged in to this account before (its device cookie) is held by its own
    count instead, so an attacker guessing from a shared address (a hospital network) or at
    one account does not lock the member out. Known and unknown names cost the same (a
    password hash is always checked)."""
    now, window = forum.now(), forum.settings.login_limit_window_seconds
    name = attempt.login.strip()
    if len(name) > MAX_LOGIN_CHARS:
        name = ""  # no such account: answered as any unknown name is
    found = await user_queries.get_login(forum.db, name) if name else None
    device = attempt.device
    trusted = found is not None and device is not None and device.user_id == found[0].id
    # One count per account, whichever of its names (username or email) is typed.
    account_key = limit_key("login:account", str(found[0].id) if found else name.lower())
    address_key = limit_key("login:address", attempt.address)
    per_account = forum.settings.login_limit_per_account
    if trusted:
        assert device is not None
        device_key = limit_key("login:device", device.token)
        checks = [(device_key, per_account), (account_key, per_account * TRUSTED_ACCOUNT_FACTOR)]
        counted = [device_key, account_key]
    else:
        checks = [(account_key, per_account), (address_key, forum.settings.login_limit_per_address)]
        counted = [account_key, address_key]
    async with forum.db.transaction() as conn:
        wait = await shared_take(conn, checks, counted, window, now)
    if wait:
        raise RateLimited(
            f"Too many failed logins. Please try again in {wait} seconds.", wait_seconds=wait
        )
    password_hash = found[1] if found else await dummy_password_hash(forum.settings)
    if not await verify_password(password_hash, attempt.password) or found is None:
        raise BadRequest("That username or password is not right.")  # the attempt stays counted
    user = found[0]
    if is_suspended(user, now):
        assert user.suspended_until is not None
        raise Forbidden(f"This account is suspended until {long_date(user.suspended_until)}.")
    token = new_token()
    # Hashed before the transaction: nothing inside one waits (forum/db.py).
    cost = rehash_cost(forum.settings, password_hash)
    rehashed = await hash_password(cost, attempt.password) if cost is not None else None
    async with forum.db.transaction() as conn:
        # A good login clears its account's failures; its own attempt is taken back.
        await shared_reset(conn, account_key)
        for key in counted:
            await shared_forget(conn, key, now)
        if rehashed is not None:
            await user_queries.update_password_hash(conn, user.id, rehashed, password_hash)
        await user_queries.insert_session(
            conn,
            token_hash=token_hash(token),
            user_id=user.id,
            now=now,
            expires_at=now + forum.settings.session_days * 86400,
        )
    return user, token


async def take_signup_turn(forum: Forum, address: str) -> None:
    """Count a sign-up from this address, or raise RateLimited if it made too many lately.
    Counted before the account is made, in one locked step, so parallel sign-ups cannot all
    pass the check first."""
    key = limit_key("signup:address", address)
    async with forum.db.transaction() as conn:
        wait = await shared_take(
            conn, [(key, forum.settings.signups_per_address_per_hour)], [key], 3600, forum.now()
        )
    if wait:
        raise RateLimited(
            f"Too many accounts were made from your network lately. Please try again in"
            f" {wait // 60 + 1} minutes.",
            wait_seconds=wait,
        )


async def do_logout(forum: Forum, session_token: str) -> None:
    async with forum.db.transaction() as conn:
        user_id = await user_queries.delete_session(conn, token_hash(session_token))
        if user_id is not None:
            # The session's open live sockets close now, on every node (forum/live.py).
            await forum.publish(conn, AccessChanged(user_id, pages=False))  # sockets only


async def do_create_api_key(forum: Forum, username: str) -> str:
    """Make a key for the user and return it; only its hash is kept, so it is shown once."""
    key = new_token()
    async with forum.db.transaction() as conn:
        user = await user_queries.get_user_by_username(conn, username)
        if user is None:
            raise NotFound(f"There is no user called {username}.")
        await user_queries.insert_api_key(
            conn, key_hash=token_hash(key), user_id=user.id, now=forum.now()
        )
    return key


# --- role badges and site roles -------------------------------------------------------------


async def _target(conn: Connection, username: str | None) -> User:
    user = await user_queries.get_user_by_username(conn, (username or "").strip())
    if user is None:
        raise NotFound("There is no such member.")
    return user


def check_badge(badge: str | None) -> str:
    if badge is None or badge not in BADGE_LABELS:
        raise BadRequest("Please choose one of the roles listed.")
    return badge


async def do_change_badge(forum: Forum, actor: User, username: str, badge: str | None) -> bool:
    """The user sets their own badge; a new badge loses the old one's verification."""
    new_badge = check_badge(badge)
    async with forum.db.transaction() as conn:
        target = await _target(conn, username)
        if not can_change_badge(actor, target):
            raise Forbidden("Only you can change your role badge.")
        changed = await user_queries.change_badge(conn, target.id, new_badge)
        if changed:  # every post shows it: pages kept for readers are made afresh
            await forum.publish(conn, AccessChanged(target.id))
        return changed


async def do_verify_badge(
    forum: Forum, actor: User, username: str, expected_badge: str | None = None
) -> bool:
    """Staff vouch for a clinician's or allied professional's badge; who and when are kept.

    `expected_badge` is the badge the moderator saw: if the member changed it since, the
    moderator is told rather than verifying a badge they never checked. Returns False when it
    was already verified (nothing changes and nothing is logged).
    """
    async with forum.db.transaction() as conn:
        target = await _target(conn, username)
        if not can_verify_badge(actor, target):
            if can_verify_badge(actor):
                raise Forbidden("Another moderator needs to verify your own badge.")
            raise Forbidden("Only moderators and administrators can verify badges.")
        if expected_badge and expected_badge != target.badge:
            raise Conflict(
                f"{target.username} changed their badge since you opened the page. Please check"
                " it again."
            )
        if target.badge not in VERIFIABLE_BADGES:
            raise BadRequest(
                "Only clinician and allied health professional badges can be verified."
            )
        now = forum.now()
        if not await user_queries.verify_badge(
            conn, target.id, badge=target.badge, verified_by=actor.id, now=now
        ):
            return False
        await record_action(
            conn,
            actor_id=actor.id,
            action="verify_badge",
            now=now,
            note=BADGE_LABELS[target.badge],
            target_user_id=target.id,
        )
        await forum.publish(conn, AccessChanged(target.id))  # the mark beside every post
        return True


async def do_unverify_badge(forum: Forum, actor: User, username: str) -> bool:
    """Withdraw a verification; False (and no log entry) if the badge was not verified."""
    async with forum.db.transaction() as conn:
        target = await _target(conn, username)
        if not can_verify_badge(actor, target):
            if can_verify_badge(actor):
                raise Forbidden("Another moderator needs to change your own badge's verification.")
            raise Forbidden("Only moderators and administrators can withdraw a verification.")
        if not await user_queries.unverify_badge(conn, target.id):
            return False
        await record_action(
            conn,
            actor_id=actor.id,
            action="unverify_badge",
            now=forum.now(),
            note=BADGE_LABELS.get(target.badge, target.badge),
            target_user_id=target.id,
        )
        await forum.publish(conn, AccessChanged(target.id))
        return True


async def do_set_site_role(forum: Forum, actor: User, username: str, role: str | None) -> bool:
    """An admin makes someone a member, moderator or admin; the last admin always stays."""
    if not can_set_site_role(actor):
        raise Forbidden("Only administrators can change site roles.")
    if role not in ROLES:
        raise BadRequest(f"The role must be one of {', '.join(ROLES)}.")
    async with forum.db.transaction() as conn:
        admins = await user_queries.lock_and_count_admins(conn) if role != "admin" else 0
        target = await _target(conn, username)  # read after the lock: its role is current
        if target.role == role:
            return False
        if target.is_guest and role != "member":
            raise BadRequest("Guest accounts cannot be moderators or administrators.")
        if target.role == "admin" and admins <= 1:
            raise BadRequest(
                "The forum needs at least one administrator: make someone else an"
                " administrator first."
            )
        await user_queries.set_site_role(conn, target.id, role)
        await record_action(
            conn,
            actor_id=actor.id,
            action="set_role",
            now=forum.now(),
            note=f"{target.role} -> {role}",
            target_user_id=target.id,
        )
        # Live sockets check their channels again at once (the review queue above all).
        await forum.publish(conn, AccessChanged(target.id))
        return True
