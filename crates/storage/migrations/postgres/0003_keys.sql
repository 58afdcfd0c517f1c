-- Master-key lifecycle (docs: README "Master keys"). Mirrors
-- migrations/sqlite/0003_keys.sql.
--
-- A key rotation moves each account's webhook secret to the new primary key
-- and keeps signing with the old one until `webhook_previous_until`, so
-- receivers can switch secrets without losing a callback.
ALTER TABLE accounts ADD COLUMN webhook_previous_key_id BIGINT
    CHECK (webhook_previous_key_id IS NULL OR webhook_previous_key_id >= 0);
ALTER TABLE accounts ADD COLUMN webhook_previous_until BIGINT;

-- The master key that sealed the enrollment's facemap. Customers hold copies
-- the server cannot re-seal, so a key stays needed while a facemap it issued
-- can still be presented (not revoked), even after the enrollment's deletion
-- erased the server's copy.
ALTER TABLE enrollments ADD COLUMN facemap_key_id BIGINT
    CHECK (facemap_key_id IS NULL OR facemap_key_id >= 0);

-- Existing server copies name their key in the header (bytes 6..9, big-endian;
-- get_byte counts from 0).
UPDATE enrollments SET facemap_key_id =
      get_byte(server_facemap, 5)::BIGINT * 16777216
    + get_byte(server_facemap, 6) * 65536
    + get_byte(server_facemap, 7) * 256
    + get_byte(server_facemap, 8)
WHERE server_facemap IS NOT NULL AND length(server_facemap) >= 9;

-- Fair claiming walks the due messages account by account.
CREATE INDEX outbox_due_by_account ON outbox (account, status, next_attempt_at);
