"""Profiles and the directory (issue 12) on SQLite and PostgreSQL: what a member shares, who
may see it (on their page, in the directory, in JSON, their picture), pictures redrawn with
nothing of the original file kept, and bad input."""

from __future__ import annotations

import html
import io

import httpx
from PIL import Image, PngImagePlugin

from forum.actions.profiles import PICTURES_PER_HOUR
from forum.content.pictures import SIDE
from tests.conftest import Client, logged_in, unique
from tests.test_documents import stored
from tests.test_founding import told


async def save(c: Client, **fields: str) -> httpx.Response:
    return await c.post_form("/my/profile", fields)


async def send_picture(c: Client, content: bytes, name: str = "me.jpg") -> httpx.Response:
    if not c.csrf:
        await c.get("/")
    return await c.http.post(
        "/my/profile/picture",
        data={"csrf_token": c.csrf},
        files={"picture": (name, content, "application/octet-stream")},
    )


def photo(size: tuple[int, int] = (1200, 900), with_gps: bool = True) -> bytes:
    image = Image.new("RGB", size, (200, 120, 40))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    if with_gps:
        exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0), 3: "W", 4: (0.0, 7.0, 0.0)}  # GPSInfo
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def names(html_text: str) -> str:
    return html.unescape(html_text)


async def test_a_member_shares_a_profile_and_is_found_by_it(client, arrange) -> None:
    member = await arrange.user(name="ana", badge="clinician")
    other = await arrange.user(name="ben")
    m = await logged_in(client, member)
    assert (await m.get("/my/profile")).status_code == 200
    interest = unique("pacing").lower()
    saved = await save(
        m,
        display_name="Ana  Morales",
        bio="Physio.\nI run a pacing clinic.",
        organisation="St Elsewhere NHS Trust",
        region="North West",
        interests=f"{interest}, Long COVID",
        visibility="members",
    )
    assert saved.status_code == 303
    assert "Your profile is saved." in (await m.get(saved.headers["location"])).text
    o = await logged_in(client, other)
    page = names((await o.get(f"/u/{member.username}")).text)
    assert "Ana Morales" in page and "I run a pacing clinic." in page
    assert "St Elsewhere NHS Trust · North West" in page and "long-covid" in page
    assert ">AM</text></svg>" in page  # initials, made here
    # Found by each filter, and by nothing that does not match.
    for query in (
        f"interest={interest}",
        "name=morales",
        f"name={member.username[:6]}",
        "organisation=elsewhere",
        "region=north%20west",
        f"badge=clinician&interest={interest}",
    ):
        found = await o.get(f"/people?{query}")
        assert found.status_code == 200 and f"/u/{member.username}" in found.text, query
    assert (
        f"/u/{member.username}"
        not in (await o.get(f"/people?interest={interest}&badge=carer")).text
    )
    assert f"/u/{member.username}" not in (await o.get("/people?name=100%25")).text
    listed = (await o.http.get(f"/people.json?interest={interest}")).json()
    assert [i["user"]["username"] for i in listed["directory_items"]] == [member.username]
    assert listed["directory_items"][0]["user"]["name"] == "Ana Morales"
    assert listed["directory_items"][0]["interests"] == ["long-covid", interest]


async def test_who_may_see_a_profile(client, arrange) -> None:
    owner, neighbour = await arrange.user(name="own"), await arrange.user(name="nbr")
    stranger, moderator = await arrange.user(name="str"), await arrange.user(role="moderator")
    await arrange.group("private", members=(owner, neighbour))
    interest = unique("rare").lower()
    o = await logged_in(client, owner)
    n, s = await logged_in(client, neighbour), await logged_in(client, stranger)
    mod, anonymous = await logged_in(client, moderator), client()
    bio = f"My bio {interest}"

    async def sees(c: Client) -> tuple[bool, bool]:
        page = (await c.http.get(f"/u/{owner.username}")).text
        listed = (await c.http.get(f"/people?interest={interest}")).text
        return bio in page, f"/u/{owner.username}" in listed

    await save(o, bio=bio, interests=interest, visibility="everyone")
    assert await sees(anonymous) == (True, True)
    await save(o, bio=bio, interests=interest, visibility="members")
    assert await sees(anonymous) == (False, False)
    assert await sees(s) == (True, True)
    # A guest account (no email) is not a member who is signed in.
    guest = await arrange.user(name="guest")
    await arrange.db.execute(
        "UPDATE users SET is_guest = :g WHERE id = :u", {"g": True, "u": guest.id}
    )
    assert await sees(await logged_in(client, guest)) == (False, False)
    await save(o, bio=bio, interests=interest, visibility="shared_groups")
    assert await sees(s) == (False, False)
    assert await sees(anonymous) == (False, False)
    assert await sees(n) == (True, True)
    assert await sees(mod) == (True, True)
    assert await sees(o) == (True, True)
    # Hidden, the page still names them (as their posts do), but shows nothing more.
    stranger_view = (await s.get(f"/u/{owner.username}")).text
    assert owner.username in stranger_view and bio not in stranger_view
    # The picture follows the same rule.
    assert (await send_picture(o, photo())).status_code == 303
    version = await arrange.db.fetch_val(
        "SELECT picture_version FROM profiles WHERE user_id = :u", {"u": owner.id}
    )
    path = f"/u/{owner.username}/picture/{version}"
    assert (await n.http.get(path)).status_code == 200
    assert (await s.http.get(path)).status_code == 404
    assert (await anonymous.http.get(path)).status_code == 404
    json_listed = (await s.http.get(f"/people.json?interest={interest}")).json()
    assert json_listed["directory_items"] == []


async def test_pictures_are_redrawn_with_nothing_else_kept(client, arrange) -> None:
    member = await arrange.user(name="pic")
    m = await logged_in(client, member)
    sent = await send_picture(m, photo())
    assert sent.status_code == 303
    page = (await m.get("/my/profile")).text
    found = [part.split('"')[0] for part in page.split('src="')[1:] if "/picture/" in part]
    assert found, "the page shows the picture"
    served = await m.http.get(found[0])
    assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
    assert served.headers["x-content-type-options"] == "nosniff"
    image = Image.open(io.BytesIO(served.content))
    assert max(image.size) <= SIDE and image.size == (SIDE, 192)
    assert not image.getexif() and b"PhoneMaker" not in served.content
    first_key = await arrange.db.fetch_val(
        "SELECT picture_key FROM profiles WHERE user_id = :u", {"u": member.id}
    )
    # A transparent PNG stays PNG, without its text chunks; the old picture is gone.
    png = io.BytesIO()
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "Taken at 12 High Street")
    Image.new("RGBA", (64, 64), (0, 0, 0, 0)).save(png, "PNG", pnginfo=info)
    assert (await send_picture(m, png.getvalue(), "me.png")).status_code == 303
    assert first_key not in stored(arrange)
    version = await arrange.db.fetch_val(
        "SELECT picture_version FROM profiles WHERE user_id = :u", {"u": member.id}
    )
    again = await m.http.get(f"/u/{member.username}/picture/{version}")
    assert again.headers["content-type"] == "image/png" and b"High Street" not in again.content
    # The old address shows the new picture, never the old one.
    assert (await m.http.get(found[0])).content == again.content
    # Malformed metadata is no reason for a server error: kept without it, or refused.
    broken_exif = photo(with_gps=False).replace(b"PhoneMaker", b"\xff" * 10)
    assert (await send_picture(m, broken_exif)).status_code in (303, 400)
    version = await arrange.db.fetch_val(
        "SELECT picture_version FROM profiles WHERE user_id = :u", {"u": member.id}
    )
    # Not pictures: refused, nothing kept.
    before = stored(arrange)
    for name, content in (
        ("me.pdf", b"%PDF-1.4\n%%EOF\n"),
        ("me.jpg", b"<html><script>alert(1)</script>"),
        ("me.gif", b"GIF89a" + bytes(20)),
        ("me.jpg", photo()[:200]),  # cut short
    ):
        refused = await send_picture(m, content, name)
        assert refused.status_code == 400 and "cannot be used" in refused.text, name
    huge = io.BytesIO()
    Image.new("L", (6000, 5000)).save(huge, "PNG")  # 30 megapixels in a few kilobytes
    refused = await send_picture(m, huge.getvalue(), "huge.png")
    assert refused.status_code == 400 and "too large to use" in refused.text
    too_big = await send_picture(m, b"\xff\xd8\xff" + bytes(5 * 1024 * 1024 + 1))
    assert too_big.status_code == 413 and "MB" in too_big.text
    assert stored(arrange) == before
    # Removed: initials again, and the address answers 404.
    assert (await m.post_form("/my/profile/picture/remove", {})).status_code == 303
    assert (await m.http.get(f"/u/{member.username}/picture/{version}")).status_code == 404
    assert "</text></svg>" in (await m.get(f"/u/{member.username}")).text


async def test_bad_profile_input_is_refused_whole(client, arrange) -> None:
    member = await arrange.user(name="bad")
    m = await logged_in(client, member)
    refused = await save(
        m,
        display_name="x" * 61,
        interests="ok, not ok!, " + ", ".join(f"i{n}" for n in range(12)),
        visibility="the-world",
    )
    text = names(refused.text)
    assert refused.status_code == 400
    assert "Your name is 61 characters long" in text
    assert "The interest “not-ok!” cannot be used" in text
    assert "Choose who may see your profile from the list." in text
    assert 'value="x' in refused.text  # what was typed comes back
    assert (
        await arrange.db.fetch_val(
            "SELECT count(*) FROM profiles WHERE user_id = :u", {"u": member.id}
        )
        == 0
    )
    many = await save(m, interests=", ".join(f"i{n}" for n in range(11)))
    assert many.status_code == 400 and "at most 10 interests" in many.text
    assert (await m.http.post("/my/profile", data={"bio": "no token"})).status_code == 403
    anonymous = client()
    assert (await anonymous.http.get("/my/profile")).status_code in (303, 401)
    for query in ("badge=wizard", "interest=%3Cb%3E", "page=abc", "name=" + "x" * 101):
        assert (await m.http.get(f"/people?{query}")).status_code == 400, query
        assert "errors" in (await m.http.get(f"/people.json?{query}")).json(), query
    assert (await m.http.get("/u/nobody-at-all/picture/1")).status_code == 404
    assert (await m.http.get(f"/u/{member.username}/picture/1")).status_code == 404


async def test_moderators_clear_a_profile_and_say_why(server, client, arrange) -> None:
    member, other = await arrange.user(name="mem"), await arrange.user(name="oth")
    moderator, admin = await arrange.user(role="moderator"), await arrange.user(role="admin")
    m = await logged_in(client, member)
    await save(m, bio="Call me on 07700 900123 for cheap pills", visibility="everyone")
    await send_picture(m, photo())
    key = await arrange.db.fetch_val(
        "SELECT picture_key FROM profiles WHERE user_id = :u", {"u": member.id}
    )
    path = f"/u/{member.username}/profile/clear"
    o = await logged_in(client, other)
    assert "Clear this profile" not in (await o.get(f"/u/{member.username}")).text
    assert (await o.post_form(path, {"reason": "x"})).status_code == 403
    mod = await logged_in(client, moderator)
    assert "Clear this profile" in (await mod.get(f"/u/{member.username}")).text
    assert (await mod.post_form(path, {"reason": ""})).status_code == 400
    assert (await mod.http.post(path, data={"reason": "Spam."})).status_code == 403  # no token
    cleared = await mod.post_form(path, {"reason": "Selling medicines."})
    assert cleared.status_code == 303
    page = (await client().get(f"/u/{member.username}")).text
    assert "cheap pills" not in page and key not in stored(arrange)
    assert any("Selling medicines." in n["message"] for n in await told(server, arrange, member))
    logged = await arrange.db.fetch_val(
        "SELECT count(*) FROM moderator_actions WHERE action = 'clear_profile'"
        " AND target_user_id = :u",
        {"u": member.id},
    )
    assert logged == 1
    # Not a profile of someone above them.
    await logged_in(client, admin)
    assert (
        await mod.post_form(f"/u/{admin.username}/profile/clear", {"reason": "x"})
    ).status_code == 403


async def test_pictures_are_paced_before_they_are_read(client, arrange) -> None:
    member = await arrange.user(name="pace")
    m = await logged_in(client, member)
    small = io.BytesIO()
    Image.new("RGB", (40, 40), (10, 90, 160)).save(small, "JPEG")
    for _ in range(PICTURES_PER_HOUR):
        assert (await send_picture(m, small.getvalue())).status_code == 303
    paced = await send_picture(m, small.getvalue())
    assert paced.status_code == 429 and "retry-after" in paced.headers
