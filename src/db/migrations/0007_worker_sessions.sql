-- 0007_worker_sessions: a claim names the session of the process that made it,
-- so a worker can see that the holder is gone (kill -9, a lost machine) and
-- take its rows at once, instead of waiting out the lease.
--
-- Each herald process that delivers holds a session-level advisory lock, on
-- a connection of its own, for as long as it lives (src/send/session.ts): key
-- (namespace "herw", session_key). When the process dies, the server ends its
-- session and releases the lock. A claim records the key, and the server's
-- start time: a restart ends every session, live holders' included, so for a
-- claim made before the last restart only its lease decides.
ALTER TABLE herald.messages
  ADD COLUMN session_key   int,
  ADD COLUMN session_epoch timestamptz;
