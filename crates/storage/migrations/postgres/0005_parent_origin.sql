-- The origin (`https://host[:port]`) of the page that frames the account's
-- web client: the client posts its result message, which carries the
-- authorization token, to that origin only. NULL keeps posting to any parent.
-- Mirrors migrations/sqlite/0005_parent_origin.sql.
ALTER TABLE accounts ADD COLUMN parent_origin TEXT
    CHECK (parent_origin IS NULL OR length(parent_origin) BETWEEN 1 AND 255);
