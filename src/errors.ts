/**
 * herald's few error types. Library code throws these; only `cli/program.ts`
 * catches them, prints them and picks the exit code.
 */

/** A problem located in a workspace file: what `herald validate` reports. */
export interface Problem {
  /** Path relative to the workspace root, with forward slashes. */
  file: string;
  line: number;
  column: number;
  message: string;
  /** Short stable name of the check that found it, e.g. `schema`, `reference`. */
  rule: string;
  severity: 'error' | 'warning';
  hint?: string;
}

/** Something the user can fix: bad input, a missing object, a refused action. */
export class UserError extends Error {
  override name = 'UserError';
  constructor(
    message: string,
    readonly hint?: string,
    readonly problems: Problem[] = [],
  ) {
    super(message);
  }
}

/** A deliberate non-zero exit that has already been explained to the user. */
export class ExitError extends Error {
  override name = 'ExitError';
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

export function formatProblem(p: Problem): string {
  const where = `${printable(p.file)}:${p.line}:${p.column}`;
  const tag = p.severity === 'warning' ? 'warning' : 'error';
  return `${where}: ${tag}: ${printable(p.message)}${p.hint ? `\n  hint: ${printable(p.hint)}` : ''}`;
}

/**
 * What a terminal would act on instead of showing: C0 and C1 controls (ESC
 * starts colour, cursor and title sequences; CR overwrites a line; U+009B is
 * a one-byte CSI), DEL, and the invisible marks that reorder text (bidi
 * overrides and isolates, "Trojan Source") or break lines.
 */
const UNPRINTABLE = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Text from the workspace, the shop's data or the command line, made safe to
 * print: each such character written as an escape (\x1b, \r, \u202e), so
 * output shows what is there and cannot rewrite the screen. With `newlines`,
 * line breaks are kept, for messages that are several lines by design.
 */
export function printable(text: string, opts: { newlines?: boolean } = {}): string {
  return text.replace(UNPRINTABLE, (c) => {
    if (c === '\n' && opts.newlines) return c;
    const code = c.charCodeAt(0);
    return NAMED[c] ?? (code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`);
  });
}
