-- Master-key lifecycle (docs: README "Master keys").
--
-- A key rotation moves each account's webhook secret to the new primary key
-- and keeps signing with the old one until `webhook_previous_until`, so
-- receivers can switch secrets without losing a callback.
ALTER TABLE accounts ADD COLUMN webhook_previous_key_id INTEGER
    CHECK (webhook_previous_key_id IS NULL OR webhook_previous_key_id >= 0);
ALTER TABLE accounts ADD COLUMN webhook_previous_until INTEGER;

-- The master key that sealed the enrollment's facemap. Customers hold copies
-- the server cannot re-seal, so a key stays needed while a facemap it issued
-- can still be presented (not revoked), even after the enrollment's deletion
-- erased the server's copy.
ALTER TABLE enrollments ADD COLUMN facemap_key_id INTEGER
    CHECK (facemap_key_id IS NULL OR facemap_key_id >= 0);

-- Existing server copies name their key in the header (bytes 6..9, big-endian);
-- SQLite has no hex-to-integer function, so the eight digits are summed.
UPDATE enrollments SET facemap_key_id =
      (instr('0123456789ABCDEF', substr(hex(substr(server_facemap, 6, 4)), 1, 1)) - 1) * 268435456
    + (instr('0123456789ABCDEF', substr(hex(substr(server_facemap, 6, 4)), 2, 1)) - 1) * 16777216
    + (instr('0123456789ABCDEF', substr(hex(substr(server_facemap, 6, 4)), 3, 1)) - 1) * 1048576
    + (instr('0123456789ABCDEF', substr(hex(substr(server_facemap, 6, 4)), 4, 1)) - 1) * 65536
    + (instr('0123456789ABCDEF', substr(hex(substr(server_facemap, 6, 4)), 5, 1)) - 1) * 4096
    + (instr('0123456789ABCDEF', substr(hex(substr(server_facemap, 6, 4)), 6, 1)) - 1) * 256
    + (instr('0123456789ABCDEF', substr(hex(substr(server_facemap, 6, 4)), 7, 1)) - 1) * 16
    + (instr('0123456789ABCDEF', substr(hex(substr(server_facemap, 6, 4)), 8, 1)) - 1)
WHERE server_facemap IS NOT NULL AND length(server_facemap) >= 9;

-- Fair claiming walks the due messages account by account.
CREATE INDEX outbox_due_by_account ON outbox (account, status, next_attempt_at);
