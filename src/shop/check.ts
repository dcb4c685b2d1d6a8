import type { Queryable } from '../db/db.js';
import { UserError } from '../errors.js';
import { SHOP_CONTRACT } from './contract.js';

/**
 * The shop's database checked against the contract, once, before a command
 * reads it: every table (or view) and column of SHOP_CONTRACT is there and
 * herald's role may read it, and the reader role of herald.yaml, if any, is
 * what docs/security.md asks for. Every problem is reported at once, each
 * with the section of docs/shop-data-contract.md that describes it, so a
 * new shop sees the whole list instead of one internal error at a time.
 *
 * plan (and so apply), `herald audience`, and every launch (send, run) check
 * it up front; a list import checks it too, since a saved plan is applied
 * without planning again.
 */

const CONTRACT_DOC = 'docs/shop-data-contract.md';

/** What the shop's database is checked for: its schema, and the reader role when herald.yaml names one. */
export interface ShopAccess {
  schema: string;
  readerRole?: string;
  /** Channels besides email the command sends on: their parts of the contract are checked too. */
  channels?: readonly string[];
}

/** Throws a UserError listing every problem, or returns when there are none. */
export async function requireShop(db: Queryable, access: ShopAccess): Promise<void> {
  const contract = await contractProblems(db, access.schema, access.channels ?? []);
  if (contract.length > 0) {
    throw new UserError(
      `the shop's schema "${access.schema}" does not meet the data contract:\n${contract.map((p) => `  ${p}`).join('\n')}`,
      `create what is missing, as tables or as views over your own tables (${CONTRACT_DOC}#when-your-tables-look-different-views); source.schema in herald.yaml names the schema`,
    );
  }
  if (access.readerRole) {
    const reader = await readerProblems(db, access.schema, access.readerRole);
    if (reader.length > 0) {
      throw new UserError(
        `source.reader_role "${access.readerRole}" is not a safe role for sql: conditions:\n${reader.map((p) => `  ${p}`).join('\n')}`,
        'set the role up as docs/security.md shows, or remove source.reader_role from herald.yaml',
      );
    }
  }
}

/**
 * contractProblems: one catalog query over every contract column, whether
 * its table (or view) exists in the schema and has the column, and whether
 * herald's role may read it. Catalogs are readable by every role, so this
 * works before any grant.
 */
export async function contractProblems(db: Queryable, schema: string, channels: readonly string[] = []): Promise<string[]> {
  // SMS's and push's parts only when something sends on them: a shop that sends email needs none of them.
  const needed = (x: { channel?: string }) => !x.channel || channels.includes(x.channel);
  const contract = SHOP_CONTRACT.filter(needed).map((t) => ({ ...t, columns: t.columns.filter(needed) }));
  const wanted = contract.flatMap((t) => t.columns.map((c) => [t.name, c.name] as const));
  const [ns] = await db.query<{ exists: boolean; usable: boolean }>(
    `SELECT n.oid IS NOT NULL AS exists, n.oid IS NOT NULL AND has_schema_privilege(n.oid, 'USAGE') AS usable
       FROM (SELECT 1) AS one LEFT JOIN pg_namespace n ON n.nspname = $1`,
    [schema],
  );
  if (!ns!.exists) return [`the database has no schema "${schema}" (${CONTRACT_DOC}#tables)`];
  const rows = await db.query<{ table_name: string; column_name: string; table_exists: boolean; column_exists: boolean; readable: boolean }>(
    `SELECT w.table_name, w.column_name,
            c.oid IS NOT NULL AS table_exists,
            a.attname IS NOT NULL AS column_exists,
            c.oid IS NOT NULL AND has_table_privilege(c.oid, 'SELECT') AS readable
       FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS w(table_name, column_name, n)
       LEFT JOIN pg_namespace s ON s.nspname = $1
       LEFT JOIN pg_class c ON c.relnamespace = s.oid AND c.relname = w.table_name AND c.relkind IN ('r', 'v', 'm', 'f', 'p')
       LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = w.column_name AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY w.n`,
    [schema, wanted.map((w) => w[0]), wanted.map((w) => w[1])],
  );
  const out: string[] = [];
  if (!ns!.usable) out.push(`herald's role may not use schema "${schema}": GRANT USAGE ON SCHEMA ${schema} TO <herald's role> (${CONTRACT_DOC}#permissions)`);
  for (const t of contract) {
    const cols = rows.filter((r) => r.table_name === t.name);
    const where = `${CONTRACT_DOC}#${t.name}`;
    if (!cols[0]!.table_exists) {
      out.push(`${schema}.${t.name}: no such table or view (${where})`);
      continue;
    }
    const missing = cols.filter((r) => !r.column_exists).map((r) => r.column_name);
    if (missing.length) out.push(`${schema}.${t.name}: no column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (${where})`);
    if (!cols[0]!.readable) out.push(`${schema}.${t.name}: herald's role may not read it (${CONTRACT_DOC}#permissions)`);
  }
  return out;
}

/** Roles whose members read files, run programs, signal backends or read every table. */
const ADMIN_ROLES = ['pg_read_server_files', 'pg_write_server_files', 'pg_execute_server_program', 'pg_signal_backend', 'pg_read_all_data', 'pg_write_all_data', 'pg_read_all_settings'];

/**
 * readerProblems: the reader role exists, herald's session role may SET ROLE
 * to it, it can read every contract table, and it can read nothing of
 * herald's (herald.settings holds the generated link secret) and holds no
 * administrative rights.
 */
export async function readerProblems(db: Queryable, schema: string, role: string): Promise<string[]> {
  const [r] = await db.query<{
    exists: boolean;
    member: boolean;
    superuser: boolean;
    bypassrls: boolean;
    herald_usage: boolean;
    herald_tables: string[];
    admin: string[];
    shop_usage: boolean;
    unreadable: string[];
  }>(
    `SELECT r.oid IS NOT NULL AS exists,
            r.oid IS NOT NULL AND pg_has_role(session_user, r.oid, 'MEMBER') AS member,
            coalesce(r.rolsuper, false) AS superuser,
            coalesce(r.rolbypassrls, false) AS bypassrls,
            r.oid IS NOT NULL AND has_schema_privilege(r.oid, 'herald', 'USAGE') AS herald_usage,
            coalesce((SELECT array_agg(c.relname::text ORDER BY c.relname) FROM pg_class c
                       WHERE r.oid IS NOT NULL AND c.relnamespace = 'herald'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'p', 'S')
                         AND has_table_privilege(r.oid, c.oid, 'SELECT')), '{}') AS herald_tables,
            coalesce((SELECT array_agg(a.name::text ORDER BY a.name) FROM unnest($3::text[]) AS a(name)
                       WHERE r.oid IS NOT NULL AND to_regrole(a.name) IS NOT NULL AND pg_has_role(r.oid, to_regrole(a.name), 'MEMBER')), '{}') AS admin,
            r.oid IS NOT NULL AND coalesce(has_schema_privilege(r.oid, s.oid, 'USAGE'), false) AS shop_usage,
            coalesce((SELECT array_agg(c.relname::text ORDER BY c.relname) FROM pg_class c
                       WHERE r.oid IS NOT NULL AND c.relnamespace = s.oid AND c.relname = ANY($4::text[])
                         AND NOT has_table_privilege(r.oid, c.oid, 'SELECT')), '{}') AS unreadable
       FROM (SELECT 1) AS one
       LEFT JOIN pg_roles r ON r.rolname = $1
       LEFT JOIN pg_namespace s ON s.nspname = $2`,
    [role, schema, ADMIN_ROLES, SHOP_CONTRACT.map((t) => t.name)],
  );
  if (!r!.exists) return [`the role does not exist: CREATE ROLE ${role} NOLOGIN`];
  const out: string[] = [];
  if (!r!.member) out.push(`herald's role cannot SET ROLE to it: GRANT ${role} TO <herald's role>`);
  if (r!.superuser) out.push('it is a superuser, and reads everything');
  if (r!.bypassrls) out.push('it bypasses row-level security');
  if (r!.admin.length) out.push(`it is a member of ${r!.admin.join(', ')}`);
  if (r!.herald_usage || r!.herald_tables.length) {
    const tables = r!.herald_tables.length ? `: ${r!.herald_tables.map((t) => `herald.${t}`).join(', ')}` : '';
    out.push(`it can read herald's own schema${tables} (herald.settings holds the link secret): REVOKE ALL ON SCHEMA herald FROM ${role}`);
  }
  if (!r!.shop_usage) out.push(`it may not use schema "${schema}": GRANT USAGE ON SCHEMA ${schema} TO ${role}`);
  else if (r!.unreadable.length) out.push(`it cannot read ${r!.unreadable.map((t) => `${schema}.${t}`).join(', ')}: GRANT SELECT ON ALL TABLES IN SCHEMA ${schema} TO ${role}`);
  return out;
}
