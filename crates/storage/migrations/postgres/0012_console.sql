-- The operator console (issue #12): its users (made with the command line,
-- one account each, Argon2id password hashes), their sessions (the cookie's
-- SHA-256 only) and the failed sign-ins that throttle guessing. Mirrors
-- migrations/sqlite/0012_console.sql.
CREATE TABLE console_users (
    id            TEXT    NOT NULL PRIMARY KEY,
    account       TEXT    NOT NULL REFERENCES accounts (id),
    username      TEXT    NOT NULL UNIQUE CHECK (length(username) BETWEEN 3 AND 64),
    password_hash TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL
);

CREATE TABLE console_sessions (
    token_hash   BYTEA   NOT NULL PRIMARY KEY CHECK (length(token_hash) = 32),
    user_id      TEXT    NOT NULL REFERENCES console_users (id),
    signed_in_at BIGINT  NOT NULL,
    last_seen_at BIGINT  NOT NULL
);

CREATE TABLE console_login_failures (
    username TEXT    NOT NULL,
    at       BIGINT  NOT NULL
);

CREATE INDEX console_login_failures_by_name ON console_login_failures (username, at);
