import { ADDRESS_SQL } from './address.js';
import { erasedHashSql, erasedSql } from './suppressions.js';
import { quoteIdent } from '../db/ident.js';
import type { CompiledSql } from './compile.js';
import { channelColumns, isEmailOnly, type ChannelChoice } from './channels.js';

/**
 * The reason of an erased person (classifiedSql; a list contact's reads
 * `… (list contact)`): the ledger records them without their address.
 */
export const ERASED_REASON = 'suppressed: erased';

/** SQL: `value` (an address, a trigger's event data) unless `reason` says the person was erased: then NULL. */
export function unlessErased(reason: string, value: string): string {
  return `CASE WHEN ${reason} LIKE '${ERASED_REASON} (%' THEN NULL ELSE ${value} END`;
}

/** site id → the site's locales and its default: how a recipient's locale is chosen. */
export interface SiteLocales {
  [site: string]: { locales: string[]; default: string };
}

/** Why an audience member does or does not get the message. A customer is in exactly one. */
export const BUCKETS = ['address_problems', 'no_subscription', 'control_group', 'recipients'] as const;
export type Bucket = (typeof BUCKETS)[number];

/** A campaign's control group: `percent` of its otherwise-eligible audience, held out. */
export interface ControlGroup {
  campaign: string;
  percent: number;
}

/**
 * The control-group hash: a customer is held out of campaign C when the first
 * 32 bits of md5('C:<customer id>'), read as an unsigned integer, are below
 * floor(percent / 100 × 2³²). md5 is in every PostgreSQL, PGlite included, and
 * in Node (`createHash('md5')`), so the ledger and a report can recompute who
 * was held out; it depends on nothing but the campaign's name and the
 * customer's id, so the group is the same on every run and every database.
 */
export function controlGroupThreshold(percent: number): number {
  return Math.floor((percent / 100) * 2 ** 32);
}

/**
 * Every member of an audience on the given sites, classified: one row per
 * customer with `bucket`, the first reason that applies in BUCKETS' order,
 * and `reason`, that reason in words. One SELECT, the single definition of
 * who receives a campaign: the ledger materialises the `recipients` rows
 * (recipientsSql) and the volume breakdown counts every bucket
 * (breakdown.ts), so the two always agree.
 *
 * - no_subscription: `email_opt_in` is false, or the address is in
 *   herald.suppressions for the customer's site or for all sites. The two
 *   LEFT JOINs are hash joins on the address, each matching at most one row
 *   (the suppressions' unique key), so the audience is never multiplied.
 *   An erased person's address is found by its hash (erasedSql), computed
 *   only when anyone was erased at all; that reason comes first, so the
 *   ledger never records their address (materialise.ts).
 * - address_problems: no email, or one that is not an address.
 * - control_group: only with `control`; see controlGroupThreshold.
 * - recipients: everyone else, with the site's locale matching theirs, else
 *   the site's default.
 */
export function classifiedSql(schema: string, audience: CompiledSql, sites: SiteLocales, control?: ControlGroup, channels?: ChannelChoice): CompiledSql {
  const values = [...audience.values];
  const param = (v: unknown) => {
    values.push(v);
    return `$${values.length}`;
  };
  const sitesRef = param(JSON.stringify(sites));
  const held = control
    ? `WHEN ('x' || substr(md5(${param(control.campaign)}::text || ':' || c.id::text), 1, 8))::bit(32)::bigint < ${param(controlGroupThreshold(control.percent))}::bigint`
    : undefined;
  if (!isEmailOnly(channels)) return { text: channelClassifiedSql(schema, audience, sitesRef, channels!, param, held), values };
  return {
    text: `SELECT c.id AS customer_id, c.email, 'email'::text AS channel, c.site, c.locale AS customer_locale,
                  CASE WHEN s.cfg->'locales' ? c.locale THEN c.locale ELSE s.cfg->>'default' END AS locale,
                  CASE WHEN ${erasedSql('c.email')} THEN 'no_subscription'
                       WHEN c.email IS NULL OR c.email !~ ${ADDRESS_SQL} THEN 'address_problems'
                       WHEN NOT c.email_opt_in OR sup_all.email IS NOT NULL OR sup_site.email IS NOT NULL THEN 'no_subscription'
                       ${held ? `${held} THEN 'control_group'` : ''}
                       ELSE 'recipients' END AS bucket,
                  CASE WHEN ${erasedSql('c.email')} THEN '${ERASED_REASON} (all sites)'
                       WHEN c.email IS NULL OR btrim(c.email) = '' THEN 'no email'
                       WHEN c.email !~ ${ADDRESS_SQL} THEN 'invalid email'
                       WHEN NOT c.email_opt_in THEN 'email_opt_in is false'
                       WHEN sup_all.email IS NOT NULL THEN 'suppressed: ' || sup_all.reason || ' (all sites)'
                       WHEN sup_site.email IS NOT NULL THEN 'suppressed: ' || sup_site.reason || ' (' || sup_site.site || ')'
                       ${held ? `${held} THEN 'control group'` : ''}
                       ELSE 'recipient' END AS reason
             FROM ${quoteIdent(schema)}.customers c${audience.parts?.joins ?? ''}
             JOIN jsonb_each(${sitesRef}::jsonb) AS s(id, cfg) ON s.id = c.site
             LEFT JOIN herald.suppressions sup_all ON sup_all.email = lower(c.email) AND sup_all.site IS NULL
             LEFT JOIN herald.suppressions sup_site ON sup_site.email = lower(c.email) AND sup_site.site = c.site
            WHERE ${audience.parts ? `(${audience.parts.where})` : `c.id IN (${audience.text})`}`,
    values,
  };
}

/**
 * classifiedSql for several channels (or one other than email): the same
 * columns, plus `channel`, with `email` holding the address on that channel
 * (channels.ts). Customers only: a list's contacts have an email address
 * alone, and come in through classifiedContactsSql when the channels
 * include email.
 */
function channelClassifiedSql(schema: string, audience: CompiledSql, sitesRef: string, choice: ChannelChoice, param: (v: unknown) => string, held?: string): string {
  const cols = channelColumns(choice, schema, param, { test: erasedSql('c.email'), reason: `${ERASED_REASON} (all sites)` }, held);
  return `SELECT c.id AS customer_id, ${cols.address} AS email, ${cols.channel} AS channel, c.site, c.locale AS customer_locale,
                  CASE WHEN s.cfg->'locales' ? c.locale THEN c.locale ELSE s.cfg->>'default' END AS locale,
                  ${cols.bucket} AS bucket,
                  ${cols.reason} AS reason
             FROM ${quoteIdent(schema)}.customers c${audience.parts?.joins ?? ''}
             JOIN jsonb_each(${sitesRef}::jsonb) AS s(id, cfg) ON s.id = c.site
             LEFT JOIN herald.suppressions sup_all ON sup_all.email = lower(c.email) AND sup_all.site IS NULL
             LEFT JOIN herald.suppressions sup_site ON sup_site.email = lower(c.email) AND sup_site.site = c.site${cols.joins}${cols.from}
            WHERE ${audience.parts ? `(${audience.parts.where})` : `c.id IN (${audience.text})`}`;
}

/**
 * The recipients of an audience, as the ledger materialises them: the
 * `recipients` of classifiedSql. No control group is held out yet; when the
 * ledger records one, it passes `control` and keeps the `control_group` rows.
 */
export function recipientsSql(schema: string, audience: CompiledSql, sites: SiteLocales): CompiledSql {
  const c = classifiedSql(schema, audience, sites);
  return {
    text: `SELECT r.customer_id, r.email, r.site, r.locale FROM (${c.text}) AS r WHERE r.bucket = 'recipients'`,
    values: c.values,
  };
}

/**
 * The contacts of a campaign's lists who are not shop customers: a usable
 * address, on one of the campaign's sites, not suppressed. Customers on the
 * lists come through the audience condition (`list:`) like everyone else.
 */
export function contactRecipientsSql(lists: readonly string[], sites: SiteLocales): CompiledSql {
  return {
    text: `SELECT k.id AS contact_id, k.email, k.site,
                  CASE WHEN s.cfg->'locales' ? k.locale THEN k.locale ELSE s.cfg->>'default' END AS locale
             FROM herald.contacts k
             JOIN jsonb_each($2::jsonb) AS s(id, cfg) ON s.id = k.site
            WHERE k.id IN (SELECT m.contact_id FROM herald.list_members m WHERE m.list = ANY($1::text[]) AND m.contact_id IS NOT NULL)
              AND k.email ~ ${ADDRESS_SQL}
              AND NOT EXISTS (SELECT 1 FROM herald.suppressions x
                               WHERE x.email = lower(k.email) AND (x.site IS NULL OR x.site = k.site))
              AND NOT ${erasedSql('k.email')}`,
    values: [lists, JSON.stringify(sites)],
  };
}

/**
 * The lists' contacts who are not customers, classified like customers
 * (same columns and buckets as classifiedSql), for the volume breakdown of a
 * campaign to a list. Parameters continue after `values`.
 */
export function classifiedContactsSql(lists: readonly string[], sites: SiteLocales, values: unknown[], control?: ControlGroup): string {
  const param = (v: unknown) => {
    values.push(v);
    return `$${values.length}`;
  };
  const listsRef = param([...lists]);
  const sitesRef = param(JSON.stringify(sites));
  const held = control
    ? `WHEN ('x' || substr(md5(${param(control.campaign)}::text || ':k' || k.id::text), 1, 8))::bit(32)::bigint < ${param(controlGroupThreshold(control.percent))}::bigint`
    : undefined;
  return `SELECT k.id AS customer_id, k.email, 'email'::text AS channel, k.site, k.locale AS customer_locale,
                 CASE WHEN s.cfg->'locales' ? k.locale THEN k.locale ELSE s.cfg->>'default' END AS locale,
                 CASE WHEN k.email !~ ${ADDRESS_SQL} THEN 'address_problems'
                      WHEN sup.email IS NOT NULL THEN 'no_subscription'
                      ${held ? `${held} THEN 'control_group'` : ''}
                      ELSE 'recipients' END AS bucket,
                 CASE WHEN k.email !~ ${ADDRESS_SQL} THEN 'invalid email (list contact)'
                      WHEN sup.email IS NOT NULL THEN 'suppressed: ' || sup.reason || ' (list contact)'
                      ${held ? `${held} THEN 'control group (list contact)'` : ''}
                      ELSE 'recipient (list contact)' END AS reason
            FROM herald.contacts k
            JOIN jsonb_each(${sitesRef}::jsonb) AS s(id, cfg) ON s.id = k.site
            LEFT JOIN LATERAL (SELECT x.email, x.reason FROM herald.suppressions x
                                WHERE x.email = lower(k.email) AND (x.site IS NULL OR x.site = k.site)
                                   OR x.email = ${erasedHashSql('k.email')} AND x.site IS NULL LIMIT 1) sup ON true
           WHERE k.id IN (SELECT m.contact_id FROM herald.list_members m WHERE m.list = ANY(${listsRef}::text[]) AND m.contact_id IS NOT NULL)`;
}
