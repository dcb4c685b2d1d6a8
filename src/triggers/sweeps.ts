import type { Db } from '../db/db.js';
import type { Log } from '../log.js';
import { loadDeployed, objectVersion } from '../state/queries.js';
import type { Project, Segment, Trigger } from '../workspace/model.js';
import { sweepTrigger } from './sweep.js';

/** What one trigger's sweep did in a tick. */
export interface SweptTrigger {
  trigger: string;
  inserted: number;
  skippedByHorizon: number;
  /** The sweep failed (its sql: timed out, the shop's tables changed); the others went on. */
  error?: string;
}

/**
 * sweepAll: every deployed trigger, swept at `now`, as the tick does before
 * delivering: an active one adds its new occurrences to the ledger, a paused
 * one settles its queued rows (sweep.ts). One trigger's failure is logged
 * and reported, and does not keep the others, or delivery, from running.
 */
export async function sweepAll(db: Db, now: Date, log: Log): Promise<SweptTrigger[]> {
  const deployed = (await loadDeployed(db)).filter((d) => !d.archivedAt);
  const project = deployed.find((d) => d.kind === 'project')?.spec as unknown as Project | undefined;
  if (!project) return [];
  const segments = new Map(deployed.filter((d) => d.kind === 'segment').map((d) => [d.name, d.spec as unknown as Segment]));
  const out: SweptTrigger[] = [];
  for (const d of deployed.filter((x) => x.kind === 'trigger')) {
    const spec = d.spec as unknown as Trigger;
    try {
      const versions = { source: await objectVersion(db, 'trigger', d.name), template: await objectVersion(db, 'template', spec.template) };
      const r = await sweepTrigger(db, { name: d.name, spec, project, segments, now, versions });
      out.push({ trigger: d.name, ...r });
      if (r.inserted || r.skippedByHorizon) log.info({ trigger: d.name, ...r }, 'swept');
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      out.push({ trigger: d.name, inserted: 0, skippedByHorizon: 0, error });
      log.error({ trigger: d.name, err: error }, 'sweep failed; the other triggers and delivery go on');
    }
  }
  return out;
}
