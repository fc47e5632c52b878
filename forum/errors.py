"""The one exception hierarchy of the forum; app.py maps it to HTML pages or JSON errors."""

from __future__ import annotations


class ForumError(Exception):
    """An error the user should see, with the HTTP status that says what kind it is."""

    status_code = 400
    title = "Something is wrong with that request"

    def __init__(self, *messages: str, wait_seconds: int | None = None) -> None:
        super().__init__(*messages)
        self.messages: list[str] = list(messages) or [self.title]
        self.wait_seconds = wait_seconds


class BadRequest(ForumError):
    status_code = 400
    title = "Please check what you entered"


class NotAuthenticated(ForumError):
    status_code = 403
    title = "Please log in"


class Forbidden(ForumError):
    status_code = 403
    title = "You do not have permission to do that"


class NotFound(ForumError):
    status_code = 404
    title = "Page not found"


class Conflict(ForumError):
    status_code = 409
    title = "That has already changed"


class PayloadTooLarge(ForumError):
    status_code = 413
    title = "That is too large to send"


class UnsupportedMediaType(ForumError):
    status_code = 415
    title = "That kind of request body is not accepted"


class RateLimited(ForumError):
    status_code = 429
    title = "Please wait a moment"
