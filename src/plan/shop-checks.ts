import type { Queryable } from '../db/db.js';
import { quoteIdent } from '../db/ident.js';
import type { DeployObject } from '../state/objects.js';
import { eachCondition, type Campaign, type Condition, type Segment, type Trigger } from '../workspace/model.js';

/**
 * The workspace checks that need the shop's database, run by plan (validate
 * needs none): a campaign's SKUs exist, and every `sql:` plans with EXPLAIN
 * and returns customer_id. Problems come back per object as refusal reasons.
 */
export async function checkAgainstShop(db: Queryable, schema: string, desired: readonly DeployObject[]): Promise<{ problems: Map<string, string[]>; warnings: string[] }> {
  const out = new Map<string, string[]>();
  const warnings: string[] = [];
  const add = (key: string, reason: string) => out.set(key, [...(out.get(key) ?? []), reason]);

  const wanted = desired.filter((o) => o.kind === 'campaign').flatMap((o) => ((o.spec as unknown as Campaign).products ?? []).map((sku) => [o.name, sku] as const));
  if (wanted.length > 0) {
    await guarded(db, async () => {
      const rows = await db.query<{ campaign: string; sku: string }>(
        `SELECT w.campaign, w.sku FROM unnest($1::text[], $2::text[]) AS w(campaign, sku)
          WHERE NOT EXISTS (SELECT 1 FROM ${quoteIdent(schema)}.products p WHERE p.sku = w.sku)`,
        [wanted.map((w) => w[0]), wanted.map((w) => w[1])],
      );
      for (const r of rows) add(`campaign/${r.campaign}`, `product ${r.sku} is not in ${schema}.products`);
    }, (message) => warnings.push(`products were not checked against the shop: ${message}`));
  }

  for (const o of desired) {
    const where: Condition | undefined = o.kind === 'segment' ? (o.spec as unknown as Segment).where : o.kind === 'trigger' ? (o.spec as unknown as Trigger).audience : undefined;
    const statements = [...(where ? conditionSqls(where) : [])];
    for (const sql of statements) {
      await guarded(db, () => db.query(`EXPLAIN SELECT customer_id FROM (\n${sql.replace(/;\s*$/, '')}\n) AS q`), (message) =>
        add(`${o.kind}/${o.name}`, `its sql: does not plan: ${message}`),
      );
    }
  }
  return { problems: out, warnings };
}

/** Runs one check in a savepoint, so a failing statement leaves the plan's snapshot usable. */
async function guarded(db: Queryable, fn: () => Promise<unknown>, onError: (message: string) => void): Promise<void> {
  await db.query('SAVEPOINT shop_check');
  try {
    await fn();
    await db.query('RELEASE SAVEPOINT shop_check');
  } catch (err) {
    await db.query('ROLLBACK TO SAVEPOINT shop_check');
    onError((err as Error).message);
  }
}

/** Every `sql:` inside a condition, at any depth. */
function conditionSqls(c: Condition): string[] {
  const out: string[] = [];
  eachCondition(c, [], (x) => {
    if (x.sql !== undefined) out.push(x.sql);
  });
  return out;
}
