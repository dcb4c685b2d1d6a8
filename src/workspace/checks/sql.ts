import type { Problem } from '../../errors.js';
import { cachedAsync, cacheKey } from '../cache.js';
import { readWorkspaceText } from '../files.js';
import { eachCondition, sourceSchema, type Condition, type Workspace } from '../model.js';
import type { PathSegment, YamlSource } from '../source.js';
import type { Check } from './index.js';
import { fieldSelections, type ShopCatalog } from './sql-fields.js';
import { byteIndex, codePointIndex, positionInValue } from './sql-location.js';
import { statementProblems, type SqlFinding } from './sql-statement.js';

/**
 * The escape hatches, `sql:` conditions (in segments and trigger audiences)
 * and a trigger's `sql:` event, parsed with PostgreSQL's own parser
 * (libpg-query, compiled to WebAssembly): each must be one SELECT that reads
 * only the shop's schema and calls only ordinary functions
 * (sql-allowlist.ts). Whether the tables and columns exist needs a database,
 * so `herald plan` checks that with EXPLAIN; so does whether a `c.name` is a
 * column or a call in functional notation (sql-fields.ts), checked against
 * the catalog before every run (src/audience/sql-columns.ts). The same check runs again
 * wherever a `sql:` is executed (src/audience/sql-sandbox.ts), so a spec
 * that reached the database without validation is refused there too.
 *
 * A query's findings are cached (cache.ts) by its text, the columns it must
 * return and the shop schema: a warm run, or one whose queries did not
 * change, does not load the parser at all (0.1 s of WebAssembly). Execution
 * never trusts this cache: sql-sandbox.ts parses every query it runs.
 */
export const sqlChecks: Check = async (ws) => {
  const queries = collect(ws);
  if (queries.length === 0) return [];
  const schema = sourceSchema(ws.project.spec);
  const findings: SqlProblem[][] = [];
  for (const q of queries) {
    const key = cacheKey(SQL_CHECKS_VERSION, q.sql, q.returns, schema);
    findings.push(
      await cachedAsync('sql', key, async () => {
        await sqlParserReady();
        return checkSql(q.sql, q.returns, schema);
      }),
    );
  }
  const texts = new Map<string, string>();
  const fileText = (file: string) => {
    if (!texts.has(file)) texts.set(file, readWorkspaceText(ws.dir, file).text ?? '');
    return texts.get(file)!;
  };
  return queries.flatMap((q, i) =>
    findings[i]!.map((f) => ({
      file: q.src.file,
      ...positionInValue(q.src, fileText(q.src.file), q.path, f.index ?? 0),
      message: f.message,
      rule: 'sql',
      severity: 'error' as const,
      ...(f.hint ? { hint: f.hint } : {}),
    })),
  );
};

// Bump when checkSql, sql-statement.ts or sql-allowlist.ts change what they find, so cached findings of an older herald are not reused.
const SQL_CHECKS_VERSION = 2;

interface Query {
  src: YamlSource;
  path: PathSegment[];
  sql: string;
  /** Columns the query must return. */
  returns: string[];
}

function collect(ws: Workspace): Query[] {
  const out: Query[] = [];
  const walk = (src: YamlSource, c: Condition, path: PathSegment[]) =>
    eachCondition(c, path, (x, at) => {
      if (x.sql !== undefined) out.push({ src, path: [...at, 'sql'], sql: x.sql, returns: ['customer_id'] });
    });
  for (const s of ws.segments.values()) walk(s.source, s.spec.where, ['where']);
  for (const t of ws.triggers.values()) {
    if (t.spec.audience) walk(t.source, t.spec.audience, ['audience']);
    // A sql: on another event is refused by the semantic checks; parsing it too would only add noise.
    if (t.spec.event === 'sql' && t.spec.sql !== undefined) out.push({ src: t.source, path: ['sql'], sql: t.spec.sql, returns: ['customer_id', 'event_key'] });
  }
  return out;
}

/** A finding in a query, located as a JavaScript string index into it. */
export interface SqlProblem {
  message: string;
  hint?: string;
  index?: number;
}

/** PostgreSQL's parser, imported by sqlParserReady(): most workspaces have no sql:, and their commands never load it. */
let parser: typeof import('libpg-query') | undefined;

/** Every problem of one query whose shop schema is `schema`, once the parser is loaded (`await sqlParserReady()`). */
export function checkSql(sql: string, returns: string[], schema: string): SqlProblem[] {
  if (!parser) throw new Error('checkSql before sqlParserReady()');
  const { hasSqlDetails, parseSync } = parser;
  // The parser reads a C string: anything after a NUL would go unchecked.
  const nul = sql.indexOf('\0');
  if (nul >= 0) return [{ message: 'the query contains a NUL character', index: nul, hint: 'remove it; PostgreSQL refuses NUL in query text' }];
  let parsed;
  try {
    parsed = parseSync(sql);
  } catch (e) {
    if (hasSqlDetails(e)) {
      const d = e.sqlDetails!;
      return [{ message: `SQL syntax: ${d.message}`, index: codePointIndex(sql, d.cursorPosition), hint: 'the query is PostgreSQL, checked with its own parser' }];
    }
    // Without details (an empty query, a parser limit) the error still concerns this query.
    if (e instanceof Error) return [{ message: `the query cannot be parsed: ${e.message}` }];
    throw e;
  }
  return statementProblems(parsed, returns, schema).map(located(sql));
}

/** A finding of `sql`'s parse tree as a problem: its byte offset made a character index into `sql`. */
function located(sql: string): (f: SqlFinding) => SqlProblem {
  return (f) => ({ message: f.message, hint: f.hint, index: f.byte === undefined ? undefined : byteIndex(sql, f.byte) });
}

/**
 * The run-time half of layer 1, for a query checkSql accepted: the names it
 * may call in functional notation (`c.name`, `(x).name`), the shop
 * relations it reads, and the functions and operators it calls unqualified,
 * for src/audience/sql-columns.ts to look up in the catalog; then every such
 * name it cannot prove is a column, and every call the shop schema has a
 * function or operator of the same name for (sql-fields.ts).
 */
export function sqlFieldSelections(sql: string, schema: string): { names: string[]; relations: string[]; calls: { functions: string[]; operators: string[] }; problems(catalog: ShopCatalog): SqlProblem[] } {
  if (!parser) throw new Error('sqlFieldSelections before sqlParserReady()');
  const top = parser.parseSync(sql).stmts?.[0]?.stmt;
  if (!top || !('SelectStmt' in top)) throw new Error('sqlFieldSelections of a query checkSql refused');
  const found = fieldSelections(top.SelectStmt, schema);
  return {
    names: found.names,
    relations: found.relations,
    calls: found.calls,
    problems: (catalog) => found.problems(catalog).map(located(sql)),
  };
}

/** Loads PostgreSQL's parser (WebAssembly) once; checkSql needs it. */
export async function sqlParserReady(): Promise<void> {
  parser ??= await import('libpg-query');
  await parser.loadModule();
}
