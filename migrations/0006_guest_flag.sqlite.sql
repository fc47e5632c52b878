-- users.is_guest is a flag, as every other flag is: BOOLEAN, as on PostgreSQL. SQLite keeps
-- 0 and 1 either way and the app reads bool(); a column's type cannot change in place, so it
-- is added anew, copied, and put in the old one's place.
ALTER TABLE users ADD COLUMN is_guest_new BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE users SET is_guest_new = is_guest;
ALTER TABLE users DROP COLUMN is_guest;
ALTER TABLE users RENAME COLUMN is_guest_new TO is_guest;
