-- no-transaction
-- Two more sources of observations (issue 13): `postfix`, a delivery the operator's Postfix made
-- (read from its log), and `inbound`, the TLS of a server that delivered mail to us (seen by
-- the inbound policy service). SQLite cannot change a CHECK constraint in place, so `probes` and
-- `observations` are rebuilt the way its manual describes (ALTER TABLE, "Making Other Kinds Of
-- Table Schema Changes"): with foreign keys off (possible only outside a transaction, hence
-- `no-transaction` above), a new table is filled, the old one dropped and the new one renamed,
-- all in one transaction; then `pragma_foreign_key_check` proves every reference (holds, chains, probe
-- hosts) still resolves before the commit. Every row keeps its id, and the AUTOINCREMENT
-- counters keep their values, so no id is ever handed out twice.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

CREATE TABLE probes_0005 (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    domain            TEXT    NOT NULL,
    at                INTEGER NOT NULL,
    source            TEXT    NOT NULL
        CHECK (source IN ('probe', 'delivery', 'postfix', 'inbound')),
    observation_count INTEGER NOT NULL,
    mx_kind           TEXT
        CHECK (mx_kind IN ('hosts', 'null_mx', 'nx_domain', 'no_mail_host', 'failed')),
    mx_dnssec         TEXT,
    mx_implicit       INTEGER,
    mx_failure        TEXT CHECK (mx_failure IN ('temporary', 'permanent', 'bogus')),
    mx_detail         TEXT
);
INSERT INTO probes_0005 (id, domain, at, source, observation_count, mx_kind, mx_dnssec,
                         mx_implicit, mx_failure, mx_detail)
    SELECT id, domain, at, source, observation_count, mx_kind, mx_dnssec, mx_implicit,
           mx_failure, mx_detail
    FROM probes;

CREATE TABLE observations_0005 (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    probe_id     INTEGER NOT NULL REFERENCES probes (id),
    at           INTEGER NOT NULL,
    domain       TEXT    NOT NULL,
    host         TEXT    NOT NULL,
    ip           TEXT    NOT NULL,            -- '' when no address could be contacted
    starttls     INTEGER,                     -- NULL: no SMTP session
    tls_version  TEXT,
    cipher       TEXT,
    cert_sha256  TEXT,
    spki_sha256  TEXT,
    dane         TEXT    NOT NULL,
    dnssec       TEXT    NOT NULL,
    class        TEXT    NOT NULL,
    level        INTEGER CHECK (level BETWEEN 0 AND 2),
    outcome      TEXT    NOT NULL,
    reason       TEXT    NOT NULL,
    source       TEXT    NOT NULL
        CHECK (source IN ('probe', 'delivery', 'postfix', 'inbound')),
    cipher_iana  TEXT,
    bits         INTEGER,
    cause        TEXT,
    detail       TEXT,
    webpki_valid INTEGER,
    webpki_error TEXT
);
INSERT INTO observations_0005
    SELECT id, probe_id, at, domain, host, ip, starttls, tls_version, cipher, cert_sha256,
           spki_sha256, dane, dnssec, class, level, outcome, reason, source, cipher_iana, bits,
           cause, detail, webpki_valid, webpki_error
    FROM observations;

-- The counters as they were (they may be ahead of the largest id after pruning).
UPDATE sqlite_sequence SET seq = (SELECT seq FROM sqlite_sequence WHERE name = 'probes')
    WHERE name = 'probes_0005' AND EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'probes');
UPDATE sqlite_sequence SET seq = (SELECT seq FROM sqlite_sequence WHERE name = 'observations')
    WHERE name = 'observations_0005'
      AND EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'observations');

DROP TABLE observations;
DROP TABLE probes;
ALTER TABLE probes_0005 RENAME TO probes;
ALTER TABLE observations_0005 RENAME TO observations;
CREATE INDEX probes_domain ON probes (domain, id);
CREATE INDEX observations_host ON observations (host, id);
CREATE INDEX observations_probe ON observations (probe_id);

-- Fails (and so rolls everything back) if any reference no longer resolves.
CREATE TEMP TABLE migration_0005_check (violations INTEGER CHECK (violations = 0));
INSERT INTO migration_0005_check SELECT count(*) FROM pragma_foreign_key_check;
DROP TABLE migration_0005_check;
COMMIT;
PRAGMA foreign_keys = ON;
