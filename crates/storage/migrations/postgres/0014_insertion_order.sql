-- The order rows were written in, for the lists whose rows can share a
-- millisecond (a transaction's callbacks, a scan's audit trail). Mirrors
-- migrations/sqlite/0014_insertion_order.sql, where a trigger copies the
-- rowid; here an identity column numbers the rows (existing ones too).
ALTER TABLE outbox ADD COLUMN seq BIGINT GENERATED ALWAYS AS IDENTITY;
ALTER TABLE audit_events ADD COLUMN seq BIGINT GENERATED ALWAYS AS IDENTITY;
