-- ID verifications ("scans", SPEC §1, issue #11): the enrollments that issue
-- facemaps through public APIs. Mirrors migrations/sqlite/0008_scans.sql.
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
    workflow                    BIGINT  NOT NULL
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
    token_hash                  BYTEA   NOT NULL CHECK (length(token_hash) = 32),
    scan_source                 TEXT    NOT NULL CHECK (scan_source IN ('WEB', 'SDK')),
    -- How the document was given: UPLOAD once any side was uploaded.
    channel                     TEXT    CHECK (channel IN ('CAMERA', 'UPLOAD')),
    document_type               TEXT
        CHECK (document_type IN ('PASSPORT', 'DRIVING_LICENSE', 'ID_CARD')),
    created_at                  BIGINT  NOT NULL,
    expires_at                  BIGINT  NOT NULL,
    first_attempt_at            BIGINT,
    decided_at                  BIGINT,
    deleted_at                  BIGINT,
    -- The outcome (no personal data): status, reject reason and details
    -- (comma-separated detail codes), identity verification, MRZ check.
    verification_status         TEXT,
    reject_reason               BIGINT,
    reject_details              TEXT,
    similarity                  TEXT    CHECK (similarity IN ('MATCH', 'NO_MATCH', 'NOT_POSSIBLE')),
    validity                    BIGINT  CHECK (validity IN (0, 1)),
    validity_reason             TEXT,
    mrz_checked                 BIGINT  NOT NULL DEFAULT 0 CHECK (mrz_checked IN (0, 1)),
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
ALTER TABLE accounts ADD COLUMN scan_retention_days BIGINT NOT NULL DEFAULT 30
    CHECK (scan_retention_days BETWEEN 1 AND 3650);

-- Capture sessions, attempts and images now serve scans too: their
-- `transaction_ref` names an authentication or a scan, so the foreign key to
-- `auth_transactions` goes, and a session says which it serves.
ALTER TABLE capture_sessions DROP CONSTRAINT capture_sessions_transaction_ref_fkey;
ALTER TABLE capture_sessions ADD COLUMN subject TEXT NOT NULL DEFAULT 'AUTHENTICATION'
    CHECK (subject IN ('AUTHENTICATION', 'SCAN'));

ALTER TABLE capture_attempts DROP CONSTRAINT capture_attempts_transaction_ref_fkey;

ALTER TABLE capture_images DROP CONSTRAINT capture_images_transaction_ref_fkey;
ALTER TABLE capture_images DROP CONSTRAINT capture_images_kind_check;
ALTER TABLE capture_images ADD CONSTRAINT capture_images_kind_check
    CHECK (kind IN ('face', 'liveness', 'front', 'back', 'document'));
