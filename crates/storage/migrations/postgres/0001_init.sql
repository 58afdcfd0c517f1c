-- Facegate's initial schema, for PostgreSQL: the same tables, columns,
-- constraints and indexes as migrations/sqlite/0001_init.sql.
--
-- Timestamps are BIGINT unix milliseconds (UTC) so that comparisons and
-- ordering are exact; identifiers are hyphenated UUID text; enums are the
-- domain's SCREAMING_SNAKE_CASE (or lowercase role) spellings; flags are
-- BIGINT 0 or 1, as SQLite stores them, so that one set of queries reads both.

CREATE TABLE accounts (
    id                             TEXT    NOT NULL PRIMARY KEY,
    name                           TEXT    NOT NULL,
    facemap_auth_enabled           BIGINT  NOT NULL CHECK (facemap_auth_enabled IN (0, 1)),
    callback_url                   TEXT,
    success_url                    TEXT,
    error_url                      TEXT,
    default_token_lifetime_minutes BIGINT  NOT NULL CHECK (default_token_lifetime_minutes >= 0),
    default_locale                 TEXT    NOT NULL,
    webhook_salt                   BYTEA   NOT NULL CHECK (length(webhook_salt) = 16),
    webhook_key_id                 BIGINT  NOT NULL CHECK (webhook_key_id >= 0),
    created_at                     BIGINT  NOT NULL
);

CREATE TABLE credentials (
    id          TEXT    NOT NULL PRIMARY KEY,
    account     TEXT    NOT NULL REFERENCES accounts (id),
    token       TEXT    NOT NULL UNIQUE,
    secret_hash TEXT    NOT NULL,
    role        TEXT    NOT NULL CONSTRAINT credentials_role_check CHECK (role IN ('api', 'admin')),
    created_at  BIGINT  NOT NULL,
    revoked_at  BIGINT
);

CREATE INDEX credentials_by_account ON credentials (account, created_at);

CREATE TABLE enrollments (
    reference           TEXT    NOT NULL PRIMARY KEY,
    account             TEXT    NOT NULL REFERENCES accounts (id),
    verification_status TEXT,
    similarity          TEXT,
    validity            BIGINT  CHECK (validity IN (0, 1)),
    -- The facemap binding: all or nothing (revocation needs a binding).
    facemap_serial      BIGINT,
    facemap_model       TEXT,
    facemap_revoked_at  BIGINT,
    server_facemap      BYTEA,
    created_at          BIGINT  NOT NULL,
    deleted_at          BIGINT,
    CHECK ((facemap_serial IS NULL) = (facemap_model IS NULL)),
    CHECK (facemap_revoked_at IS NULL OR facemap_serial IS NOT NULL),
    -- A tombstone never holds the server's copy of the facemap.
    CHECK (deleted_at IS NULL OR server_facemap IS NULL)
);

CREATE TABLE auth_transactions (
    reference      TEXT    NOT NULL PRIMARY KEY,
    account        TEXT    NOT NULL,
    enrollment     TEXT    NOT NULL REFERENCES enrollments (reference),
    state          TEXT    NOT NULL
        CHECK (state IN ('CREATED', 'STARTED', 'PASSED', 'FAILED', 'INVALID', 'EXPIRED')),
    scan_source    TEXT    NOT NULL CHECK (scan_source IN ('WEB', 'SDK')),
    user_reference TEXT,
    callback_url   TEXT,
    success_url    TEXT,
    error_url      TEXT,
    locale         TEXT    NOT NULL,
    token_hash     BYTEA   NOT NULL CHECK (length(token_hash) = 32),
    facemap        BYTEA,
    created_at     BIGINT  NOT NULL,
    expires_at     BIGINT  NOT NULL,
    -- Not part of the domain type; kept for audits.
    started_at     BIGINT,
    finalized_at   BIGINT,
    deleted_at     BIGINT,
    -- Final states never hold a facemap; a deleted transaction is final.
    CHECK (state IN ('CREATED', 'STARTED') OR facemap IS NULL),
    CHECK (deleted_at IS NULL OR state NOT IN ('CREATED', 'STARTED'))
);

-- A token must resolve to exactly one transaction.
CREATE UNIQUE INDEX auth_transactions_by_token_hash ON auth_transactions (token_hash);
CREATE INDEX auth_transactions_by_enrollment_state ON auth_transactions (enrollment, state);
-- The expiry worker only ever looks at open transactions.
CREATE INDEX auth_transactions_open_by_expiry ON auth_transactions (expires_at)
    WHERE state IN ('CREATED', 'STARTED');

CREATE TABLE outbox (
    id               TEXT    NOT NULL PRIMARY KEY,
    account          TEXT    NOT NULL,
    transaction_ref  TEXT    NOT NULL,
    event            TEXT    NOT NULL,
    url              TEXT    NOT NULL,
    body             TEXT    NOT NULL,
    status           TEXT    NOT NULL CHECK (status IN ('PENDING', 'DELIVERED', 'FAILED')),
    attempts         BIGINT  NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    first_attempt_at BIGINT,
    next_attempt_at  BIGINT,
    created_at       BIGINT  NOT NULL,
    -- Only a pending message is ever scheduled.
    CHECK ((status = 'PENDING') = (next_attempt_at IS NOT NULL))
);

CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_by_transaction ON outbox (transaction_ref, account, created_at);

CREATE TABLE delivery_attempts (
    outbox_id   TEXT    NOT NULL REFERENCES outbox (id),
    attempt_no  BIGINT  NOT NULL CHECK (attempt_no >= 1),
    at          BIGINT  NOT NULL,
    delivered   BIGINT  NOT NULL CHECK (delivered IN (0, 1)),
    status      BIGINT,
    error       TEXT,
    detail      TEXT,
    duration_ms BIGINT  NOT NULL CHECK (duration_ms >= 0),
    PRIMARY KEY (outbox_id, attempt_no)
);
