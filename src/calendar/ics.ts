import { createEvents, type EventAttributes } from 'ics';
import { printable } from '../errors.js';
import { figure } from '../report/svg.js';
import { dayStart, utcDay, DAY_MS, type Calendar, type CalendarDay, type Entry } from './calendar.js';

/**
 * reports/calendar.ics: the campaign sends of the calendar as events, for
 * a team's calendar app. One VEVENT per campaign and day it sent on, per
 * scheduled launch and per A/B winner send to come. A scheduled send and
 * the day it is later sent on share one UID (`campaign-<name>-<day>@herald`),
 * so a subscribed calendar updates the event instead of adding a second.
 *
 * Byte-identical for the same data: UIDs come from names and days, DTSTAMP
 * is the calendar's stamp (its newest fact, never now), and every time is
 * given as epoch milliseconds and written in UTC, so the machine's time
 * zone plays no part. The ics package folds lines and escapes text (RFC
 * 5545); control characters are shown as escapes first (printable).
 *
 * A scheduled send's description carries the cap warnings that end at
 * it. Trigger volumes are left out: an all-day event per trigger and day would
 * bury the sends under dozens of daily events; calendar.md has them.
 */

type Event = EventAttributes & { timestamp: number };

const SCHEDULED_MINUTES = 30;

export function calendarIcs(c: Calendar): string {
  const stamp = Date.parse(c.stamp);
  const warnings = new Map<string, string[]>();
  for (const w of c.warnings) warnings.set(w.campaign, [...(warnings.get(w.campaign) ?? []), w.text]);
  const events = c.days.flatMap((d) => d.entries.flatMap((e) => event(d, e, stamp, e.what === 'scheduled' ? (warnings.get(e.name) ?? []) : []) ?? []));
  const { error, value } = createEvents(events, { productId: '-//herald//calendar//EN', calName: `herald: campaigns ${c.from} to ${c.to}` });
  // Every value is built here from checked data: an error is a bug, not bad input.
  if (error || value === null) throw new Error(`calendar.ics: ${error?.message ?? 'no output'}`);
  return value;
}

const FIGURE: Record<string, (n: string) => string> = {
  sent: (n) => `${n} messages sent`,
  scheduled: (n) => `${n} recipients, as its audience is now`,
  winner: (n) => `${n} waiting for the winner`,
};

function event(d: CalendarDay, e: Entry, timestamp: number, warnings: readonly string[]): Event | undefined {
  if (e.kind !== 'campaign' || !['sent', 'scheduled', 'winner'].includes(e.what)) return undefined;
  const name = printable(e.name);
  const title = e.title ? `: ${printable(e.title)}` : '';
  const messages = e.messages === null ? '' : ` (${figure(e.messages)})`;
  const common = {
    uid: `campaign-${encodeURIComponent(e.name)}-${e.what === 'winner' ? 'winner-' : ''}${d.day}@herald`,
    title: `${e.what === 'winner' ? 'A/B winner' : e.what}: ${name}${title}${messages}`,
    description: [
      ...(e.messages === null ? [] : [FIGURE[e.what]!(figure(e.messages))]),
      ...(e.pending ? ['not yet applied (from the workspace)'] : []),
      ...e.notes.filter((n) => !n.startsWith('recipients:')),
      ...warnings,
    ]
      .map((n) => printable(n))
      .join('\n') || e.what,
    categories: ['herald', e.what],
    status: e.pending || e.paused ? ('TENTATIVE' as const) : ('CONFIRMED' as const),
    timestamp,
  };
  if (e.at === null) {
    // Due at the next tick: a day, not a time.
    return { ...common, start: dateArray(d.day), end: dateArray(utcDay(new Date(dayStart(d.day).getTime() + DAY_MS))) };
  }
  const start = Date.parse(e.at);
  const end = e.until && Date.parse(e.until) > start ? Date.parse(e.until) : start + (e.what === 'sent' ? 60_000 : SCHEDULED_MINUTES * 60_000);
  return { ...common, start, end };
}

function dateArray(day: string): [number, number, number] {
  const [y, m, dd] = day.split('-').map(Number) as [number, number, number];
  return [y, m, dd];
}
