import type { Queryable } from '../db/db.js';
import type { CompiledSql } from '../audience/compile.js';
import { classifiedContactsSql, classifiedSql, controlGroupThreshold, unlessErased, type ControlGroup, type SiteLocales } from '../audience/recipients.js';
import { withContacts, type ChannelChoice } from '../audience/channels.js';
import { startRun } from './runs.js';

/**
 * Materialising: the statements that add rows to the ledger. A campaign's
 * launch adds its whole audience at once (launch, below); a trigger's sweep
 * adds the occurrences that fell due (src/triggers/sweep.ts builds them).
 */

/** How a launch splits the audience: control group and A/B test. */
export interface Split {
  control?: ControlGroup;
  ab?: { testPercent: number; variants: string[] };
}

/**
 * The A/B hashes, like the control group's (recipients.ts): the first 32 bits
 * of md5('<campaign>:ab:<id>') decide the test group, those of
 * md5('<campaign>:variant:<id>') the variant, so assignment depends on
 * nothing but the campaign and the customer and is the same on every run.
 * `id` is the customer id, or `k<contact id>` for a list's contact.
 */
function abColumns(split: Split, campaign: string, idSql: string, param: (v: unknown) => string): { status: string; variant: string } {
  if (!split.ab) return { status: `'queued'`, variant: 'NULL' };
  const test = `('x' || substr(md5(${param(campaign)} || ':ab:' || ${idSql}), 1, 8))::bit(32)::bigint < ${param(controlGroupThreshold(split.ab.testPercent))}::bigint`;
  const pick = `(${param(split.ab.variants)}::text[])[1 + (('x' || substr(md5(${param(campaign)} || ':variant:' || ${idSql}), 1, 8))::bit(32)::bigint % ${split.ab.variants.length})::int]`;
  return { status: `CASE WHEN ${test} THEN 'queued' ELSE 'waiting' END`, variant: `CASE WHEN ${test} THEN ${pick} END` };
}

export interface LaunchInput {
  campaign: string;
  schema: string;
  audience: CompiledSql;
  sites: SiteLocales;
  lists: readonly string[];
  split: Split;
  versions: { campaign: number | null; template: number | null };
  now: Date;
  /** The campaign's channels (default: email). */
  channels?: ChannelChoice;
}

/**
 * launch: starts the campaign's run and materialises its whole audience, in
 * the caller's transaction. Returns the number of rows added, or undefined
 * when the run had already started (so a second launch adds nobody who
 * joined the segment since).
 *
 * One INSERT … SELECT over classifiedSql (the single definition of who
 * receives a campaign): recipients become queued (or, in an A/B test, queued
 * with their variant when in the test group, else waiting), the control
 * group `control`, and customers who cannot be written to `suppressed` with
 * the reason (an erased person's without their address). A second statement does the same for the lists' contacts who
 * are not customers. The run row inserted first makes launching once per
 * campaign: a second launch, even a concurrent one, stops there. The
 * customers' INSERT has no ON CONFLICT: classifiedSql yields each customer
 * once, and speculative insertion cost ~25% of a million-row launch; a
 * duplicate would fail the launch loudly rather than be dropped. Contacts
 * may sit in several lists, so theirs keeps it.
 */
/** The address a row records: none for an erased person, whom the shop (or a list) may still name. */
const address = unlessErased('r.reason', 'r.email');

export async function launch(db: Queryable, i: LaunchInput): Promise<number | undefined> {
  if (!(await startRun(db, { kind: 'campaign', name: i.campaign }, i.now))) return undefined;

  const c = classifiedSql(i.schema, i.audience, i.sites, i.split.control, i.channels);
  const values = [...c.values];
  const param = (v: unknown) => {
    values.push(v);
    return `$${values.length}`;
  };
  const ab = abColumns(i.split, i.campaign, 'r.customer_id::text', param);
  const [customers] = await db.query<{ n: number }>(
    `WITH inserted AS (
       INSERT INTO herald.messages (source_kind, source, channel, customer_id, address, site, locale, status, variant, reason, next_attempt_at, due_at, source_version, template_version)
       SELECT 'campaign', ${param(i.campaign)}, r.channel, r.customer_id, ${address}, r.site, r.locale,
              CASE r.bucket WHEN 'recipients' THEN ${ab.status} WHEN 'control_group' THEN 'control' ELSE 'suppressed' END,
              CASE r.bucket WHEN 'recipients' THEN ${ab.variant} END,
              CASE WHEN r.bucket <> 'recipients' THEN r.reason END,
              ${param(i.now)}::timestamptz, ${param(i.now)}::timestamptz, ${param(i.versions.campaign)}::int, ${param(i.versions.template)}::int
         -- OFFSET 0 keeps the classification a subquery of its own: flattened,
         -- its bucket (an address regex, suppression lookups, an md5) would
         -- be computed again for the status, the variant and the reason.
         FROM (${c.text} OFFSET 0) AS r
       RETURNING 1)
     SELECT count(*)::int AS n FROM inserted`,
    values,
  );
  let added = customers!.n;
  if (i.lists.length > 0 && withContacts(i.channels)) {
    const kValues: unknown[] = [];
    const kParam = (v: unknown) => {
      kValues.push(v);
      return `$${kValues.length}`;
    };
    const inner = classifiedContactsSql(i.lists, i.sites, kValues, i.split.control);
    const kab = abColumns(i.split, i.campaign, "'k' || r.customer_id::text", kParam);
    const [contacts] = await db.query<{ n: number }>(
      `WITH inserted AS (
         INSERT INTO herald.messages (source_kind, source, contact_id, address, site, locale, status, variant, reason, next_attempt_at, due_at, source_version, template_version)
         SELECT 'campaign', ${kParam(i.campaign)}, r.customer_id, ${address}, r.site, r.locale,
                CASE r.bucket WHEN 'recipients' THEN ${kab.status} WHEN 'control_group' THEN 'control' ELSE 'suppressed' END,
                CASE r.bucket WHEN 'recipients' THEN ${kab.variant} END,
                CASE WHEN r.bucket <> 'recipients' THEN r.reason END,
                ${kParam(i.now)}::timestamptz, ${kParam(i.now)}::timestamptz, ${kParam(i.versions.campaign)}::int, ${kParam(i.versions.template)}::int
           FROM (${inner} OFFSET 0) AS r
         ON CONFLICT (source_kind, source, channel, contact_id, occurrence) WHERE contact_id IS NOT NULL DO NOTHING
         RETURNING 1)
       SELECT count(*)::int AS n FROM inserted`,
      kValues,
    );
    added += contacts!.n;
  }
  return added;
}

