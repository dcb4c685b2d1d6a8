import type { SelectStmt } from 'libpg-query';
import { indirectionByte, SQL_FUNCTIONS, strings } from './sql-allowlist.js';
import type { SqlFinding } from './sql-statement.js';

/**
 * Functional notation, the call a `sql:` condition can make without writing
 * one. PostgreSQL reads `c.name` as the call `name(c)` when `name` is not a
 * column of `c` (likewise `shop.customers.name`), and a field selection
 * `(x).name` as `name(x)` for any value x: `c.loyalty_touch` runs the shop's
 * function, `(4242::bigint).pg_advisory_lock` takes a lock. Whether a name is
 * a column depends on the shop's tables, so it cannot be decided without the
 * database; `herald validate` does not try. Wherever a condition runs,
 * src/audience/sql-columns.ts first reads from the catalog which of the
 * query's field names a one-argument call could reach outside the allowlist
 * and the columns of the shop relations it names, and this file refuses every
 * such name it cannot prove is a column.
 *
 * The proof is a lower bound, so it errs on the side of refusing: a column is
 * one of a table or view (pg_attribute, after `AS p(a, b)` renames), or an
 * output of a WITH query or subquery that names it (or takes it with `*` from
 * a table it can see). `c.name` is proven when every FROM item the query
 * names `c`, at any depth, has that column, whichever one PostgreSQL picks.
 * A field selection `(x).name` is never proven.
 */

/** What the catalog says about the names a query uses (src/audience/sql-columns.ts reads it). */
export interface ShopCatalog {
  /** The shop schema's relations the query names: user columns in order, and system columns (ctid, xmin, …). */
  relations: ReadonlyMap<string, { columns: readonly string[]; system: readonly string[] }>;
  /** Field names under which a one-argument call reaches something the allowlist does not allow. */
  unsafeCalls: ReadonlySet<string>;
  /** Functions and operators the shop schema defines (outside an extension) under names the query calls unqualified. */
  namesakes: { functions: ReadonlySet<string>; operators: ReadonlySet<string> };
}

/** One row of the catalog's functions: a name, and whether the function is the shop schema's. */
export interface ReachableFunction {
  name: string;
  inShop: boolean;
}

/** The names among `functions` whose call may reach a shop function, or a built-in the allowlist does not name. */
export function unsafeCalls(functions: readonly ReachableFunction[]): Set<string> {
  return new Set(functions.filter((f) => f.inShop || !SQL_FUNCTIONS.has(f.name)).map((f) => f.name));
}

/** What the run-time check needs to know about a query: the catalog to read, and what to refuse once it has read it. */
export interface FieldSelections {
  /** Every name PostgreSQL may read as a one-argument call. */
  names: string[];
  /** The shop relations whose columns prove a name is a column. */
  relations: string[];
  /** The functions the query calls, and the operators it uses, by names PostgreSQL looks up along the search path. */
  calls: { functions: string[]; operators: string[] };
  problems(catalog: ShopCatalog): SqlFinding[];
}

type Node = Record<string, unknown>;

/** A FROM item a qualifier can name: its name (undefined: any name), and the columns it certainly has. */
interface FromItem {
  refname: string | undefined;
  columns: () => Set<string>;
}

/** One output column of a SELECT: a name (undefined when herald cannot tell PostgreSQL's), or a `*` and the names it certainly brings. */
type Output = { name: string | undefined } | { star: Set<string> };

const HINT =
  'name a column that exists, and call functions as f(x); a column of a WITH query or subquery is found when it is selected by name or from a table, and a field of a value through a table alias (alias.field)';

export function fieldSelections(select: SelectStmt, schema: string): FieldSelections {
  const ctes = new Map<string, Node[]>();
  const relations = new Set<string>();
  const refs: { fields: string[]; byte: unknown }[] = [];
  const fields: { name: string; byte: unknown }[] = [];
  const calls = { functions: [] as Called[], operators: [] as Called[] };
  /** Every FROM item of the query, at any depth, by the SELECT it belongs to. */
  const fromOf = new Map<Node, Node[]>();

  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!node || typeof node !== 'object') return;
    for (const [key, value] of Object.entries(node as Node)) {
      const v = (value ?? {}) as Node;
      // A set operation's branches are SelectStmts too, written without the wrapper; a join's sides are wrapped FROM items.
      if (key === 'SelectStmt' || ((key === 'larg' || key === 'rarg') && typeof v.op === 'string')) {
        fromOf.set(v, ((v.fromClause as Node[] | undefined) ?? []).flatMap(fromItems));
        visit(v);
        continue;
      }
      if (key === 'CommonTableExpr') ctes.set(String(v.ctename), [...(ctes.get(String(v.ctename)) ?? []), v]);
      if (key === 'RangeVar' && (v.schemaname === undefined || v.schemaname === schema)) relations.add(String(v.relname));
      if (key === 'ColumnRef') {
        const names = (v.fields as Node[] | undefined) ?? [];
        const last = names.at(-1)?.String as Node | undefined;
        if (names.length >= 2 && last) refs.push({ fields: names.map((n) => String((n.String as Node | undefined)?.sval ?? '*')), byte: v.location });
        if (names.length >= 3) relations.add(String((names.at(-2)?.String as Node | undefined)?.sval));
      }
      collectCall(key, v, calls);
      if (key === 'A_Indirection') {
        const byte = indirectionByte(v);
        for (const i of (v.indirection as Node[] | undefined) ?? []) {
          const s = i.String as Node | undefined;
          if (s) fields.push({ name: String(s.sval), byte });
        }
      }
      visit(value);
    }
  };
  visit({ SelectStmt: select });

  return {
    names: [...new Set([...refs.map((r) => r.fields.at(-1)!), ...fields.map((f) => f.name)])],
    relations: [...relations],
    calls: { functions: [...new Set(calls.functions.map((c) => c.name))], operators: [...new Set(calls.operators.map((c) => c.name))] },
    problems(catalog) {
      const proof = columnProof(catalog, schema, ctes, [...fromOf.values()].flat(), fromOf);
      const out: SqlFinding[] = [];
      for (const [kind, list, defined] of [
        ['function', calls.functions, catalog.namesakes.functions],
        ['operator', calls.operators, catalog.namesakes.operators],
      ] as const) {
        for (const c of list) {
          if (!defined.has(c.name)) continue;
          out.push({
            message: `the query ${kind === 'function' ? 'calls' : 'uses the operator'} ${c.name}, and the shop's schema "${schema}" has ${kind === 'function' ? 'a function' : 'an operator'} of that name, which PostgreSQL may run instead of its own`,
            hint: `rename the shop's ${kind}, or write the condition without ${c.name}: a sql: condition runs PostgreSQL's own functions and operators only`,
            ...(typeof c.byte === 'number' ? { byte: c.byte } : {}),
          });
        }
      }
      for (const r of refs) {
        const name = r.fields.at(-1)!;
        if (!catalog.unsafeCalls.has(name)) continue;
        const qualifier = r.fields.slice(0, -1);
        if (proof(qualifier).has(name)) continue;
        const of = qualifier.join('.');
        out.push({
          message: `${r.fields.join('.')} is not a column herald can find in ${of}; PostgreSQL would run it as ${name}(${of}), which a sql: condition may not call`,
          hint: HINT,
          ...(typeof r.byte === 'number' ? { byte: r.byte } : {}),
        });
      }
      for (const f of fields) {
        if (!catalog.unsafeCalls.has(f.name)) continue;
        out.push({
          message: `(…).${f.name} selects a field herald cannot check; PostgreSQL would run it as ${f.name}(…) if it is not one, which a sql: condition may not call`,
          hint: HINT,
          ...(typeof f.byte === 'number' ? { byte: f.byte } : {}),
        });
      }
      return out;
    },
  };
}

/** A function or operator name the query uses, and where. */
interface Called {
  name: string;
  byte: unknown;
}

/**
 * The functions and operators `node` (of type `key`) calls by a name
 * PostgreSQL looks up along the search path, where the shop schema follows
 * pg_catalog: it runs the shop's own of that name when its argument types
 * match better (a whole row: `lower(c)`, `c = d`). Written in pg_catalog
 * (`pg_catalog.lower`, `OPERATOR(pg_catalog.=)`), a name is looked up there
 * alone. IN, NULLIF, IS DISTINCT FROM, `CASE x WHEN` and `x IN (SELECT …)`
 * compare with `=`, BETWEEN with `>=` and `<=`.
 */
function collectCall(key: string, v: Node, into: { functions: Called[]; operators: Called[] }): void {
  const op = (names: string[], byte: unknown) => {
    if (names.length === 1) into.operators.push({ name: names[0]!, byte });
  };
  switch (key) {
    case 'FuncCall': {
      const names = strings(v.funcname);
      if (names.length === 1) into.functions.push({ name: names[0]!, byte: v.location });
      return;
    }
    case 'A_Expr': {
      const names = strings(v.name);
      if (v.kind === 'AEXPR_BETWEEN' || v.kind === 'AEXPR_BETWEEN_SYM') return ['>=', '<='].forEach((o) => op([o], v.location));
      if (v.kind === 'AEXPR_NOT_BETWEEN' || v.kind === 'AEXPR_NOT_BETWEEN_SYM') return ['<', '>'].forEach((o) => op([o], v.location));
      return op(names, v.location);
    }
    case 'SubLink': {
      const names = strings(v.operName);
      if (names.length) return op(names, v.location);
      if (v.subLinkType === 'ANY_SUBLINK') op(['='], v.location);
      return;
    }
    case 'CaseExpr':
      if (v.arg) op(['='], v.location);
      return;
    case 'SortBy':
      return op(strings(v.useOp), v.location);
  }
}

/** The FROM items a FROM-clause entry holds: itself, and a join's sides. */
function fromItems(node: Node): Node[] {
  const join = node.JoinExpr as Node | undefined;
  if (join) return [node, ...fromItems((join.larg ?? {}) as Node), ...fromItems((join.rarg ?? {}) as Node)];
  const sample = node.RangeTableSample as Node | undefined;
  if (sample) return fromItems((sample.relation ?? {}) as Node);
  return [node];
}

function sval(n: unknown): string | undefined {
  return ((n as Node | undefined)?.String as Node | undefined)?.sval as string | undefined;
}

function aliasNames(alias: unknown): string[] {
  return strings((alias as Node | undefined)?.colnames);
}

/**
 * The columns a qualifier certainly names: `qualifier` is the ColumnRef's
 * fields before the last, a FROM item's name (`c`) or a table's (`shop.customers`).
 */
function columnProof(
  catalog: ShopCatalog,
  schema: string,
  ctes: Map<string, Node[]>,
  items: Node[],
  fromOf: Map<Node, Node[]>,
): (qualifier: string[]) => Set<string> {
  const inProgress = new Set<Node>();

  const relationColumns = (name: string, colnames: string[]): Set<string> | undefined => {
    const rel = catalog.relations.get(name);
    if (!rel) return undefined;
    return new Set([...renamed(rel.columns.map((c) => ({ name: c })), colnames), ...rel.system]);
  };

  const item = (node: Node): FromItem | undefined => {
    const [key, value] = Object.entries(node)[0] ?? [];
    const v = (value ?? {}) as Node;
    const alias = v.alias as Node | undefined;
    const refname = alias?.aliasname as string | undefined;
    switch (key) {
      case 'RangeVar': {
        const relname = String(v.relname);
        const sameSchema = v.schemaname === undefined || v.schemaname === schema;
        return {
          refname: refname ?? relname,
          columns: () => {
            // The name may be a WITH query's or the table's, depending on where it stands: only what both have is certain.
            const readings: Set<string>[] = [];
            for (const cte of v.schemaname === undefined ? (ctes.get(relname) ?? []) : []) {
              readings.push(renamed(cteOutputs(cte), aliasNames(alias)));
            }
            const rel = sameSchema ? relationColumns(relname, aliasNames(alias)) : undefined;
            if (rel) readings.push(rel);
            else if (readings.length === 0) readings.push(new Set());
            return intersection(readings);
          },
        };
      }
      case 'RangeSubselect':
        return refname === undefined ? undefined : { refname, columns: () => renamed(outputs(v.subquery as Node), aliasNames(alias)) };
      case 'RangeFunction': {
        const fns = (v.functions as Node[] | undefined) ?? [];
        const only = fns.length === 1 ? (((fns[0]?.List as Node | undefined)?.items as Node[] | undefined)?.[0]?.FuncCall as Node | undefined) : undefined;
        const name = refname ?? (only ? sval((only.funcname as unknown[] | undefined)?.at(-1)) : undefined);
        return { refname: name, columns: () => new Set(aliasNames(alias)) };
      }
      case 'JoinExpr': {
        const using = (v.join_using_alias as Node | undefined)?.aliasname as string | undefined;
        if (refname === undefined && using === undefined) return undefined;
        return { refname: refname ?? using, columns: () => new Set() };
      }
      default:
        // JSON_TABLE and anything else named: nothing certain.
        return { refname, columns: () => new Set() };
    }
  };

  // Each item's columns once: a chain of WITH queries each reading the last twice would otherwise cost 2^n.
  const memo = new Map<Node, FromItem | undefined>();
  const itemOf = (node: Node): FromItem | undefined => {
    if (!memo.has(node)) {
      const found = item(node);
      let columns: Set<string> | undefined;
      memo.set(node, found && { refname: found.refname, columns: () => (columns ??= found.columns()) });
    }
    return memo.get(node);
  };
  const all = items.map(itemOf).filter((i): i is FromItem => i !== undefined);
  const named = (q: string) => all.filter((i) => i.refname === undefined || i.refname === q);

  const cteOutputs = (cte: Node): Output[] => {
    if (inProgress.has(cte)) return [{ star: new Set() }];
    inProgress.add(cte);
    try {
      const out = renameOutputs(outputs(cte.ctequery as Node), aliasNames({ colnames: cte.aliascolnames }));
      // SEARCH and CYCLE add their columns after the query's.
      const clauses = [(cte.search_clause as Node | undefined)?.CTESearchClause, (cte.cycle_clause as Node | undefined)?.CTECycleClause] as (Node | undefined)[];
      const added = clauses.flatMap((c) => (c ? [c.search_seq_column, c.cycle_mark_column, c.cycle_path_column] : [])).filter((n): n is string => typeof n === 'string');
      return [...out, ...added.map((name) => ({ name }))];
    } finally {
      inProgress.delete(cte);
    }
  };

  /** A SELECT's output columns, in order: a set operation's are its first branch's. */
  const outputs = (node: Node | undefined): Output[] => {
    let s = (node?.SelectStmt ?? {}) as Node;
    while (s.op && s.op !== 'SETOP_NONE' && s.larg) s = s.larg as Node;
    const values = s.valuesLists as Node[] | undefined;
    if (values) return (((values[0]?.List as Node | undefined)?.items as unknown[] | undefined) ?? []).map((_, i) => ({ name: `column${i + 1}` }));
    const from = fromOf.get(s) ?? [];
    return ((s.targetList as Node[] | undefined) ?? []).map((t): Output => {
      const target = (t.ResTarget ?? {}) as Node;
      if (typeof target.name === 'string') return { name: target.name };
      const ref = (target.val as Node | undefined)?.ColumnRef as Node | undefined;
      const fieldNames = (ref?.fields as Node[] | undefined) ?? [];
      if (ref && fieldNames.at(-1)?.A_Star) {
        const q = strings(fieldNames.slice(0, -1));
        if (q.length === 0) return { star: union(from.map(itemOf).filter((i): i is FromItem => i !== undefined).map((i) => i.columns())) };
        return { star: proof(q) };
      }
      return { name: outputName(target.val as Node | undefined) };
    });
  };

  const proof = (qualifier: string[]): Set<string> => {
    if (qualifier.length === 1) {
      const candidates = named(qualifier[0]!);
      return candidates.length === 0 ? new Set() : intersection(candidates.map((c) => c.columns()));
    }
    // schema.table (or catalog.schema.table) names the table itself, never a WITH query or an alias.
    const [table, ns] = [qualifier.at(-1)!, qualifier.at(-2)!];
    return ns === schema ? (relationColumns(table, []) ?? new Set()) : new Set();
  };

  return proof;
}

/** The name PostgreSQL gives an unnamed output, where herald can tell it exactly. */
function outputName(node: Node | undefined): string | undefined {
  if (!node) return undefined;
  const ref = node.ColumnRef as Node | undefined;
  if (ref) return sval((ref.fields as unknown[] | undefined)?.at(-1));
  const call = node.FuncCall as Node | undefined;
  if (call) return sval((call.funcname as unknown[] | undefined)?.at(-1));
  const cast = node.TypeCast as Node | undefined;
  if (cast && ((cast.arg as Node | undefined)?.ColumnRef || (cast.arg as Node | undefined)?.FuncCall)) return outputName(cast.arg as Node);
  return undefined;
}

/** `outputs` once `colnames` renamed the first of them (`AS x(a, b)`); after a * among those, herald no longer knows which are left. */
function renameOutputs(outputs: Output[], colnames: string[]): Output[] {
  if (colnames.length === 0) return outputs;
  let position = 0;
  for (const [i, o] of outputs.entries()) {
    if (position >= colnames.length) return [...colnames.map((name) => ({ name })), ...outputs.slice(i)];
    if ('star' in o) return [...colnames.map((name) => ({ name })), { star: new Set<string>() }];
    position += 1;
  }
  return colnames.map((name) => ({ name }));
}

/** The names certainly among `outputs` once `colnames` renamed the first of them. */
function renamed(outputs: Output[], colnames: string[]): Set<string> {
  return new Set(renameOutputs(outputs, colnames).flatMap((o) => ('star' in o ? [...o.star] : o.name === undefined ? [] : [o.name])));
}

function intersection(sets: Set<string>[]): Set<string> {
  const [first, ...rest] = sets;
  return new Set([...(first ?? [])].filter((n) => rest.every((s) => s.has(n))));
}

function union(sets: Set<string>[]): Set<string> {
  return new Set(sets.flatMap((s) => [...s]));
}
