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
  calls: { functions: string[]; operators: string[] };
  problems(catalog: ShopCatalog): SqlProblem[];
}

export async function fieldProblems(tx: Queryable, lookup: FieldLookup, schema: string): Promise<SqlProblem[]> {
  const namesakes = await shopNamesakes(tx, lookup.calls, schema);
  const unsafe = lookup.names.length === 0 ? new Set<string>() : unsafeCalls(await reachableFunctions(tx, lookup.names, schema));
  if (unsafe.size === 0 && namesakes.functions.size === 0 && namesakes.operators.size === 0) return [];
  const relations = unsafe.size === 0 ? new Map() : await shopColumns(tx, lookup.relations, schema);
  return lookup.problems({ relations, unsafeCalls: unsafe, namesakes });
}

/** What a one-argument call of these names may run under the sandbox's search_path (pg_catalog, then the shop schema; pg_temp is never searched for functions), defaults filling the rest. */
async function reachableFunctions(tx: Queryable, names: string[], schema: string): Promise<ReachableFunction[]> {
  return tx.query<ReachableFunction>(
    `SELECT DISTINCT p.proname AS name, n.nspname = $2 AS "inShop"
       FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
      WHERE p.proname = ANY ($1::text[]) AND n.nspname IN ('pg_catalog', $2)
        AND p.pronargs >= 1 AND p.pronargs - p.pronargdefaults <= 1`,
    [names, schema],
  );
}

/**
 * shopNamesakes: the shop schema's functions and operators named like those
 * the query calls unqualified, which PostgreSQL may pick over its own. Those
 * of an extension installed there (citext's `=` or `replace`) are code the
 * database's owner installed, as trusted as PostgreSQL's, and not counted.
 */
async function shopNamesakes(tx: Queryable, calls: FieldLookup['calls'], schema: string): Promise<ShopCatalog['namesakes']> {
  const found = { functions: new Set<string>(), operators: new Set<string>() };
  if (calls.functions.length === 0 && calls.operators.length === 0) return found;
  const rows = await tx.query<{ kind: 'function' | 'operator'; name: string }>(
    `SELECT 'function' AS kind, p.proname AS name
       FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = $1 AND p.proname = ANY ($2::text[])
        AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
     UNION
     SELECT 'operator', o.oprname
       FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace
      WHERE n.nspname = $1 AND o.oprname = ANY ($3::text[])
        AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_operator'::regclass AND d.objid = o.oid AND d.deptype = 'e')`,
    [schema, calls.functions, calls.operators],
  );
  for (const r of rows) (r.kind === 'function' ? found.functions : found.operators).add(r.name);
  return found;
}

/** shopColumns: the columns of the shop relations the query names, user columns in order, then system ones (ctid, xmin, …). */
async function shopColumns(tx: Queryable, names: string[], schema: string): Promise<ShopCatalog['relations']> {
  const rows = await tx.query<{ relname: string; attname: string; user_column: boolean }>(
    `SELECT c.relname, a.attname, a.attnum > 0 AS user_column
       FROM pg_catalog.pg_class c
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND NOT a.attisdropped
      WHERE n.nspname = $1 AND c.relname = ANY ($2::text[])
      ORDER BY c.relname, a.attnum`,
    [schema, names],
  );
  const relations = new Map<string, { columns: string[]; system: string[] }>();
  for (const r of rows) {
    const rel = relations.get(r.relname) ?? { columns: [], system: [] };
    relations.set(r.relname, rel);
    (r.user_column ? rel.columns : rel.system).push(r.attname);
  }
  return relations;
}

/** "line 2, column 7" of a character in a query's text, as a person counts them. */
export function placeInQuery(text: string, index: number): string {
  const before = text.slice(0, index);
  const line = before.split('\n').length;
  return `line ${line}, column ${[...before.slice(before.lastIndexOf('\n') + 1)].length + 1}`;
}
