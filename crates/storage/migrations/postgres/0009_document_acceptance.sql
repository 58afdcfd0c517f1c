-- The ID documents an account's ID verifications accept (issue #11).
-- Mirrors migrations/sqlite/0009_document_acceptance.sql.
--
-- Document types and issuing countries as comma-separated lists in their
-- canonical form (`PASSPORT,ID_CARD`, `AUT,DEU`); NULL accepts every type or
-- country, as every account did before. Expired documents stay refused
-- unless the account accepts them.
ALTER TABLE accounts ADD COLUMN accepted_document_types TEXT
    CHECK (accepted_document_types IS NULL OR length(accepted_document_types) BETWEEN 1 AND 64);
ALTER TABLE accounts ADD COLUMN accepted_countries TEXT
    CHECK (accepted_countries IS NULL OR length(accepted_countries) BETWEEN 3 AND 1024);
ALTER TABLE accounts ADD COLUMN accept_expired_documents BIGINT NOT NULL DEFAULT 0
    CHECK (accept_expired_documents IN (0, 1));
