-- The retention sweep (server/src/store/retention.rs) finds old observations and probes by
-- their time instead of reading every row (issue 15: at 1,000,000 observations a sweep that
-- deleted nothing read them all, 1.2-5 s with the write lock held, at every start and every
-- hour). Plain SQL that SQLite and PostgreSQL both accept.
CREATE INDEX observations_at ON observations (at);
CREATE INDEX probes_at ON probes (at);
