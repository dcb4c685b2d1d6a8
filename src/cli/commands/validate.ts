import * as core from '@actions/core';
import { ExitError, formatProblem, printable, type Problem } from '../../errors.js';
import { validateWorkspace } from '../../workspace/validate.js';
import { print, printJson, workspaceDir, type GlobalOptions } from '../context.js';

export default async function validate(_args: string[], opts: GlobalOptions & { json?: boolean; strict?: boolean }): Promise<void> {
  const { problems } = await validateWorkspace(workspaceDir(opts), { cache: true });
  const errors = problems.filter((p) => p.severity === 'error');
  const warnings = problems.filter((p) => p.severity === 'warning');
  if (process.env.GITHUB_ACTIONS === 'true') annotate(problems);
  if (opts.json) {
    printJson({ errors: errors.map(plain), warnings: warnings.map(plain) });
  } else {
    for (const p of problems) print(formatProblem(p));
    print(
      errors.length === 0
        ? `The workspace is valid${warnings.length ? ` (${warnings.length} warning${warnings.length === 1 ? '' : 's'})` : ''}.`
        : `${errors.length} error${errors.length === 1 ? '' : 's'}, ${warnings.length} warning${warnings.length === 1 ? '' : 's'}.`,
    );
  }
  // --strict: warnings fail too, for CI on a repository that keeps them at zero.
  if (errors.length > 0 || (opts.strict && warnings.length > 0)) throw new ExitError(1);
}

function plain(p: Problem) {
  return { file: p.file, line: p.line, column: p.column, message: p.message, rule: p.rule, ...(p.hint ? { hint: p.hint } : {}) };
}

/** Each problem becomes an annotation on its file and line in the pull request. */
function annotate(problems: Problem[]): void {
  for (const p of problems) {
    const props = { file: p.file, startLine: p.line, startColumn: p.column, title: `herald ${p.rule}` };
    // The log shows annotations too, and it renders escape sequences.
    const text = printable(p.hint ? `${p.message} (${p.hint})` : p.message);
    if (p.severity === 'error') core.error(text, props);
    else core.warning(text, props);
  }
}
