import type { SourceKind } from '../ledger/source.js';
import type { Campaign } from '../workspace/model.js';
import type { CampaignRun, OverlapCampaign, OverlapRow, SentDay } from './queries.js';
import type { ScheduledSend } from './view.js';
import { durationMs } from '../audience/duration.js';
import { printable } from '../errors.js';
import { mdCell } from '../report/reasons.js';
import { figure } from '../report/svg.js';

/**
 * The calendar, built from plain facts (facts.ts reads them): sent and
 * scheduled campaigns by day, the messages triggers are expected to send,
 * and warnings where scheduled campaigns would put customers over the
 * frequency cap. Pure: the same facts give the same calendar, byte for byte
 * once written (markdown.ts, ics.ts).
 *
 * Days are UTC days and times UTC: the trigger backtest counts by UTC day,
 * and a calendar must not change with the machine that writes it, nor
 * split a day differently for sites in different zones.
 */

/** One thing on a day. */
export interface Entry {
  /**
   * sent: messages the ledger sent that day; launched: a campaign's audience
   * drawn; scheduled: a campaign that launches at its time; winner: an A/B
   * test's winner sent to the rest (due, or to come); decided: the winner
   * chosen; expected: a trigger's messages per day, from its backtest.
   */
  what: 'sent' | 'launched' | 'scheduled' | 'winner' | 'decided' | 'expected';
  kind: SourceKind;
  name: string;
  /** A campaign's title. */
  title?: string;
  /** ISO time; the first message for `sent`; null for `expected`. */
  at: string | null;
  /** The last message, for `sent`. */
  until?: string;
  /** Messages: sent, recipients, waiting for the winner, or expected; null when not known. */
  messages: number | null;
  /** Not yet applied: from the workspace. */
  pending?: boolean;
  /** A scheduled campaign held by a pause: it launches only when resumed. */
  paused?: boolean;
  notes: string[];
}

export interface CalendarDay {
  /** YYYY-MM-DD */
  day: string;
  entries: Entry[];
}

/** A trigger's expected messages per day, from a backtest of the days before `now`. */
export interface ExpectedVolume {
  trigger: string;
  pending: boolean;
  /** The backtest's fired messages divided by its days; null when it cannot be backtested. */
  per_day: number | null;
  fired: number | null;
  days: number;
  /** The backtest's window (ISO). */
  from: string;
  to: string;
  note?: string;
}

/** Customers a window of scheduled campaigns would put over the cap. */
export interface CapWarning {
  /** The window's last campaign: the message the cap skips (or defers). */
  campaign: string;
  /** The window's campaigns, in launch order. */
  campaigns: string[];
  /** The days of its first and last campaign. */
  from: string;
  to: string;
  customers: number;
  /** The fewest and most messages one of them would get in the window. */
  fewest: number;
  most: number;
  /** Of them, those the ledger had already sent something in the window. */
  sent_before: number;
  cap: { max: number; per: string; when_capped: 'skip' | 'defer' };
  text: string;
}

export interface Calendar {
  /** YYYY-MM-DD, both included. */
  from: string;
  to: string;
  now: string;
  time_zone: 'UTC';
  /** The newest fact the calendar is built from (the last apply, a send, a launch, a decision): the .ics DTSTAMP. */
  stamp: string;
  warnings: CapWarning[];
  /** Every day of the range, each with its entries (none on a quiet day). */
  days: CalendarDay[];
  triggers: ExpectedVolume[];
}

export interface CalendarFacts {
  now: Date;
  from: string;
  to: string;
  sent: readonly SentDay[];
  runs: readonly CampaignRun[];
  scheduled: readonly ScheduledSend[];
  /** Recipients of each ready scheduled campaign, as its audience is now. */
  audiences: ReadonlyMap<string, number>;
  warnings: readonly CapWarning[];
  /** Titles of the campaigns in view; deployed specs of launched ones (their A/B timing). */
  campaigns: ReadonlyMap<string, Campaign>;
  expected: readonly ExpectedVolume[];
  lastApply: Date | null;
}

export const DAY_MS = 86_400_000;
export const utcDay = (d: Date): string => d.toISOString().slice(0, 10);
export const dayStart = (day: string): Date => new Date(`${day}T00:00:00Z`);

/** The default calendar around today: a week back, four weeks ahead, in UTC days. */
export const BACK_DAYS = 7;
export const AHEAD_DAYS = 28;

export function defaultRange(now: Date): { from: string; to: string } {
  const today = dayStart(utcDay(now)).getTime();
  return { from: utcDay(new Date(today - BACK_DAYS * DAY_MS)), to: utcDay(new Date(today + AHEAD_DAYS * DAY_MS)) };
}

/** Every day from `from` to `to`, both included. */
export function daysOf(from: string, to: string): string[] {
  const out: string[] = [];
  for (let t = dayStart(from).getTime(); t <= dayStart(to).getTime(); t += DAY_MS) out.push(utcDay(new Date(t)));
  return out;
}

/** buildCalendar: the facts placed on their days, in a fixed order. */
export function buildCalendar(f: CalendarFacts): Calendar {
  const days = new Map(daysOf(f.from, f.to).map((day) => [day, [] as Entry[]]));
  /** Places the entry on its day; false when the day is outside the range. */
  const add = (at: Date, e: Entry): boolean => !!days.get(utcDay(at))?.push(e);
  const times: number[] = f.lastApply ? [f.lastApply.getTime()] : [];
  const title = (name: string) => f.campaigns.get(name)?.title;

  for (const s of f.sent) {
    add(s.first_at, { what: 'sent', kind: s.kind, name: s.name, ...(s.kind === 'campaign' && title(s.name) ? { title: title(s.name)! } : {}), at: s.first_at.toISOString(), until: s.last_at.toISOString(), messages: s.messages, notes: [] });
    times.push(s.last_at.getTime());
  }
  for (const r of f.runs) launchEntries(r, f.campaigns.get(r.name), add, times);
  for (const s of f.scheduled) scheduledEntries(s, f.audiences.get(s.campaign) ?? null, add);

  const today = utcDay(f.now);
  for (const t of f.expected) {
    if (t.per_day === null) continue;
    for (const [day, entries] of days) {
      if (day >= today) entries.push({ what: 'expected', kind: 'trigger', name: t.trigger, at: null, messages: t.per_day, ...(t.pending ? { pending: true } : {}), notes: [] });
    }
  }
  return {
    from: f.from,
    to: f.to,
    now: f.now.toISOString(),
    time_zone: 'UTC',
    stamp: new Date(times.length ? Math.max(...times) : dayStart(f.from).getTime()).toISOString(),
    warnings: [...f.warnings],
    days: [...days].map(([day, entries]) => ({ day, entries: entries.sort(byTime) })),
    triggers: [...f.expected],
  };
}

/** A launched campaign: its launch, and its A/B winner, decided or due. */
function launchEntries(r: CampaignRun, spec: Campaign | undefined, add: (at: Date, e: Entry) => boolean, times: number[]): void {
  const base = { kind: 'campaign' as const, name: r.name, ...(spec?.title ? { title: spec.title } : {}) };
  const ab = spec?.ab_test;
  if (r.recipients !== null) {
    const notes = [r.phase === 'completed' ? 'completed' : 'sending'];
    if (ab) notes.push(`A/B test: ${ab.test_size} first, the winner to the rest after ${ab.winner.after}`);
    if (add(r.launched_at, { ...base, what: 'launched', at: r.launched_at.toISOString(), messages: r.recipients, notes })) times.push(r.launched_at.getTime());
  }
  if (r.decided_at) {
    const decided = { ...base, what: 'decided' as const, at: r.decided_at.toISOString(), messages: null, notes: [`A/B winner decided: ${r.winner}; the rest of the audience gets it`] };
    if (add(r.decided_at, decided)) times.push(r.decided_at.getTime());
  } else if (ab && r.phase === 'sending' && r.waiting) {
    const at = new Date(r.launched_at.getTime() + durationMs(ab.winner.after));
    add(at, { ...base, what: 'winner', at: at.toISOString(), messages: r.waiting, notes: [`A/B winner due (by ${ab.winner.metric}, else ${ab.winner.fallback}): sent to those waiting`] });
  }
}

/** A campaign that has not launched: its launch, and its A/B winner's send. */
function scheduledEntries(s: ScheduledSend, audience: number | null, add: (at: Date, e: Entry) => boolean): void {
  const base = { kind: 'campaign' as const, name: s.campaign, title: s.title, ...(s.pending ? { pending: true } : {}), ...(s.status === 'paused' ? { paused: true } : {}) };
  const notes: string[] = [];
  if (s.status === 'paused') notes.push('paused: launches only when resumed');
  if (s.due) notes.push(`due: scheduled for ${s.scheduled}, launches at the next tick`);
  const ab = s.spec.ab_test;
  if (ab) notes.push(`A/B test: ${ab.test_size} first, the winner to the rest ${s.winnerAt ? `at ${s.winnerAt.toISOString()}` : `${ab.winner.after} after launch`}`);
  if (s.status === 'ready') notes.push('recipients: its audience as it is now');
  // A due campaign launches at the next tick, whose time is not known: it has a day, not a time.
  add(s.at, { ...base, what: 'scheduled', at: s.due ? null : s.at.toISOString(), messages: s.status === 'ready' ? audience : null, notes });
  if (ab && s.winnerAt) {
    add(s.winnerAt, { ...base, what: 'winner', at: s.winnerAt.toISOString(), messages: null, notes: [`A/B winner send (by ${ab.winner.metric}, else ${ab.winner.fallback}), ${ab.winner.after} after launch`] });
  }
}

const WHAT_ORDER: Entry['what'][] = ['sent', 'launched', 'scheduled', 'decided', 'winner', 'expected'];

/** By time (expected last), then what, kind and name: code-unit order, never the machine's locale. */
function byTime(a: Entry, b: Entry): number {
  const ta = a.at ?? '~';
  const tb = b.at ?? '~';
  if (ta !== tb) return ta < tb ? -1 : 1;
  const w = WHAT_ORDER.indexOf(a.what) - WHAT_ORDER.indexOf(b.what);
  if (w) return w;
  if (a.kind !== b.kind) return a.kind < b.kind ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * capWarnings: the overlap statement's windows as warnings. A window's
 * campaigns are those launched in the `per` up to its anchor, which is the
 * message the claim skips (or defers) for the customers over the cap.
 */
export function capWarnings(campaigns: readonly OverlapCampaign[], rows: readonly OverlapRow[]): CapWarning[] {
  const out: CapWarning[] = [];
  for (const r of rows) {
    if (r.row !== 'window' || r.customers === 0) continue;
    const anchor = campaigns[r.k]!;
    const cap = anchor.cap!;
    const start = anchor.at.getTime() - cap.perSeconds * 1000;
    const members = campaigns.filter((c) => c.at.getTime() > start && c.at.getTime() <= anchor.at.getTime());
    const w = {
      campaign: anchor.name,
      campaigns: members.map((c) => c.name),
      from: utcDay(members[0]!.at),
      to: utcDay(anchor.at),
      customers: r.customers,
      fewest: r.fewest!,
      most: r.most!,
      sent_before: r.sent_before!,
      cap: { max: cap.max, per: spanText(cap.perSeconds), when_capped: cap.whenCapped },
    };
    out.push({ ...w, text: warningText(w) });
  }
  return out;
}

/** The warning in words, e.g. "1,204 customers would get 4 messages between … over the cap of 3 per 7d: a, b, c, d; …". */
function warningText(w: Omit<CapWarning, 'text'>): string {
  const messages = w.fewest === w.most ? `${w.most} messages` : `${w.fewest} to ${w.most} messages`;
  const span = w.from === w.to ? `on ${w.from}` : `between ${w.from} and ${w.to}`;
  const before = w.sent_before ? ` (counting what the ledger already sent ${figure(w.sent_before)} of them in that window)` : '';
  const effect = w.cap.when_capped === 'skip' ? `${w.campaign} is skipped for them` : `${w.campaign} is put off for them until the window allows it`;
  return (
    `warning: ${figure(w.customers)} customer${w.customers === 1 ? '' : 's'} would get ${messages} ${span}, over the cap of ${w.cap.max} per ${w.cap.per}: ` +
    `${w.campaigns.join(', ')}${before}. The claim enforces the cap: ${effect}.`
  );
}


/** 604800 → 7d, 7200 → 2h. */
export function spanText(seconds: number): string {
  for (const [unit, n] of [['d', 86_400], ['h', 3_600], ['m', 60]] as const) if (seconds % n === 0) return `${seconds / n}${unit}`;
  return `${seconds}s`;
}

/**
 * calendarMarkdown: reports/calendar.md. Warnings first, then one table
 * row per entry by day (a day's expected trigger messages in one row), then
 * the triggers' estimates. Every name, title and note is shop or workspace
 * text, escaped (mdCell); nothing depends on when it was written.
 */
export function calendarMarkdown(c: Calendar): string {
  const lines = [
    `# Calendar: ${c.from} to ${c.to}`,
    '',
    'Sent and scheduled campaigns by day, and the messages triggers are expected to send. Days and times are UTC. Written by `herald calendar` from the deployed state, the ledger and the workspace (what is *not yet applied* says so); `calendar.ics` beside it holds the campaign sends as events.',
    '',
    '## Warnings',
    '',
    ...(c.warnings.length
      ? c.warnings.map((w) => `- ${cell(w.text)}`)
      : ['No customer would get more than the frequency cap from the scheduled campaigns.']),
    '',
    'Checked: the audiences of the ready scheduled campaigns as they are now, and what the ledger already sent; the messages triggers will send are not counted.',
    '',
    '## By day',
    '',
  ];
  const rows = c.days.flatMap((d) => dayRows(d));
  if (rows.length) lines.push('| Day | Time (UTC) | What | Campaign or trigger | Messages | Notes |', '|---|---|---|---|---:|---|', ...rows);
  else lines.push(`Nothing was sent or is scheduled from ${c.from} to ${c.to}.`);
  lines.push('', '## Triggers: expected per day', '');
  if (!c.triggers.length) lines.push('No trigger is active.');
  else {
    const t0 = c.triggers[0]!;
    lines.push(
      `A backtest of each active trigger over the ${t0.days} days from ${t0.from.slice(0, 10)} to ${t0.to.slice(0, 10)} (a tick every hour, as if it had been running all along, so without its back-fill): the messages it fired, divided by ${t0.days}.`,
      '',
      '| Trigger | Per day | Fired in the backtest | Notes |',
      '|---|---:|---:|---|',
      ...c.triggers.map((t) => `| ${cell(t.trigger)} | ${t.per_day === null ? '–' : t.per_day.toFixed(1)} | ${t.fired === null ? '–' : figure(t.fired)} | ${[...(t.pending ? ['*not yet applied*'] : []), ...(t.note ? [cell(t.note)] : [])].join('; ')} |`),
    );
  }
  return `${lines.join('\n')}\n`;
}

function dayRows(d: CalendarDay): string[] {
  const out: string[] = [];
  const expected = d.entries.filter((e) => e.what === 'expected');
  for (const e of d.entries) {
    if (e.what === 'expected') continue;
    const name = `${e.kind} ${cell(e.name)}${e.title ? `: ${cell(e.title)}` : ''}`;
    const notes = [...(e.pending ? ['*not yet applied*'] : []), ...e.notes.map(cell)].join('; ');
    out.push(`| ${d.day} | ${timeCell(e)} | ${e.what} | ${name} | ${e.messages === null ? '' : figure(e.messages)} | ${notes} |`);
  }
  if (expected.length) {
    const total = expected.reduce((n, e) => n + e.messages!, 0);
    const each = expected.map((e) => `${cell(e.name)}${e.pending ? ' (*not yet applied*)' : ''} ~${e.messages!.toFixed(1)}`).join(', ');
    out.push(`| ${d.day} | | expected | triggers: ${each} | ~${total.toFixed(1)} | from each trigger's backtest |`);
  }
  return out;
}

/** Workspace or shop text in markdown: controls shown as escapes, then never markup, a link or a column break. */
const cell = (s: string) => mdCell(printable(s));

function timeCell(e: Entry): string {
  if (!e.at) return '';
  const hm = (iso: string) => iso.slice(11, 16);
  return e.until && hm(e.until) !== hm(e.at) ? `${hm(e.at)}–${hm(e.until)}` : hm(e.at);
}
