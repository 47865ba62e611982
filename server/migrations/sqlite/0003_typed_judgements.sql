-- A probe's judgement in typed columns instead of the wire verdict as JSON (`verdict_json`,
-- English prose included). What the policy decided is stored: the MX outcome per probe, each MX
-- host per probe, and per observation (one address of one host) the judged outcome, cause and
-- the TLS details the tooltip shows; certificates once each, by SHA-256.
--
-- Existing databases stay readable: every observation, floor, hold and decision is kept. The
-- verdicts of probes written before this migration were only a cache of those facts; such a
-- probe has `mx_kind` NULL and is not used for a verdict, so its domain is simply probed again
-- the next time it is asked for.

ALTER TABLE probes DROP COLUMN verdict_json;
-- hosts | null_mx | nx_domain | no_mail_host | failed (NULL: written before 0003).
ALTER TABLE probes ADD COLUMN mx_kind TEXT
    CHECK (mx_kind IN ('hosts', 'null_mx', 'nx_domain', 'no_mail_host', 'failed'));
ALTER TABLE probes ADD COLUMN mx_dnssec TEXT;          -- DnssecStatus of the MX answer ('hosts')
ALTER TABLE probes ADD COLUMN mx_implicit INTEGER;     -- 1: implicit MX (RFC 5321 §5.1)
ALTER TABLE probes ADD COLUMN mx_failure TEXT          -- 'failed': how
    CHECK (mx_failure IN ('temporary', 'permanent', 'bogus'));
ALTER TABLE probes ADD COLUMN mx_detail TEXT;          -- 'failed': the resolver's words

-- Each MX host of a probe, in order of preference.
CREATE TABLE probe_hosts (
    probe_id       INTEGER NOT NULL REFERENCES probes (id),
    position       INTEGER NOT NULL,
    host           TEXT    NOT NULL,
    preference     INTEGER NOT NULL,
    address_dnssec TEXT    NOT NULL,
    -- What its TLSA records demand: nothing | tls | dane | unknown (policy::TlsaDemand).
    tlsa_demand    TEXT    NOT NULL CHECK (tlsa_demand IN ('nothing', 'tls', 'dane', 'unknown')),
    PRIMARY KEY (probe_id, position)
);

-- The judged parts of an observation that were not stored before.
ALTER TABLE observations ADD COLUMN cipher_iana TEXT;
ALTER TABLE observations ADD COLUMN bits INTEGER;
ALTER TABLE observations ADD COLUMN cause TEXT;         -- BlockCause, when delivery is refused
ALTER TABLE observations ADD COLUMN detail TEXT;       -- the peer's or the failing layer's words
ALTER TABLE observations ADD COLUMN webpki_valid INTEGER;
ALTER TABLE observations ADD COLUMN webpki_error TEXT;

-- Certificates a server presented, once each.
CREATE TABLE certificates (
    sha256      TEXT PRIMARY KEY,
    subject     TEXT NOT NULL,
    issuer      TEXT NOT NULL,
    san         TEXT NOT NULL,                         -- DNS names, space-separated
    not_before  TEXT NOT NULL,
    not_after   TEXT NOT NULL,
    spki_sha256 TEXT NOT NULL
);

-- The chain of an observation's TLS session, leaf first.
CREATE TABLE observation_chain (
    observation_id INTEGER NOT NULL REFERENCES observations (id),
    position       INTEGER NOT NULL,
    cert_sha256    TEXT    NOT NULL REFERENCES certificates (sha256),
    PRIMARY KEY (observation_id, position)
);

-- A counter that every write transaction (a probe, a release, a keep) raises, so that a server
-- process notices when another process (`sendguard holds release`, another instance) changed
-- what is remembered, and drops the verdicts it keeps in memory.
CREATE TABLE generation (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT INTO generation (id, value) VALUES (1, 0);
