import type { Queryable } from '../db/db.js';
import { quoteIdent } from '../db/ident.js';
import type { CompiledSql } from './compile.js';

/** site id → the site's locales and its default: how a recipient's locale is chosen. */
export interface SiteLocales {
  [site: string]: { locales: string[]; default: string };
}

/**
 * The recipients of an audience: its customers on the campaign's sites who
 * opted in and have a usable address, each with the site's locale matching
 * theirs, else the site's default. One SELECT, shared by the ledger's
 * materialisation and plan's audience count, so both always agree.
 */
export function recipientsSql(schema: string, audience: CompiledSql, sites: SiteLocales): CompiledSql {
  const values = [...audience.values];
  values.push(JSON.stringify(sites));
  return {
    text: `SELECT c.id AS customer_id, c.email, c.site,
                  CASE WHEN s.cfg->'locales' ? c.locale THEN c.locale ELSE s.cfg->>'default' END AS locale
             FROM ${quoteIdent(schema)}.customers c
             JOIN jsonb_each($${values.length}::jsonb) AS s(id, cfg) ON s.id = c.site
            WHERE c.id IN (${audience.text})
              AND c.email_opt_in
              AND c.email ~ '^[^@[:space:]]+@[^@[:space:]]+\\.[^@[:space:]]+$'`,
    values,
  };
}

/** countRecipients: how many messages a campaign would send now (plan's audience policy). */
export async function countRecipients(db: Queryable, schema: string, audience: CompiledSql, sites: SiteLocales): Promise<number> {
  const r = recipientsSql(schema, audience, sites);
  const [row] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM (${r.text}) AS r`, r.values);
  return row!.n;
}
