-- The session ledger (probe/ledger.rs, store/sessions_ledger.rs): the latest SMTP session of
-- the probe with each server (host name and address), shared by every instance on this database,
-- and the claim of the instance contacting it now, so that a server is contacted once across
-- the instances within the minimum re-contact interval.
--
-- Times are milliseconds since the Unix epoch. A row is claimed (claimed_by, claimed_until)
-- before a session and gets its result (at, raw: the prober's JSON, {"v":1,...}) after it;
-- at and raw are NULL until the first session ends. Rows older than the interval are pruned.
CREATE TABLE probe_sessions (
    host          TEXT    NOT NULL,
    ip            TEXT    NOT NULL,
    claimed_by    TEXT    NOT NULL,
    claimed_until BIGINT  NOT NULL,
    at            BIGINT,
    raw           TEXT,
    PRIMARY KEY (host, ip)
);
