-- The audit trail of manual reviews (issue #12): who changed an ID
-- verification's verdict, when, from what to what, and why. Entries stay
-- when the scan is deleted or its retention ends; the reviewer's reason,
-- free text that may name the person, is erased with the scan. Mirrors
-- migrations/sqlite/0011_audit.sql.
CREATE TABLE audit_events (
    id      TEXT    NOT NULL PRIMARY KEY,
    account TEXT    NOT NULL REFERENCES accounts (id),
    at      BIGINT  NOT NULL,
    actor   TEXT    NOT NULL CHECK (length(actor) BETWEEN 1 AND 200),
    scan    TEXT    NOT NULL REFERENCES enrollments (reference),
    action  TEXT    NOT NULL CHECK (action IN ('SCAN_APPROVED', 'SCAN_REJECTED')),
    before  TEXT    NOT NULL,
    after   TEXT    NOT NULL,
    reason  TEXT    CHECK (reason IS NULL OR length(reason) BETWEEN 1 AND 2000)
);

CREATE INDEX audit_events_by_scan ON audit_events (scan, at);
CREATE INDEX audit_events_by_account ON audit_events (account, at);
