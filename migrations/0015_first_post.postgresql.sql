-- The SIG community (issue 12), welcoming: a member's first post in a group is marked for
-- the others ("First post in this group: say welcome"). The mark is made when the post is
-- written (forum/queries/posts.write_post): the membership's first_posted_at is set by the
-- same write, so the test is one keyed row, not a search of the member's posts. Members
-- who posted before this migration are counted as having posted; their old posts are not
-- marked, since welcoming someone years on would be odd.
ALTER TABLE memberships ADD COLUMN first_posted_at DOUBLE PRECISION;
ALTER TABLE posts ADD COLUMN first_in_group BOOLEAN NOT NULL DEFAULT false;
UPDATE memberships SET first_posted_at = (
    SELECT min(p.created_at) FROM posts p JOIN topics t ON t.id = p.topic_id
    WHERE t.group_id = memberships.group_id AND p.user_id = memberships.user_id
);
