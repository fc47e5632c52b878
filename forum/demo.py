"""`forum demo`: a small, believable SIG so a first visitor sees how the forum reads."""

from __future__ import annotations

from datetime import UTC, datetime

from forum.actions import accounts, debates, groups, posts
from forum.actions.drafts import DebatePlan, Text
from forum.content import cook
from forum.context import Forum
from forum.queries import groups as group_queries
from forum.queries import topics as topic_queries
from forum.queries.users import User

DEMO_PASSWORD = "prehab-demo-2026"

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
    return True
