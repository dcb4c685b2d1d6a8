import { explainSqlCondition, sqlConditionKey, sqlSandbox, type SqlSandbox } from '../audience/sql-sandbox.js';
import type { Queryable } from '../db/db.js';
import { quoteIdent } from '../db/ident.js';
import { UserError } from '../errors.js';
import type { DeployObject } from '../state/objects.js';
import { eachCondition, type Campaign, type Condition, type Project, type Segment, type Trigger } from '../workspace/model.js';

/**
 * The workspace checks that need the shop's database, run by plan (validate
 * needs none): a campaign's SKUs exist, and every `sql:` passes layer 1
 * again and plans with EXPLAIN, confined as it will run
 * (src/audience/sql-sandbox.ts: read-only, its timeout, the reader role).
 * Problems come back per object as refusal reasons; none of them quotes
 * PostgreSQL's text where it could carry the shop's data.
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

  const sandbox = projectSandbox(desired, schema);
  for (const o of desired) {
    const where: Condition | undefined = o.kind === 'segment' ? (o.spec as unknown as Segment).where : o.kind === 'trigger' ? (o.spec as unknown as Trigger).audience : undefined;
    const statements = [...(where ? conditionSqls(where) : [])];
    for (const sql of statements) {
      const c = { key: sqlConditionKey(sql), text: sql, origin: `${o.kind}/${o.name}` };
      await guarded(db, () => explainSqlCondition(db, c, sandbox), (message) => add(`${o.kind}/${o.name}`, `its sql: ${message}`), true);
    }
  }
  return { problems: out, warnings };
}

/** The sandbox of the herald.yaml being planned (its defaults when there is none). */
function projectSandbox(desired: readonly DeployObject[], schema: string): SqlSandbox {
  const project = desired.find((o) => o.kind === 'project')?.spec as unknown as Project | undefined;
  return sqlSandbox(project ?? { source: { schema } });
}

/**
 * Runs one check in a savepoint, so a failing statement leaves the plan's
 * snapshot usable. With `userErrorsOnly`, only a UserError (whose message
 * says what it may) becomes a refusal; anything else is thrown.
 */
async function guarded(db: Queryable, fn: () => Promise<unknown>, onError: (message: string) => void, userErrorsOnly = false): Promise<void> {
  await db.query('SAVEPOINT shop_check');
  try {
    await fn();
    await db.query('RELEASE SAVEPOINT shop_check');
  } catch (err) {
    await db.query('ROLLBACK TO SAVEPOINT shop_check');
    if (userErrorsOnly && !(err instanceof UserError)) throw err;
    onError(err instanceof UserError ? withoutOrigin(err.message) : (err as Error).message);
  }
}

/** "segment/x: its sql: failed: …" → "failed: …": the refusal is shown under the object, and says "its sql:" itself. */
function withoutOrigin(message: string): string {
  return message.replace(/^.*?: its sql: /, '');
}

/** Every `sql:` inside a condition, at any depth. */
function conditionSqls(c: Condition): string[] {
  const out: string[] = [];
  eachCondition(c, [], (x) => {
    if (x.sql !== undefined) out.push(x.sql);
  });
  return out;
}
