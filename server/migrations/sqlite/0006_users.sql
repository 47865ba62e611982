-- Users (issue 11): who may sign in, with which role, and which sender addresses are theirs.
-- Settings, drafts and queued messages are keyed by the user's id (`user_settings.user_id`,
-- `drafts.user_id`, `messages.owner`); the single built-in user of earlier versions is the id
-- 'default'. Passwords are stored only as argon2id hashes (PHC strings).
CREATE TABLE users (
    id                  TEXT    PRIMARY KEY,       -- the login name, lower-case
    display_name        TEXT    NOT NULL,
    password_hash       TEXT    NOT NULL,          -- argon2id, PHC string format
    role                TEXT    NOT NULL CHECK (role IN ('user', 'admin')),
    created_at          INTEGER NOT NULL,
    password_changed_at INTEGER NOT NULL
);

-- A user's sender addresses in the order the From selector offers them; an address belongs to
-- one user only. Secure aliases are not stored: they follow from the settings.
CREATE TABLE user_addresses (
    address  TEXT    PRIMARY KEY,                  -- local@domain, domain lower-case
    user_id  TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    position INTEGER NOT NULL
);
CREATE INDEX user_addresses_by_user ON user_addresses (user_id, position);

-- Signed-in sessions: the cookie holds a random 256-bit token, stored here only as its SHA-256,
-- so a copy of the database signs nobody in. Ended by sign-out, by a password change (every
-- session of the user), and by idle time or age (checked on use, pruned regularly).
CREATE TABLE sessions (
    token_sha256 TEXT    PRIMARY KEY,
    user_id      TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token   TEXT    NOT NULL,                 -- sent back in x-csrf-token on every change
    created_at   INTEGER NOT NULL,
    last_seen    INTEGER NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);
