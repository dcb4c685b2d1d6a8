import type { Db } from '../../src/db/db.js';
import type { SourceRef } from '../../src/ledger/source.js';
import { sourceLoader } from '../../src/tick/sources.js';

/** What deliver() needs to send only the named campaigns, loaded as herald run would. */
export function campaignSources(db: Db, clock: () => Date, ...names: string[]): { sources: SourceRef[]; loadSource: ReturnType<typeof sourceLoader> } {
  return { sources: names.map((name) => ({ kind: 'campaign', name })), loadSource: sourceLoader(db, clock) };
}

/** A campaign's ledger reference. */
export function campaign(name: string): SourceRef {
  return { kind: 'campaign', name };
}
