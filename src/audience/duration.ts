/** Durations are `<n>h|d|w`: hours, days or weeks. */
const UNITS = { h: 'hours', d: 'days', w: 'weeks' } as const;

export function parseDuration(text: string): { n: number; unit: keyof typeof UNITS } | undefined {
  const m = /^(\d+)([hdw])$/.exec(text);
  if (!m) return undefined;
  return { n: Number(m[1]), unit: m[2] as keyof typeof UNITS };
}
