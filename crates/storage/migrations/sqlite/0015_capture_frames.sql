-- Stateless capture (issue #14): an open attempt's frame cursor and the
-- analysis of each frame it accepted are stored as they are computed, so
-- that any node of a deployment takes any frame and any node finishes the
-- attempt from storage.

-- The face model the attempt's frames are embedded with.
ALTER TABLE capture_attempts ADD COLUMN model TEXT NOT NULL DEFAULT '';
-- The frame cursor (domain `FrameCursor`), advanced by compare-and-set.
ALTER TABLE capture_attempts ADD COLUMN frames_received INTEGER NOT NULL DEFAULT 0
    CHECK (frames_received >= 0);
ALTER TABLE capture_attempts ADD COLUMN last_t_ms INTEGER;
ALTER TABLE capture_attempts ADD COLUMN earliest_start_ms INTEGER;
-- Set when a finish began: no frame is accepted after it.
ALTER TABLE capture_attempts ADD COLUMN closed_at INTEGER;

-- One row per accepted frame; its outcome is written when its analysis is
-- done. `sealed` holds the engine's features (and the JPEG when kept),
-- sealed under the account's image key. Erased when the attempt ends.
CREATE TABLE capture_frames (
    attempt     TEXT    NOT NULL REFERENCES capture_attempts (id),
    idx         INTEGER NOT NULL CHECK (idx >= 0),
    accepted_at INTEGER NOT NULL,
    outcome     TEXT CHECK (outcome IN ('ANALYSED', 'UNDECODABLE', 'SKIPPED', 'FAILED')),
    sealed      BLOB,
    PRIMARY KEY (attempt, idx),
    CHECK ((outcome = 'ANALYSED') = (sealed IS NOT NULL))
) WITHOUT ROWID;
-- The retention sweep finds the frames of old attempts by their attempt.
CREATE INDEX capture_attempts_by_issue ON capture_attempts (issued_at);
