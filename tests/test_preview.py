"""POST /preview: the composer's cooked preview and identifiable-data warnings, as JSON.

Runs against the real server on SQLite and on PostgreSQL (the `client` fixture)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Arrange, Client, ServerThread

JSON_TYPE = "application/json; charset=utf-8"


async def member(client: Any, arrange: Arrange) -> Client:
    c: Client = client()
    await c.login(await arrange.user())
    return c


async def preview(c: Client, raw: str, **headers: str) -> httpx.Response:
    return await c.http.post(
        "/preview", json={"raw": raw}, headers={"X-CSRF-Token": c.csrf} | headers
    )


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == JSON_TYPE
    body: dict[str, Any] = response.json()
    assert set(body) == {"cooked", "warnings", "held"}
    return body


def errors(response: httpx.Response, status: int) -> list[str]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == JSON_TYPE
    body = response.json()
    assert set(body) == {"errors"} and body["errors"], body
    assert all(isinstance(e, str) and e for e in body["errors"])
    return list(body["errors"])


async def test_an_nhs_number_is_warned_about_with_its_offsets(client, arrange) -> None:
    c = await member(client, arrange)
    number = "999 526 0182"
    # An emoji first: offsets count characters (code points), as Python and the page agree.
    raw = f"Day 3 after the op \N{FLEXED BICEPS}\n\nMy NHS number is {number}, is that right?"
    body = ok(await preview(c, raw))
    start = raw.index(number)
    assert body["warnings"] == [
        {
            "kind": "nhs_number",
            "message": "This looks like an NHS number. Please remove it: posts here must not "
            "identify a patient.",
            "start": start,
            "end": start + len(number),
        }
    ]
    assert raw[body["warnings"][0]["start"] : body["warnings"][0]["end"]] == number
    assert body["held"] is True
    assert "<p>My NHS number is" in body["cooked"]


async def test_offsets_point_into_raw_as_sent(client, arrange) -> None:
    """Cleaning trims the text and turns CRLF into LF; the offsets still index what was sent."""
    c = await member(client, arrange)
    raw = "  \r\n\r\nText me on 07700 900123\r\nor mail jo.bloggs@example.org  "
    body = ok(await preview(c, raw))
    found = [(w["kind"], raw[w["start"] : w["end"]]) for w in body["warnings"]]
    assert found == [("phone", "07700 900123"), ("email", "jo.bloggs@example.org")]
    assert body["held"] is True


async def test_several_kinds_each_get_a_message_that_never_quotes_them(client, arrange) -> None:
    c = await member(client, arrange)
    raw = "Mum, DOB 12/03/1941, MRN: RXX123456, lives at 12 Acacia Avenue, Leeds LS6 2AB."
    body = ok(await preview(c, raw))
    kinds = [w["kind"] for w in body["warnings"]]
    assert kinds == ["date_of_birth", "hospital_number", "postcode_address"]
    for warning in body["warnings"]:
        assert raw[warning["start"] : warning["end"]] not in warning["message"]
        assert not any(ch.isdigit() for ch in warning["message"])


async def test_clean_clinical_text_has_no_warning(client, arrange) -> None:
    c = await member(client, arrange)
    raw = (
        "Seen on 12/03/2024 in pre-op clinic. Metformin **500mg** twice daily, HbA1c 48 "
        "mmol/mol, BP 140/90, eGFR 45. Aged 67, 8,000 steps a day. Ward 7B, call NHS 111."
    )
    body = ok(await preview(c, raw))
    assert body["warnings"] == [] and body["held"] is False
    assert "<strong>500mg</strong>" in body["cooked"]


async def test_the_cooked_preview_is_sanitised(client, arrange) -> None:
    c = await member(client, arrange)
    body = ok(await preview(c, "<script>alert(1)</script> [x](javascript:alert(1))"))
    assert "<script" not in body["cooked"] and 'href="javascript' not in body["cooked"]
    assert "&lt;script&gt;" in body["cooked"]  # typed HTML is shown as text


@pytest.mark.parametrize("raw", ["", "   \n\t  "])
async def test_an_empty_composer_previews_as_empty(client, arrange, raw: str) -> None:
    c = await member(client, arrange)
    assert ok(await preview(c, raw)) == {"cooked": "", "warnings": [], "held": False}
    response = await c.http.post("/preview", json={}, headers={"X-CSRF-Token": c.csrf})
    assert ok(response) == {"cooked": "", "warnings": [], "held": False}


async def test_a_form_body_with_the_token_field_works_too(client, arrange) -> None:
    c = await member(client, arrange)
    response = await c.post_form("/preview", {"raw": "My DOB is 12/03/1985."})
    assert [w["kind"] for w in ok(response)["warnings"]] == ["date_of_birth"]


async def test_anonymous_visitors_get_a_json_403(client) -> None:
    visitor: Client = client()
    await visitor.get("/login")  # an anonymous CSRF token, so only being logged out is wrong
    assert visitor.csrf
    assert errors(await preview(visitor, "DOB 12/03/1985"), 403) == ["Please log in first."]
    no_token = await visitor.http.post("/preview", json={"raw": "hello"})
    errors(no_token, 403)


async def test_a_missing_or_wrong_csrf_token_is_refused(client, arrange) -> None:
    c = await member(client, arrange)
    missing = await c.http.post("/preview", json={"raw": "hello"})
    assert "expired" in errors(missing, 403)[0]
    errors(await preview(c, "hello", **{"X-CSRF-Token": "0" * 64}), 403)
    form = await c.post_form("/preview", {"raw": "hello"}, csrf=False)
    errors(form, 403)


async def test_bad_bodies_are_json_4xx(client, arrange, server: ServerThread) -> None:
    c = await member(client, arrange)
    headers = {"X-CSRF-Token": c.csrf, "Content-Type": "application/json"}

    async def send(content: bytes, content_type: str = "application/json") -> httpx.Response:
        return await c.http.post(
            "/preview", content=content, headers=headers | {"Content-Type": content_type}
        )

    assert "UTF-8" in errors(await send(b'{"raw": "\xff\xfe bad"}'), 400)[0]
    assert "UTF-8" in errors(await send(b'{"raw": "\\ud800"}'), 400)[0]  # a lone surrogate
    errors(await send(b'{"raw": '), 400)
    errors(await send(b'["raw"]'), 400)
    errors(await send(b"raw=hello", "text/plain"), 415)
    limit = server.settings.max_body_bytes
    errors(await send(b'{"raw": "' + b"a" * limit + b'"}'), 413)
    too_long = "a" * (server.settings.max_post_chars + 1)
    assert "characters long" in errors(await preview(c, too_long), 400)[0]
    errors(await preview(c, "a NUL \x00 here"), 400)


async def test_only_post_is_allowed(client, arrange) -> None:
    c = await member(client, arrange)
    assert (await c.http.get("/preview")).status_code == 405
