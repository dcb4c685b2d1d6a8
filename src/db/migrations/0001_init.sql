-- 0001_init: herald's own state. The shop's data is read from the schema
-- named in herald.yaml (see docs/shop-data-contract.md) and never written.

-- Deployed workspace objects: the spec of each (kind, name) as last applied.
-- plan diffs the workspace against these rows; send renders from them, so a
-- message always comes from what was reviewed and applied, never from a
-- working copy.
CREATE TABLE herald.objects (
  kind        text        NOT NULL CHECK (kind IN ('project', 'segment', 'template', 'campaign')),
  name        text        NOT NULL,
  spec        jsonb       NOT NULL,
  hash        text        NOT NULL,
  git_commit  text,
  apply_id    bigint      NOT NULL,
  applied_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (kind, name)
);

-- One row per apply that changed something: where it came from and what it did.
CREATE TABLE herald.applies (
  id          bigserial   PRIMARY KEY,
  git_commit  text,
  applied_by  text,
  applied_at  timestamptz NOT NULL DEFAULT now(),
  changes     jsonb       NOT NULL
);

-- Runtime lifecycle of a campaign once it starts sending. The desired status
-- (draft, ready, ...) is in the campaign's spec; this is what actually happened.
CREATE TABLE herald.campaign_runs (
  campaign      text        PRIMARY KEY,
  phase         text        NOT NULL CHECK (phase IN ('sending', 'completed')),
  started_at    timestamptz NOT NULL DEFAULT now(),
  completed_at  timestamptz
);

-- The message ledger: one row per campaign and customer. The UNIQUE key makes
-- materialising an audience idempotent, so a second send adds nobody twice.
CREATE TABLE herald.messages (
  id             bigserial   PRIMARY KEY,
  campaign       text        NOT NULL,
  customer_id    bigint      NOT NULL,
  email          text        NOT NULL,
  site           text        NOT NULL,
  locale         text        NOT NULL,
  status         text        NOT NULL DEFAULT 'queued'
                 CHECK (status IN ('queued', 'claimed', 'sent', 'failed')),
  attempts       int         NOT NULL DEFAULT 0,
  claimed_at     timestamptz,
  sent_at        timestamptz,
  smtp_response  text,
  message_id     text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (campaign, customer_id)
);

-- Workers claim queued rows of one campaign in id order; this partial index
-- keeps that scan proportional to what is left, not to the whole ledger.
CREATE INDEX messages_queued ON herald.messages (campaign, id) WHERE status = 'queued';

-- Values herald generates for itself, such as the link-signing key used when
-- herald.yaml names no secret in the environment.
CREATE TABLE herald.settings (
  key    text PRIMARY KEY,
  value  text NOT NULL
);
