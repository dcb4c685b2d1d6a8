/**
 * Reading an .ics file back, as a calendar app would (RFC 5545 §3.1): lines
 * end in CRLF, a line that starts with a space or a tab continues the one
 * before. Values are kept as written (escapes included).
 */
export function unfold(ics: string): string[] {
  requireCrlf(ics);
  return ics.replace(/\r\n[ \t]/g, '').split('\r\n').filter((l) => l !== '');
}

/** Each VEVENT's properties, by name (parameters dropped: DTSTART;VALUE=DATE is DTSTART). */
export function vevents(ics: string): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  let current: Record<string, string> | undefined;
  for (const line of unfold(ics)) {
    if (line === 'BEGIN:VEVENT') current = {};
    else if (line === 'END:VEVENT') {
      out.push(current!);
      current = undefined;
    } else if (current) {
      const colon = line.indexOf(':');
      current[line.slice(0, colon).split(';')[0]!] = line.slice(colon + 1);
    }
  }
  return out;
}

function requireCrlf(ics: string): void {
  if (/(?<!\r)\n/.test(ics)) throw new Error('an .ics line ends without CR');
}
