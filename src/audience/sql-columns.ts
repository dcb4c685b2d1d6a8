import type { Queryable } from '../db/db.js';
import type { SqlProblem } from '../workspace/checks/sql.js';
import { unsafeCalls, type ReachableFunction, type ShopCatalog } from '../workspace/checks/sql-fields.js';

/**
 * The part of layer 1 that needs the shop's catalog (docs/security.md): a
 * `c.name` or `(x).name` in a `sql:` condition is a call of `name` unless it
 * is a column, so before a condition runs herald reads which of its field
 * names a call could reach outside the allowlist, and the columns of the shop
 * relations it names; src/workspace/checks/sql-fields.ts then refuses every
 * such name it cannot prove is a column. `herald validate` has no database
 * and cannot do this; plan, `herald audience` and every launch do, in the
 * transaction that then runs the condition.
 */

/** What a query needs looked up: sql.ts sqlFieldSelections. */
export interface FieldLookup {
  names: string[];
  relations: string[];
  problems(catalog: ShopCatalog): SqlProblem[];
}

export async function fieldProblems(tx: Queryable, lookup: FieldLookup, schema: string): Promise<SqlProblem[]> {
  if (lookup.names.length === 0) return [];
  // reachableFunctions: what a one-argument call of these names may run under the sandbox's search_path
  // (pg_catalog, then the shop schema; pg_temp is never searched for functions), defaults filling the rest.
  const functions = await tx.query<ReachableFunction>(
    `SELECT DISTINCT p.proname AS name, n.nspname = $2 AS "inShop"
       FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
      WHERE p.proname = ANY ($1::text[]) AND n.nspname IN ('pg_catalog', $2)
        AND p.pronargs >= 1 AND p.pronargs - p.pronargdefaults <= 1`,
    [lookup.names, schema],
  );
  const unsafe = unsafeCalls(functions);
  if (unsafe.size === 0) return [];
  // shopColumns: the columns of the shop relations the query names, user columns in order, then system ones (ctid, xmin, …).
  const rows = await tx.query<{ relname: string; attname: string; user_column: boolean }>(
    `SELECT c.relname, a.attname, a.attnum > 0 AS user_column
       FROM pg_catalog.pg_class c
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND NOT a.attisdropped
      WHERE n.nspname = $1 AND c.relname = ANY ($2::text[])
      ORDER BY c.relname, a.attnum`,
    [schema, lookup.relations],
  );
  const relations = new Map<string, { columns: string[]; system: string[] }>();
  for (const r of rows) {
    const rel = relations.get(r.relname) ?? { columns: [], system: [] };
    relations.set(r.relname, rel);
    (r.user_column ? rel.columns : rel.system).push(r.attname);
  }
  return lookup.problems({ relations, unsafeCalls: unsafe });
}

/** "line 2, column 7" of a character in a query's text, as a person counts them. */
export function placeInQuery(text: string, index: number): string {
  const before = text.slice(0, index);
  const line = before.split('\n').length;
  return `line ${line}, column ${[...before.slice(before.lastIndexOf('\n') + 1)].length + 1}`;
}
