-- The end user's capture (docs/capture-protocol.md): capture sessions,
-- attempts with their challenge, the decision and the sealed images.
-- Mirrors migrations/sqlite/0002_capture.sql.

-- The decision object of the final attempt (JSON: scores, thresholds,
-- reasons), and how many images the transaction holds (the images themselves
-- are in capture_images; the counts let retrieval and callbacks name them
-- without reading them).
ALTER TABLE auth_transactions ADD COLUMN decision TEXT;
ALTER TABLE auth_transactions ADD COLUMN face_images BIGINT NOT NULL DEFAULT 0
    CHECK (face_images IN (0, 1));
ALTER TABLE auth_transactions ADD COLUMN liveness_images BIGINT NOT NULL DEFAULT 0
    CHECK (liveness_images >= 0);

-- A capture token (only its SHA-256), bound to one transaction. Opening a new
-- session for the transaction ends the earlier ones.
CREATE TABLE capture_sessions (
    token_hash      BYTEA   NOT NULL PRIMARY KEY CHECK (length(token_hash) = 32),
    transaction_ref TEXT    NOT NULL
        CONSTRAINT capture_sessions_transaction_ref_fkey REFERENCES auth_transactions (reference),
    created_at      BIGINT  NOT NULL,
    expires_at      BIGINT  NOT NULL,
    ended_at        BIGINT,
    scan_source     TEXT    NOT NULL CHECK (scan_source IN ('WEB', 'SDK'))
);

CREATE INDEX capture_sessions_by_transaction ON capture_sessions (transaction_ref);

CREATE TABLE capture_attempts (
    id              TEXT    NOT NULL PRIMARY KEY,
    transaction_ref TEXT    NOT NULL
        CONSTRAINT capture_attempts_transaction_ref_fkey REFERENCES auth_transactions (reference),
    number          BIGINT  NOT NULL CHECK (number BETWEEN 1 AND 3),
    nonce           BYTEA   NOT NULL UNIQUE CHECK (length(nonce) = 16),
    -- The challenge exactly as sent to the client (JSON).
    challenge       TEXT    NOT NULL,
    flash           BIGINT  NOT NULL CHECK (flash IN (0, 1)),
    issued_at       BIGINT  NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('OPEN', 'FINISHED', 'ABANDONED')),
    outcome         TEXT CHECK (outcome IN ('PASSED', 'FAILED', 'RETRY', 'INVALID')),
    -- This attempt's decision object (JSON); erased with the transaction's PII.
    decision        TEXT,
    finished_at     BIGINT,
    UNIQUE (transaction_ref, number),
    CHECK ((state = 'FINISHED') = (outcome IS NOT NULL))
);

-- Images sealed with the account's image key (XChaCha20-Poly1305), erased by
-- DELETE and by retention.
CREATE TABLE capture_images (
    transaction_ref TEXT    NOT NULL
        CONSTRAINT capture_images_transaction_ref_fkey REFERENCES auth_transactions (reference),
    kind            TEXT    NOT NULL
        CONSTRAINT capture_images_kind_check CHECK (kind IN ('face', 'liveness')),
    n               BIGINT  NOT NULL CHECK (n >= 1),
    sealed          BYTEA   NOT NULL,
    created_at      BIGINT  NOT NULL,
    PRIMARY KEY (transaction_ref, kind, n)
);

CREATE INDEX capture_images_by_age ON capture_images (created_at);
