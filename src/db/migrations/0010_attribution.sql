-- 0010_attribution: orders attributed to the message that brought them.

-- One message per order, across every campaign and trigger: message_events_once
-- (0009) keeps an order from being recorded twice on one message; this keeps it
-- from being given to two (two passes at once, a later pass that would choose
-- another message because a late click arrived). The first attribution stands.
CREATE UNIQUE INDEX message_events_order ON herald.message_events (order_id) WHERE kind = 'order';

-- The attribution pass's watermark: orders placed up to `watermark` have been
-- looked at. A pass reads orders from the watermark less a lookback (orders
-- that reach the shop's tables late, from a replica or an import) up to its
-- own time. One row, locked by each pass, so two ticks never pass at once.
CREATE TABLE herald.attribution_passes (
  id          boolean     PRIMARY KEY DEFAULT true CHECK (id),
  -- NULL until the first pass has finished.
  watermark   timestamptz,
  -- The last pass: when, and how many orders it attributed.
  passed_at   timestamptz,
  attributed  int         NOT NULL DEFAULT 0
);
