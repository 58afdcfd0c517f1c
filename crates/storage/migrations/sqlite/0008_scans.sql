-- ID verifications ("scans", SPEC §1, issue #11): the enrollments that issue
-- facemaps through public APIs.
--
-- A scan's reference is its enrollment's: the `enrollments` row is written
-- with the scan (undecided) and carries the decision and the facemap
-- binding once decided, so that facemap authentication reads it unchanged.
-- The scan's personal data (references, URLs) sits in `scans` and is erased
-- by DELETE and by the account's retention; its images and its extracted
-- document data are sealed in `capture_images` (kinds front, back, face,
-- liveness, document), erased with it.

CREATE TABLE scans (
    reference                   TEXT    NOT NULL PRIMARY KEY REFERENCES enrollments (reference),
    account                     TEXT    NOT NULL REFERENCES accounts (id),
    state                       TEXT    NOT NULL CHECK (state IN ('PENDING', 'DONE', 'FAILED')),
    workflow                    INTEGER NOT NULL
        CHECK (workflow IN (100, 101, 102, 200, 201, 202)),
    customer_internal_reference TEXT,
    user_reference              TEXT,
    reporting_criteria          TEXT,
    preset_country              TEXT,
    preset_type                 TEXT,
    callback_url                TEXT,
    success_url                 TEXT,
    error_url                   TEXT,
    locale                      TEXT    NOT NULL,
    token_hash                  BLOB    NOT NULL CHECK (length(token_hash) = 32),
    scan_source                 TEXT    NOT NULL CHECK (scan_source IN ('WEB', 'SDK')),
    -- How the document was given: UPLOAD once any side was uploaded.
    channel                     TEXT    CHECK (channel IN ('CAMERA', 'UPLOAD')),
    document_type               TEXT
        CHECK (document_type IN ('PASSPORT', 'DRIVING_LICENSE', 'ID_CARD')),
    created_at                  INTEGER NOT NULL,
    expires_at                  INTEGER NOT NULL,
    first_attempt_at            INTEGER,
    decided_at                  INTEGER,
    deleted_at                  INTEGER,
    -- The outcome (no personal data): status, reject reason and details
    -- (comma-separated detail codes), identity verification, MRZ check.
    verification_status         TEXT,
    reject_reason               INTEGER,
    reject_details              TEXT,
    similarity                  TEXT    CHECK (similarity IN ('MATCH', 'NO_MATCH', 'NOT_POSSIBLE')),
    validity                    INTEGER CHECK (validity IN (0, 1)),
    validity_reason             TEXT,
    mrz_checked                 INTEGER NOT NULL DEFAULT 0 CHECK (mrz_checked IN (0, 1)),
    -- What the decision rested on (JSON: findings, scores, thresholds, which
    -- checks ran), without personal data.
    evidence                    TEXT,
    CHECK ((state = 'PENDING') = (verification_status IS NULL)),
    CHECK ((state = 'PENDING') = (decided_at IS NULL)),
    CHECK (deleted_at IS NULL OR state <> 'PENDING')
);

CREATE UNIQUE INDEX scans_by_token_hash ON scans (token_hash);
-- The expiry worker looks at pending scans only; retention at decided ones.
CREATE INDEX scans_pending_by_expiry ON scans (expires_at) WHERE state = 'PENDING';
CREATE INDEX scans_decided_by_age ON scans (decided_at)
    WHERE state <> 'PENDING' AND deleted_at IS NULL;

-- Days a finished scan keeps its personal data (per account).
ALTER TABLE accounts ADD COLUMN scan_retention_days INTEGER NOT NULL DEFAULT 30
    CHECK (scan_retention_days BETWEEN 1 AND 3650);

-- Capture sessions, attempts and images now serve scans too: their
-- `transaction_ref` names an authentication or a scan, so the foreign key to
-- `auth_transactions` goes (SQLite cannot drop a constraint in place: the
-- tables are rebuilt with their rows), and a session says which it serves.

CREATE TABLE capture_sessions_new (
    token_hash      BLOB    NOT NULL PRIMARY KEY CHECK (length(token_hash) = 32),
    transaction_ref TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    ended_at        INTEGER,
    scan_source     TEXT    NOT NULL CHECK (scan_source IN ('WEB', 'SDK')),
    subject         TEXT    NOT NULL DEFAULT 'AUTHENTICATION'
        CHECK (subject IN ('AUTHENTICATION', 'SCAN'))
) WITHOUT ROWID;
INSERT INTO capture_sessions_new (token_hash, transaction_ref, created_at, expires_at, ended_at,
    scan_source)
    SELECT token_hash, transaction_ref, created_at, expires_at, ended_at, scan_source
    FROM capture_sessions;
DROP TABLE capture_sessions;
ALTER TABLE capture_sessions_new RENAME TO capture_sessions;
CREATE INDEX capture_sessions_by_transaction ON capture_sessions (transaction_ref);

CREATE TABLE capture_attempts_new (
    id              TEXT    NOT NULL PRIMARY KEY,
    transaction_ref TEXT    NOT NULL,
    number          INTEGER NOT NULL CHECK (number BETWEEN 1 AND 3),
    nonce           BLOB    NOT NULL UNIQUE CHECK (length(nonce) = 16),
    challenge       TEXT    NOT NULL,
    flash           INTEGER NOT NULL CHECK (flash IN (0, 1)),
    issued_at       INTEGER NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('OPEN', 'FINISHED', 'ABANDONED')),
    outcome         TEXT CHECK (outcome IN ('PASSED', 'FAILED', 'RETRY', 'INVALID')),
    decision        TEXT,
    finished_at     INTEGER,
    UNIQUE (transaction_ref, number),
    CHECK ((state = 'FINISHED') = (outcome IS NOT NULL))
);
INSERT INTO capture_attempts_new
    SELECT id, transaction_ref, number, nonce, challenge, flash, issued_at, state, outcome,
           decision, finished_at
    FROM capture_attempts;
DROP TABLE capture_attempts;
ALTER TABLE capture_attempts_new RENAME TO capture_attempts;

CREATE TABLE capture_images_new (
    transaction_ref TEXT    NOT NULL,
    kind            TEXT    NOT NULL
        CHECK (kind IN ('face', 'liveness', 'front', 'back', 'document')),
    n               INTEGER NOT NULL CHECK (n >= 1),
    sealed          BLOB    NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (transaction_ref, kind, n)
) WITHOUT ROWID;
INSERT INTO capture_images_new SELECT transaction_ref, kind, n, sealed, created_at
    FROM capture_images;
DROP TABLE capture_images;
ALTER TABLE capture_images_new RENAME TO capture_images;
CREATE INDEX capture_images_by_age ON capture_images (created_at);
