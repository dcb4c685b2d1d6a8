import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { setCacheDir } from '../../../src/workspace/cache.js';
import { sqlChecks } from '../../../src/workspace/checks/sql.js';
import { loadWorkspace, sortProblems } from '../../../src/workspace/load.js';
import { useCleanups } from '../../support/cleanup.js';
import { MINIMAL, tempWorkspace } from '../../support/workspace.js';

const cleanup = useCleanups();

async function problems(files: Record<string, string>): Promise<string[]> {
  const ws = tempWorkspace({ ...MINIMAL, ...files });
  cleanup(ws.remove);
  const loaded = loadWorkspace(ws.dir);
  expect(loaded.problems).toEqual([]);
  return sortProblems(await sqlChecks(loaded.workspace!, new Set())).map((p) => `${p.file}:${p.line}:${p.column}: ${p.message}`);
}

/** A segment whose condition is `sql:` with the given YAML value (inline or a block). */
const segment = (value: string) => ({ 'segments/everyone.yaml': `where:\n  sql: ${value}\n` });

describe('sql checks', () => {
  it('accepts one SELECT in its many forms', async () => {
    for (const sql of [
      '"SELECT customer_id FROM shop.preorders WHERE sku = \'BOOT-42\'"',
      '|\n    -- customers with a pre-order; a comment may hold ; and DELETE\n    WITH p AS (SELECT customer_id FROM shop.preorders)\n    SELECT customer_id FROM p;\n',
      '"SELECT o.customer_id FROM shop.orders o UNION SELECT c.id FROM shop.customers c"',
      "\"SELECT customer_id, $$ ; DELETE FROM x $$ AS note FROM shop.carts\"",
      '"SELECT id::bigint AS customer_id FROM shop.customers"',
      '"SELECT * FROM shop.vip"',
    ]) {
      expect(await problems(segment(sql)), sql).toEqual([]);
    }
  });

  it('points at a syntax error on its own line of a block', async () => {
    expect(await problems(segment('|\n    SELECT customer_id\n    FROM shop.orders\n    WHER total > 100\n'))).toEqual([
      'segments/everyone.yaml:5:10: SQL syntax: syntax error at or near "total"',
    ]);
  });

  it('counts columns in characters, as the file shows them', async () => {
    expect(await problems(segment("\"SELECT customer_id FROM shop.customers WHERE city = 'Москва' AN 1\""))).toEqual([
      'segments/everyone.yaml:2:70: SQL syntax: syntax error at or near "AN"',
    ]);
  });

  it('refuses a second statement, at its start', async () => {
    expect(await problems(segment('"SELECT customer_id FROM shop.customers; DELETE FROM shop.orders"'))).toEqual([
      'segments/everyone.yaml:2:49: the query has 2 statements',
    ]);
  });

  it('refuses statements other than SELECT', async () => {
    expect(await problems(segment('"DELETE FROM shop.orders RETURNING customer_id"'))).toEqual(['segments/everyone.yaml:2:9: the query is DELETE, not a SELECT']);
    expect(await problems(segment('"DROP TABLE shop.orders"'))).toEqual(['segments/everyone.yaml:2:9: the query is DROP, not a SELECT']);
    expect(await problems(segment('"CREATE TABLE t AS SELECT 1 AS customer_id"'))).toEqual(['segments/everyone.yaml:2:9: the query is CREATE TABLE AS, not a SELECT']);
  });

  it('refuses a data-modifying WITH query, SELECT INTO and row locks, at any depth', async () => {
    const sql = '>\n    SELECT customer_id FROM (\n      WITH gone AS (DELETE FROM shop.carts RETURNING customer_id)\n      SELECT customer_id FROM gone) g\n';
    expect(await problems(segment(sql))).toEqual(['segments/everyone.yaml:4:12: the WITH query "gone" runs DELETE']);
    expect(await problems(segment('"SELECT customer_id INTO backup FROM shop.customers"'))).toEqual(['segments/everyone.yaml:2:33: SELECT INTO creates a table']);
    expect(await problems(segment('"SELECT customer_id FROM shop.carts FOR UPDATE"'))).toEqual(["segments/everyone.yaml:2:9: FOR UPDATE / FOR SHARE locks the shop's rows"]);
  });

  it('wants a customer_id column, and an event_key for a trigger event', async () => {
    expect(await problems(segment('"SELECT id FROM shop.customers"'))).toEqual(['segments/everyone.yaml:2:9: the query returns no customer_id column (it returns id)']);
    const trigger = 'event: sql\nsql: SELECT customer_id FROM shop.preorders\ntemplate: hello\naudience:\n  not:\n    sql: SELECT 1 AS customer_id; SELECT 2\n';
    expect(await problems({ 'triggers/preorder.yaml': trigger })).toEqual([
      'triggers/preorder.yaml:2:6: the query returns no event_key column (it returns customer_id)',
      'triggers/preorder.yaml:6:35: the query has 2 statements',
    ]);
  });

  it('refuses an empty query and a NUL character', async () => {
    expect(await problems(segment('"-- nothing here"'))).toEqual(['segments/everyone.yaml:2:9: the query is empty']);
    // Reading the YAML refuses the NUL escape (source.ts), so validate leaves the query unchecked; checked anyway, it is refused too.
    const ws = tempWorkspace({ ...MINIMAL, ...segment('"SELECT customer_id FROM x\\0; DELETE FROM y"') });
    cleanup(ws.remove);
    const loaded = loadWorkspace(ws.dir);
    const at = (p: { file: string; line: number; column: number; message: string }) => `${p.file}:${p.line}:${p.column}: ${p.message}`;
    expect(loaded.problems.map(at)).toEqual(['segments/everyone.yaml:2:34: the string has a NUL character (\\0) here']);
    expect((await sqlChecks(loaded.workspace!, new Set())).map(at)).toEqual(['segments/everyone.yaml:2:8: the query contains a NUL character']);
  });

  // Issue 12, item 2: each of these ran through a "read-only" sql: segment.
  it('refuses what reads outside the shop schema, naming it where it is', async () => {
    const cases: [string, string][] = [
      ['"SELECT value::int AS customer_id FROM herald.settings"', '2:47: the query reads herald.settings; a sql: condition reads only the shop\'s schema "shop"'],
      ['"SELECT 1 AS customer_id FROM information_schema.tables"', '2:38: the query reads information_schema.tables; a sql: condition reads only the shop\'s schema "shop"'],
      ['"SELECT 1 AS customer_id FROM pg_catalog.pg_authid"', '2:38: the query reads pg_catalog.pg_authid; a sql: condition reads only the shop\'s schema "shop"'],
      ['"SELECT 1 AS customer_id FROM pg_settings"', '2:38: the query reads pg_settings, a system catalog; a sql: condition reads only the shop\'s schema "shop"'],
      ['"SELECT 1 AS customer_id FROM otherdb.shop.customers"', '2:38: the query reads otherdb.shop.customers; a sql: condition reads only the shop\'s schema "shop"'],
    ];
    for (const [sql, expected] of cases) expect(await problems(segment(sql)), sql).toEqual([`segments/everyone.yaml:${expected}`]);
  });

  it('refuses every function outside the allowlist, by name and place', async () => {
    const calls = [
      "pg_read_file('/etc/passwd')",
      "lo_import('/etc/hostname')",
      'pg_terminate_backend(42)',
      "set_config('role', 'none', true)",
      'pg_advisory_lock(1)',
      "setval('herald.messages_id_seq', 1)",
      "nextval('herald.messages_id_seq')",
      'pg_sleep(90)',
      "current_setting('herald.secret')",
      "query_to_xml('select 1', true, true, '')",
      "dblink_exec('dbname=x', 'delete from y')",
      "pg_catalog.pg_read_binary_file('/etc/passwd')",
      'shop.my_function(1)',
    ];
    for (const call of calls) {
      const name = call.slice(0, call.indexOf('('));
      expect(await problems(segment(`"SELECT id AS customer_id FROM shop.customers WHERE ${call} IS NOT NULL"`)), call).toEqual([
        `segments/everyone.yaml:2:60: the query calls ${name}, which a sql: condition may not call`,
      ]);
    }
  });

  it('refuses parameters, XML, catalog types, foreign operators and who-am-I values', async () => {
    const where = (cond: string) => segment(`"SELECT id AS customer_id FROM shop.customers WHERE ${cond}"`);
    expect(await problems(where('id = $1'))).toEqual(['segments/everyone.yaml:2:65: the query uses a $n parameter, which a sql: condition may not']);
    expect(await problems(where("xmlparse(document '<a/>') IS NOT NULL"))).toEqual(['segments/everyone.yaml:2:60: the query uses XML functions, which a sql: condition may not']);
    expect(await problems(where("'herald.settings'::regclass IS NOT NULL"))).toEqual(['segments/everyone.yaml:2:79: the query uses the type regclass, which looks objects up in the system catalogs']);
    expect(await problems(where('id OPERATOR(public.+) 1 > 0'))).toEqual(['segments/everyone.yaml:2:63: the query uses the operator public.+, which a sql: condition may not']);
    expect(await problems(where("current_user = 'postgres'"))).toEqual(['segments/everyone.yaml:2:60: the query reads CURRENT_USER, which a sql: condition may not']);
  });

  // An operator names a function too: ANY/ALL with a subquery carries its operator on the SubLink, not on an A_Expr.
  it('refuses an operator from another schema wherever it compares: ANY, ALL, a row against a subquery', async () => {
    const where = (cond: string) => segment(`"SELECT c.id AS customer_id FROM customers c WHERE ${cond}"`);
    expect(await problems(where('c.id OPERATOR(ext.===) ANY (SELECT 424242::bigint)'))).toEqual(['segments/everyone.yaml:2:64: the query uses the operator ext.===, which a sql: condition may not']);
    expect(await problems(where('c.id OPERATOR(ext.<) ALL (SELECT 1)'))).toEqual(['segments/everyone.yaml:2:64: the query uses the operator ext.<, which a sql: condition may not']);
    expect(await problems(where('(c.id, c.id) OPERATOR(ext.===) (SELECT 1, 2)'))).toEqual(['segments/everyone.yaml:2:72: the query uses the operator ext.===, which a sql: condition may not']);
    expect(await problems(where('c.id IN (SELECT 1) AND c.id = ANY (SELECT 2) AND c.id OPERATOR(pg_catalog.=) ALL (SELECT 3)'))).toEqual([]);
  });

  // PostgreSQL reads x.regclass, for a name that is not a column, as the cast x::regclass.
  it('refuses a field named like a catalog type, which PostgreSQL may read as a cast to it', async () => {
    const where = (cond: string) => segment(`"SELECT c.id AS customer_id FROM customers c WHERE ${cond}"`);
    expect(await problems(where('(c.email).regclass IS NOT NULL'))).toEqual([
      'segments/everyone.yaml:2:60: the query selects the field regclass, which PostgreSQL may read as a cast to regclass, a type that looks objects up in the system catalogs',
    ]);
    expect(await problems(where('c.regnamespace IS NOT NULL'))).toEqual([
      'segments/everyone.yaml:2:59: the query selects the field regnamespace, which PostgreSQL may read as a cast to regnamespace, a type that looks objects up in the system catalogs',
    ]);
  });

  it('reads the shop schema herald.yaml names', async () => {
    const project = MINIMAL['herald.yaml']! + 'source:\n  schema: store\n';
    expect(await problems({ 'herald.yaml': project, ...segment('"SELECT customer_id FROM store.orders UNION SELECT customer_id FROM shop.orders"') })).toEqual([
      'segments/everyone.yaml:2:76: the query reads shop.orders; a sql: condition reads only the shop\'s schema "store"',
    ]);
  });

  it('accepts the ordinary functions a segment is written with', async () => {
    const sql = `|
    WITH spend AS (
      SELECT o.customer_id, sum(o.total) AS total, max(o.created_at) AS last, count(*) FILTER (WHERE o.status <> 'cancelled') AS n,
             row_number() OVER (PARTITION BY o.site ORDER BY sum(o.total) DESC) AS rank
        FROM shop.orders o
       WHERE o.created_at >= now() - interval '90 days' AND extract(dow FROM o.created_at) IN (0, 6)
       GROUP BY o.customer_id, o.site)
    SELECT s.customer_id FROM spend s JOIN customers c ON c.id = s.customer_id
     WHERE s.rank <= 100 AND lower(trim(c.city)) LIKE 'ber%' AND coalesce(c.birthday, current_date) < date_trunc('year', now())
       AND substring(c.email FROM 2) IS NOT NULL AND c.created_at AT TIME ZONE 'Europe/Berlin' > '2024-01-01'::date
       AND EXISTS (SELECT 1 FROM shop.preorders p, unnest(ARRAY['a', 'b']) AS u(x) WHERE p.customer_id = c.id AND p.sku = u.x)
`;
    expect(await problems(segment(sql))).toEqual([]);
  });

  it("keeps a query's findings in the cache, and a warm run takes them from there, located anew", async () => {
    const home = mkdtempSync(join(tmpdir(), 'herald-cache-sql-'));
    cleanup(() => rmSync(home, { recursive: true, force: true }));
    cleanup(() => setCacheDir(undefined));
    setCacheDir(home);
    const wrong = segment('|\n    SELECT customer_id\n    FROM shop.orders\n    WHER total > 100\n');
    const first = await problems(wrong);
    expect(first).toEqual(['segments/everyone.yaml:5:10: SQL syntax: syntax error at or near "total"']);
    const entries = readdirSync(join(home, 'sql'));
    expect(entries).toHaveLength(1);
    // What the entry says is what a warm run reports: the parser is not asked again.
    const entry = join(home, 'sql', entries[0]!);
    const cached = JSON.parse(readFileSync(entry, 'utf8')) as { message: string; index: number }[];
    writeFileSync(entry, JSON.stringify([{ ...cached[0], message: 'from the cache' }]));
    expect(await problems(wrong)).toEqual(['segments/everyone.yaml:5:10: from the cache']);
    // The same query under another shop schema is another entry.
    await problems({ ...wrong, 'herald.yaml': `${MINIMAL['herald.yaml']}source:\n  schema: store\n` });
    expect(readdirSync(join(home, 'sql'))).toHaveLength(2);
  });
});
