-- users.is_guest is a flag, as every other flag is: BOOLEAN, not INTEGER (issue 9 found the
-- drift; tests/test_schema.py keeps the two dialects the same).
ALTER TABLE users ALTER COLUMN is_guest DROP DEFAULT;
ALTER TABLE users ALTER COLUMN is_guest TYPE BOOLEAN USING is_guest <> 0;
ALTER TABLE users ALTER COLUMN is_guest SET DEFAULT FALSE;
