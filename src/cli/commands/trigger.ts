import { UserError, printable } from '../../errors.js';
import { backtestTrigger, type Backtest, type BacktestTotals } from '../../triggers/backtest.js';
import { duration, parseNow } from '../options.js';
import { print, printJson, validWorkspace, withDb, type GlobalOptions } from '../context.js';

export interface BacktestOptions extends GlobalOptions {
  from: string;
  to: string;
  every: string;
  json?: boolean;
}

/**
 * `herald trigger backtest <name> --from D --to D [--every 1h]`: the
 * workspace's trigger (the working copy, as `herald audience` reads it)
 * replayed over history against the shop's data; writes nothing.
 */
export async function backtest([name]: string[], opts: BacktestOptions): Promise<void> {
  const from = parseNow(opts.from, '--from');
  const to = parseNow(opts.to, '--to');
  if (from >= to) throw new UserError(`--from ${opts.from} is not before --to ${opts.to}`, 'give the start of the replay first, for example --from 2026-11-01 --to 2026-11-08');
  const everyMs = duration(opts.every, '--every');
  const ws = await validWorkspace(opts);
  const trigger = ws.triggers.get(name!);
  if (!trigger) throw new UserError(`trigger "${name}" is not in the workspace`, `check triggers/${name}.yaml (a backtest reads the working copy)`);
  const segments = new Map([...ws.segments].map(([n, e]) => [n, e.spec]));
  const b = await withDb(opts, (db) =>
    backtestTrigger(db, { name: name!, spec: trigger.spec, project: ws.project.spec, segments, from, to, everyMs }, opts.every),
  );
  if (opts.json) printJson(b);
  else print(backtestText(b));
}

const COLUMNS: (keyof BacktestTotals)[] = ['occurrences', 'fired', 'capped', 'deferred', 'left_out', 'skipped_by_horizon', 'skipped_by_once'];

function backtestText(b: Backtest): string {
  const rows = [...b.days.map((d) => [d.day, ...COLUMNS.map((k) => String(d[k]))]), ['total', ...COLUMNS.map((k) => String(b.totals[k]))]];
  const header = ['day', ...COLUMNS];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `  ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')}`;
  return [
    `Backtest of trigger ${printable(b.trigger)} from ${b.from} to ${b.to}, a tick every ${printable(b.every)}: nothing was written.`,
    `Taken as enabled at --from: what became due before ${b.horizon} (the back-fill horizon) is skipped.`,
    '',
    line(header),
    ...rows.map(line),
    '',
    'Fired: queued at the tick and sent then or later (deferred ones included). Left out: the customer cannot be written to.',
    '',
    'What it cannot rebuild:',
    ...b.cannot_rebuild.map((s) => `  - ${s}`),
    '',
    'Where it approximates:',
    ...b.approximations.map((s) => `  - ${s}`),
  ].join('\n');
}
