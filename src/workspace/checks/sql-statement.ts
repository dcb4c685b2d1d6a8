import type { Node, ParseResult, SelectStmt } from 'libpg-query';
import { referenceProblems } from './sql-allowlist.js';

/** A problem in a parsed query, at a byte offset (libpg_query's unit) when it has one. */
export interface SqlFinding {
  message: string;
  hint?: string;
  byte?: number;
}

const ONE_SELECT = 'a sql: query is one SELECT (or WITH … SELECT) that only reads';

/** Statements that change data, and so must not hide in a WITH query either. */
const WRITES: Record<string, string> = { InsertStmt: 'INSERT', UpdateStmt: 'UPDATE', DeleteStmt: 'DELETE', MergeStmt: 'MERGE' };

/**
 * Checks a parsed query: exactly one statement, a SELECT, nothing inside it
 * that writes or locks, nothing it reads outside the shop's `schema` and
 * nothing it calls outside the allowlist (sql-allowlist.ts), and the columns
 * the caller needs (`customer_id`, and `event_key` for a trigger's event)
 * among its outputs when they can be named without the database (a `*`
 * cannot).
 */
export function statementProblems(parsed: ParseResult, returns: string[], schema: string): SqlFinding[] {
  const stmts = parsed.stmts ?? [];
  if (stmts.length === 0) return [{ message: 'the query is empty', hint: ONE_SELECT }];
  if (stmts.length > 1) {
    return [{ message: `the query has ${stmts.length} statements`, hint: `${ONE_SELECT}; remove the ";" and what follows it`, byte: stmts[1]!.stmt_location ?? 0 }];
  }
  const top = stmts[0]!;
  const kind = top.stmt ? Object.keys(top.stmt)[0]! : 'unknown';
  if (kind !== 'SelectStmt') {
    return [{ message: `the query is ${WRITES[kind] ?? statementName(kind)}, not a SELECT`, hint: ONE_SELECT, byte: top.stmt_location ?? 0 }];
  }
  const select = (top.stmt as { SelectStmt: SelectStmt }).SelectStmt;
  return [...sideEffects(select), ...referenceProblems(select, schema), ...missingColumns(select, returns, top.stmt_location ?? 0)];
}

/** "CreateTableAsStmt" → "CREATE TABLE AS". */
function statementName(kind: string): string {
  return kind.replace(/Stmt$/, '').replace(/([a-z])([A-Z])/g, '$1 $2').toUpperCase();
}

/** Data-modifying WITH queries, SELECT INTO and row locks, anywhere in the tree. */
function sideEffects(select: SelectStmt): SqlFinding[] {
  const out: SqlFinding[] = [];
  const visit = (node: unknown, cte: { name: string; byte: number } | undefined): void => {
    if (Array.isArray(node)) return node.forEach((n) => visit(n, cte));
    if (!node || typeof node !== 'object') return;
    for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
      const v = value as Record<string, unknown> | undefined;
      if (key === 'CommonTableExpr' && v) {
        visit(v, { name: String(v.ctename ?? ''), byte: typeof v.location === 'number' ? v.location : 0 });
        continue;
      }
      if (WRITES[key]) {
        out.push({
          message: cte ? `the WITH query "${cte.name}" runs ${WRITES[key]}` : `the query runs ${WRITES[key]}`,
          hint: ONE_SELECT,
          byte: cte?.byte,
        });
        continue;
      }
      if (key === 'intoClause' && v) {
        const rel = v.rel as { location?: number } | undefined;
        out.push({ message: 'SELECT INTO creates a table', hint: ONE_SELECT, byte: rel?.location });
      }
      if (key === 'lockingClause' && Array.isArray(value) && value.length > 0) {
        out.push({ message: 'FOR UPDATE / FOR SHARE locks the shop\'s rows', hint: 'remove the locking clause: audiences only read, and a lock would hold up the shop\'s own writes' });
      }
      visit(value, cte);
    }
  };
  visit(select, undefined);
  return out;
}

/** The column names a SELECT returns, or undefined when one of them is `*`. */
function outputNames(select: SelectStmt): string[] | undefined {
  let s = select;
  // A UNION, INTERSECT or EXCEPT takes its column names from its first branch.
  while (s.op && s.op !== 'SETOP_NONE' && s.larg) s = s.larg;
  if (s.valuesLists) return (s.valuesLists[0] as { List?: { items?: unknown[] } } | undefined)?.List?.items?.map((_, i) => `column${i + 1}`) ?? [];
  const names: string[] = [];
  for (const t of s.targetList ?? []) {
    const target = (t as { ResTarget?: { name?: string; val?: Node } }).ResTarget;
    if (!target) continue;
    const name = target.name ?? columnName(target.val);
    if (name === '*') return undefined;
    if (name !== undefined) names.push(name);
  }
  return names;
}

/** The name PostgreSQL gives an unaliased output: a column's own name, through casts, or a function's. */
function columnName(node: Node | undefined): string | undefined {
  if (!node) return undefined;
  if ('ColumnRef' in node) {
    const last = node.ColumnRef.fields?.at(-1);
    if (last && 'A_Star' in last) return '*';
    return last && 'String' in last ? last.String.sval : undefined;
  }
  if ('TypeCast' in node) return columnName(node.TypeCast.arg);
  if ('FuncCall' in node) {
    const last = node.FuncCall.funcname?.at(-1);
    return last && 'String' in last ? last.String.sval : undefined;
  }
  return undefined;
}

function missingColumns(select: SelectStmt, returns: string[], byte: number): SqlFinding[] {
  const names = outputNames(select);
  if (!names) return [];
  return returns
    .filter((r) => !names.includes(r))
    .map((r) => ({
      message: `the query returns no ${r} column${names.length ? ` (it returns ${names.join(', ')})` : ''}`,
      hint: r === 'customer_id' ? 'select the customer, for example SELECT o.customer_id FROM ... or SELECT c.id AS customer_id FROM ...' : `name what makes one occurrence of the event, for example ... AS ${r}`,
      byte,
    }));
}
