import { ExitError, formatProblem, type Problem } from '../../errors.js';
import { validateWorkspace } from '../../workspace/validate.js';
import { print, printJson, workspaceDir, type GlobalOptions } from '../context.js';

export default async function validate(_args: string[], opts: GlobalOptions & { json?: boolean; strict?: boolean }): Promise<void> {
  const dir = workspaceDir(opts);
  const { problems } = await validateWorkspace(dir, { cache: true });
  const errors = problems.filter((p) => p.severity === 'error');
  const warnings = problems.filter((p) => p.severity === 'warning');
  if (process.env.GITHUB_ACTIONS === 'true') {
    // Annotations on the pull request's lines, and every problem in the job summary.
    const { reportToGitHub } = await import('../../ci/annotations.js');
    const warning = await reportToGitHub(problems, dir);
    if (warning) process.stderr.write(`warning: ${warning}\n`);
  }
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
