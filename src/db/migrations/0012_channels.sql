-- 0012_channels: SMS and push beside email. A ledger row goes through one
-- of three channels; an opt-out is per channel; and herald keeps the push
-- subscriptions a push service said are gone, since it never writes the
-- shop's own tables.
ALTER TABLE herald.messages DROP CONSTRAINT messages_channel_check;
ALTER TABLE herald.messages ADD CONSTRAINT messages_channel_check CHECK (channel IN ('email', 'sms', 'push'));

-- The `email` column holds the address on the channel: an email address, or
-- for SMS a number in E.164. A phone number is never an email address, so
-- the email lookups that predate channels are unaffected, and the unique key
-- (address, site) stays as it is: one address belongs to one channel.
ALTER TABLE herald.suppressions ADD COLUMN channel text NOT NULL DEFAULT 'email' CHECK (channel IN ('email', 'sms', 'push'));
ALTER TABLE herald.suppression_events ADD COLUMN channel text NOT NULL DEFAULT 'email' CHECK (channel IN ('email', 'sms', 'push'));

-- Push subscriptions (web push endpoints, FCM tokens) that their service
-- answered 404 or 410 (FCM: UNREGISTERED) for: left out from then on. Keyed
-- by a hash of the endpoint or token, which is all herald needs to know.
CREATE TABLE herald.push_gone (
  endpoint_sha256 text        PRIMARY KEY CHECK (endpoint_sha256 ~ '^[0-9a-f]{64}$'),
  status          int         NOT NULL,
  gone_at         timestamptz NOT NULL DEFAULT now()
);
