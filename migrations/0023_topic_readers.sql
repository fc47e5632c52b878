-- Issue 13: a topic list counts each topic's readers (members who have read into it,
-- forum/queries/reading.count_readers); this index holds only those rows.
CREATE INDEX topic_users_readers ON topic_users (topic_id) WHERE last_read_post_number > 0;
