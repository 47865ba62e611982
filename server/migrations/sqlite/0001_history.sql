-- Sendguard's memory: every observation of every recipient mail server, what each server and
-- each domain has reached (the enforced floors), the holds raised when a server fell below its
-- floor, the administrators' decisions, and the users' settings.
--
-- Levels are integers: 0 = no TLS, 1 = TLS 1.2+ (any certificate), 2 = DANE verified
-- (see policy::history::Level). NULL means "not known": unknown is not evidence.

-- One probe (or delivery) of one recipient domain: the unit of a transaction. Its observations
-- are written with it, so `observation_count` lets a reader check that nothing is missing.
CREATE TABLE probes (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    domain            TEXT    NOT NULL,
    at                INTEGER NOT NULL,
    source            TEXT    NOT NULL CHECK (source IN ('probe', 'delivery')),
    -- The verdict from the facts alone (policy::verdict), JSON; history is applied on reading.
    verdict_json      TEXT    NOT NULL,
    observation_count INTEGER NOT NULL
);
CREATE INDEX probes_domain ON probes (domain, id);

-- What was seen at one address of one MX host.
CREATE TABLE observations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    probe_id    INTEGER NOT NULL REFERENCES probes (id),
    at          INTEGER NOT NULL,
    domain      TEXT    NOT NULL,
    host        TEXT    NOT NULL,
    ip          TEXT    NOT NULL,            -- '' when no address could be contacted
    starttls    INTEGER,                     -- NULL: no SMTP session
    tls_version TEXT,
    cipher      TEXT,
    cert_sha256 TEXT,
    spki_sha256 TEXT,
    dane        TEXT    NOT NULL,
    dnssec      TEXT    NOT NULL,
    class       TEXT    NOT NULL,
    level       INTEGER CHECK (level BETWEEN 0 AND 2),
    outcome     TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    source      TEXT    NOT NULL CHECK (source IN ('probe', 'delivery'))
);
CREATE INDEX observations_host ON observations (host, id);
CREATE INDEX observations_probe ON observations (probe_id);

-- Per MX host: what it has reached and what is enforced.
CREATE TABLE servers (
    host        TEXT PRIMARY KEY,
    first_seen  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    best_level  INTEGER CHECK (best_level BETWEEN 0 AND 2),
    floor_level INTEGER CHECK (floor_level BETWEEN 0 AND 2)
);

-- Per recipient domain: the weakest level over its MX set that it has reached, so that an MX
-- set that changes to weaker hosts is caught even though those hosts are new.
CREATE TABLE domains (
    domain      TEXT PRIMARY KEY,
    first_seen  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    floor_level INTEGER CHECK (floor_level BETWEEN 0 AND 2)
);

-- The domain's MX set as last seen.
CREATE TABLE domain_hosts (
    domain TEXT NOT NULL,
    host   TEXT NOT NULL,
    PRIMARY KEY (domain, host)
);
CREATE INDEX domain_hosts_host ON domain_hosts (host);

-- A server that fell below its floor. 'held' and 'kept' stop delivery; at most one of those
-- per server and domain (NULL: the server's own) at a time.
CREATE TABLE holds (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    host               TEXT    NOT NULL,
    -- Set when the hold comes from the domain's floor (its MX set changed to a weaker host).
    domain             TEXT,
    since              INTEGER NOT NULL,
    status             TEXT    NOT NULL CHECK (status IN ('held', 'released', 'kept')),
    floor_level        INTEGER NOT NULL CHECK (floor_level BETWEEN 0 AND 2),
    observed_level     INTEGER NOT NULL CHECK (observed_level BETWEEN 0 AND 2),
    before_observation INTEGER REFERENCES observations (id),
    after_observation  INTEGER NOT NULL REFERENCES observations (id),
    reason             TEXT    NOT NULL,
    decided_by         TEXT,
    decided_at         INTEGER
);
CREATE UNIQUE INDEX holds_one_open ON holds (host, ifnull(domain, '')) WHERE status IN ('held', 'kept');

-- Every administrator action, append-only.
CREATE TABLE audit_log (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     INTEGER NOT NULL,
    actor  TEXT    NOT NULL,
    action TEXT    NOT NULL,
    host   TEXT,
    detail TEXT    NOT NULL
);

-- Per-user settings (SecureSendingSettings as JSON).
CREATE TABLE user_settings (
    user_id    TEXT PRIMARY KEY,
    settings   TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);
