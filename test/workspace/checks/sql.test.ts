import { describe, expect, it } from 'vitest';
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
    expect(await problems(segment('"SELECT customer_id FROM x\\0; DELETE FROM y"'))).toEqual(['segments/everyone.yaml:2:8: the query contains a NUL character']);
  });
});
