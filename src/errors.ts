/**
 * herald's few error types. Library code throws these; only `cli/main.ts`
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
  const where = `${p.file}:${p.line}:${p.column}`;
  const tag = p.severity === 'warning' ? 'warning' : 'error';
  return `${where}: ${tag}: ${p.message}${p.hint ? `\n  hint: ${p.hint}` : ''}`;
}
