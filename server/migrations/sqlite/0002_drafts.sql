-- The draft a user saved with "Speichern": one per user, replaced by each save, removed by
-- "Verwerfen". Recipients are JSON arrays of the entries as typed (invalid ones included).
CREATE TABLE drafts (
    user_id  TEXT PRIMARY KEY,
    sender   TEXT,                   -- NULL: no sender chosen
    to_list  TEXT    NOT NULL,       -- JSON array of strings
    cc_list  TEXT    NOT NULL,
    bcc_list TEXT    NOT NULL,
    subject  TEXT    NOT NULL,
    body     TEXT    NOT NULL,
    saved_at INTEGER NOT NULL
);
