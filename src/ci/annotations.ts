import { gitOutput } from '../git/commit.js';
import { realpathSync } from 'node:fs';
import { isAbsolute, relative, sep } from 'node:path';
import { printable, type Problem } from '../errors.js';
import { baseBranch } from './event.js';
import { JOB_SUMMARY, type Budget } from './fit.js';
import { markdownText, plural } from './markdown.js';
import { appendStepSummary } from './summary.js';

/**
 * `herald validate` in GitHub Actions. GitHub keeps about 10 annotations of
 * each type per step (and 50 per job) and drops the rest, so herald chooses:
 * at most 10 errors and 10 warnings, first those in files the pull request
 * changes, each on its file and line as the repository names it. Every
 * problem goes to the job summary, as a table.
 */
export const ANNOTATIONS_PER_TYPE = 10;

/** A problem with its path from the repository root, as GitHub wants it. */
export interface RepoProblem extends Problem {
  repoFile: string;
}

export interface Environment {
  [name: string]: string | undefined;
}

/**
 * Annotates the chosen problems and writes all of them to the job summary.
 * Returns a warning to show when the summary could not be written.
 */
export async function reportToGitHub(problems: readonly Problem[], workspaceDir: string, env: Environment = process.env): Promise<string | undefined> {
  const root = repositoryRoot(workspaceDir, env);
  const prefix = workspacePrefix(root, workspaceDir);
  const located = problems.map((p) => ({ ...p, repoFile: `${prefix}${p.file}` }));
  const changed = pullRequestFiles(root, env);
  const chosen = chooseAnnotated(located, changed);
  // Loaded here only: its import costs every other command a tenth of a second.
  const core = await import('@actions/core');
  for (const p of chosen) {
    const props = { file: p.repoFile, startLine: p.line, startColumn: p.column, title: `herald ${p.rule}` };
    // The log shows annotations too, and it renders escape sequences.
    const text = printable(p.hint ? `${p.message} (${p.hint})` : p.message);
    if (p.severity === 'error') core.error(text, props);
    else core.warning(text, props);
  }
  const file = env.GITHUB_STEP_SUMMARY;
  return file ? appendStepSummary(file, problemsSummary(located, new Set(chosen), changed !== undefined)) : undefined;
}

/** The repository's top folder: git's, else GITHUB_WORKSPACE, else the workspace itself. */
export function repositoryRoot(workspaceDir: string, env: Environment): string {
  return gitOutput(workspaceDir, 'rev-parse', '--show-toplevel') ?? (env.GITHUB_WORKSPACE || workspaceDir);
}

/** `emails/` for a workspace in emails/ of the repository; '' at its root or outside it. */
function workspacePrefix(root: string, workspaceDir: string): string {
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return p;
    }
  };
  const rel = relative(real(root), real(workspaceDir));
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return '';
  return `${rel.split(sep).join('/')}/`;
}

/**
 * The files the pull request changes, relative to the repository root: `git
 * diff --name-only origin/<base>...HEAD`, the base branch from the event
 * payload (or GITHUB_BASE_REF). Undefined when git cannot tell: not a pull
 * request, or a shallow clone without the base fetched.
 */
export function pullRequestFiles(root: string, env: Environment): Set<string> | undefined {
  const base = baseBranch(env);
  if (!base) return undefined;
  const out = gitOutput(root, 'diff', '--name-only', `origin/${base}...HEAD`, '--');
  return out === null ? undefined : new Set(out.split('\n').map((l) => l.trim()).filter(Boolean));
}

/**
 * At most `max` errors and `max` warnings: those in changed files first, then
 * the rest, each group in the order validate found them.
 */
export function chooseAnnotated<P extends RepoProblem>(problems: readonly P[], changed?: ReadonlySet<string>, max = ANNOTATIONS_PER_TYPE): P[] {
  const first = (p: P) => (changed?.has(p.repoFile) ? 0 : 1);
  return (['error', 'warning'] as const).flatMap((severity) =>
    problems
      .filter((p) => p.severity === severity)
      .map((p, i) => ({ p, i }))
      .sort((a, b) => first(a.p) - first(b.p) || a.i - b.i)
      .slice(0, max)
      .map(({ p }) => p),
  );
}

/** Every problem as a Markdown table for the job summary, saying which were annotated. */
export function problemsSummary(problems: readonly RepoProblem[], annotated: ReadonlySet<RepoProblem>, changedKnown: boolean, budget: Budget = JOB_SUMMARY): string {
  const errors = problems.filter((p) => p.severity === 'error').length;
  const warnings = problems.length - errors;
  if (problems.length === 0) return '### herald validate\n\nThe workspace is valid.\n';
  const shownErrors = [...annotated].filter((p) => p.severity === 'error').length;
  const order = changedKnown ? 'those in files this pull request changes first' : 'in the order found: git could not tell which files this pull request changes';
  const head = [
    '### herald validate',
    '',
    `${plural(errors, 'error')}, ${plural(warnings, 'warning')}. Annotated ${plural(shownErrors, 'error')} and ${plural(annotated.size - shownErrors, 'warning')} (GitHub shows about ${ANNOTATIONS_PER_TYPE} of each per step; ${order}). Every problem:`,
    '',
    '| | File | Line | Problem | Rule |',
    '| --- | --- | ---: | --- | --- |',
  ].join('\n');
  const rows = problems.map(
    (p) =>
      `| ${p.severity}${annotated.has(p) ? ' (annotated)' : ''} | ${markdownText(p.repoFile)} | ${p.line}:${p.column} | ${markdownText(p.message)}${p.hint ? ` (hint: ${markdownText(p.hint)})` : ''} | ${markdownText(p.rule)} |`,
  );
  const more = (n: number) => `\n${plural(n, 'more problem')}: run \`herald validate\` to see them all.`;
  let used = budget.measure(head) + budget.measure(more(rows.length)) + 2;
  const kept: string[] = [];
  for (const r of rows) {
    if (used + budget.measure(r) + 1 > budget.max) break;
    kept.push(r);
    used += budget.measure(r) + 1;
  }
  return `${[head, ...kept].join('\n')}\n${kept.length < rows.length ? `${more(rows.length - kept.length)}\n` : ''}`;
}
