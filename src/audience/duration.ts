/** Durations are `<n>h|d|w`: hours, days or weeks. */
const UNITS = { h: 'hours', d: 'days', w: 'weeks' } as const;

export function parseDuration(text: string): { n: number; unit: keyof typeof UNITS } | undefined {
  const m = /^(\d+)([hdw])$/.exec(text);
  if (!m) return undefined;
  return { n: Number(m[1]), unit: m[2] as keyof typeof UNITS };
}

/** A duration in milliseconds. */
export function durationMs(text: string): number {
  const d = parseDuration(text);
  if (!d) throw new Error(`not a duration: ${text}`);
  return d.n * { h: 3_600_000, d: 86_400_000, w: 604_800_000 }[d.unit];
}
