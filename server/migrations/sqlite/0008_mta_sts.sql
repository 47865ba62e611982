-- MTA-STS (RFC 8461): the policy cache, and the policy each probe was judged with.
--
-- The cache keeps one policy per recipient domain: the TXT record's id it was fetched under,
-- the policy itself (mode, MX patterns, max_age) and until when it may be used. A probe uses it
-- while the id is unchanged and refetches it before it runs out (mta_sts/cache.rs); it still
-- applies when a later lookup or fetch fails (RFC 8461 §5.1).
CREATE TABLE mta_sts_policies (
    domain     TEXT PRIMARY KEY,
    policy_id  TEXT    NOT NULL,
    mode       TEXT    NOT NULL CHECK (mode IN ('enforce', 'testing', 'none')),
    mx         TEXT    NOT NULL,               -- the MX patterns, space-separated
    max_age    INTEGER NOT NULL,
    fetched_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

-- The policy a probe's judgement was made with (NULL: none applied, or probed before 0008).
ALTER TABLE probes ADD COLUMN sts_mode TEXT CHECK (sts_mode IN ('enforce', 'testing', 'none'));
ALTER TABLE probes ADD COLUMN sts_mx TEXT;             -- its MX patterns, space-separated
ALTER TABLE probes ADD COLUMN sts_id TEXT;
ALTER TABLE probes ADD COLUMN sts_expires INTEGER;
ALTER TABLE probes ADD COLUMN sts_problem TEXT;        -- what failed finding it
ALTER TABLE probes ADD COLUMN sts_downgrade INTEGER;   -- 1: its record vanished while cached
