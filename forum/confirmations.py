"""What a page says once after an action (Discourse's "flash"): the action's redirect names it
in a short-lived cookie, the next page shows it and clears the cookie. The cookie carries a
key, never text, so nobody can make the forum say words of theirs."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

COOKIE = "said"

CONFIRMATIONS: dict[str, str] = {
    "logged_in": "You are logged in.",
    "logged_out": "You are logged out.",
    "signed_up": "Welcome! Your account is ready.",
    "joined": "You joined the group.",
    "left": "You left the group.",
    "moved": "The topic is in its new group now.",
    "topic": "Your topic is posted.",
    "posted": "Your reply is posted.",
    "saved": "Your changes are saved.",
    "thanked": "You thanked the post.",
    "unthanked": "You took back your thanks.",
    "decided": "Done.",
    "following": "Your choice of notifications is saved.",
}


def confirm(response: Response, said: str) -> Response:
    """Have the next page say CONFIRMATIONS[said], once."""
    if said not in CONFIRMATIONS:
        raise ValueError(f"no confirmation called {said!r}")
    # Not secret (a key to the forum's own words), so no Secure flag is needed over https.
    response.set_cookie(COOKIE, said, max_age=60, httponly=True, samesite="lax")
    return response


def confirmation_of(request: Request) -> str:
    return CONFIRMATIONS.get(request.cookies.get(COOKIE, ""), "")


def said_once(request: Request, response: Response) -> None:
    """A page that showed the confirmation clears it, so a reload does not say it again."""
    if COOKIE in request.cookies:
        response.delete_cookie(COOKIE, httponly=True, samesite="lax")
