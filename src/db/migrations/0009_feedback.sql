-- 0009_feedback: what happened after a message was sent. Opens and clicks
-- (from the tracking server), unsubscribes, bounces and complaints that
-- arrive later (DSNs, ARF reports, ESP webhooks), and the orders attributed
-- to a message, all as events on the ledger row they belong to.

-- The kinds of event. `soft_bounce` is a temporary failure reported after
-- the SMTP conversation (a DSN with a 4.x.x status); `bounce` a permanent one.
ALTER TABLE herald.message_events DROP CONSTRAINT message_events_kind_check;
ALTER TABLE herald.message_events ADD CONSTRAINT message_events_kind_check
  CHECK (kind IN ('open', 'click', 'order', 'unsubscribe', 'bounce', 'soft_bounce', 'complaint'));

ALTER TABLE herald.message_events
  -- Who caused an open or a click: a person (`human`), Apple Mail Privacy
  -- Protection fetching every image (`mpp`), or a security scanner or
  -- prefetcher (`scanner`). NULL for the other kinds. Reports show totals
  -- and human-only figures; A/B decisions and attribution use human only.
  ADD COLUMN class    text CHECK (class IN ('human', 'mpp', 'scanner')),
  -- A click's link: its index in the message's link set.
  ADD COLUMN link     int,
  -- An attributed order: the shop's order id (one event per order).
  ADD COLUMN order_id text,
  -- Where the event came from: pixel, click, one-click, page, mailto, dsn,
  -- arf, ses, sendgrid, mailgun, postmark, attribution.
  ADD COLUMN origin   text,
  -- What else the source said: a bounce's status and diagnostic, a user
  -- agent's family, the link's destination.
  ADD COLUMN detail   jsonb;

-- Events that count once per message however often they are reported: a
-- DSN imported twice, a webhook retried, an unsubscribe clicked again, an
-- order seen by two attribution passes.
CREATE UNIQUE INDEX message_events_once ON herald.message_events (message_id, kind, coalesce(order_id, ''))
  WHERE kind IN ('order', 'unsubscribe', 'bounce', 'soft_bounce', 'complaint');
-- Reports and attribution read events by kind and time.
CREATE INDEX message_events_kind_at ON herald.message_events (kind, at);

-- The links of rendered messages, deduplicated by content: a click token
-- names the set by hash and the link by index, and the tracking server
-- redirects to what was rendered, never to anything a request says. Most
-- recipients of a source share one set; a per-recipient auto-login link is
-- stored as a placeholder and signed afresh at the click.
CREATE TABLE herald.link_sets (
  hash        text        PRIMARY KEY,
  urls        text[]      NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Suppression reasons: `erased` is a person erased on request (GDPR), kept
-- as a one-way hash of the address (`sha256:<hex>`) so they are never
-- mailed again.
ALTER TABLE herald.suppressions DROP CONSTRAINT suppressions_reason_check;
ALTER TABLE herald.suppressions ADD CONSTRAINT suppressions_reason_check
  CHECK (reason IN ('unsubscribed', 'bounced', 'complained', 'manual', 'erased'));

-- Attribution finds a customer's sent messages through messages_contacted
-- (0008), and a webhook names a message by its Message-ID, whose local part
-- carries the ledger id: no new index on messages, none to maintain per send.
