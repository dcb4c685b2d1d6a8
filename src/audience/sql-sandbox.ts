import { createHash } from 'node:crypto';
import type { Db, Queryable, Session } from '../db/db.js';
import { quoteIdent } from '../db/ident.js';
import { UserError } from '../errors.js';
import { eachCondition, SOURCE_SCHEMA_DEFAULT, type Condition, type Project } from '../workspace/model.js';
import { fieldProblems, placeInQuery } from './sql-columns.js';
import { sqlConditionError } from './sql-errors.js';

/**
 * Where a `sql:` condition runs: layer 2 of its confinement
 * (docs/security.md), the same at every stage that executes one (plan,
 * audience, launch).
 *
 * A condition is never spliced into herald's own statements. It is
 * evaluated on its own, first, into a temporary table
 * (`pg_temp.herald_sql_results`, one row per condition and customer), and
 * the audience statement reads that table (predicates.ts `sql`). So the
 * user's SELECT runs:
 *
 * - after layer 1 again (sql-allowlist.ts, through checkSql), so a spec that
 *   reached the database without `herald validate` is refused here, and
 *   after the part of it only the catalog can decide: that a `c.name` is a
 *   column, not a call (sql-columns.ts);
 * - in a READ ONLY transaction (an INSERT into a temporary table is allowed
 *   in one; a launch evaluates first, then writes the ledger in a transaction
 *   of its own on the same connection, which is why Db has sessions);
 * - with `statement_timeout` at `source.sql_timeout`;
 * - with `search_path` = pg_catalog, the shop schema, pg_temp: unqualified
 *   names find built-in functions first, then the shop's relations;
 * - as `source.reader_role` when herald.yaml names one (SET LOCAL ROLE), a
 *   role that can read the shop schema and nothing of herald's.
 *
 * Each setting is put back after the statement, so herald's own statements
 * in the same transaction run as before. An error becomes a UserError that
 * never quotes row values (sql-errors.ts).
 */

/** One `sql:` condition of a compiled audience: its text, the key of its rows in the results table, and where it came from. */
export interface SqlCondition {
  key: string;
  text: string;
  /** `segment/<name>`, for messages. */
  origin?: string;
}

/** How `sql:` conditions run, from herald.yaml's `source`. */
export interface SqlSandbox {
  schema: string;
  timeoutSeconds: number;
  readerRole?: string;
}

export const SQL_TIMEOUT_DEFAULT = '30s';

/** The temporary table a session's `sql:` conditions are evaluated into. */
export const SQL_RESULTS = 'pg_temp.herald_sql_results';

/**
 * The temporary table a trigger's `sql:` event is evaluated into: one row
 * per customer and occurrence (`event_key`), with the query's `payload`
 * column when it has one. The sweep reads it (src/triggers/events.ts).
 */
export const SQL_EVENTS = 'pg_temp.herald_sql_events';

/** A trigger's `sql:` event: its SELECT of customer_id, event_key and optionally payload. */
export interface SqlEvent {
  text: string;
  /** `trigger/<name>`, for messages. */
  origin: string;
}

export function sqlSandbox(p: Pick<Project, 'source'>): SqlSandbox {
  return {
    schema: p.source?.schema ?? SOURCE_SCHEMA_DEFAULT,
    timeoutSeconds: seconds(p.source?.sql_timeout ?? SQL_TIMEOUT_DEFAULT),
    ...(p.source?.reader_role ? { readerRole: p.source.reader_role } : {}),
  };
}

function seconds(text: string): number {
  const m = /^([1-9][0-9]*)(s|m)$/.exec(text);
  if (!m) throw new UserError(`source.sql_timeout "${text}" is not a duration`, 'write it as 30s or 2m');
  return Number(m[1]) * (m[2] === 'm' ? 60 : 1);
}

/** Whether any of `conditions` holds a `sql:` at any depth: then a session with the results table is needed. */
export function hasSqlCondition(conditions: readonly Condition[]): boolean {
  let found = false;
  for (const c of conditions) eachCondition(c, [], (x) => (found ||= x.sql !== undefined));
  return found;
}

/** The key of a condition's rows: a hash of its text, hex, so it can be written into SQL as a literal. */
export function sqlConditionKey(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}

/**
 * Runs `fn` on a session holding the results tables (made, and granted to
 * the reader role, before any condition runs; dropped at the end): the
 * conditions' and a trigger event's. They are made here, not where a query
 * fills them, because a READ ONLY transaction cannot create a table. Without
 * conditions (`needed` false) it runs `fn` on the database as it is.
 */
export async function withSqlSession<T>(db: Db, sandbox: SqlSandbox, needed: boolean, fn: (s: Session) => Promise<T>): Promise<T> {
  if (!needed) return fn(db);
  return db.session(async (s) => {
    // createSqlResults: one row per customer a condition selects, looked up by condition.
    await s.query(`CREATE TEMP TABLE IF NOT EXISTS herald_sql_results (condition text NOT NULL, customer_id bigint NOT NULL)`);
    await s.query(`CREATE INDEX IF NOT EXISTS herald_sql_results_idx ON ${SQL_RESULTS} (condition, customer_id)`);
    // createSqlEvents: one row per customer and occurrence a trigger's sql: event selects.
    await s.query(`CREATE TEMP TABLE IF NOT EXISTS herald_sql_events (customer_id bigint NOT NULL, event_key text NOT NULL, payload jsonb)`);
    if (sandbox.readerRole) {
      try {
        // The reader fills the tables, and may do nothing else with them.
        await s.query(`GRANT INSERT ON ${SQL_RESULTS}, ${SQL_EVENTS} TO ${quoteIdent(sandbox.readerRole)}`);
      } catch (err) {
        throw new UserError(`source.reader_role "${sandbox.readerRole}" cannot be used: ${(err as Error).message}`, 'create the role as docs/security.md shows, or remove source.reader_role from herald.yaml');
      }
    }
    try {
      return await fn(s);
    } finally {
      await s.query(`DROP TABLE IF EXISTS ${SQL_RESULTS}, ${SQL_EVENTS}`);
    }
  });
}

/**
 * Runs `fn` in a READ ONLY transaction that is rolled back at the end,
 * whatever `fn` did: how plan and `herald audience` look at the shop. A
 * function that READ ONLY lets through (lo_import) leaves nothing behind.
 */
export async function readOnly<T>(s: Session, timeout: string, fn: (tx: Queryable) => Promise<T>): Promise<T> {
  const done: { value?: T } = {};
  try {
    await s.transaction(async (tx) => {
      await tx.query('SET TRANSACTION READ ONLY');
      await tx.query("SELECT set_config('statement_timeout', $1, true)", [timeout]);
      done.value = await fn(tx);
      throw ROLL_BACK;
    });
  } catch (err) {
    if (err !== ROLL_BACK) throw err;
  }
  return done.value as T;
}

const ROLL_BACK = new Error('roll back');

/**
 * Evaluates `conditions` into the results table, in the caller's
 * transaction, which becomes READ ONLY here if it was not already. Each
 * condition is checked by layer 1 first; a refused one stops everything.
 */
export async function evaluateSqlConditions(tx: Queryable, conditions: readonly SqlCondition[], sandbox: SqlSandbox): Promise<void> {
  if (conditions.length === 0) return;
  await refuseUnsafe(tx, conditions, sandbox);
  await tx.query('SET LOCAL transaction_read_only = on');
  const seen = new Set<string>();
  for (const c of conditions) {
    if (seen.has(c.key)) continue;
    seen.add(c.key);
    await tx.query(`DELETE FROM ${SQL_RESULTS} WHERE condition = $1`, [c.key]);
    await sandboxed(tx, sandbox, c.origin, fillStatement(c));
  }
}

/**
 * Evaluates a trigger's `sql:` event into SQL_EVENTS (emptied first), in
 * the caller's transaction, which becomes READ ONLY here if it was not
 * already: the same confinement as a condition's, after layer 1 with
 * `event_key` required too.
 */
export async function evaluateSqlEvent(tx: Queryable, event: SqlEvent, sandbox: SqlSandbox): Promise<void> {
  await refuseUnsafe(tx, [{ key: sqlConditionKey(event.text), ...event }], sandbox, ['customer_id', 'event_key']);
  await tx.query('SET LOCAL transaction_read_only = on');
  await tx.query(`DELETE FROM ${SQL_EVENTS}`);
  await sandboxed(tx, sandbox, event.origin, eventFillStatement(event));
}

/**
 * The statement that evaluates a trigger's event into SQL_EVENTS. The
 * payload column is optional, so it is read from the row as JSON
 * (`to_jsonb(s) -> 'payload'`, NULL when the query has no such column)
 * rather than named, which would fail without it. Rows without a customer
 * or a key make no occurrence.
 */
function eventFillStatement(e: SqlEvent): string {
  return `INSERT INTO ${SQL_EVENTS} (customer_id, event_key, payload)
      SELECT s.customer_id, s.event_key::text, to_jsonb(s) -> 'payload' FROM (\n${body(e.text)}\n) AS s
       WHERE s.customer_id IS NOT NULL AND s.event_key IS NOT NULL`;
}

/** The statement that evaluates a condition into the results table (a NULL customer_id matches no one, so it is left out). */
export function fillStatement(c: SqlCondition): string {
  if (!/^[0-9a-f]+$/.test(c.key)) throw new Error(`not a condition key: ${c.key}`);
  return `INSERT INTO ${SQL_RESULTS} (condition, customer_id)
      SELECT '${c.key}', s.customer_id FROM (\n${body(c.text)}\n) AS s WHERE s.customer_id IS NOT NULL`;
}

/**
 * Plans a condition with EXPLAIN, under the same confinement (planning can
 * evaluate stable functions), after layer 1: how plan checks that its
 * tables and columns exist.
 */
export async function explainSqlCondition(tx: Queryable, c: SqlCondition, sandbox: SqlSandbox): Promise<void> {
  await refuseUnsafe(tx, [c], sandbox);
  await tx.query('SET LOCAL transaction_read_only = on');
  await sandboxed(tx, sandbox, c.origin, `EXPLAIN SELECT customer_id FROM (\n${body(c.text)}\n) AS q`);
}

/**
 * Layer 2 on its own: runs `statement` (which holds a condition's text)
 * with the sandbox's search_path, timeout and role, inside a savepoint, and
 * puts the settings back. Exported (with fillStatement) for the tests that
 * show the runtime holding without layer 1; everything else goes through
 * evaluateSqlConditions or explainSqlCondition.
 */
export async function sandboxed(tx: Queryable, sandbox: SqlSandbox, origin: string | undefined, statement: string): Promise<void> {
  const [before] = await tx.query<{ role: string; search_path: string; timeout: string }>(
    "SELECT current_setting('role') AS role, current_setting('search_path') AS search_path, current_setting('statement_timeout') AS timeout",
  );
  await tx.query('SAVEPOINT herald_sql');
  try {
    await tx.query("SELECT set_config('search_path', $1, true), set_config('statement_timeout', $2, true)", [
      `pg_catalog, ${quoteIdent(sandbox.schema)}, pg_temp`,
      `${sandbox.timeoutSeconds}s`,
    ]);
    if (sandbox.readerRole) await tx.query(`SET LOCAL ROLE ${quoteIdent(sandbox.readerRole)}`);
    await tx.query(statement);
    // Back as herald: SET ROLE checks the session user, so the reader may switch back.
    await tx.query("SELECT set_config('role', $1, true), set_config('search_path', $2, true), set_config('statement_timeout', $3, true)", [
      before!.role,
      before!.search_path,
      before!.timeout,
    ]);
    await tx.query('RELEASE SAVEPOINT herald_sql');
  } catch (err) {
    await tx.query('ROLLBACK TO SAVEPOINT herald_sql').catch(() => {});
    throw sqlConditionError(err, origin ?? 'a sql: condition', sandbox.timeoutSeconds);
  }
}

/**
 * Layer 1 again, where the condition (or a trigger's event, which returns
 * `event_key` too) is executed, with the part only the catalog can decide:
 * whether a `c.name` is a column or a call (sql-columns.ts), asked in `tx`.
 */
async function refuseUnsafe(tx: Queryable, conditions: readonly SqlCondition[], sandbox: SqlSandbox, returns = ['customer_id']): Promise<void> {
  const { checkSql, sqlFieldSelections, sqlParserReady } = await import('../workspace/checks/sql.js');
  await sqlParserReady();
  for (const c of conditions) {
    const refuse = (problems: { message: string; hint?: string }[]) =>
      new UserError(`${c.origin ?? 'a sql: condition'}: its sql: is refused: ${problems.map((p) => p.message).join('; ')}`, problems[0]!.hint ?? 'run `herald validate`');
    const problems = checkSql(c.text, returns, sandbox.schema);
    if (problems.length > 0) throw refuse(problems);
    const fields = await fieldProblems(tx, sqlFieldSelections(c.text, sandbox.schema), sandbox.schema);
    if (fields.length > 0) throw refuse(fields.map((p) => ({ ...p, message: p.index === undefined ? p.message : `${placeInQuery(c.text, p.index)}: ${p.message}` })));
  }
}

/** The user's SELECT as a subquery. Newlines around it keep a trailing `--` comment from eating the closing parenthesis; a trailing semicolon would end the statement. */
function body(text: string): string {
  return text.trim().replace(/;\s*$/, '');
}
