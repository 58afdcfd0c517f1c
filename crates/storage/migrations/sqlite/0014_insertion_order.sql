-- The order rows were written in, for the lists whose rows can share a
-- millisecond (a transaction's callbacks, a scan's audit trail): a column of
-- its own, the same on every backend (PostgreSQL has no rowid). Existing
-- rows keep their rowid order; a trigger numbers new ones the same way.
ALTER TABLE outbox ADD COLUMN seq INTEGER;
UPDATE outbox SET seq = rowid;
CREATE TRIGGER outbox_seq AFTER INSERT ON outbox
BEGIN
    UPDATE outbox SET seq = NEW.rowid WHERE rowid = NEW.rowid;
END;

ALTER TABLE audit_events ADD COLUMN seq INTEGER;
UPDATE audit_events SET seq = rowid;
CREATE TRIGGER audit_events_seq AFTER INSERT ON audit_events
BEGIN
    UPDATE audit_events SET seq = NEW.rowid WHERE rowid = NEW.rowid;
END;
