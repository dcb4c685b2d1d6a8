import metadata from 'libphonenumber-js/min/metadata';
import { quoteIdent } from '../db/ident.js';
import type { ChannelName } from '../channels/channel.js';
import { ADDRESS_SQL } from './address.js';
import { liveSubscriptionSql } from '../channels/push/subscriptions.js';

/**
 * Who can be reached on which channel, as SQL over a customer `c`: an
 * address (an email address, a phone number in E.164, a live push
 * subscription) and consent on that channel (email_opt_in, sms_opt_in and
 * no SMS opt-out, a subscription being its own consent). classifiedSql
 * (recipients.ts) builds a campaign's or trigger's audience from these, so
 * the volume breakdown, the ledger and the reports agree on them.
 */
export type Mode = 'first_reachable' | 'all';

export interface ChannelChoice {
  /** In order of preference. */
  channels: readonly ChannelName[];
  mode: Mode;
}

/** The default: email only. */
export const EMAIL_ONLY: ChannelChoice = { channels: ['email'], mode: 'first_reachable' };

export function isEmailOnly(c: ChannelChoice | undefined): boolean {
  return !c || (c.channels.length === 1 && c.channels[0] === 'email');
}

/** A campaign's or trigger's spec, read: `channels` (default email) and `mode` (default first_reachable). */
export function channelChoice(spec: { channels?: readonly ChannelName[]; mode?: Mode }): ChannelChoice {
  return { channels: spec.channels?.length ? spec.channels : ['email'], mode: spec.mode ?? 'first_reachable' };
}

/** A list's contacts have an email address alone: they are in the audience when email is one of the channels. */
export function withContacts(c: ChannelChoice | undefined): boolean {
  return !c || c.channels.includes('email');
}

/**
 * ISO 3166 alpha-2 → country calling code, from libphonenumber-js's metadata
 * alone: its index loads the whole library (112 modules) into every plan.
 * "001" stands for the non-geographic codes, which are no country's.
 */
let codes: string | undefined;
export function callingCodes(): string {
  codes ??= JSON.stringify(
    Object.fromEntries(
      Object.entries(metadata.country_calling_codes)
        .flatMap(([code, countries]) => countries.filter((c) => (c as string) !== '001').map((c) => [c, code] as const))
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    ),
  );
  return codes;
}

/**
 * SQL: a phone number as the shop stores it, in E.164, or NULL when it cannot
 * be one. Separators go; `00` becomes `+`; a national number with its trunk 0
 * takes the calling code of the customer's country (`codes`: callingCodes());
 * so does a number of the North American plan written without one. This is
 * the set-based reading the audience, the ledger and suppressions share; the
 * SMS channel checks each number again with libphonenumber-js before sending,
 * and one it finds invalid fails as an address problem.
 */
export function e164Sql(phone: string, country: string, codesRef: string): string {
  const d = `regexp_replace(${phone}, '[[:space:]().\\-/]', '', 'g')`;
  const cc = `(${codesRef}::jsonb ->> upper(${country}))`;
  return `CASE WHEN ${d} ~ '^\\+[1-9][0-9]{6,14}$' THEN ${d}
               WHEN ${d} ~ '^00[1-9][0-9]{6,14}$' THEN '+' || substr(${d}, 3)
               WHEN ${d} ~ '^0[1-9][0-9]{4,13}$' AND ${cc} IS NOT NULL AND ${cc} <> '1' THEN '+' || ${cc} || substr(${d}, 2)
               WHEN ${d} ~ '^1?[2-9][0-9]{9}$' AND ${cc} = '1' THEN '+1' || right(${d}, 10) END`;
}

/** One channel's three facts about a customer, as SQL expressions. */
interface Reach {
  /** The address a ledger row records. */
  address: string;
  /** Why there is no usable address (text), or NULL. */
  noAddress: string;
  /** Why there is no consent (text), or NULL; only asked when there is an address. */
  noConsent: string;
}

/**
 * The joins a channel needs beside the customer `c` (and the email
 * suppressions `sup_all`, `sup_site` classifiedSql already joins), and its
 * Reach. `param` adds a value and returns its reference.
 */
export function reachOf(channel: ChannelName, schema: string, param: (v: unknown) => string): { joins: string; reach: Reach } {
  switch (channel) {
    case 'email':
      return {
        joins: '',
        reach: {
          address: 'c.email',
          noAddress: `CASE WHEN c.email IS NULL OR btrim(c.email) = '' THEN 'no email' WHEN c.email !~ ${ADDRESS_SQL} THEN 'invalid email' END`,
          noConsent: `CASE WHEN NOT c.email_opt_in THEN 'email_opt_in is false'
                           WHEN sup_all.email IS NOT NULL THEN 'suppressed: ' || sup_all.reason || ' (all sites)'
                           WHEN sup_site.email IS NOT NULL THEN 'suppressed: ' || sup_site.reason || ' (' || sup_site.site || ')' END`,
        },
      };
    case 'sms':
      return {
        // One opt-out row at most per number and site: the lateral takes the first.
        joins: `
             CROSS JOIN LATERAL (SELECT ${e164Sql('c.phone', 'c.country', param(callingCodes()))} AS e164) ph
             LEFT JOIN LATERAL (SELECT x.reason, x.site FROM herald.suppressions x
                                 WHERE x.email = ph.e164 AND (x.site IS NULL OR x.site = c.site)
                                 ORDER BY x.site NULLS FIRST LIMIT 1) sms_sup ON true`,
        reach: {
          address: 'ph.e164',
          noAddress: `CASE WHEN c.phone IS NULL OR btrim(c.phone) = '' THEN 'no phone' WHEN ph.e164 IS NULL THEN 'unusable phone number' END`,
          noConsent: `CASE WHEN NOT coalesce(c.sms_opt_in, false) THEN 'sms_opt_in is false'
                           WHEN sms_sup.reason IS NOT NULL THEN 'suppressed: ' || sms_sup.reason || ' (sms' || coalesce(', ' || sms_sup.site, '') || ')' END`,
        },
      };
    case 'push':
      return {
        // A device counts as the send counts it (subscriptions.ts): complete, and not gone.
        joins: `
             LEFT JOIN LATERAL (SELECT true AS live FROM ${quoteIdent(schema)}.push_subscriptions ps
                                 WHERE ps.customer_id = c.id AND ${liveSubscriptionSql('ps')}
                                 LIMIT 1) pu ON true`,
        reach: {
          address: `'customer:' || c.id::text`,
          noAddress: `CASE WHEN pu.live IS NULL THEN 'no push subscription' END`,
          noConsent: 'NULL::text',
        },
      };
  }
}

/**
 * The columns classifiedSql selects for several channels: `channel`,
 * `address`, and the bucket and reason before the control group (`held`,
 * the control group's WHEN clause, is added by the caller). With
 * `first_reachable` each customer is one row, on the first channel they can
 * be reached on (else the first channel, with every channel's reason); with
 * `all` the caller cross-joins `ch(name)` and each channel is a row.
 */
export function channelColumns(choice: ChannelChoice, schema: string, param: (v: unknown) => string, erased: { test: string; reason: string }, held?: string): { joins: string; from: string; channel: string; address: string; bucket: string; reason: string } {
  const reaches = choice.channels.map((ch) => ({ ch, ...reachOf(ch, schema, param) }));
  const joins = reaches.map((r) => r.joins).join('');
  const ok = (r: Reach) => `(${r.noAddress}) IS NULL AND (${r.noConsent}) IS NULL`;
  if (choice.mode === 'all') {
    const pick = (f: keyof Reach) => `CASE ch.name ${reaches.map((r) => `WHEN '${r.ch}' THEN ${r.reach[f]}`).join(' ')} END`;
    return {
      joins,
      from: `\n             CROSS JOIN unnest(${param([...choice.channels])}::text[]) AS ch(name)`,
      channel: 'ch.name',
      address: pick('address'),
      bucket: `CASE WHEN ${erased.test} THEN 'no_subscription'
                       WHEN (${pick('noAddress')}) IS NOT NULL THEN 'address_problems'
                       WHEN (${pick('noConsent')}) IS NOT NULL THEN 'no_subscription'
                       ${held ? `${held} THEN 'control_group'` : ''}
                       ELSE 'recipients' END`,
      reason: `CASE WHEN ${erased.test} THEN '${erased.reason}'
                       WHEN (${pick('noAddress')}) IS NOT NULL THEN (${pick('noAddress')})
                       WHEN (${pick('noConsent')}) IS NOT NULL THEN (${pick('noConsent')})
                       ${held ? `${held} THEN 'control group'` : ''}
                       ELSE 'recipient' END`,
    };
  }
  const first = (f: keyof Reach) => `CASE ${reaches.map((r) => `WHEN ${ok(r.reach)} THEN ${r.reach[f]}`).join(' ')} END`;
  const anyOk = reaches.map((r) => `(${ok(r.reach)})`).join(' OR ');
  const noneHasAddress = reaches.map((r) => `(${r.reach.noAddress}) IS NOT NULL`).join(' AND ');
  const why = `concat_ws('; ', ${reaches.map((r) => `'${r.ch}: ' || coalesce(${r.reach.noAddress}, ${r.reach.noConsent})`).join(', ')})`;
  return {
    joins,
    from: '',
    channel: `coalesce(CASE ${reaches.map((r) => `WHEN ${ok(r.reach)} THEN '${r.ch}'`).join(' ')} END, '${reaches[0]!.ch}')`,
    address: first('address'),
    bucket: `CASE WHEN ${erased.test} THEN 'no_subscription'
                       WHEN NOT (${anyOk}) AND ${noneHasAddress} THEN 'address_problems'
                       WHEN NOT (${anyOk}) THEN 'no_subscription'
                       ${held ? `${held} THEN 'control_group'` : ''}
                       ELSE 'recipients' END`,
    reason: `CASE WHEN ${erased.test} THEN '${erased.reason}'
                       WHEN NOT (${anyOk}) THEN ${why}
                       ${held ? `${held} THEN 'control group'` : ''}
                       ELSE 'recipient' END`,
  };
}
