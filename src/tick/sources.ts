import type { Db } from '../db/db.js';
import type { SourceLoader } from '../ledger/worker.js';
import { loadCampaignContext } from '../campaigns/context.js';
import { loadTriggerContext } from '../triggers/context.js';

/**
 * The worker's one way to a source's context: the ledger is source-agnostic,
 * so whoever runs workers (the tick, `herald deliver`) says how each kind of
 * source is loaded.
 */
export function sourceLoader(db: Db, clock: () => Date): SourceLoader {
  return (ref) => (ref.kind === 'campaign' ? loadCampaignContext(db, ref.name, clock) : loadTriggerContext(db, ref.name, clock));
}
