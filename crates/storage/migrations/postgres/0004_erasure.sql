-- Failure lockout and callback history retention. Mirrors
-- migrations/sqlite/0004_erasure.sql.

-- The current run of FAILED authentications per enrollment (NIST SP 800-63B
-- failure lockout). Keyed by the enrollment, not by a transaction, so that
-- deleting transactions does not end the run; a PASSED one does.
CREATE TABLE enrollment_failures (
    enrollment      TEXT    NOT NULL PRIMARY KEY REFERENCES enrollments (reference),
    consecutive     BIGINT  NOT NULL CHECK (consecutive >= 0),
    last_failure_at BIGINT
);

-- The retention sweep erases finished callbacks (and their attempts) by age.
CREATE INDEX outbox_finished_by_age ON outbox (created_at) WHERE status <> 'PENDING';
