-- 0006_engine: the sending engine. A ledger row now carries its A/B variant,
-- its lease, its retry schedule and the versions it renders from, and the
-- ledger also records who was held out (control) or left out (suppressed,
-- with the reason), so reports can show every member of the audience.

ALTER TABLE herald.messages DROP CONSTRAINT messages_status_check;
ALTER TABLE herald.messages ADD CONSTRAINT messages_status_check
  CHECK (status IN ('queued', 'claimed', 'sent', 'failed', 'bounced', 'suppressed', 'expired', 'unknown', 'control', 'waiting'));
-- A customer without a usable address is recorded too (as suppressed, with the reason).
ALTER TABLE herald.messages ALTER COLUMN email DROP NOT NULL;

ALTER TABLE herald.messages
  -- The A/B variant the row sends; NULL without an A/B test, and for the rest
  -- of the audience (status 'waiting') until the winner is decided.
  ADD COLUMN variant          text,
  -- Why the row is control, suppressed, bounced, expired, failed or unknown.
  ADD COLUMN reason           text,
  -- Retries: a queued row is due when next_attempt_at has passed.
  ADD COLUMN next_attempt_at  timestamptz,
  ADD COLUMN first_attempt_at timestamptz,
  -- A claim: the worker holding the row and until when. A worker renews its
  -- lease while it works; a lease that runs out (the worker died) makes the
  -- row claimable again.
  ADD COLUMN worker           text,
  ADD COLUMN lease_until      timestamptz,
  -- The deployed versions the message renders from (herald.object_versions).
  ADD COLUMN campaign_version int,
  ADD COLUMN template_version int;

UPDATE herald.messages SET next_attempt_at = created_at WHERE status = 'queued';

-- Workers claim due rows of one campaign in id order, and rows whose lease ran out.
DROP INDEX herald.messages_queued;
CREATE INDEX messages_due ON herald.messages (campaign, next_attempt_at, id) WHERE status = 'queued';
CREATE INDEX messages_leased ON herald.messages (campaign, lease_until) WHERE status = 'claimed';

-- What recipients did with a message: opens, clicks and orders. The tracking
-- endpoints fill it; A/B winners and the lift report read it.
CREATE TABLE herald.message_events (
  id          bigserial   PRIMARY KEY,
  message_id  bigint      NOT NULL REFERENCES herald.messages (id),
  kind        text        NOT NULL CHECK (kind IN ('open', 'click', 'order')),
  -- An order's value, in the site's currency.
  value       numeric,
  at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX message_events_message ON herald.message_events (message_id, kind);

-- The A/B decision of a campaign: the figures it was made on, the p-value,
-- and the variant the rest of the audience gets.
CREATE TABLE herald.ab_decisions (
  campaign     text        PRIMARY KEY,
  metric       text        NOT NULL,
  winner       text        NOT NULL,
  significant  boolean     NOT NULL,
  p_value      float8,
  figures      jsonb       NOT NULL,
  reason       text        NOT NULL,
  decided_at   timestamptz NOT NULL
);

-- Token buckets for throttling, shared by every worker on every machine: a
-- worker takes tokens in one UPDATE before it claims.
CREATE TABLE herald.throttle_buckets (
  key         text        PRIMARY KEY,
  tokens      float8      NOT NULL,
  updated_at  timestamptz NOT NULL
);

-- When a run was launched (its audience materialised), for A/B timing.
ALTER TABLE herald.campaign_runs ADD COLUMN launched_at timestamptz;
UPDATE herald.campaign_runs SET launched_at = started_at;

-- The circuit breaker's counts: attempts, and refusals for policy or
-- authentication (5.7.x), which say nothing about the address.
ALTER TABLE herald.campaign_runs ADD COLUMN attempts int NOT NULL DEFAULT 0;
ALTER TABLE herald.campaign_runs ADD COLUMN policy_refusals int NOT NULL DEFAULT 0;
