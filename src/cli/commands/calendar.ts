import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { dayStart, defaultRange, utcDay, DAY_MS } from '../../calendar/calendar.js';
import { readCalendar } from '../../calendar/facts.js';
import { writeCalendar } from '../../calendar/write.js';
import { UserError, printable } from '../../errors.js';
import { desiredObjects } from '../../state/objects.js';
import { parseNow } from '../options.js';
import { print, printJson, validWorkspace, withDb, workspaceDir, type GlobalOptions } from '../context.js';

export interface CalendarCommandOptions extends GlobalOptions {
  from?: string;
  to?: string;
  now?: string;
  json?: boolean;
}

/** A calendar longer than this is not a calendar a team reads. */
const MAX_DAYS = 366;

/**
 * `herald calendar [--from D] [--to D] [--now T] [--json]`: sent and
 * scheduled campaigns by UTC day, triggers' expected volumes and frequency
 * cap warnings, written to reports/calendar.md and reports/calendar.ics.
 * The workspace, when --dir has one, is laid over the deployed state.
 */
export default async function calendar(_: string[], opts: CalendarCommandOptions): Promise<void> {
  const now = opts.now === undefined ? new Date() : parseNow(opts.now);
  const range = defaultRange(now);
  const from = opts.from === undefined ? range.from : utcDay(parseNow(opts.from, '--from'));
  const to = opts.to === undefined ? range.to : utcDay(parseNow(opts.to, '--to'));
  if (from > to) throw new UserError(`--from ${from} is after --to ${to}`, 'give the first day first, for example --from 2026-12-01 --to 2026-12-31');
  if ((dayStart(to).getTime() - dayStart(from).getTime()) / DAY_MS + 1 > MAX_DAYS) {
    throw new UserError(`from ${from} to ${to} is more than ${MAX_DAYS} days`, 'write a calendar of a year at most, for example --from 2026-12-01 --to 2027-02-28');
  }
  const dir = workspaceDir(opts);
  const ws = existsSync(join(dir, 'herald.yaml')) ? await validWorkspace(opts) : undefined;
  const c = await withDb(opts, (db) => readCalendar(db, { now, from, to, ...(ws ? { desired: desiredObjects(ws) } : {}) }));
  const files = writeCalendar(dir, c);
  if (opts.json) return printJson(c);
  const entries = c.days.flatMap((d) => d.entries);
  const sends = entries.filter((e) => e.kind === 'campaign' && e.what === 'sent').length;
  const scheduled = entries.filter((e) => e.what === 'scheduled').length;
  print(`Calendar from ${c.from} to ${c.to} (UTC days): ${sends} campaign send${sends === 1 ? '' : 's'}, ${scheduled} scheduled, ${c.triggers.length} active trigger${c.triggers.length === 1 ? '' : 's'}.`);
  for (const w of c.warnings) print(printable(w.text));
  print(`Wrote ${files.map((f) => f.slice(dir.length + 1)).join(' and ')}.`);
}
