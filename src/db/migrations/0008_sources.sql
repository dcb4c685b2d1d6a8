-- 0008_sources: one ledger for every sender. A message now comes from a
-- source (a campaign or a trigger) and goes through a channel (email today;
-- SMS and push later), and a trigger may send a customer one message per
-- occurrence of its event. Every existing row keeps its history: campaigns
-- become source_kind 'campaign' with an empty occurrence, on channel 'email'.

ALTER TABLE herald.messages RENAME COLUMN campaign TO source;
ALTER TABLE herald.messages RENAME COLUMN email TO address;
ALTER TABLE herald.messages RENAME COLUMN campaign_version TO source_version;

ALTER TABLE herald.messages
  ADD COLUMN source_kind text NOT NULL DEFAULT 'campaign' CHECK (source_kind IN ('campaign', 'trigger')),
  -- What makes one occurrence of a trigger's event (a cart version, an order,
  -- a birthday year); empty for a campaign, which reaches a customer once.
  ADD COLUMN occurrence  text NOT NULL DEFAULT '',
  ADD COLUMN channel     text NOT NULL DEFAULT 'email' CHECK (channel IN ('email')),
  -- The event data a trigger's message shows (a cart, an order, a product),
  -- as the sweep found it; its exit conditions are checked against it.
  ADD COLUMN payload     jsonb,
  -- When the occurrence became due (a trigger's event time plus its delay).
  ADD COLUMN due_at      timestamptz,
  -- The contact policy: how often the row was put off (quiet hours, the
  -- frequency cap) and why, last; reports count them.
  ADD COLUMN deferrals   int  NOT NULL DEFAULT 0,
  ADD COLUMN deferred_reason text;

-- capped: over the frequency cap and skipped; exited: the event's condition
-- went away before the message was claimed (the cart was ordered, the
-- product sold out again, the trigger was paused), with the reason.
ALTER TABLE herald.messages DROP CONSTRAINT messages_status_check;
ALTER TABLE herald.messages ADD CONSTRAINT messages_status_check
  CHECK (status IN ('queued', 'claimed', 'sent', 'failed', 'bounced', 'suppressed', 'expired', 'unknown', 'control', 'waiting', 'capped', 'exited'));

-- The key: per source, channel, recipient and occurrence, so overlapping
-- sweeps, reruns and concurrent launches can never insert one twice.
ALTER TABLE herald.messages DROP CONSTRAINT messages_campaign_customer_id_key;
DROP INDEX herald.messages_campaign_contact;
CREATE UNIQUE INDEX messages_customer_key ON herald.messages (source_kind, source, channel, customer_id, occurrence) WHERE customer_id IS NOT NULL;
CREATE UNIQUE INDEX messages_contact_key ON herald.messages (source_kind, source, channel, contact_id, occurrence) WHERE contact_id IS NOT NULL;

DROP INDEX herald.messages_due;
DROP INDEX herald.messages_leased;
CREATE INDEX messages_due ON herald.messages (source_kind, source, next_attempt_at, id) WHERE status = 'queued';
CREATE INDEX messages_leased ON herald.messages (source_kind, source, lease_until) WHERE status = 'claimed';
-- The frequency cap counts what a recipient was sent, from any source, in a
-- rolling window, and what is being sent to them right now, at every claim.
CREATE INDEX messages_contacted ON herald.messages (customer_id, sent_at) WHERE status IN ('sent', 'claimed');
CREATE INDEX messages_contacted_contact ON herald.messages (contact_id, sent_at) WHERE status IN ('sent', 'claimed') AND contact_id IS NOT NULL;

-- Runs: a campaign's launch, or a trigger's enabling. A trigger's run never
-- completes; enabled_at is the back-fill horizon's anchor and swept_at the
-- lower bound of the next sweep's window.
ALTER TABLE herald.campaign_runs RENAME TO runs;
ALTER TABLE herald.runs RENAME COLUMN campaign TO source;
ALTER TABLE herald.runs
  ADD COLUMN source_kind text NOT NULL DEFAULT 'campaign' CHECK (source_kind IN ('campaign', 'trigger')),
  ADD COLUMN enabled_at  timestamptz,
  ADD COLUMN swept_at    timestamptz;
ALTER TABLE herald.runs DROP CONSTRAINT campaign_runs_pkey;
ALTER TABLE herald.runs ADD PRIMARY KEY (source_kind, source);

-- Overrides (pause, resume, cancel outside git) for campaigns and triggers.
ALTER TABLE herald.campaign_overrides RENAME TO overrides;
ALTER TABLE herald.overrides RENAME COLUMN campaign TO name;
ALTER TABLE herald.overrides ADD COLUMN kind text NOT NULL DEFAULT 'campaign' CHECK (kind IN ('campaign', 'trigger'));
ALTER TABLE herald.overrides DROP CONSTRAINT campaign_overrides_pkey;
ALTER TABLE herald.overrides ADD PRIMARY KEY (kind, name);
ALTER TABLE herald.overrides DROP CONSTRAINT campaign_overrides_status_check;
ALTER TABLE herald.overrides ADD CONSTRAINT overrides_status_check CHECK (status IN ('ready', 'active', 'paused', 'cancelled'));
ALTER TABLE herald.campaign_events RENAME TO override_events;
ALTER TABLE herald.override_events RENAME COLUMN campaign TO name;
ALTER TABLE herald.override_events ADD COLUMN kind text NOT NULL DEFAULT 'campaign';

-- What herald has seen of the shop's products.in_stock, at each sweep: it
-- never writes the shop's schema, so this is how it knows a product came
-- back. back_at starts an episode only after the product was out of stock
-- for the trigger's out_for, so a product that flaps sends nothing twice.
CREATE TABLE herald.stock_seen (
  sku        text        PRIMARY KEY,
  in_stock   boolean     NOT NULL,
  -- Since when it has been out of stock (NULL while in stock).
  out_since  timestamptz,
  -- When it last came back after being out: the current episode's start.
  back_at    timestamptz,
  -- How long it had been out then.
  was_out    interval,
  seen_at    timestamptz NOT NULL
);
