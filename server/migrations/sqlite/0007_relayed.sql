-- Relay mode (`--relay`): a recipient sent through the operator's Postfix was accepted by that
-- relay, not by the recipient's mail server; `mx_host`/`ip` then name the relay.
ALTER TABLE message_recipients ADD COLUMN relayed INTEGER NOT NULL DEFAULT 0;
