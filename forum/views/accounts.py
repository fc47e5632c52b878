"""Sign up (as a member or a guest), log in, log out, user profiles and their role badges."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from forum.access import readable_groups
from forum.actions import accounts as account_actions
from forum.auth import (
    DEVICE_COOKIE,
    Device,
    clear_session_cookie,
    device_cookie_header,
    device_of,
    new_token,
    session_cookie_header,
    sign_session,
)
from forum.context import Forum
from forum.errors import BadRequest, NotFound, RateLimited
from forum.forms import query_input, read_input
from forum.pages import LoginPage, SignupPage, UserPage
from forum.permissions import (
    VERIFIABLE_BADGES,
    can_change_badge,
    can_set_site_role,
    can_verify_badge,
    is_staff,
)
from forum.queries import notifications as notification_queries
from forum.queries import posts as post_queries
from forum.queries import profiles as profile_queries
from forum.queries import users as user_queries
from forum.queries.users import User
from forum.rendering import BADGE_LABELS
from forum.views.common import base
from forum.web import (
    auth_of,
    client_address,
    forum_of,
    redirect,
    render,
    require_viewer,
    safe_next,
    viewer_of,
    with_retry_after,
)

SITE_ROLES = [("member", "Member"), ("moderator", "Moderator"), ("admin", "Administrator")]


def _logged_in(
    request: Request, user: User, token: str, next_path: str, said: str = "logged_in"
) -> Response:
    settings = forum_of(request).settings
    response = redirect(next_path, said)
    secure = request.url.scheme == "https"
    cookie = session_cookie_header(
        sign_session(settings.secret_key, token),
        max_age=settings.session_days * 86400,
        secure=secure,
    )
    response.headers.append("set-cookie", cookie)
    response.headers.append(
        "set-cookie", device_cookie_header(settings.secret_key, user.id, secure=secure)
    )
    return response


async def login(request: Request) -> Response:
    next_path = safe_next(query_input(request).get("next"))
    login_value, errors, status, wait = "", [], 200, None
    if request.method == "POST":
        form = await read_input(request)
        login_value = form.get("login") or ""
        next_path = safe_next(form.get("next"))
        secret = forum_of(request).settings.secret_key
        attempt = account_actions.LoginAttempt(
            login_value,
            form.get("password") or "",
            client_address(request),
            device_of(secret, request.cookies.get(DEVICE_COOKIE)),
        )
        try:
            user, token = await account_actions.do_login(forum_of(request), attempt)
        except (BadRequest, RateLimited) as error:
            errors, status, wait = error.messages, error.status_code, error.wait_seconds
        else:
            return _logged_in(request, user, token, next_path)
    page = LoginPage(
        **base(request, "Log in"), login_value=login_value, next_path=next_path, errors=errors
    )
    return with_retry_after(render(request, page, status), wait)


async def signup(request: Request) -> Response:
    values: dict[str, Any] = {
        "username_value": "",
        "email_value": "",
        "badge_value": "other",
        "guest_value": query_input(request).get("account") == "guest",
    }
    errors: list[str] = []
    status, wait = 400, None
    if request.method == "POST":
        form = await read_input(request)
        guest = form.get("account") == "guest"
        values = {
            "username_value": form.get("username") or "",
            "email_value": "" if guest else form.get("email") or "",
            "badge_value": form.get("badge") or "other",
            "guest_value": guest,
        }
        forum = forum_of(request)
        try:
            details = await account_actions.check_signup_fully(
                forum,
                form.get("username"),
                form.get("email"),
                form.get("password"),
                form.get("badge"),
                guest=guest,
            )
            await account_actions.take_signup_turn(forum, client_address(request))
            user = await account_actions.do_create_user(forum, details)
            _, token = await account_actions.do_login(
                forum,
                # Just made here: not held back by others' failures on this network.
                account_actions.LoginAttempt(
                    details.username,
                    details.password,
                    client_address(request),
                    Device(user.id, new_token()),
                ),
            )
        except (BadRequest, RateLimited) as error:
            errors, status, wait = error.messages, error.status_code, error.wait_seconds
        else:
            return _logged_in(request, user, token, "/", "signed_up")
    page = SignupPage(
        **base(request, "Sign up"), badges=list(BADGE_LABELS.items()), errors=errors, **values
    )
    return with_retry_after(render(request, page, status if errors else 200), wait)


async def logout(request: Request) -> Response:
    await read_input(request)
    auth = auth_of(request)
    if auth.session_token is not None:
        await account_actions.do_logout(forum_of(request), auth.session_token)
    response = redirect("/", "logged_out")
    clear_session_cookie(response, secure=request.url.scheme == "https")
    return response


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%-d %b %Y")


async def user_page(request: Request, errors: list[str] | None = None) -> Response:
    db, viewer = forum_of(request).db, viewer_of(request)
    user = await user_queries.get_user_by_username(db, request.path_params["username"])
    if user is None:
        raise NotFound("There is no such member.")
    group_ids = [g.id for g in await readable_groups(db, viewer)]
    verifiable = user.badge in VERIFIABLE_BADGES
    verified = verifiable and user.badge_verified_at is not None
    page = UserPage(
        **base(request, user.username),
        user=user,
        post_count=await user_queries.count_posts_by_user(db, user.id, group_ids),
        recent=await post_queries.list_recent_posts_by_user(db, user.id, group_ids, 10),
        badge_verified=verified,
        verified_on=_day(user.badge_verified_at) if verified and user.badge_verified_at else "",
        verified_by=(
            await user_queries.get_badge_verifier(db, user.id)
            if verified and is_staff(viewer)
            else None
        ),
        badges=list(BADGE_LABELS.items()),
        roles=SITE_ROLES,
        can_change_badge=can_change_badge(viewer, user),
        can_verify_badge=verifiable and can_verify_badge(viewer, user),
        can_set_role=can_set_site_role(viewer) and not user.is_guest,
        errors=errors or [],
        muted=(
            await notification_queries.is_muted(db, viewer.id, user.id)
            if viewer and viewer.id != user.id and not is_staff(user)
            else None
        ),
        profile=await profile_queries.get_profile(db, user.id, viewer, is_staff(viewer)),
    )
    return render(request, page, 400 if errors else 200)


async def change_badge(request: Request) -> Response:
    return await _badge_form(request, account_actions.do_change_badge)


async def verify_badge(request: Request) -> Response:
    return await _badge_form(request, account_actions.do_verify_badge)


async def _badge_form(
    request: Request, act: Callable[[Forum, User, str, str | None], Awaitable[object]]
) -> Response:
    """A badge form on a profile: the profile again with what was wrong, or back to it."""
    form = await read_input(request)
    viewer = require_viewer(request)
    username = request.path_params["username"]
    try:
        await act(forum_of(request), viewer, username, form.get("badge"))
    except BadRequest as error:
        return await user_page(request, error.messages)
    return redirect(request.url_for("user", username=username).path)


async def unverify_badge(request: Request) -> Response:
    await read_input(request)
    viewer = require_viewer(request)
    username = request.path_params["username"]
    await account_actions.do_unverify_badge(forum_of(request), viewer, username)
    return redirect(request.url_for("user", username=username).path)


async def set_site_role(request: Request) -> Response:
    form = await read_input(request)
    viewer = require_viewer(request)
    username = request.path_params["username"]
    try:
        await account_actions.do_set_site_role(
            forum_of(request), viewer, username, form.get("role")
        )
    except BadRequest as error:
        return await user_page(request, error.messages)
    return redirect(request.url_for("user", username=username).path)
