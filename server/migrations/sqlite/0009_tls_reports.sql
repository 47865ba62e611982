-- SMTP TLS Reporting (RFC 8460, issue 14): what our deliveries showed per recipient domain,
-- policy and UTC day, and which reports went where. Counts only; at most a bounded number of
-- failure-detail rows per domain and day (store/tlsrpt.rs), further failures are counted in the
-- summary alone. Rows of days long reported are pruned.
CREATE TABLE tlsrpt_policies (
    id             INTEGER PRIMARY KEY,
    day            INTEGER NOT NULL,    -- UTC day: seconds since the epoch / 86400
    domain         TEXT    NOT NULL,    -- policy-domain, A-label
    policy_type    TEXT    NOT NULL CHECK (policy_type IN ('tlsa', 'sts', 'no-policy-found')),
    policy_strings TEXT    NOT NULL,    -- JSON array of strings (policy-string)
    mx_hosts       TEXT    NOT NULL,    -- JSON array of strings (mx-host)
    successes      INTEGER NOT NULL DEFAULT 0,
    failures       INTEGER NOT NULL DEFAULT 0,
    UNIQUE (day, domain, policy_type, policy_strings, mx_hosts)
);
CREATE INDEX tlsrpt_policies_by_day ON tlsrpt_policies (day, domain);

CREATE TABLE tlsrpt_failures (
    id           INTEGER PRIMARY KEY,
    policy       INTEGER NOT NULL REFERENCES tlsrpt_policies (id) ON DELETE CASCADE,
    result_type  TEXT    NOT NULL,      -- RFC 8460 §4.3 result type
    sending_ip   TEXT    NOT NULL,      -- '' when not known
    mx_host      TEXT    NOT NULL,
    receiving_ip TEXT    NOT NULL,      -- '' when no connection was made
    reason       TEXT    NOT NULL,      -- failure-reason-code
    sessions     INTEGER NOT NULL,
    UNIQUE (policy, result_type, sending_ip, mx_host, receiving_ip, reason)
);

-- One report per domain and day, once its day is over: its id (the same on every retry) and
-- whether its sending is finished ('done'), or the domain wants none ('no-rua').
CREATE TABLE tlsrpt_reports (
    day             INTEGER NOT NULL,
    domain          TEXT    NOT NULL,
    report_id       TEXT    NOT NULL UNIQUE,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'done', 'no-rua')),
    lookups         INTEGER NOT NULL DEFAULT 0, -- failed lookups of the _smtp._tls record
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    PRIMARY KEY (day, domain)
);

-- Each report to each URI of the domain's record: sent once, failures retried a bounded number
-- of times ('failed' then).
CREATE TABLE tlsrpt_sends (
    day             INTEGER NOT NULL,
    domain          TEXT    NOT NULL,
    uri             TEXT    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    sent_at         INTEGER,
    last_error      TEXT,
    PRIMARY KEY (day, domain, uri),
    FOREIGN KEY (day, domain) REFERENCES tlsrpt_reports (day, domain) ON DELETE CASCADE
);
