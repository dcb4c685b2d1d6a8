-- 0011_ticks: one row per scheduler tick (`herald run`), so a tick can tell
-- how long ago the previous one started. GitHub delays scheduled workflow
-- runs under load, and drops some: a gap of more than twice the schedule's
-- interval means messages due in between went out late, and the tick says so.
CREATE TABLE herald.ticks (
  id             bigserial   PRIMARY KEY,
  -- Inserted before the tick does any work, so a tick that crashed or was
  -- killed still leaves its start; finished_at stays NULL then.
  started_at     timestamptz NOT NULL,
  finished_at    timestamptz,
  -- The schedule's interval (`herald run --every 15m`), or the one the
  -- previous tick recorded; NULL when none was ever given.
  every_seconds  int         CHECK (every_seconds > 0),
  -- Where it ran: the machine, and the CI run when there is one.
  host           text,
  run_url        text,
  -- What it did, in counts (launched, swept, sent, ...), and how it stopped.
  summary        jsonb
);

-- The previous tick is the latest start.
CREATE INDEX ticks_started_at ON herald.ticks (started_at DESC);
