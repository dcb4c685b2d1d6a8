import { measureNow, workspaceQuery, type Breakdown, type Samples } from '../../audience/breakdown.js';
import { BUCKETS } from '../../audience/recipients.js';
import { UserError, printable } from '../../errors.js';
import { parseNow } from '../options.js';
import { print, printJson, validWorkspace, withDb, type GlobalOptions } from '../context.js';

export interface AudienceOptions extends GlobalOptions {
  json?: boolean;
  sample?: string;
  now?: string;
}

/**
 * `herald audience <segment|campaign>`: the mailing-volume breakdown of the
 * workspace's segment or campaign against the shop's data now, as plan
 * measures it. It reads the working copy, not what is deployed, and writes
 * nothing.
 */
export default async function audience([ref]: string[], opts: AudienceOptions): Promise<void> {
  const now = opts.now === undefined ? new Date() : parseNow(opts.now);
  const sample = opts.sample === undefined ? 0 : parseSample(opts.sample);
  const ws = await validWorkspace(opts);
  const q = workspaceQuery(ws, ref!, now);
  // Like plan: the shop checked first, then one read-only look, rolled back; sql: conditions run confined.
  const result = await withDb(opts, (db) => measureNow(db, q, sample));
  const sites = Object.keys(q.sites);
  if (opts.json) {
    return printJson({
      object: q.object,
      sites,
      now: now.toISOString(),
      ...(q.control ? { control_group_percent: q.control.percent } : {}),
      breakdown: result.breakdown,
      ...(result.samples ? { samples: result.samples } : {}),
    });
  }
  print(`${printable(q.object)} on ${sites.map((s) => printable(s)).join(', ')} at ${now.toISOString()}${q.control ? `, holding out ${q.control.percent}%` : ''}`);
  print(formatBreakdown(result.breakdown));
  if (result.samples) print(formatSamples(result.samples));
}

const LABELS: Record<Exclude<keyof Breakdown, 'by_channel'>, string> = {
  in_segment: 'in segment',
  address_problems: 'address problems',
  no_subscription: 'no subscription',
  control_group: 'control group',
  recipients: 'recipients',
};

function formatBreakdown(b: Breakdown): string {
  const width = String(b.in_segment).length;
  const share = (n: number) => (b.in_segment ? `  ${((100 * n) / b.in_segment).toFixed(1).padStart(5)}%` : '');
  return [
    `  ${LABELS.in_segment.padEnd(17)} ${String(b.in_segment).padStart(width)}`,
    ...BUCKETS.map((k) => `  ${LABELS[k].padEnd(17)} ${String(b[k]).padStart(width)}${share(b[k])}`),
    ...Object.entries(b.by_channel ?? {}).map(([ch, n]) => `    ${`on ${printable(ch)}`.padEnd(15)} ${String(n).padStart(width)}`),
  ].join('\n');
}

function formatSamples(samples: Samples): string {
  const lines: string[] = [];
  for (const bucket of BUCKETS) {
    const rows = samples[bucket];
    if (!rows.length) continue;
    lines.push('', `${LABELS[bucket]}, for example:`);
    // Shop data: an address may hold a CR LF or an escape sequence, printed escaped.
    const shown = rows.map((r) => ({ id: String(r.id), email: r.email === null ? '(none)' : printable(r.email), site: printable(String(r.site)), locale: printable(String(r.locale)), reason: printable(String(r.reason)) }));
    const idWidth = Math.max(...shown.map((r) => r.id.length));
    const emailWidth = Math.max(...shown.map((r) => r.email.length));
    for (const r of shown) lines.push(`  ${r.id.padStart(idWidth)}  ${r.email.padEnd(emailWidth)}  ${r.site}  ${r.locale}  ${r.reason}`);
  }
  return lines.join('\n');
}

function parseSample(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1) throw new UserError(`--sample "${text}" is not a positive whole number`, 'for example --sample 5');
  return n;
}
