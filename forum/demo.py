"""`forum demo`: a small, believable SIG so a first visitor sees how the forum reads."""

from __future__ import annotations

from datetime import UTC, datetime

from forum.actions import accounts, debates, documents, events, groups, learning, posts, profiles
from forum.actions.drafts import DebatePlan, Text
from forum.content import cook
from forum.context import Forum
from forum.forms import Input
from forum.queries import groups as group_queries
from forum.queries import topics as topic_queries
from forum.queries import users as user_queries
from forum.queries.users import User

DEMO_PASSWORD = "prehab-demo-2026"
ESTABLISHED_POSTS = 25

PEOPLE = [
    ("sam", "sam@example.org", "clinician", "admin"),
    ("ana", "ana@example.org", "patient", "member"),
    ("ben", "ben@example.org", "carer", "member"),
    ("priya", "priya@example.org", "ahp", "member"),
    ("dr_chen", "chen@example.org", "clinician", "moderator"),
]

THREADS = [
    (
        "ana",
        "Getting fitter before my bowel surgery: where do I start?",
        "My operation is in **six weeks**. The surgeon said being fitter beforehand helps"
        " recovery, but I get breathless on the stairs.\n\nWhat did other people do first?",
        [
            (
                "priya",
                "Great question, Ana. Most prehab programmes start with three things:\n\n"
                "1. Walking a little further each day (a step counter helps)\n"
                "2. Simple sit-to-stand exercises, 3 sets of 10\n"
                "3. Breathing exercises twice a day\n\n"
                "Start gently and build up. Your team can refer you to a local programme.",
            ),
            ("ben", "My dad did the sit-to-stand every ad break on the telly. It added up!"),
            ("ana", "Thank you both. I managed 10 minutes of walking today."),
        ],
    ),
    (
        "dr_chen",
        "Evidence round-up: prehabilitation and post-operative complications",
        "A short summary for members who asked about the research.\n\n"
        "| Programme | What it involves | Typical length |\n|---|---|---|\n"
        "| Exercise | aerobic + strength | 4-6 weeks |\n"
        "| Nutrition | protein and weight checks | 2-4 weeks |\n"
        "| Psychological | anxiety support | any time |\n\n"
        "Reviews suggest multimodal programmes may reduce complications; the evidence is still"
        " growing. See https://www.cochranelibrary.com for the reviews.",
        [
            (
                "sam",
                "Thanks, this is a useful summary to point new members to. @ana, this"
                " answers what you asked about the evidence.",
            ),
        ],
    ),
    (
        "ben",
        "Caring for someone before surgery: what helped you?",
        "I'm supporting my dad through prehab. Any tips for keeping him motivated without nagging?",
        [],
    ),
]


async def seed_demo(forum: Forum) -> bool:
    """Seed the demo SIG if there are no groups yet; return whether anything was written."""
    db = forum.db
    if await group_queries.count_groups(db):
        return False
    users: dict[str, User] = {}
    for username, email, badge, role in PEOPLE:
        signup = accounts.check_signup(username, email, DEMO_PASSWORD, badge, role)
        users[username] = await accounts.do_create_user(forum, signup)
    # Established members, as a real SIG's would be: a visitor trying the demo as one of
    # them is not held up by the new-account limits and first-post review.
    ids = {f"u{i}": user.id for i, user in enumerate(users.values())}
    await db.execute(
        "UPDATE users SET approved_posts = :posts, created_at = :joined"
        f" WHERE id IN ({', '.join(':' + name for name in ids)})",
        {"posts": ESTABLISHED_POSTS, "joined": forum.now() - 90 * 86400} | ids,
    )
    for username in users:
        found = await user_queries.get_user_by_username(db, username)
        assert found is not None
        users[username] = found
    group = await groups.do_create_group(
        forum,
        users["sam"],
        name="Perioperative Care - Prehabilitation",
        slug="prehab",
        description="Getting ready for surgery together: exercise, nutrition and wellbeing"
        " before an operation. Patients, carers and professionals welcome.",
        visibility="public",
    )
    await group_queries.update_group(
        db,
        group.id,
        aim="Help people get fitter, better fed and calmer in the weeks before an operation.",
        approach="Members share what worked; clinicians and physiotherapists answer questions;"
        " hosted hot topics each month.",
        audience="Anyone waiting for surgery, the people who care for them, and the"
        " professionals who support them.",
        measures="Members tell us they felt readier for their operation, in a short survey"
        " each quarter.",
    )
    for username in ("ana", "ben", "priya", "dr_chen"):
        role = "convener" if username == "priya" else "member"
        await groups.do_add_member(forum, users["sam"], group.id, username, role)
    await groups.do_create_group(
        forum,
        users["sam"],
        name="Prehab Conveners",
        slug="prehab-conveners",
        description="A private space for the group's conveners.",
        visibility="private",
    )
    # The demo's own threads are history, not new posts: published directly, past the
    # new-account hold and the rate limits that would apply to people posting them now.
    for author, title, raw, replies in THREADS:
        async with db.transaction() as conn:
            now = forum.now()
            written = await posts.publish_topic(
                forum, conn, users[author], group.id, title, Text(raw, cook(raw)), now
            )
            for replier, text in replies:
                topic = await topic_queries.get_topic(conn, written.topic_id)
                assert topic is not None
                await posts.publish_reply(
                    forum, conn, users[replier], topic, Text(text, cook(text)), None, now
                )
    first = await topic_queries.list_topics(db, [group.id], None, 10)
    await posts.do_set_topic_status(forum, users["sam"], first[-1].id, pinned=True)
    # A hosted debate about to start, so a first visitor can see the lobby, start it early
    # (as priya, a convener and its host) and take part.
    start = forum.now() + 15 * 60
    await debates.do_schedule_debate(
        forum,
        users["priya"],
        group.id,
        DebatePlan(
            title="Hot topic: staying active while you wait for surgery",
            description="An hour with our physiotherapist and anaesthetist. Bring your"
            " questions and your tips; answer each question as it appears.",
            starts_at=datetime.fromtimestamp(start, UTC).isoformat(),
            ends_at=datetime.fromtimestamp(start + 3600, UTC).isoformat(),
            questions=(
                "What is one thing that helped you stay active before an operation?",
                "What gets in the way, and what did you do about it?",
                "Carers: how did you help without nagging?",
                "What do you wish your team had told you sooner?",
            ),
            hosts=("dr_chen",),
        ),
    )
    await _seed_community(forum, users, group.id)
    return True


async def _seed_community(forum: Forum, users: dict[str, User], group_id: int) -> None:
    """Profiles, a document and a link, an event next week, and a learning update: so each
    of the group's pages has something on it (issue 12)."""
    about = {
        "ana": ("Ana", "Waiting for a knee replacement. I walk every morning.", "", "Leeds"),
        "priya": ("Priya Shah", "Physiotherapist; I convene this group.", "Leeds Teaching"
                  " Hospitals", "Yorkshire"),
        "dr_chen": ("Dr Wei Chen", "Anaesthetist with an interest in prehabilitation.",
                    "St James's University Hospital", "Yorkshire"),
    }  # fmt: skip
    for username, (name, bio, organisation, region) in about.items():
        profile = {
            "display_name": [name],
            "bio": [bio],
            "organisation": [organisation],
            "region": [region],
            "interests": ["prehabilitation, exercise"],
            "visibility": ["members"],
        }
        await profiles.do_save_profile(forum, users[username], Input(profile))
    checklist = (
        b"Prehab checklist\n\n- Walk a little further each day.\n- Eat protein at every meal.\n"
        b"- Stop smoking: ask your GP for help.\n- Practise the breathing exercises.\n"
    )
    described = {
        "title": ["Prehab checklist"],
        "description": ["A one-page list to pin on the fridge."],
        "tags": ["checklists, exercise"],
    }
    notes = forum.storage.begin()
    try:
        notes.write(checklist)
        await documents.do_add_file(
            forum,
            users["priya"],
            group_id,
            Input(described),
            notes,
            "prehab-checklist.txt",
            len(checklist),
        )
    finally:
        forum.storage.discard(notes)  # kept by then (moved away), or not wanted
    link = {
        "title": ["Fitter Better Sooner (Centre for Perioperative Care)"],
        "url": ["https://www.cpoc.org.uk/patients/fitter-better-sooner"],
        "tags": ["leaflets"],
    }
    await documents.do_add_link(forum, users["dr_chen"], group_id, Input(link))
    week = forum.now() + 7 * 86400
    walk = {
        "title": ["Walk and talk"],
        "description": ["A gentle 30-minute walk, then tea. Go at your own pace."],
        "starts_at": [datetime.fromtimestamp(week, UTC).isoformat()],
        "ends_at": [datetime.fromtimestamp(week + 5400, UTC).isoformat()],
        "place": ["Roundhay Park, main gates"],
        "capacity": ["12"],
    }
    await events.do_schedule_event(forum, users["priya"], group_id, Input(walk))
    learned = {
        "title": ["Small daily walks beat big plans"],
        "summary": [
            "Members who walked a little every day felt readier than those who planned long"
            " sessions they could not keep up. Start small and add five minutes a week."
        ],
    }
    await learning.do_post_update(forum, users["priya"], group_id, Input(learned))
