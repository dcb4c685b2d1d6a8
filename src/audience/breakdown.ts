import type { Db, Queryable } from '../db/db.js';
import { UserError } from '../errors.js';
import { requireShop } from '../shop/check.js';
import { didYouMean } from '../workspace/checks/semantic-conditions.js';
import { campaignSites, cancelledStatuses, openStatuses, sourceSchema, type Campaign, type Condition, type Project, type Segment, type Workspace } from '../workspace/model.js';
import { audienceCondition } from './audience.js';
import { channelChoice, isEmailOnly, withContacts, type ChannelChoice } from './channels.js';
import { compileSegment, type CompiledSql } from './compile.js';
import { BUCKETS, classifiedContactsSql, classifiedSql, type Bucket, type ControlGroup, type SiteLocales } from './recipients.js';
import { evaluateSqlConditions, readOnly, sqlSandbox, withSqlSession, type SqlSandbox } from './sql-sandbox.js';

/**
 * The mailing-volume breakdown: of everyone a segment or campaign selects,
 * how many cannot be written to (and why), how many are held out, and how
 * many receive it. Each customer counts once, under the first reason in
 * BUCKETS' order; `in_segment` is the sum of the four.
 */
export interface Breakdown {
  in_segment: number;
  address_problems: number;
  no_subscription: number;
  control_group: number;
  recipients: number;
  /** For a campaign on more channels than email: its recipients per channel. */
  by_channel?: Record<string, number>;
}

/** An example customer of a bucket, with the values that put it there. */
export interface SampleCustomer {
  id: number;
  email: string | null;
  site: string;
  locale: string;
  reason: string;
}

export type Samples = Record<Bucket, SampleCustomer[]>;

/** What to measure: a compiled audience, the sites it is drawn from, and a control group if any. */
export interface AudienceQuery {
  /** `segment/<name>` or `campaign/<name>`. */
  object: string;
  schema: string;
  audience: CompiledSql;
  sites: SiteLocales;
  control?: ControlGroup;
  /** A campaign's lists: their contacts who are not customers count too. */
  lists?: string[];
  /** How the audience's sql: conditions run. */
  sandbox: SqlSandbox;
  /** A campaign's channels and how it picks among them (default: email). */
  channels?: ChannelChoice;
}

/**
 * breakdownSql: the breakdown in one statement. classifiedSql puts every
 * audience member in its bucket (a CASE, first reason wins); one GROUP BY
 * counts each bucket, evaluating the CASE once per customer (a
 * count(*) FILTER per bucket straight over the CTE would evaluate it once
 * per FILTER), and the outer SELECT turns the four groups into one row.
 *
 * With `sample` > 0 a window numbers each bucket's members by id, and the
 * same GROUP BY collects the first `sample` of each as JSON: examples cost
 * no second round trip. Without it there is no window (a sort of the whole
 * audience) at all.
 */
export function breakdownSql(q: AudienceQuery, sample = 0): CompiledSql {
  const c = classifiedSql(q.schema, q.audience, q.sites, q.control, q.channels);
  const values = [...c.values];
  if (q.lists?.length && withContacts(q.channels)) c.text = `${c.text}\n          UNION ALL\n          ${classifiedContactsSql(q.lists, q.sites, values, q.control)}`;
  const counts = [
    'coalesce(sum(n), 0)::int AS in_segment',
    ...BUCKETS.map((b) => `coalesce(sum(n) FILTER (WHERE bucket = '${b}'), 0)::int AS ${b}`),
  ].join(',\n            ');
  // Recipients per channel, for a campaign that sends on more than email.
  const perChannel = isEmailOnly(q.channels)
    ? ''
    : `,\n            (SELECT jsonb_object_agg(channel, n) FROM (SELECT channel, count(*)::int AS n FROM classified WHERE bucket = 'recipients' GROUP BY channel) x) AS by_channel`;
  if (sample <= 0) {
    return {
      text: `WITH classified AS (${c.text}),
          buckets AS (SELECT bucket, count(*) AS n FROM classified GROUP BY bucket)
     SELECT ${counts}${perChannel}
       FROM buckets`,
      values,
    };
  }
  values.push(sample);
  return {
    text: `WITH classified AS (${c.text}),
          numbered AS (SELECT k.*, row_number() OVER (PARTITION BY k.bucket ORDER BY k.customer_id) AS rank FROM classified k),
          buckets AS (
            SELECT bucket, count(*) AS n,
                   jsonb_agg(jsonb_build_object('id', customer_id, 'email', email, 'site', site, 'locale', customer_locale, 'reason', reason)
                             ORDER BY customer_id) FILTER (WHERE rank <= $${values.length}) AS samples
              FROM numbered GROUP BY bucket)
     SELECT ${counts}${perChannel},
            coalesce(jsonb_object_agg(bucket, samples), '{}'::jsonb) AS samples
       FROM buckets`,
    values,
  };
}

/**
 * measureBreakdown: evaluates the audience's sql: conditions (sql-sandbox.ts;
 * `db` is a transaction of a session that holds the results table, and
 * becomes READ ONLY), then runs breakdownSql; samples only when asked for.
 */
export async function measureBreakdown(db: Queryable, q: AudienceQuery, sample = 0): Promise<{ breakdown: Breakdown; samples?: Samples }> {
  await evaluateSqlConditions(db, q.audience.sqlConditions ?? [], q.sandbox);
  const sql = breakdownSql(q, sample);
  const [row] = await db.query<Breakdown & { samples?: Partial<Samples> }>(sql.text, sql.values);
  const { samples, ...counts } = row!;
  const breakdown: Breakdown = {
    in_segment: counts.in_segment,
    address_problems: counts.address_problems,
    no_subscription: counts.no_subscription,
    control_group: counts.control_group,
    recipients: counts.recipients,
    // jsonb orders keys by length: shown by name instead, the same every time.
    ...(counts.by_channel !== undefined ? { by_channel: Object.fromEntries(Object.entries(counts.by_channel ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) } : {}),
  };
  if (sample <= 0) return { breakdown };
  // A bucket nobody is in has no group, so no samples entry.
  const sampleOf = (r: SampleCustomer): SampleCustomer => ({ id: Number(r.id), email: r.email, site: r.site, locale: r.locale, reason: r.reason });
  return { breakdown, samples: Object.fromEntries(BUCKETS.map((b) => [b, (samples?.[b] ?? []).map(sampleOf)])) as Samples };
}

/**
 * The breakdown as `herald audience` measures it: the shop checked against
 * the contract first, then one READ ONLY look at it, rolled back at the end.
 * `timeout` bounds herald's own statements; sql: conditions have their own.
 */
export async function measureNow(db: Db, q: AudienceQuery, sample = 0, timeout = '60s'): Promise<{ breakdown: Breakdown; samples?: Samples }> {
  await requireShop(db, { ...q.sandbox, ...(q.channels ? { channels: q.channels.channels } : {}) });
  return withSqlSession(db, q.sandbox, !!q.audience.sqlConditions?.length, (s) => readOnly(s, timeout, (tx) => measureBreakdown(tx, q, sample)));
}

/** What compiling a workspace audience needs: the project, every segment, and `now`. */
export interface AudienceContext {
  project: Project;
  segments: ReadonlyMap<string, Segment>;
  now: Date;
}

function compile(where: Condition, ctx: AudienceContext): CompiledSql {
  const p = ctx.project;
  return compileSegment(where, { schema: sourceSchema(p), segments: ctx.segments, cancelled: cancelledStatuses(p), open: openStatuses(p), timezone: p.defaults?.timezone }, ctx.now);
}

function siteLocales(p: Project, ids: readonly string[]): SiteLocales {
  return Object.fromEntries(
    p.sites.filter((s) => ids.includes(s.id)).map((s) => [s.id, { locales: s.locales, default: s.default_locale }]),
  );
}

/** A segment's audience, over every site of the workspace. */
export function segmentQuery(name: string, ctx: AudienceContext): AudienceQuery {
  if (!ctx.segments.has(name)) throw new UserError(`unknown segment "${name}"`);
  return {
    object: `segment/${name}`,
    schema: sourceSchema(ctx.project),
    sandbox: sqlSandbox(ctx.project),
    audience: compile({ segment: name }, ctx),
    sites: siteLocales(ctx.project, ctx.project.sites.map((s) => s.id)),
  };
}

/** A campaign's audience on its sites, as send would draw it, with its control group. */
export function campaignQuery(name: string, campaign: Campaign, ctx: AudienceContext): AudienceQuery {
  const percent = campaign.control_group === undefined ? 0 : Number(campaign.control_group.slice(0, -1));
  return {
    object: `campaign/${name}`,
    schema: sourceSchema(ctx.project),
    sandbox: sqlSandbox(ctx.project),
    audience: compile(audienceCondition(campaign.audience), ctx),
    sites: siteLocales(ctx.project, campaignSites(campaign)),
    ...(percent > 0 ? { control: { campaign: name, percent } } : {}),
    ...(campaign.channels && !isEmailOnly(channelChoice(campaign)) ? { channels: channelChoice(campaign) } : {}),
    ...(campaign.audience.list || campaign.audience.lists ? { lists: [...(campaign.audience.list ? [campaign.audience.list] : []), ...(campaign.audience.lists ?? [])] } : {}),
  };
}

/**
 * The audience `ref` names in the workspace: `segment/<name>`,
 * `campaign/<name>`, or a bare name that is one of the two (a name that is
 * both has to say which).
 */
export function workspaceQuery(ws: Workspace, ref: string, now: Date): AudienceQuery {
  const ctx: AudienceContext = { project: ws.project.spec, segments: new Map([...ws.segments].map(([n, e]) => [n, e.spec])), now };
  const m = /^(segment|campaign)\/(.+)$/.exec(ref);
  const kind = m?.[1];
  const name = m?.[2] ?? ref;
  const segment = kind !== 'campaign' && ws.segments.has(name);
  const campaign = kind !== 'segment' ? ws.campaigns.get(name) : undefined;
  if (segment && campaign) {
    throw new UserError(`"${name}" is both a segment and a campaign`, `say which: segment/${name} or campaign/${name}`);
  }
  if (campaign) return campaignQuery(name, campaign.spec, ctx);
  if (segment) return segmentQuery(name, ctx);
  const known = [...(kind !== 'campaign' ? ws.segments.keys() : []), ...(kind !== 'segment' ? ws.campaigns.keys() : [])];
  throw new UserError(`no ${kind ?? 'segment or campaign'} named "${name}" in the workspace`, didYouMean(name, [...new Set(known)].sort(), kind ? `${kind}s` : 'segments and campaigns'));
}
