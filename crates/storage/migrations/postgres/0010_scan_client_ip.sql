-- The user's address of an ID verification (`clientIp` of the callback and
-- of retrieval's transaction data): where the latest capture session was
-- opened from, as text (`192.0.2.1`, `2001:db8::1`). Personal data: DELETE
-- and retention erase it with the references. Mirrors
-- migrations/sqlite/0010_scan_client_ip.sql.
ALTER TABLE scans ADD COLUMN client_ip TEXT
    CHECK (client_ip IS NULL OR length(client_ip) BETWEEN 2 AND 45);
