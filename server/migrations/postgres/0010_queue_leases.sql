-- Several instances on one database (issue 16): a recipient being delivered is leased to the
-- instance that claimed it. The instance renews its leases while it lives; a lease that ran out
-- belongs to an instance that died, and its recipients are claimed again by another.
ALTER TABLE message_recipients ADD COLUMN claimed_by TEXT;       -- the instance, while sending
ALTER TABLE message_recipients ADD COLUMN lease_until BIGINT;    -- seconds since the epoch
