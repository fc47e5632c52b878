"""The composer's preview: the post as it will look, and warnings about anything in it that
could identify a patient, as the author types (static/composer.js)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from forum.actions.validation import clean_text
from forum.api.serialize import ForumJSON
from forum.content import cook
from forum.content.privacy import find_identifiers
from forum.forms import read_input
from forum.views.common import require_viewer, settings_of


async def preview(request: Request) -> Response:
    """POST {"raw": ...} -> {"cooked", "warnings", "held"}; offsets count characters of raw.

    Only JSON is ever answered, errors too ({"errors": [...]}: `wants_json` names this path),
    whatever the Accept header: the one caller is a script. The text is never logged or kept.
    """
    require_viewer(request)
    form = await read_input(request)
    raw = form.get("raw") or ""
    if not raw.strip():
        return ForumJSON({"cooked": "", "warnings": [], "held": False})
    text = clean_text(raw, "The post", settings_of(request).max_post_chars)
    # Offsets into raw as sent, not the cleaned text, so the page can select what they point at.
    findings = find_identifiers(raw)
    return ForumJSON(
        {
            "cooked": cook(text),
            "warnings": [
                {"kind": f.kind, "message": f.message, "start": f.start, "end": f.end}
                for f in findings
            ],
            # A post with any of these would wait for a moderator (DESIGN.md, safety).
            "held": bool(findings),
        }
    )
