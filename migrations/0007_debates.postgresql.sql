-- Hosted debates (issue 10): a debate is a topic (kind 'debate') whose posts are its opening
-- description, its questions as they are revealed and the answers to them. Its state
-- (scheduled, live, closed) moves at the stored times, by forum/debates/scheduler.py, or
-- when a host starts or closes it; each move is one conditional UPDATE, so it happens once
-- however many nodes try it.
ALTER TABLE topics ADD COLUMN kind TEXT NOT NULL DEFAULT 'discussion';

CREATE TABLE debates (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic_id BIGINT NOT NULL UNIQUE REFERENCES topics (id) ON DELETE CASCADE,
    group_id BIGINT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    description TEXT NOT NULL,
    starts_at DOUBLE PRECISION NOT NULL,
    ends_at DOUBLE PRECISION NOT NULL,
    state TEXT NOT NULL DEFAULT 'scheduled' CHECK (state IN ('scheduled', 'live', 'closed')),
    started_at DOUBLE PRECISION,
    closed_at DOUBLE PRECISION,
    summary_raw TEXT,
    summary_cooked TEXT,
    participants INTEGER NOT NULL DEFAULT 0,
    created_by BIGINT NOT NULL REFERENCES users (id),
    created_at DOUBLE PRECISION NOT NULL,
    CHECK (ends_at > starts_at)
);
CREATE INDEX debates_group ON debates (group_id, starts_at);
CREATE INDEX debates_due_start ON debates (state, starts_at);
CREATE INDEX debates_due_end ON debates (state, ends_at);

-- What a debate's answers and questions add to their topic's posts, who hosts it, and who
-- asked to be reminded when it starts.
CREATE TABLE debate_hosts (
    debate_id BIGINT NOT NULL REFERENCES debates (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id),
    PRIMARY KEY (debate_id, user_id)
);

-- Prepared in advance; hidden from all but the hosts until revealed, when the question
-- becomes a post of the topic (post_id) and answers reply to it.
CREATE TABLE debate_questions (
    debate_id BIGINT NOT NULL REFERENCES debates (id) ON DELETE CASCADE,
    number INTEGER NOT NULL CHECK (number > 0),
    raw TEXT NOT NULL,
    revealed_at DOUBLE PRECISION,
    revealed_by BIGINT REFERENCES users (id),
    post_id BIGINT REFERENCES posts (id),
    PRIMARY KEY (debate_id, number)
);

CREATE TABLE debate_answers (
    post_id BIGINT PRIMARY KEY REFERENCES posts (id) ON DELETE CASCADE,
    debate_id BIGINT NOT NULL REFERENCES debates (id) ON DELETE CASCADE,
    question INTEGER NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id),
    highlighted_at DOUBLE PRECISION,
    highlighted_by BIGINT REFERENCES users (id)
);
CREATE INDEX debate_answers_question ON debate_answers (debate_id, question, post_id);
CREATE INDEX debate_answers_user ON debate_answers (debate_id, user_id);

CREATE TABLE debate_reminders (
    debate_id BIGINT NOT NULL REFERENCES debates (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (debate_id, user_id)
);
