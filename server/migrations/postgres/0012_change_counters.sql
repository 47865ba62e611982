-- Change counters (issue 15): each a number bumped in the same transaction as the changes it
-- stands for, so that a server keeping a copy of those things in memory learns by one cheap
-- read whether its copy is still good, also when another process (`sendguard user passwd`) or
-- another server instance sharing the database made the change.
--
-- 'sessions': bumped whenever a session ends (sign-out, found expired, the expiry sweep, a
-- password change, the user removed) and whenever a user's record changes (addresses), so
-- that signed-in sessions kept in memory (server/src/http/session_cache.rs) are read again.
-- Plain SQL that SQLite and PostgreSQL both accept.
CREATE TABLE change_counters (
    name  TEXT   PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO change_counters (name, value) VALUES ('sessions', 0);
