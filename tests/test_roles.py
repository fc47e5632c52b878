"""Role badges and their verification, site roles, group conveners, and guest accounts."""

from __future__ import annotations

import re

import pytest

from forum.actions import accounts
from forum.app import opened_forum
from forum.errors import BadRequest
from forum.queries.users import get_user, get_user_by_username
from tests.conftest import PASSWORD, settings_for, unique

VERIFIED_MARK = 'class="verified"'


async def audit_of(db, target_id: int) -> list[tuple[str, int, int | None, str]]:
    rows = await db.fetch_all(
        "SELECT action, actor_id, group_id, note FROM moderator_actions"
        " WHERE target_user_id = :u ORDER BY id",
        {"u": target_id},
    )
    return [(r["action"], r["actor_id"], r["group_id"], r["note"]) for r in rows]


async def verification_of(db, user_id: int) -> tuple[int | None, float | None]:
    row = await db.fetch_one(
        "SELECT badge_verified_by, badge_verified_at FROM users WHERE id = :id", {"id": user_id}
    )
    return row["badge_verified_by"], row["badge_verified_at"]


def post_header(html: str, number: int) -> str:
    found = re.search(rf'<article class="post" id="post-{number}".*?</header>', html, re.S)
    assert found, f"post {number} is not on the page"
    return found.group(0)


async def posted_or_held(db, user_id: int, raw: str) -> bool:
    """The text was accepted: published, or waiting for a moderator (new accounts may be held)."""
    published = await db.fetch_val(
        "SELECT count(*) FROM posts WHERE user_id = :u AND raw = :raw", {"u": user_id, "raw": raw}
    )
    held = await db.fetch_val(
        "SELECT count(*) FROM review_items WHERE author_id = :u AND raw = :raw",
        {"u": user_id, "raw": raw},
    )
    return bool(published or held)


# --- badges and their verification ----------------------------------------------------------


async def test_a_verified_badge_shows_beside_posts_only_after_a_moderator_verifies(
    client, arrange, db
) -> None:
    clinician = await arrange.user(badge="clinician", name="clin")
    moderator = await arrange.user(role="moderator", name="mod")
    group = await arrange.group()
    written = await arrange.topic(group, clinician, "Ask a nurse", "Happy to answer questions.")
    reader = client()
    header = post_header(
        (await reader.get(f"/t/{written.topic_id}", follow_redirects=True)).text, 1
    )
    assert "Clinician" in header and VERIFIED_MARK not in header
    profile = (await reader.get(f"/u/{clinician.username}")).text
    assert "not been verified" in profile and VERIFIED_MARK not in profile
    stream = (await reader.get(f"/t/{written.topic_id}.json")).json()["post_stream"]["posts"]
    assert stream[0]["user_title"] == "clinician" and stream[0]["badge_verified"] is False

    mod = client()
    await mod.login(moderator)
    page = await mod.get(f"/u/{clinician.username}")
    assert "Verify clinician badge" in page.text
    r = await mod.post_form(f"/u/{clinician.username}/badge/verify", {"badge": "clinician"})
    assert r.status_code == 303 and r.headers["location"] == f"/u/{clinician.username}"

    verified_by, verified_at = await verification_of(db, clinician.id)
    assert verified_by == moderator.id and verified_at is not None
    assert await audit_of(db, clinician.id) == [("verify_badge", moderator.id, None, "Clinician")]
    header = post_header(
        (await reader.get(f"/t/{written.topic_id}", follow_redirects=True)).text, 1
    )
    assert VERIFIED_MARK in header and '<span aria-hidden="true">✓</span> verified' in header
    # Everyone sees that a moderator verified it and when; only staff see which moderator.
    public = (await reader.get(f"/u/{clinician.username}")).text
    assert "Role verified by a moderator on" in public and moderator.username not in public
    staff_view = (await mod.get(f"/u/{clinician.username}")).text
    assert f">{moderator.username}</a> on <time" in staff_view
    assert "Withdraw verification" in staff_view
    stream = (await reader.get(f"/t/{written.topic_id}.json")).json()["post_stream"]["posts"]
    assert stream[0]["badge_verified"] is True
    user_json = (await reader.get(f"/users/{clinician.username}.json")).json()["user"]
    assert user_json["title"] == "clinician" and user_json["badge_verified"] is True

    # Verifying again changes nothing and logs nothing; withdrawing is logged.
    r = await mod.post_form(f"/u/{clinician.username}/badge/verify", {"badge": "clinician"})
    assert r.status_code == 303 and await verification_of(db, clinician.id) == (
        moderator.id,
        verified_at,
    )
    r = await mod.post_form(f"/u/{clinician.username}/badge/unverify")
    assert r.status_code == 303
    assert await verification_of(db, clinician.id) == (None, None)
    assert [a[0] for a in await audit_of(db, clinician.id)] == ["verify_badge", "unverify_badge"]
    header = post_header(
        (await reader.get(f"/t/{written.topic_id}", follow_redirects=True)).text, 1
    )
    assert VERIFIED_MARK not in header


async def test_a_member_cannot_verify_and_nothing_changes(client, arrange, db) -> None:
    clinician = await arrange.user(badge="ahp")
    member = await arrange.user()
    c = client()
    await c.login(member)
    page = await c.get(f"/u/{clinician.username}")
    assert "Verify" not in page.text
    for action in ("verify", "unverify"):
        r = await c.post_form(f"/u/{clinician.username}/badge/{action}", {"badge": "ahp"})
        assert r.status_code == 403
    assert await verification_of(db, clinician.id) == (None, None)
    assert await audit_of(db, clinician.id) == []


async def test_staff_cannot_verify_their_own_badge(client, arrange, db) -> None:
    moderator = await arrange.user(role="moderator", badge="clinician")
    c = client()
    await c.login(moderator)
    assert "Verify clinician badge" not in (await c.get(f"/u/{moderator.username}")).text
    r = await c.post_form(f"/u/{moderator.username}/badge/verify", {"badge": "clinician"})
    assert r.status_code == 403 and "Another moderator" in r.text
    assert await verification_of(db, moderator.id) == (None, None)


@pytest.mark.parametrize("badge", ["patient", "carer", "researcher", "organisation", "other"])
async def test_only_professional_badges_can_be_verified(client, arrange, db, badge) -> None:
    user = await arrange.user(badge=badge)
    admin = await arrange.user(role="admin")
    c = client()
    await c.login(admin)
    assert "Verify" not in (await c.get(f"/u/{user.username}")).text
    r = await c.post_form(f"/u/{user.username}/badge/verify")
    assert r.status_code == 400
    assert "Only clinician and allied health professional badges" in r.text
    assert 'role="alert"' in r.text
    assert await verification_of(db, user.id) == (None, None)
    assert await audit_of(db, user.id) == []


async def test_verifying_a_badge_that_changed_since_the_page_loaded_is_refused(
    client, arrange, db
) -> None:
    user = await arrange.user(badge="clinician")
    moderator = await arrange.user(role="moderator")
    c = client()
    await c.login(moderator)
    await accounts.do_change_badge(arrange.forum, user, user.username, "ahp")
    r = await c.post_form(f"/u/{user.username}/badge/verify", {"badge": "clinician"})
    assert r.status_code == 409 and "changed their badge" in r.text
    assert await verification_of(db, user.id) == (None, None)


async def test_changing_your_badge_clears_its_verification(client, arrange, db) -> None:
    user = await arrange.user(badge="clinician")
    moderator = await arrange.user(role="moderator")
    assert await accounts.do_verify_badge(arrange.forum, moderator, user.username)
    c = client()
    await c.login(user)
    page = await c.get(f"/u/{user.username}")
    assert "Your role badge" in page.text and '<option value="clinician" selected>' in page.text
    # Saving the same badge keeps the verification.
    r = await c.post_form(f"/u/{user.username}/badge", {"badge": "clinician"})
    assert r.status_code == 303
    assert (await verification_of(db, user.id))[0] == moderator.id
    r = await c.post_form(f"/u/{user.username}/badge", {"badge": "researcher"})
    assert r.status_code == 303
    changed = await get_user(db, user.id)
    assert changed is not None and changed.badge == "researcher"
    assert await verification_of(db, user.id) == (None, None)
    assert "Researcher" in (await c.get(f"/u/{user.username}")).text
    # The badge is the person's own statement: changing it is not a moderator action.
    assert [a[0] for a in await audit_of(db, user.id)] == ["verify_badge"]


async def test_only_you_can_change_your_badge(client, arrange, db) -> None:
    user = await arrange.user(badge="carer")
    other, admin = await arrange.user(), await arrange.user(role="admin")
    for who in (other, admin):
        c = client()
        await c.login(who)
        assert "Your role badge" not in (await c.get(f"/u/{user.username}")).text
        r = await c.post_form(f"/u/{user.username}/badge", {"badge": "clinician"})
        assert r.status_code == 403
    anonymous = client()
    await anonymous.get("/")
    r = await anonymous.post_form(f"/u/{user.username}/badge", {"badge": "clinician"})
    assert r.status_code == 403
    unchanged = await get_user(db, user.id)
    assert unchanged is not None and unchanged.badge == "carer"


async def test_the_organisation_badge_has_a_plain_label(client) -> None:
    page = (await client().get("/signup")).text
    assert '<label for="badge-organisation">Charity or organisation</label>' in page
    assert '<label for="badge-ahp">Allied health professional</label>' in page


# --- site roles -----------------------------------------------------------------------------


async def test_an_admin_sets_a_site_role_and_it_is_logged(client, arrange, db) -> None:
    admin, member = await arrange.user(role="admin"), await arrange.user()
    c = client()
    await c.login(admin)
    page = await c.get(f"/u/{member.username}")
    assert '<option value="member" selected>Member</option>' in page.text
    r = await c.post_form(f"/u/{member.username}/role", {"role": "moderator"})
    assert r.status_code == 303
    promoted = await get_user(db, member.id)
    assert promoted is not None and promoted.role == "moderator"
    assert await audit_of(db, member.id) == [("set_role", admin.id, None, "member -> moderator")]
    assert "Moderator" in (await c.get(f"/u/{member.username}")).text
    r = await c.post_form(f"/u/{member.username}/role", {"role": "member"})
    assert r.status_code == 303
    demoted = await get_user(db, member.id)
    assert demoted is not None and demoted.role == "member"
    assert [a[3] for a in await audit_of(db, member.id)] == [
        "member -> moderator",
        "moderator -> member",
    ]


@pytest.mark.parametrize("role", ["member", "moderator"])
async def test_only_admins_set_site_roles(client, arrange, db, role) -> None:
    actor, target = await arrange.user(role=role), await arrange.user()
    c = client()
    await c.login(actor)
    assert "Site role" not in (await c.get(f"/u/{target.username}")).text
    r = await c.post_form(f"/u/{target.username}/role", {"role": "admin"})
    assert r.status_code == 403
    r = await c.post_form(f"/u/{actor.username}/role", {"role": "admin"})
    assert r.status_code == 403
    for user in (actor, target):
        unchanged = await get_user(db, user.id)
        assert unchanged is not None and unchanged.role == user.role
    assert await audit_of(db, target.id) == []


async def test_the_last_admin_cannot_be_demoted(tmp_path) -> None:
    # Its own database: the shared test database has admins from every other test.
    settings = settings_for(f"sqlite:///{tmp_path / 'admins.db'}")
    async with opened_forum(settings) as forum:
        db = forum.db
        only = await accounts.do_create_user(
            forum, accounts.check_signup("onlyadmin", "a@example.org", PASSWORD, None, "admin")
        )
        with pytest.raises(BadRequest, match="at least one administrator"):
            await accounts.do_set_site_role(forum, only, "onlyadmin", "member")
        second = await accounts.do_create_user(
            forum, accounts.check_signup("second", "b@example.org", PASSWORD, None, "member")
        )
        assert await accounts.do_set_site_role(forum, only, "second", "admin")
        # With two, one may step down, even themselves; then the other is the last again.
        assert await accounts.do_set_site_role(forum, only, "onlyadmin", "moderator")
        promoted = await get_user(db, second.id)
        assert promoted is not None
        with pytest.raises(BadRequest, match="at least one administrator"):
            await accounts.do_set_site_role(forum, promoted, "second", "member")
        roles = await db.fetch_all("SELECT username, role FROM users ORDER BY id")
        assert [(r["username"], r["role"]) for r in roles] == [
            ("onlyadmin", "moderator"),
            ("second", "admin"),
        ]


# --- group conveners ------------------------------------------------------------------------


async def test_a_convener_makes_a_member_a_convener_and_back(client, arrange, db) -> None:
    member, convener = await arrange.user(), await arrange.user()
    group = await arrange.group("private", members=(member,), conveners=(convener,))
    c = client()
    await c.login(convener)
    page = await c.get(f"/g/{group.slug}/members")
    assert f'Make convener<span class="visually-hidden">: {member.username}' in page.text
    path = f"/g/{group.slug}/members/role"
    r = await c.post_form(path, {"username": member.username, "role": "convener"})
    assert r.status_code == 303 and r.headers["location"] == f"/g/{group.slug}/members"
    role = "SELECT role FROM memberships WHERE group_id = :g AND user_id = :u"
    assert await db.fetch_val(role, {"g": group.id, "u": member.id}) == "convener"
    # Now a convener, they can hand the role back (or on to others) themselves.
    m = client()
    await m.login(member)
    r = await m.post_form(path, {"username": member.username, "role": "member"})
    assert r.status_code == 303
    assert await db.fetch_val(role, {"g": group.id, "u": member.id}) == "member"
    assert await audit_of(db, member.id) == [
        ("set_group_role", convener.id, group.id, "member -> convener"),
        ("set_group_role", member.id, group.id, "convener -> member"),
    ]


async def test_staff_set_group_roles_and_members_cannot(client, arrange, db) -> None:
    member, other = await arrange.user(), await arrange.user()
    moderator = await arrange.user(role="moderator")
    group = await arrange.group(members=(member, other))
    path = f"/g/{group.slug}/members/role"
    m = client()
    await m.login(member)
    assert "Make convener" not in (await m.get(f"/g/{group.slug}/members")).text
    r = await m.post_form(path, {"username": member.username, "role": "convener"})
    assert r.status_code == 403
    r = await m.post_form(path, {"username": other.username, "role": "convener"})
    assert r.status_code == 403
    assert await audit_of(db, member.id) == [] and await audit_of(db, other.id) == []
    s = client()
    await s.login(moderator)
    r = await s.post_form(path, {"username": other.username, "role": "convener"})
    assert r.status_code == 303
    assert await audit_of(db, other.id) == [
        ("set_group_role", moderator.id, group.id, "member -> convener")
    ]


async def test_group_role_changes_refuse_bad_input(client, arrange, db) -> None:
    convener, outsider = await arrange.user(), await arrange.user()
    group = await arrange.group(conveners=(convener,))
    path = f"/g/{group.slug}/members/role"
    c = client()
    await c.login(convener)
    r = await c.post_form(path, {"username": "no-such-person", "role": "convener"})
    assert r.status_code == 404
    r = await c.post_form(path, {"username": outsider.username, "role": "convener"})
    assert r.status_code == 400 and "is not a member of this group" in r.text
    r = await c.post_form(path, {"username": convener.username, "role": "owner"})
    assert r.status_code == 400 and "member or convener" in r.text
    r = await c.post_form(path, {"username": convener.username, "role": "member"}, csrf=False)
    assert r.status_code == 403
    assert (
        await db.fetch_val("SELECT count(*) FROM memberships WHERE group_id = :g", {"g": group.id})
        == 1
    )
    assert await audit_of(db, outsider.id) == []


# --- guests ---------------------------------------------------------------------------------


async def sign_up_guest(c, name: str, **extra: str) -> None:
    await c.get("/signup?account=guest")
    r = await c.post_form(
        "/signup",
        {"account": "guest", "username": name, "password": PASSWORD, "badge": "carer"} | extra,
    )
    assert r.status_code == 303, r.text
    await c.get("/")


async def test_a_guest_signs_up_without_email_and_posts_in_a_public_group(
    client, arrange, db
) -> None:
    group = await arrange.group()
    c = client()
    assert (
        'value="guest" aria-describedby="guest-hint" checked'
        in (await c.get("/signup?account=guest")).text
    )
    name = unique("guest")
    await sign_up_guest(c, name, email="")
    guest = await get_user_by_username(db, name)
    assert guest is not None and guest.is_guest and guest.role == "member"
    assert guest.badge == "carer"
    assert re.fullmatch(r"guest-[0-9a-f]{24}@guest\.invalid", guest.email)
    profile = await c.get(f"/u/{name}")
    assert '<span class="tag">Guest</span>' in profile.text
    assert guest.email not in profile.text
    assert guest.email not in (await c.get(f"/users/{name}.json")).text
    # A guest reads and posts in a public group without joining it.
    assert (await c.get(f"/g/{group.slug}")).status_code == 200
    raw = f"Hello from a guest {unique('x')}"
    r = await c.post_form(f"/g/{group.slug}/new-topic", {"title": "A guest asks", "raw": raw})
    assert r.status_code == 303, r.text
    assert await posted_or_held(db, guest.id, raw)
    # Public groups can be joined as usual.
    r = await c.post_form(f"/g/{group.slug}/join")
    assert r.status_code == 303
    assert (
        await db.fetch_val(
            "SELECT role FROM memberships WHERE group_id = :g AND user_id = :u",
            {"g": group.id, "u": guest.id},
        )
        == "member"
    )


async def test_a_guest_email_typed_anyway_is_not_kept(client, db) -> None:
    c = client()
    name = unique("guest")
    await sign_up_guest(c, name, email=f"{name}@example.org")
    guest = await get_user_by_username(db, name)
    assert guest is not None and guest.is_guest and guest.email.endswith("@guest.invalid")


async def test_a_member_signup_still_needs_an_email(client, db) -> None:
    c = client()
    await c.get("/signup")
    name = unique("nomail")
    r = await c.post_form(
        "/signup", {"account": "member", "username": name, "password": PASSWORD, "email": ""}
    )
    assert r.status_code == 400 and "valid email address" in r.text
    assert await get_user_by_username(db, name) is None


async def test_guests_cannot_join_or_be_added_to_private_groups(client, arrange, db) -> None:
    c = client()
    name = unique("guest")
    await sign_up_guest(c, name)
    guest = await get_user_by_username(db, name)
    assert guest is not None
    convener = await arrange.user()
    private = await arrange.group("private", conveners=(convener,))
    public = await arrange.group(conveners=(convener,))
    # A private group stays invisible to a guest, as to anyone outside it.
    assert (await c.post_form(f"/g/{private.slug}/join")).status_code == 404
    conv = client()
    await conv.login(convener)
    r = await conv.post_form(f"/g/{private.slug}/members/add", {"username": name})
    assert r.status_code == 400
    assert "guests cannot join private groups" in r.text and 'role="alert"' in r.text
    r = await conv.post_form(
        f"/g/{public.slug}/members/add", {"username": name, "role": "convener"}
    )
    assert r.status_code == 400 and "guests cannot be conveners" in r.text
    r = await conv.post_form(f"/g/{public.slug}/members/add", {"username": name})
    assert r.status_code == 303
    r = await conv.post_form(
        f"/g/{public.slug}/members/role", {"username": name, "role": "convener"}
    )
    assert r.status_code == 400 and "guests cannot be conveners" in r.text
    memberships = await db.fetch_all(
        "SELECT group_id, role FROM memberships WHERE user_id = :u", {"u": guest.id}
    )
    assert [(m["group_id"], m["role"]) for m in memberships] == [(public.id, "member")]
    assert [a[0] for a in await audit_of(db, guest.id)] == ["add_member"]


async def test_guests_cannot_be_made_staff(client, arrange, db) -> None:
    c = client()
    name = unique("guest")
    await sign_up_guest(c, name)
    admin = await arrange.user(role="admin")
    a = client()
    await a.login(admin)
    assert "Site role" not in (await a.get(f"/u/{name}")).text
    r = await a.post_form(f"/u/{name}/role", {"role": "moderator"})
    assert r.status_code == 400 and "Guest accounts cannot be moderators" in r.text
    guest = await get_user_by_username(db, name)
    assert guest is not None and guest.role == "member"


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "fields"),
    [
        ("badge", {"badge": "clinician"}),
        ("badge/verify", {}),
        ("badge/unverify", {}),
        ("role", {"role": "member"}),
    ],
)
async def test_profile_actions_on_an_unknown_user_are_not_found(
    client, arrange, suffix, fields
) -> None:
    admin = await arrange.user(role="admin")
    c = client()
    await c.login(admin)
    r = await c.post_form(f"/u/no-such-{unique('u')}/{suffix}", fields)
    assert r.status_code == 404


@pytest.mark.parametrize(
    ("suffix", "fields"),
    [
        ("badge", {"badge": "surgeon-general"}),
        ("badge", {}),
        ("role", {"role": "owner"}),
        ("role", {}),
    ],
)
async def test_profile_actions_with_an_unknown_value_are_refused(
    client, arrange, db, suffix, fields
) -> None:
    admin = await arrange.user(role="admin", badge="clinician")
    c = client()
    await c.login(admin)
    r = await c.post_form(f"/u/{admin.username}/{suffix}", fields)
    assert r.status_code == 400 and 'role="alert"' in r.text
    unchanged = await get_user(db, admin.id)
    assert unchanged is not None and (unchanged.badge, unchanged.role) == ("clinician", "admin")


@pytest.mark.parametrize("suffix", ["badge", "badge/verify", "badge/unverify", "role"])
async def test_profile_actions_without_the_csrf_token_are_refused(
    client, arrange, db, suffix
) -> None:
    admin, target = await arrange.user(role="admin"), await arrange.user(badge="clinician")
    c = client()
    await c.login(admin)
    fields = {"badge": "patient", "role": "moderator"}
    for user in (admin, target):
        r = await c.post_form(f"/u/{user.username}/{suffix}", fields, csrf=False)
        assert r.status_code == 403 and "did not come from this site" in r.text
    for user in (admin, target):
        after = await get_user(db, user.id)
        assert after == user
    assert await audit_of(db, target.id) == []
