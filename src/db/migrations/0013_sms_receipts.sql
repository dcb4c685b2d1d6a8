-- 0013_sms_receipts: what an SMS provider reports after it took a message.
-- A delivery receipt names the message by the provider's id (Twilio's SID),
-- which the ledger records as the SMS's message_id; `delivered` is the
-- handset's confirmation, recorded once per message however often the
-- provider reports it.
ALTER TABLE herald.message_events DROP CONSTRAINT message_events_kind_check;
ALTER TABLE herald.message_events ADD CONSTRAINT message_events_kind_check
  CHECK (kind IN ('open', 'click', 'order', 'unsubscribe', 'bounce', 'soft_bounce', 'complaint', 'delivered'));
CREATE UNIQUE INDEX message_events_delivered ON herald.message_events (message_id) WHERE kind = 'delivered';

-- Receipts find their row by the provider's id. SMS rows only: an email's
-- Message-ID carries its ledger id, so email needs no such index.
CREATE INDEX messages_sms_provider_id ON herald.messages (message_id) WHERE channel = 'sms';
