import { createHash } from 'node:crypto';
import { basename, dirname, relative, sep } from 'node:path';
import { parse } from 'csv-parse';
import { ADDRESS } from '../audience/address.js';
import type { Queryable } from '../db/db.js';
import { quoteIdent } from '../db/ident.js';
import { UserError } from '../errors.js';
import { requireShop } from '../shop/check.js';
import { openWorkspaceStream, WorkspaceFileError } from '../workspace/files.js';

/**
 * Imports one list's CSV into herald.list_members, inside the caller's
 * transaction: all or nothing. Rows stream from the file into a temporary
 * table in batches, so a million rows take bounded memory; everything after
 * that is set-based SQL.
 *
 * - Emails are normalised: trimmed, the domain lower-cased. Rows with an
 *   invalid email are rejected, with their line numbers.
 * - Duplicates (the same address, ignoring case) are merged: the first row wins.
 * - Extra columns are kept as tokens.
 * - Members match shop customers by email (case-insensitively); the others
 *   become contacts of their own in herald.contacts.
 * - Re-importing replaces the list's membership.
 */
export interface ListImport {
  name: string;
  /** Absolute path of the CSV. */
  csv: string;
  /** The workspace the CSV must stay inside, links resolved (default: the CSV's own folder). */
  workspaceDir?: string;
  /** The list's site, for rows without a site column. */
  site?: string;
  /** The hash the plan saw: the import refuses a file that changed since. */
  expectedSha256?: string;
}

export interface ListImportResult {
  rows: number;
  members: number;
  customers: number;
  contacts: number;
  duplicates: number;
  rejected: { line: number; reason: string }[];
  sha256: string;
}

const BATCH = 5000;
const KNOWN = new Set(['email', 'first_name', 'last_name', 'locale', 'site']);

/** Trimmed, with the domain lower-cased: the local part is the mailbox owner's business. */
export function normaliseEmail(raw: string): string | undefined {
  const email = raw.trim();
  if (!ADDRESS.test(email)) return undefined;
  const at = email.lastIndexOf('@');
  return email.slice(0, at) + '@' + email.slice(at + 1).toLowerCase();
}

interface Row {
  line: number;
  email: string;
  first_name: string | null;
  last_name: string | null;
  locale: string | null;
  site: string | null;
  tokens: string;
}

export async function importList(tx: Queryable, shopSchema: string, list: ListImport): Promise<ListImportResult> {
  // Members are matched against the shop's customers: a saved plan is applied without planning, so check the contract here too.
  await requireShop(tx, { schema: shopSchema });
  const shop = quoteIdent(shopSchema);
  await tx.query(
    `CREATE TEMP TABLE herald_list_import (line int, email text, first_name text, last_name text, locale text, site text, tokens jsonb) ON COMMIT DROP`,
  );
  const hash = createHash('sha256');
  const rejected: ListImportResult['rejected'] = [];
  let rows = 0;
  let batch: Row[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const col = <K extends keyof Row>(k: K) => batch.map((r) => r[k]);
    // insertImportBatch: one statement per few thousand rows, values as arrays.
    await tx.query(
      `INSERT INTO herald_list_import
       SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[])`,
      [col('line'), col('email'), col('first_name'), col('last_name'), col('locale'), col('site'), col('tokens')],
    );
    batch = [];
  };

  const stream = openCsv(list);
  stream.on('data', (chunk) => hash.update(chunk));
  const parser = stream.pipe(parse({ bom: true, columns: (h: string[]) => h.map((c) => c.trim().toLowerCase()), info: true, relax_column_count: true, skip_empty_lines: true, trim: true }));
  stream.on('error', (e) => parser.destroy(e));
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
      rows++;
      const email = normaliseEmail(record.email ?? '');
      if (!email) {
        rejected.push({ line: info.lines, reason: record.email ? `"${record.email}" is not a valid email address` : 'no email' });
        continue;
      }
      const tokens = Object.fromEntries(Object.entries(record).filter(([k, v]) => !KNOWN.has(k) && v !== ''));
      batch.push({
        line: info.lines,
        email,
        first_name: record.first_name || null,
        last_name: record.last_name || null,
        locale: record.locale || null,
        site: record.site || list.site || null,
        tokens: JSON.stringify(tokens),
      });
      if (batch.length >= BATCH) await flush();
    }
    await flush();
  } catch (err) {
    if (err instanceof UserError) throw err;
    if (err instanceof WorkspaceFileError) throw new UserError(`cannot import list "${list.name}"`, 'run `herald validate` to see the file\'s problems', [err.problem]);
    throw new UserError(`cannot import list "${list.name}" from ${list.csv}: ${(err as Error).message}`, 'run `herald validate` to see the file\'s problems');
  }
  const sha256 = hash.digest('hex');
  if (list.expectedSha256 && list.expectedSha256 !== sha256) {
    throw new UserError(`the CSV of list "${list.name}" changed since the plan was made`, 'run herald plan again and review the new plan');
  }

  const [dups] = await tx.query<{ n: number }>(
    // mergeDuplicates: the same address twice, ignoring case; the first row wins.
    `WITH gone AS (
       DELETE FROM herald_list_import a USING herald_list_import b
        WHERE lower(a.email) = lower(b.email) AND a.line > b.line
       RETURNING 1)
     SELECT count(*)::int AS n FROM gone`,
  );
  // matchCustomers: each member is the shop customer with that address (the oldest, if several).
  await tx.query(`ALTER TABLE herald_list_import ADD COLUMN customer_id bigint`);
  await tx.query(
    `UPDATE herald_list_import i SET customer_id = m.id
       FROM (SELECT lower(email) AS email, min(id) AS id FROM ${shop}.customers
              WHERE lower(email) IN (SELECT lower(email) FROM herald_list_import) GROUP BY 1) m
      WHERE m.email = lower(i.email)`,
  );
  // upsertContacts: members who are not customers are contacts of their own.
  await tx.query(
    `INSERT INTO herald.contacts (email, first_name, last_name, locale, site)
     SELECT email, first_name, last_name, locale, site FROM herald_list_import WHERE customer_id IS NULL
     ON CONFLICT (lower(email)) DO UPDATE
       SET first_name = coalesce(EXCLUDED.first_name, herald.contacts.first_name),
           last_name = coalesce(EXCLUDED.last_name, herald.contacts.last_name),
           locale = coalesce(EXCLUDED.locale, herald.contacts.locale),
           site = coalesce(EXCLUDED.site, herald.contacts.site)`,
  );
  // replaceMembership: the file is the list.
  await tx.query('DELETE FROM herald.list_members WHERE list = $1', [list.name]);
  const [counts] = await tx.query<{ members: number; customers: number; contacts: number }>(
    `WITH inserted AS (
       INSERT INTO herald.list_members (list, email, customer_id, contact_id, line, tokens)
       SELECT $1, i.email, i.customer_id, k.id, i.line, i.tokens
         FROM herald_list_import i
         LEFT JOIN herald.contacts k ON i.customer_id IS NULL AND lower(k.email) = lower(i.email)
       RETURNING customer_id)
     SELECT count(*)::int AS members, count(customer_id)::int AS customers, (count(*) - count(customer_id))::int AS contacts FROM inserted`,
    [list.name],
  );
  await tx.query(
    `INSERT INTO herald.lists (name, csv_sha256, rows, members, imported_at) VALUES ($1, $2, $3, $4, now())
     ON CONFLICT (name) DO UPDATE SET csv_sha256 = EXCLUDED.csv_sha256, rows = EXCLUDED.rows, members = EXCLUDED.members, imported_at = now()`,
    [list.name, sha256, rows, counts!.members],
  );
  await tx.query('DROP TABLE herald_list_import');
  return { rows, ...counts!, duplicates: dups!.n, rejected: rejected.slice(0, 50), sha256 };
}

/** The CSV through the workspace's safe reader: no link out of the workspace, no device, no endless file. */
function openCsv(list: ListImport) {
  const root = list.workspaceDir ?? dirname(list.csv);
  const file = list.workspaceDir ? relative(root, list.csv).split(sep).join('/') : basename(list.csv);
  const opened = openWorkspaceStream(root, file);
  if (opened.problem) throw new UserError(`cannot import list "${list.name}"`, 'run `herald validate` to see the file\'s problems', [opened.problem]);
  return opened.stream;
}

/** dropList: a deleted list's members go; contacts stay, with their suppression history. */
export async function dropList(tx: Queryable, name: string): Promise<void> {
  await tx.query('DELETE FROM herald.list_members WHERE list = $1', [name]);
  await tx.query('DELETE FROM herald.lists WHERE name = $1', [name]);
}
