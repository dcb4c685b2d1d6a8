import { closest, distance } from 'fastest-levenshtein';
import type { Problem } from '../../errors.js';
import { problemAt, type PathSegment, type YamlSource } from '../source.js';

/**
 * Durations, calendar dates, schedule times, time zones and the sending
 * windows built from them. The schemas check their shape; these check that
 * the values mean something: Feb 30 matches the date pattern, and V8's Date
 * would silently roll it over to March 2.
 */

const UNIT_HOURS = { h: 1, d: 24, w: 168 } as const;

/** Far beyond any sensible window, and well inside PostgreSQL's interval range. */
const MAX_HOURS = 100 * 366 * 24;

/** A duration (`<n>h|d|w`) in hours; undefined when malformed, which the schema already reports. */
export function durationHours(text: string): number | undefined {
  const m = /^(\d+)([hdw])$/.exec(text);
  return m ? Number(m[1]) * UNIT_HOURS[m[2] as keyof typeof UNIT_HOURS] : undefined;
}

/**
 * A duration that must be more than zero. `why` says what a zero would mean,
 * for example "matches no one".
 */
export function positiveDuration(src: YamlSource, path: PathSegment[], text: string, why: string): Problem[] {
  const hours = durationHours(text);
  if (hours === undefined) return [];
  if (hours === 0) {
    return [problemAt(src, path, `${keyName(path)}: ${text} ${why}`, 'duration', { hint: `a duration is more than zero, for example ${String(path.at(-1))}: ${suggestion(path)}` })];
  }
  return tooLong(src, path, text, hours);
}

/** A duration where zero is allowed, still bounded. */
export function boundedDuration(src: YamlSource, path: PathSegment[], text: string): Problem[] {
  const hours = durationHours(text);
  return hours === undefined ? [] : tooLong(src, path, text, hours);
}

function tooLong(src: YamlSource, path: PathSegment[], text: string, hours: number): Problem[] {
  if (hours <= MAX_HOURS) return [];
  return [problemAt(src, path, `${keyName(path)}: ${text} is longer than 100 years`, 'duration', { hint: 'use a shorter duration, or leave the key out for no limit' })];
}

function suggestion(path: PathSegment[]): string {
  const key = String(path.at(-1));
  return key === 'after' ? '4h' : key === 'per' ? '7d' : '30d';
}

function keyName(path: PathSegment[]): string {
  const named = path.filter((p): p is string => typeof p === 'string');
  return named.slice(-2).join('.');
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** Date.UTC, without its reading of years 0–99 as 1900–1999. */
function utc(y: number, mo: number, d: number, h = 0, mi = 0, s = 0): number {
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(h, mi, s, 0);
  return date.getTime();
}

function daysIn(year: number, month: number): number {
  return new Date(utc(year, month + 1, 0)).getUTCDate();
}

/** What is wrong with a date-time's fields, or undefined when they name a real moment. */
function fieldError(y: number, mo: number, d: number, h = 0, mi = 0, s = 0): string | undefined {
  if (mo < 1 || mo > 12) return `there is no month ${mo}`;
  const days = daysIn(y, mo);
  if (d < 1 || d > days) return `${MONTHS[mo - 1]} ${y} has ${days} days`;
  if (h > 23) return `there is no hour ${h}`;
  if (mi > 59) return `there is no minute ${mi}`;
  if (s > 59) return `there is no second ${s}`;
  return undefined;
}

/** Minutes east of UTC for `Z`, `+01:00` or `+0100`; a string when out of range. */
function offsetMinutes(text: string | undefined): number | string {
  if (!text || text === 'Z') return 0;
  const m = /^([+-])(\d{2}):?(\d{2})$/.exec(text)!;
  const hours = Number(m[2]);
  const minutes = Number(m[3]);
  if (hours > 14 || minutes > 59) return `offset ${text} does not exist (offsets run from -12:00 to +14:00)`;
  return (m[1] === '-' ? -1 : 1) * (hours * 60 + minutes);
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/**
 * A date as the schema's `date` pattern writes it (a calendar date, or a date
 * and time with an optional offset), as milliseconds for ordering; a time
 * without an offset is taken as UTC, which is close enough to compare.
 */
export function parseDate(text: string): { ms: number } | { error: string } | undefined {
  const m = DATE.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((x) => (x === undefined ? 0 : Number(x))) as [number, number, number, number, number, number];
  const bad = fieldError(y, mo, d, h, mi, s);
  if (bad) return { error: bad };
  const offset = offsetMinutes(m[7]);
  if (typeof offset === 'string') return { error: offset };
  return { ms: utc(y, mo, d, h, mi, s) - offset * 60_000 };
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:\d{2})$/;
/** ISO_TIME and its near misses, which we can rewrite for the user: a space for T, a missing offset or colon. */
const LOOSE_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,3})?)?(Z|[+-]\d{2}:?\d{2})?$/;

export type ScheduleCheck = { ok: true } | { ok: false; message: string; hint: string };

/**
 * `schedule.at`: `now`, or an ISO 8601 time with an offset that names a real
 * moment. A time without an offset is ambiguous across time zones and DST, so
 * the hint offers the same wall time with the workspace zone's offset.
 */
export function checkScheduleTime(text: string, timeZone: string): ScheduleCheck {
  if (text === 'now') return { ok: true };
  const example = 'write an ISO 8601 time with an offset, for example 2026-12-01T09:00:00+01:00';
  const m = LOOSE_TIME.exec(text);
  if (!m) return { ok: false, message: `"${text}" is not a time`, hint: `${example}, or now` };
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((x) => (x === undefined ? 0 : Number(x))) as [number, number, number, number, number, number];
  const bad = fieldError(y, mo, d, h, mi, s);
  if (bad) return { ok: false, message: `"${text}" is not a real time: ${bad}`, hint: example };
  const offsetText = m[8];
  const offset = offsetMinutes(offsetText);
  if (typeof offset === 'string') return { ok: false, message: `"${text}" is not a real time: ${offset}`, hint: 'write the offset as +HH:MM, for example +01:00' };
  if (ISO_TIME.test(text)) return { ok: true };

  const wall = `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}${m[6] ? `:${m[6]}` : ''}${m[7] ?? ''}`;
  if (offsetText === undefined) {
    const zoneOffset = offsetAt(timeZone, utc(y, mo, d, h, mi, s));
    return {
      ok: false,
      message: `schedule time "${text}" has no offset`,
      hint: zoneOffset
        ? `a time without an offset is ambiguous; in ${timeZone} that is ${wall}${zoneOffset}`
        : `a time without an offset is ambiguous; add one, for example ${wall}+01:00`,
    };
  }
  const colon = offsetText.length === 5 ? `${offsetText.slice(0, 3)}:${offsetText.slice(3)}` : offsetText;
  return { ok: false, message: `"${text}" is not an ISO 8601 time`, hint: `write it as ${wall}${colon}` };
}

/**
 * The offset (`+01:00`) that `timeZone` has at a wall-clock time, given as if
 * it were UTC; undefined for an unknown zone. Two steps settle the offset
 * around DST changes.
 */
export function offsetAt(timeZone: string, wallAsUtc: number): string | undefined {
  if (!isTimeZone(timeZone)) return undefined;
  const fmt = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' });
  const minutesAt = (ms: number) => {
    const name = fmt.formatToParts(new Date(ms)).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
    const m = /^GMT([+-])(\d{2}):(\d{2})$/.exec(name);
    return m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
  };
  const first = minutesAt(wallAsUtc);
  const minutes = minutesAt(wallAsUtc - first * 60_000);
  const abs = Math.abs(minutes);
  return `${minutes < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/** IANA's canonical zone names: asking Intl for the list takes ~2 ms, while the first DateTimeFormat with a zone loads the zone data (~20 ms). */
let canonicalZones: Set<string> | undefined;

export function isTimeZone(name: string): boolean {
  canonicalZones ??= new Set(Intl.supportedValuesOf('timeZone'));
  if (canonicalZones.has(name)) return true;
  // Aliases (US/Eastern, Etc/GMT+2, lower case) are not in the list; Intl knows them.
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
    return true;
  } catch (e) {
    // Intl refuses an unknown zone with a RangeError; anything else is a real fault.
    if (e instanceof RangeError) return false;
    throw e;
  }
}

export function nearestTimeZone(name: string): string | undefined {
  const zones = [...Intl.supportedValuesOf('timeZone'), 'UTC'];
  const guess = closest(name, zones);
  return distance(name.toLowerCase(), guess.toLowerCase()) <= Math.max(2, Math.floor(name.length / 4)) ? guess : undefined;
}

/** Quiet hours from 21:00 to 21:00 are no window at all. */
export function quietHoursProblems(src: YamlSource, path: PathSegment[], q: { start: string; end: string }, off: string): Problem[] {
  if (q.start !== q.end) return [];
  return [problemAt(src, [...path, 'end'], `quiet hours start and end at the same time (${q.start})`, 'quiet_hours', {
    hint: `give a window such as start: "21:00", end: "09:00"; ${off}`,
  })];
}

export function frequencyCapProblems(src: YamlSource, path: PathSegment[], cap: { max: number; per: string }): Problem[] {
  return positiveDuration(src, [...path, 'per'], cap.per, 'is no window: the cap would never apply');
}
