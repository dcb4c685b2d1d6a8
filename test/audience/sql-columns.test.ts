import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measureNow, workspaceQuery } from '../../src/audience/breakdown.js';
import { evaluateSqlConditions, explainSqlCondition, sqlConditionKey, withSqlSession, type SqlSandbox } from '../../src/audience/sql-sandbox.js';
import type { Queryable } from '../../src/db/db.js';
import { UserError } from '../../src/errors.js';
import { loadWorkspace } from '../../src/workspace/load.js';
import { useCleanups } from '../support/cleanup.js';
import { createTestDb, type TestDb } from '../support/db.js';
import { createShop } from '../support/shop.js';
import { MINIMAL, tempWorkspace } from '../support/workspace.js';

/*
 * Security review, functional notation: PostgreSQL reads `row.name` as the
 * call `name(row)` when `name` is not a column of the row, and `(x).name` as
 * `name(x)` for any x. So a sql: condition could call a shop function, or a
 * built-in outside the allowlist, without writing a call. The run-time check
 * (src/audience/sql-columns.ts) asks the catalog, before the query runs,
 * whether each such name is a column; these tests show the functions never
 * ran: the setting they set is unset and the lock they take is not held, in
 * the very transaction that evaluated the condition.
 */

const cleanup = useCleanups();
const SANDBOX: SqlSandbox = { schema: 'shop', timeoutSeconds: 30 };
const NOW = new Date('2026-11-20T12:00:00Z');

let db: TestDb;
beforeAll(async () => {
  db = await createTestDb();
  await createShop(db, {
    customers: [1, 2, 3].map((id) => ({ id, email: `c${id}@example.com` })),
    products: [{ sku: 'BOOT-42', category: 'boots', name: 'Boot' }],
    orders: [{ id: 10, customer_id: 2, created_at: '2026-11-01T10:00:00Z' }],
    order_items: [{ order_id: 10, sku: 'BOOT-42' }],
  });
  // A shop function with side effects a READ ONLY transaction allows: a session lock and a setting.
  await db.exec(`
    CREATE FUNCTION shop.loyalty_touch(c shop.customers) RETURNS boolean VOLATILE LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_advisory_lock(4243);
      PERFORM set_config('herald_test.touched', 'yes', false);
      RETURN true;
    END $$;
    CREATE SCHEMA ext;
    CREATE FUNCTION ext.touch_eq(a bigint, b bigint) RETURNS boolean VOLATILE LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_advisory_lock(4243);
      PERFORM set_config('herald_test.touched', 'yes', false);
      RETURN a = b;
    END $$;
    CREATE OPERATOR ext.=== (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = ext.touch_eq);
  `);
});
afterAll(() => db?.dispose());

interface Outcome {
  /** The customers selected, or the refusal. */
  result: number[] | UserError;
  /** Whether the condition's functions ran: the setting they make, the lock they take. */
  touched: boolean;
  locked: boolean;
}

/** Evaluates `text` as `herald audience` and a launch do (layer 1, the catalog check, then layer 2), and looks for what the function leaves behind in the same transaction. */
async function evaluate(text: string, lockKey = 4243): Promise<Outcome> {
  const c = { key: sqlConditionKey(text), text, origin: 'segment/probe' };
  return withSqlSession(db, SANDBOX, true, (s) =>
    s.transaction(async (tx) => {
      let result: number[] | UserError;
      try {
        await evaluateSqlConditions(tx, [c], SANDBOX);
        const rows = await tx.query<{ customer_id: number }>('SELECT customer_id FROM pg_temp.herald_sql_results ORDER BY 1');
        result = rows.map((r) => Number(r.customer_id));
      } catch (err) {
        if (!(err instanceof UserError)) throw err;
        result = err;
      }
      return { result, ...(await traces(tx, lockKey)) };
    }),
  );
}

async function traces(tx: Queryable, lockKey: number): Promise<{ touched: boolean; locked: boolean }> {
  const [row] = await tx.query<{ touched: string | null; locked: boolean }>(
    `SELECT current_setting('herald_test.touched', true) AS touched,
            EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND objid = $1) AS locked`,
    [lockKey],
  );
  return { touched: row!.touched === 'yes', locked: row!.locked };
}

function refused(o: Outcome): string {
  expect(o.result, 'refused').toBeInstanceOf(UserError);
  expect(o, 'the function never ran').toMatchObject({ touched: false, locked: false });
  return (o.result as UserError).message;
}

describe('functional notation', () => {
  it('refuses a shop function written as a column, in each of its forms, before it runs', async () => {
    const cases: [string, string][] = [
      [
        'SELECT c.id AS customer_id FROM customers c WHERE c.loyalty_touch',
        'segment/probe: its sql: is refused: line 1, column 51: c.loyalty_touch is not a column herald can find in c; PostgreSQL would run it as loyalty_touch(c), which a sql: condition may not call',
      ],
      [
        'SELECT customers.id AS customer_id FROM shop.customers WHERE shop.customers.loyalty_touch',
        'segment/probe: its sql: is refused: line 1, column 62: shop.customers.loyalty_touch is not a column herald can find in shop.customers; PostgreSQL would run it as loyalty_touch(shop.customers), which a sql: condition may not call',
      ],
      [
        'SELECT c.id AS customer_id FROM customers c WHERE (c).loyalty_touch',
        'segment/probe: its sql: is refused: line 1, column 52: (…).loyalty_touch selects a field herald cannot check; PostgreSQL would run it as loyalty_touch(…) if it is not one, which a sql: condition may not call',
      ],
      [
        'SELECT x.id AS customer_id FROM (SELECT * FROM customers) x WHERE x.loyalty_touch',
        'segment/probe: its sql: is refused: line 1, column 67: x.loyalty_touch is not a column herald can find in x; PostgreSQL would run it as loyalty_touch(x), which a sql: condition may not call',
      ],
    ];
    for (const [sql, message] of cases) expect(refused(await evaluate(sql)), sql).toBe(message);
  });

  it('refuses built-ins outside the allowlist written the same way', async () => {
    for (const [cond, fn] of [
      ['c.pg_typeof IS NOT NULL', 'pg_typeof'],
      ['c.quote_literal IS NOT NULL', 'quote_literal'],
      ['c.pg_column_size > 0', 'pg_column_size'],
    ]) {
      const message = refused(await evaluate(`SELECT c.id AS customer_id FROM customers c WHERE ${cond}`));
      expect(message).toBe(`segment/probe: its sql: is refused: line 1, column 51: c.${fn} is not a column herald can find in c; PostgreSQL would run it as ${fn}(c), which a sql: condition may not call`);
    }
    // Field selection on any value is a call: this one would take lock 4244.
    const lock = await evaluate('SELECT c.id AS customer_id FROM customers c WHERE (4244::bigint).pg_advisory_lock IS NOT NULL', 4244);
    expect(refused(lock)).toContain('(…).pg_advisory_lock selects a field herald cannot check');
  });

  it('is refused by plan and `herald audience` too, with the hint of what to write', async () => {
    const text = 'SELECT c.id AS customer_id FROM customers c WHERE c.loyalty_touch';
    const explained = await withSqlSession(db, SANDBOX, true, (s) =>
      s.transaction(async (tx) => {
        const err = await explainSqlCondition(tx, { key: sqlConditionKey(text), text, origin: 'segment/probe' }, SANDBOX).then(
          () => undefined,
          (e: unknown) => e,
        );
        return { err, ...(await traces(tx, 4243)) };
      }),
    );
    expect(explained).toMatchObject({ touched: false, locked: false });
    expect(explained.err).toBeInstanceOf(UserError);
    expect((explained.err as UserError).hint).toBe(
      'name a column that exists, and call functions as f(x); a column of a WITH query or subquery is found when it is selected by name or from a table, and a field of a value through a table alias (alias.field)',
    );

    const ws = tempWorkspace({ ...MINIMAL, 'segments/everyone.yaml': `where:\n  sql: ${JSON.stringify(text)}\n` });
    cleanup(ws.remove);
    const err = await measureNow(db, workspaceQuery(loadWorkspace(ws.dir).workspace!, 'segment/everyone', NOW)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toBe(
      'segment/everyone: its sql: is refused: line 1, column 51: c.loyalty_touch is not a column herald can find in c; PostgreSQL would run it as loyalty_touch(c), which a sql: condition may not call',
    );
    writeFileSync(join(ws.dir, 'segments/everyone.yaml'), 'where:\n  sql: SELECT c.id AS customer_id FROM customers c\n');
    await expect(measureNow(db, workspaceQuery(loadWorkspace(ws.dir).workspace!, 'segment/everyone', NOW))).resolves.toHaveProperty('breakdown');
  });

  it('keeps columns whose names are functions too: products.name, through aliases, WITH queries, subqueries and *', async () => {
    const join = 'FROM orders o JOIN order_items i ON i.order_id = o.id';
    for (const sql of [
      `SELECT o.customer_id ${join} JOIN products p ON p.sku = i.sku WHERE p.name = 'Boot'`,
      `SELECT o.customer_id ${join} JOIN shop.products ON products.sku = i.sku WHERE shop.products.name = 'Boot'`,
      `WITH p AS (SELECT sku, name FROM products) SELECT o.customer_id ${join} JOIN p ON p.sku = i.sku WHERE p.name = 'Boot'`,
      `WITH p AS (SELECT * FROM products) SELECT o.customer_id ${join} JOIN p q ON q.sku = i.sku WHERE q.name = 'Boot'`,
      `SELECT o.customer_id ${join} JOIN (SELECT p.* FROM products p) AS x ON x.sku = i.sku WHERE x.name = 'Boot'`,
      `SELECT o.customer_id ${join} JOIN products AS p(s, name) ON p.s = i.sku WHERE p.name = 'Boot'`,
      `SELECT o.customer_id ${join} WHERE EXISTS (SELECT 1 FROM products p WHERE p.sku = i.sku AND p.name = 'Boot')`,
    ]) {
      const o = await evaluate(sql);
      expect(o.result, sql).toEqual([2]);
    }
    // A column renamed away is not a column any more.
    const renamed = await evaluate(`SELECT o.customer_id ${join} JOIN products AS p(s, c, n) ON p.s = i.sku WHERE p.name = 'Boot'`);
    expect(refused(renamed)).toContain('p.name is not a column herald can find in p; PostgreSQL would run it as name(p)');
  });
});

describe('a column named like a shop function', () => {
  beforeAll(async () => {
    await db.exec('CREATE TABLE shop.touches (customer_id bigint, loyalty_touch boolean); INSERT INTO shop.touches VALUES (3, true)');
  });

  it('is a column where the name stands for that table, and a call wherever else it may stand for another', async () => {
    expect((await evaluate('SELECT t.customer_id FROM touches t WHERE t.loyalty_touch')).result).toEqual([3]);
    for (const sql of [
      // Another FROM item of the same name, in another branch or another WITH query: PostgreSQL picks by scope, herald wants a column in each.
      'SELECT t.customer_id FROM touches t WHERE t.loyalty_touch UNION SELECT t.id FROM customers t WHERE t.loyalty_touch',
      'WITH touches AS (SELECT id AS customer_id FROM customers) SELECT t.customer_id FROM touches t WHERE t.loyalty_touch',
      'SELECT t.customer_id FROM touches t WHERE EXISTS (SELECT 1 FROM customers t WHERE t.loyalty_touch)',
    ]) {
      expect(refused(await evaluate(sql)), sql).toContain('t.loyalty_touch is not a column herald can find in t');
    }
  });
});

describe('operators in a comparison with a subquery', () => {
  it('refuses an operator of another schema in ANY, ALL and a row comparison, before it runs', async () => {
    for (const cond of [
      'c.id OPERATOR(ext.===) ANY (SELECT 424242::bigint)',
      'c.id OPERATOR(ext.===) ALL (SELECT 424242::bigint)',
      'c.id OPERATOR(ext.===) (SELECT 424242::bigint)',
    ]) {
      const message = refused(await evaluate(`SELECT c.id AS customer_id FROM customers c WHERE ${cond}`));
      expect(message, cond).toBe('segment/probe: its sql: is refused: the query uses the operator ext.===, which a sql: condition may not');
    }
  });
});

describe('a shop function or operator named like a built-in', () => {
  beforeAll(async () => {
    // Overloads a better match than PostgreSQL's own for a whole row: lower(c) and c = d would run them.
    await db.exec(`
      CREATE FUNCTION shop.lower(c shop.customers) RETURNS text VOLATILE LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_advisory_lock(4243);
        PERFORM set_config('herald_test.touched', 'yes', false);
        RETURN 'x';
      END $$;
      CREATE FUNCTION shop.touch_rows(a shop.customers, b shop.customers) RETURNS boolean VOLATILE LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_advisory_lock(4243);
        PERFORM set_config('herald_test.touched', 'yes', false);
        RETURN a.id = b.id;
      END $$;
      CREATE OPERATOR shop.= (LEFTARG = shop.customers, RIGHTARG = shop.customers, FUNCTION = shop.touch_rows);
    `);
  });
  afterAll(async () => {
    await db.exec('DROP OPERATOR shop.= (shop.customers, shop.customers); DROP FUNCTION shop.touch_rows(shop.customers, shop.customers); DROP FUNCTION shop.lower(shop.customers)');
  });

  it('is refused where the query calls it, before it runs: herald cannot tell which one PostgreSQL would pick', async () => {
    expect(refused(await evaluate('SELECT c.id AS customer_id FROM customers c WHERE lower(c) IS NOT NULL'))).toBe(
      'segment/probe: its sql: is refused: line 1, column 51: the query calls lower, and the shop\'s schema "shop" has a function of that name, which PostgreSQL may run instead of its own',
    );
    expect(refused(await evaluate('SELECT c.id AS customer_id FROM customers c JOIN customers d ON c = d'))).toBe(
      'segment/probe: its sql: is refused: line 1, column 67: the query uses the operator =, and the shop\'s schema "shop" has an operator of that name, which PostgreSQL may run instead of its own',
    );
    // What does not name them runs as before.
    expect((await evaluate("SELECT c.id AS customer_id FROM customers c WHERE upper(c.email) LIKE 'C1%'")).result).toEqual([1]);
  });
});

describe('an extension installed in the shop schema', () => {
  it("is not a namesake: citext's = and strpos run as the query asks", async () => {
    // Extensions' functions are code the database's owner installed; citext in the shop schema overloads = and strpos.
    await db.exec('CREATE EXTENSION IF NOT EXISTS citext SCHEMA shop');
    cleanup(() => db.exec('DROP EXTENSION IF EXISTS citext').then(() => {}));
    const o = await evaluate("SELECT c.id AS customer_id FROM customers c WHERE strpos(c.email::shop.citext, 'C1') > 0 AND c.email::shop.citext = 'C1@EXAMPLE.COM'");
    expect(o.result).toEqual([1]);
  });
});
