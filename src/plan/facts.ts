import type { Breakdown } from '../audience/breakdown.js';
import type { Queryable } from '../db/db.js';
import type { DeployObject } from '../state/objects.js';
import { lastApply, lastAudiences, loadDeployed, type DeployedObject } from '../state/queries.js';
import { allOverrides, type OverrideKind, type OverrideStatus } from '../state/overrides.js';
import { allRuns } from '../ledger/runs.js';
import { productWarnings } from './product-checks.js';
import { checkAgainstShop } from './shop-checks.js';

/**
 * What plan needs to know about the deployed state, read in one place so that
 * computing the plan itself stays pure.
 */
export interface Override {
  kind: OverrideKind;
  name: string;
  status: OverrideStatus;
  reason: string;
  setBy: string;
  setAt: string;
  specHash: string;
}

export interface Run {
  phase: 'sending' | 'completed';
  /** Ledger rows, whatever their state: a campaign with any has a history to keep. */
  messages: number;
}

export interface Facts {
  deployed: DeployedObject[];
  /** By kind/name. */
  runs: Map<string, Run>;
  /** By kind/name. */
  overrides: Map<string, Override>;
  /** Recipient counts per campaign, for the audience policy; absent when not measured. */
  audienceSizes: Map<string, number | { error: string }>;
  /** The volume breakdown behind each measured size, for the plan to show. */
  breakdowns: Map<string, Breakdown>;
  /** The audience size recorded by the last apply of each campaign. */
  lastAudience: Map<string, number>;
  /** The commit of the last apply: what this database runs. */
  deployedCommit: string | null;
  /** Problems found against the shop's data (missing SKUs, sql: that does not plan), per kind/name. */
  shopProblems: Map<string, string[]>;
  /** Shop checks that could not run (no products table, say). */
  shopWarnings: string[];
}

/** gatherFacts: everything plan reads from the database. */
export async function gatherFacts(
  db: Queryable,
  measure?: (db: Queryable, campaign: DeployObject) => Promise<Breakdown>,
  desired: readonly DeployObject[] = [],
  shopSchema?: string,
): Promise<Facts> {
  const deployed = await loadDeployed(db);
  const runs = new Map((await allRuns(db)).map((r) => [`${r.kind}/${r.name}`, { phase: r.phase, messages: r.messages }]));
  const overrides = new Map(
    (await allOverrides(db)).map((r) => [
      `${r.kind}/${r.name}`,
      { kind: r.kind, name: r.name, status: r.status, reason: r.reason, setBy: r.setBy, setAt: r.setAt.toISOString(), specHash: r.specHash },
    ]),
  );
  const lastAudience = await lastAudiences(db);
  const audienceSizes = new Map<string, number | { error: string }>();
  const breakdowns = new Map<string, Breakdown>();
  if (measure) {
    for (const o of desired) {
      if (o.kind !== 'campaign' || o.spec.status !== 'ready') continue;
      const deployedNow = deployed.find((d) => d.kind === 'campaign' && d.name === o.name);
      if (deployedNow?.hash === o.hash || runs.has(`campaign/${o.name}`)) continue;
      // A savepoint per measurement: a failing audience query (a missing shop
      // table, a bad sql: segment) must not abort the snapshot the plan reads.
      await db.query('SAVEPOINT measure');
      try {
        const breakdown = await measure(db, o);
        breakdowns.set(o.name, breakdown);
        audienceSizes.set(o.name, breakdown.recipients);
        await db.query('RELEASE SAVEPOINT measure');
      } catch (err) {
        await db.query('ROLLBACK TO SAVEPOINT measure');
        audienceSizes.set(o.name, { error: (err as Error).message });
      }
    }
  }
  const shop = shopSchema ? await checkAgainstShop(db, shopSchema, desired) : { problems: new Map<string, string[]>(), warnings: [] };
  return {
    deployed, runs, overrides, audienceSizes, breakdowns, lastAudience,
    deployedCommit: (await lastApply(db))?.gitCommit ?? null,
    shopProblems: shop.problems,
    shopWarnings: [...shop.warnings, ...(shopSchema ? await productWarnings(db, shopSchema, desired) : [])],
  };
}
