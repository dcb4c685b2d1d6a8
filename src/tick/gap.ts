/**
 * Whether the schedule fell behind: GitHub delays scheduled workflow runs
 * under load, and drops some. When this tick starts more than twice the
 * schedule's interval after the previous one, messages due in between
 * (triggers, retries, a scheduled launch) went out late, and the tick says so.
 */
export function gapWarning(startedAt: Date, previousStart: Date | undefined, everySeconds: number | null): string | undefined {
  if (!previousStart || !everySeconds) return undefined;
  const gap = (startedAt.getTime() - previousStart.getTime()) / 1000;
  if (gap <= 2 * everySeconds) return undefined;
  return (
    `warning: the previous tick started ${span(gap)} ago, more than twice the ${span(everySeconds)} interval: ` +
    'GitHub delays and drops scheduled runs under load; messages due in between went out late'
  );
}

/** A span for people, to the nearest unit: 45 s, 47 min, 3 h 5 min, 2 days 4 h. */
export function span(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 120) return `${s} s`;
  const min = Math.round(s / 60);
  if (min < 120) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 48) return min % 60 ? `${h} h ${min % 60} min` : `${h} h`;
  const days = Math.floor(h / 24);
  return h % 24 ? `${days} days ${h % 24} h` : `${days} days`;
}
