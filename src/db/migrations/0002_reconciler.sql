-- 0002_reconciler: what plan and apply need to be safe and explainable.

-- Lists and triggers are deployed objects too.
ALTER TABLE herald.objects DROP CONSTRAINT objects_kind_check;
ALTER TABLE herald.objects ADD CONSTRAINT objects_kind_check
  CHECK (kind IN ('project', 'segment', 'list', 'template', 'campaign', 'trigger'));

-- Each object's current version number, and when its file was deleted while
-- its history had to stay (a campaign that sent anything is archived, never
-- destroyed: its ledger and reports stay explainable).
ALTER TABLE herald.objects ADD COLUMN version int NOT NULL DEFAULT 1;
ALTER TABLE herald.objects ADD COLUMN archived_at timestamptz;

-- Every version of every object ever applied, with where it came from.
-- `herald history` reads it; messages will record the version they were
-- rendered from.
CREATE TABLE herald.object_versions (
  kind        text        NOT NULL,
  name        text        NOT NULL,
  version     int         NOT NULL,
  action      text        NOT NULL CHECK (action IN ('create', 'update', 'delete', 'archive')),
  hash        text,
  spec        jsonb,
  git_commit  text,
  git_author  text,
  -- A campaign's recipient count when this version was planned, so the next
  -- plan can show how much the audience moved.
  audience    int,
  apply_id    bigint      NOT NULL REFERENCES herald.applies (id),
  applied_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (kind, name, version)
);

-- Versions written before this migration: their first and only version.
INSERT INTO herald.object_versions (kind, name, version, action, hash, spec, git_commit, apply_id, applied_at)
SELECT kind, name, 1, 'create', hash, spec, git_commit, apply_id, applied_at FROM herald.objects;

-- Emergency changes made outside git (herald pause / resume / cancel): the
-- status now in force, who set it, why, and the hash of the campaign's spec
-- at that moment. apply undoes an override only when the campaign's file has
-- changed since (its hash differs), so an unrelated apply never silently
-- resumes a campaign someone paused in an emergency.
CREATE TABLE herald.campaign_overrides (
  campaign    text        PRIMARY KEY,
  status      text        NOT NULL CHECK (status IN ('ready', 'paused', 'cancelled')),
  reason      text        NOT NULL,
  set_by      text        NOT NULL,
  set_at      timestamptz NOT NULL DEFAULT now(),
  spec_hash   text        NOT NULL
);

-- Every emergency change, kept after apply clears the override.
CREATE TABLE herald.campaign_events (
  id          bigserial   PRIMARY KEY,
  campaign    text        NOT NULL,
  action      text        NOT NULL,
  reason      text,
  actor       text,
  at          timestamptz NOT NULL DEFAULT now()
);

-- apply records who applied (the git author where known) beside the commit.
ALTER TABLE herald.applies ADD COLUMN environment text;
