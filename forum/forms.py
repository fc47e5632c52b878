"""Reading request input: a size limit, strict UTF-8, form or JSON bodies, and the CSRF check.

Every state-changing handler reads its body through `read_input`, so none can forget the checks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request

from forum.auth import Auth, check_csrf
from forum.errors import BadRequest, Forbidden, PayloadTooLarge, UnsupportedMediaType


@dataclass
class Input:
    """Fields from a query string or body; Rails-style `name[]` keys are lists."""

    values: dict[str, list[str]] = field(default_factory=dict)

    def get(self, name: str, default: str | None = None) -> str | None:
        found = self.values.get(name) or self.values.get(f"{name}[]")
        return found[0] if found else default

    def get_list(self, name: str) -> list[str]:
        return self.values.get(f"{name}[]", []) + self.values.get(name, [])

    def get_int(self, name: str) -> int | None:
        text = self.get(name)
        if text is None or text.strip() == "":
            return None
        return parse_id(text, name)

    def get_int_list(self, name: str) -> list[int]:
        return [parse_id(v, name) for v in self.get_list(name)]


# Ids and numbers from the outside must fit the smallest integer column they meet (post numbers
# are 32-bit); a larger one would reach the database and fail there as a server error.
MAX_ID = 2**31 - 1


def parse_id(text: str, name: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number.") from None
    if not 0 <= value <= MAX_ID:
        raise BadRequest(f"{name} is out of range.")
    return value


NUL_MESSAGE = "The request contains a character that is not allowed (a NUL byte)."

# Free text that every handler checks with actions/validation.clean_text before any query,
# which refuses NUL with a message naming the field ("The post contains characters that are
# not allowed."): shown in the form it came from, rather than on an error page.
FREE_TEXT = frozenset({"raw", "title", "note", "word", "name", "description"})


def refuse_nul(text: str) -> str:
    """No person types NUL, and PostgreSQL cannot store it: refused wherever input arrives
    (field names and values, the path and the query), before it can reach a query as a
    server error. tests/test_bad_input.py sends it to every route."""
    if "\x00" in text:
        raise BadRequest(NUL_MESSAGE)
    return text


def field_value(key: str, value: str) -> str:
    return value if key in FREE_TEXT else refuse_nul(value)


def _from_pairs(pairs: list[tuple[str, str]]) -> Input:
    values: dict[str, list[str]] = {}
    for key, value in pairs:
        values.setdefault(refuse_nul(key), []).append(field_value(key, value))
    return Input(values)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        text = str(value)
        try:
            text.encode("utf-8")  # JSON escapes can smuggle in lone surrogates
        except UnicodeEncodeError:
            raise BadRequest("The request is not valid UTF-8 text.") from None
        return text
    raise BadRequest("Each field must be text or a number.")


def _from_json(data: Any) -> Input:
    if not isinstance(data, dict):
        raise BadRequest("The JSON body must be an object.")
    values: dict[str, list[str]] = {}
    for key, value in data.items():
        if value is None:
            continue
        key = refuse_nul(_scalar(key))
        texts = [_scalar(v) for v in value] if isinstance(value, list) else [_scalar(value)]
        values[key] = [field_value(key, text) for text in texts]
    return Input(values)


def parse_json(text: str) -> Any:
    """json.loads, with every way a body can defeat it answered as a bad request: invalid
    JSON, nesting deeper than the parser's recursion allows, integers longer than Python
    converts (4,300 digits)."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # JSONDecodeError is a ValueError
        raise BadRequest("The request body is not valid JSON.") from None


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The request is larger than {limit // 1024} KB.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:  # a chunked body has no length to check up front
            raise PayloadTooLarge(f"The request is larger than {limit // 1024} KB.")
    return bytes(body)


async def read_input(request: Request, *, csrf: bool = True) -> Input:
    """Parse the body strictly, and check the CSRF token for cookie-authenticated requests."""
    limit: int = request.app.state.forum.settings.max_body_bytes
    body = await read_body(request, limit)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        text = body.decode("utf-8")
        if content_type == "application/json":
            data = _from_json(parse_json(text) if text.strip() else {})
        elif content_type in ("application/x-www-form-urlencoded", ""):
            data = _from_pairs(
                parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
            )
        else:
            raise UnsupportedMediaType("Send the body as a form or as JSON.")
    except UnicodeDecodeError:
        raise BadRequest("The request is not valid UTF-8 text.") from None
    auth: Auth = request.state.auth
    if csrf:
        supplied = request.headers.get("x-csrf-token") or data.get("csrf_token")
        if not check_csrf(auth, supplied):
            raise Forbidden(
                "This form has expired or did not come from this site. Please try again."
            )
    return data


def query_input(request: Request) -> Input:
    return _from_pairs(list(request.query_params.multi_items()))
