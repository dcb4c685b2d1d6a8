/** Times of day in a time zone, for quiet hours. */
export interface QuietHours {
  start: string;
  end: string;
}

/** Minutes since local midnight of `when` in `timeZone`. */
export function localMinutes(when: Date, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(when);
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0);
  return get('hour') * 60 + get('minute');
}

const minutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** Whether `when` falls in the window [start, end), which may span midnight. */
export function inQuietHours(when: Date, q: QuietHours, timeZone: string): boolean {
  const t = localMinutes(when, timeZone);
  const s = minutes(q.start);
  const e = minutes(q.end);
  return s <= e ? t >= s && t < e : t >= s || t < e;
}
