-- The outgoing queue (issue 12): each message the user handed over, built as RFC 5322 text,
-- and per recipient where its delivery stands. A message is written with all its recipients in
-- one transaction before the user is told it was accepted.
CREATE TABLE messages (
    id            INTEGER PRIMARY KEY,
    owner         TEXT    NOT NULL,     -- the user's key (user_settings.user_id)
    envelope_from TEXT    NOT NULL,     -- RFC 5321 MAIL FROM
    from_header   TEXT    NOT NULL,     -- the From header as written
    subject       TEXT    NOT NULL,
    message_id    TEXT    NOT NULL UNIQUE, -- without angle brackets
    created_at    INTEGER NOT NULL,
    size          INTEGER NOT NULL,     -- octets of `raw`
    raw           BLOB    NOT NULL      -- the built message, CRLF line ends
);
CREATE INDEX messages_by_owner ON messages (owner, created_at);

CREATE TABLE message_recipients (
    id              INTEGER PRIMARY KEY,
    message         INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    position        INTEGER NOT NULL,   -- order as given, To, then Cc, then Bcc
    address         TEXT    NOT NULL,   -- RFC 5321 RCPT TO, as given
    domain          TEXT    NOT NULL,   -- A-label form of the address's domain
    kind            TEXT    NOT NULL CHECK (kind IN ('to', 'cc', 'bcc')),
    state           TEXT    NOT NULL
        CHECK (state IN ('queued', 'sending', 'sent', 'deferred', 'held', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,            -- due when state is queued or deferred
    last_attempt_at INTEGER,
    reason          TEXT,               -- last reply or why deferred / held / failed
    -- For `sent`: the server that accepted the message and the protection used.
    mx_host         TEXT,
    ip              TEXT,
    tls_version     TEXT,               -- TLSv1.2 / TLSv1.3; NULL: plain text
    cipher          TEXT,
    dane            TEXT,               -- DaneStatus wire name
    verified        INTEGER,            -- 1: certificate authenticated
    UNIQUE (message, position)
);
CREATE INDEX recipients_due ON message_recipients (state, next_attempt_at);
