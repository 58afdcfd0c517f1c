-- The per-account initiation limit every node shares (issue #14). Mirrors
-- migrations/sqlite/0016_initiation_budgets.sql: one token bucket per
-- account (domain `RateLimit`), taken in the initiation's own database
-- transaction, its row locked meanwhile. A refused initiation changes
-- nothing.
CREATE TABLE initiation_budgets (
    account      TEXT    NOT NULL PRIMARY KEY REFERENCES accounts (id),
    -- Millionths of an initiation left at `at_ms`.
    micro_tokens BIGINT  NOT NULL CHECK (micro_tokens >= 0),
    at_ms        BIGINT  NOT NULL
);
