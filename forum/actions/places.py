"""Where a post's live events go and what they carry: a post in a topic goes to the topic's
channel; an answer in a hosted debate to the debate's, with what its controls and its look
depend on there (the hosts, whether it is highlighted, which question it answers)."""

from __future__ import annotations

from dataclasses import dataclass

from forum.context import Forum
from forum.db import Connection
from forum.events import replace_question_html
from forum.permissions import PostFacts, post_facts
from forum.queries import debates as debate_queries
from forum.queries.debates import Answering
from forum.queries.posts import Post
from forum.queries.topics import Topic


@dataclass(frozen=True)
class PostPlace:
    """`debate_id`: a post in a debate's topic. Its answers' events go to the debate's
    channel (`answer`); its description and questions have no post events: the debate page
    shows them, and a question's reveal is its own event (`asks`: that question's number)."""

    facts: PostFacts
    debate_id: int | None = None
    question: int | None = None  # the question an answer answers
    by_host: bool = False  # written by one of the debate's hosts
    answer: bool = False
    asks: int | None = None

    @property
    def has_post_events(self) -> bool:
        return self.debate_id is None or self.answer

    async def rewrite_question(self, forum: Forum, conn: Connection, post: Post) -> None:
        """A debate's question: its stored reveal event shows it as it is now (edited,
        hidden, removed), to every replay. Nothing for any other post."""
        if self.asks is None or self.debate_id is None:
            return
        cooked = post.cooked if post.visible else ""
        html = forum.renderer.render_question(self.debate_id, self.asks, cooked, post.post_number)
        await replace_question_html(conn, self.debate_id, post.id, html)

    def render(self, forum: Forum, post: Post, topic: Topic) -> str:
        """The post as live events carry it (no controls; forum/live.py adds each viewer's)."""
        return forum.renderer.render_post(
            post, topic, highlighted=self.facts.highlighted, by_host=self.by_host
        )


async def place_of(conn: Connection, post: Post, topic: Topic) -> PostPlace:
    if not topic.is_debate:
        return PostPlace(post_facts(post, topic))
    debate_id = await debate_queries.get_debate_id_of_topic(conn, topic.id)
    assert debate_id is not None, "a debate's topic has its debate"
    hosts = await debate_queries.host_ids(conn, debate_id)
    answer = await debate_queries.get_answer_mark(conn, post.id)
    question, highlighted = answer if answer else (None, False)
    facts = post_facts(post, topic, hosts=hosts, highlighted=highlighted)
    asks = None if answer else await debate_queries.question_of_post(conn, post.id)
    return PostPlace(facts, debate_id, question, post.user_id in hosts, bool(answer), asks)


async def record_answer(
    conn: Connection, topic: Topic, post: Post, answering: Answering | None = None
) -> tuple[PostPlace, int | None]:
    """Record a post just written in a debate's topic, in reply to a question, as an answer
    to it; returns its place and, if its author is a new participant, the new count.
    `answering`: what the reply's checks found (debate_state.check_answer), else read here."""
    if answering is None:
        debate_id = await debate_queries.get_debate_id_of_topic(conn, topic.id)
        assert debate_id is not None and post.reply_to_post_number is not None
        question = await debate_queries.question_at(conn, debate_id, post.reply_to_post_number)
        assert question is not None, "checked before the write (debate_state.check_answer)"
        answering = Answering(debate_id, question, await debate_queries.host_ids(conn, debate_id))
    by_host = post.user_id in answering.hosts
    count = await debate_queries.insert_answer(
        conn, post.id, answering.debate_id, answering.question, post.user_id, counts=not by_host
    )
    facts = post_facts(post, topic, hosts=answering.hosts)
    place = PostPlace(facts, answering.debate_id, answering.question, by_host, answer=True)
    return place, count
