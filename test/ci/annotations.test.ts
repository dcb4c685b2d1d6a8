import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chooseAnnotated, problemsSummary, type RepoProblem } from '../../src/ci/annotations.js';
import { herald } from '../support/cli.js';
import { useCleanups } from '../support/cleanup.js';
import { MINIMAL, tempWorkspace } from '../support/workspace.js';
import { git } from './git.js';

const cleanup = useCleanups();

const bad = (i: number) => `where:\n  order_count: { gte: 0 }\nunknown_key_${i}: 1\n`;

function problem(repoFile: string, severity: 'error' | 'warning', line = 1): RepoProblem {
  return { file: repoFile, repoFile, line, column: 1, message: `${severity} in ${repoFile}`, rule: 'schema', severity };
}

describe('validate in GitHub Actions', () => {
  it('annotates 10 errors, those in files the pull request changes first, with paths from the repository root; the summary has all 30', async () => {
    // A repository with the workspace in emails/: 25 broken segments on main, 5 more on the branch.
    const repo = tempWorkspace({});
    cleanup(repo.remove);
    for (const [path, content] of Object.entries(MINIMAL)) repo.write(`emails/${path}`, content);
    for (let i = 0; i < 25; i++) repo.write(`emails/segments/a-${String(i).padStart(2, '0')}.yaml`, bad(i));
    repo.write('README.md', 'shop\n');
    git(repo.dir, 'init', '-q');
    git(repo.dir, 'add', '.');
    git(repo.dir, 'commit', '-qm', 'base');
    // What actions/checkout leaves: the base branch as origin/main.
    git(repo.dir, 'update-ref', 'refs/remotes/origin/main', 'HEAD');
    git(repo.dir, 'checkout', '-qb', 'feature');
    for (let i = 0; i < 5; i++) repo.write(`emails/segments/z-${i}.yaml`, bad(100 + i));
    git(repo.dir, 'add', '.');
    git(repo.dir, 'commit', '-qm', 'five more');

    const summary = join(repo.dir, 'summary.md');
    writeFileSync(summary, '');
    const event = join(repo.dir, 'event.json');
    writeFileSync(event, JSON.stringify({ pull_request: { number: 7, base: { ref: 'main' } } }));
    const r = await herald(['validate', '--dir', join(repo.dir, 'emails')], {
      GITHUB_ACTIONS: 'true',
      GITHUB_STEP_SUMMARY: summary,
      GITHUB_EVENT_PATH: event,
      GITHUB_BASE_REF: '',
      GITHUB_WORKSPACE: '',
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('\n30 errors, 0 warnings.\n');
    const annotations = r.stdout.split('\n').filter((l) => l.startsWith('::'));
    expect(annotations).toHaveLength(10);
    expect(annotations.every((l) => l.startsWith('::error title=herald schema,file=emails/segments/'))).toBe(true);
    const files = annotations.map((l) => /file=([^,]+)/.exec(l)![1]);
    // The branch's five first, then the first five of the rest.
    expect(files).toEqual([...[0, 1, 2, 3, 4].map((i) => `emails/segments/z-${i}.yaml`), ...[0, 1, 2, 3, 4].map((i) => `emails/segments/a-0${i}.yaml`)]);
    expect(annotations[0]).toBe('::error title=herald schema,file=emails/segments/z-0.yaml,line=3,col=1::unknown key "unknown_key_100" (allowed keys: description, where)');

    const md = readFileSync(summary, 'utf8');
    expect(md).toContain('30 errors, 0 warnings. Annotated 10 errors and 0 warnings');
    expect(md).toContain('those in files this pull request changes first');
    const rows = md.split('\n').filter((l) => l.startsWith('| error'));
    expect(rows).toHaveLength(30);
    expect(rows.filter((l) => l.includes('(annotated)'))).toHaveLength(10);
    expect(md).toContain('| error (annotated) | emails/segments/z\\-4\\.yaml | 3:1 | unknown key "unknown\\_key\\_104" (hint: allowed keys: description, where) | schema |');
    expect(md).toContain('| error | emails/segments/a\\-24\\.yaml | 3:1 |');
  });

  it('falls back to the order found when git cannot tell what changed, and to the workspace itself outside a repository', async () => {
    const ws = tempWorkspace({ ...MINIMAL, ...Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`segments/b-${String(i).padStart(2, '0')}.yaml`, bad(i)])) });
    cleanup(ws.remove);
    const summary = join(ws.dir, 'summary.md');
    writeFileSync(summary, '');
    const r = await herald(['validate', '--dir', ws.dir], { GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: summary, GITHUB_BASE_REF: 'main', GITHUB_EVENT_PATH: '', GITHUB_WORKSPACE: '' });
    const files = r.stdout.split('\n').filter((l) => l.startsWith('::error')).map((l) => /file=([^,]+)/.exec(l)![1]);
    expect(files).toEqual(Array.from({ length: 10 }, (_, i) => `segments/b-${String(i).padStart(2, '0')}.yaml`));
    expect(readFileSync(summary, 'utf8')).toContain('in the order found: git could not tell which files this pull request changes');
  });

  it('outside GitHub Actions, prints no annotations and writes no summary', async () => {
    const ws = tempWorkspace({ ...MINIMAL, 'segments/x.yaml': bad(1) });
    cleanup(ws.remove);
    mkdirSync(join(ws.dir, 'out'));
    const summary = join(ws.dir, 'out', 'summary.md');
    writeFileSync(summary, '');
    const r = await herald(['validate', '--dir', ws.dir], { GITHUB_STEP_SUMMARY: summary });
    expect(r.code).toBe(1);
    expect(r.stdout).not.toContain('::error');
    expect(readFileSync(summary, 'utf8')).toBe('');
  });

  it('chooses at most 10 errors and 10 warnings, changed files first', () => {
    const problems = [
      ...Array.from({ length: 15 }, (_, i) => problem(`a${i}.yaml`, 'warning')),
      ...Array.from({ length: 15 }, (_, i) => problem(`a${i}.yaml`, 'error')),
      problem('changed.yaml', 'warning'),
      problem('changed.yaml', 'error'),
    ];
    const chosen = chooseAnnotated(problems, new Set(['changed.yaml']));
    expect(chosen.filter((p) => p.severity === 'error').map((p) => p.repoFile)).toEqual(['changed.yaml', ...Array.from({ length: 9 }, (_, i) => `a${i}.yaml`)]);
    expect(chosen.filter((p) => p.severity === 'warning').map((p) => p.repoFile)).toEqual(['changed.yaml', ...Array.from({ length: 9 }, (_, i) => `a${i}.yaml`)]);
  });

  it('escapes problems in the summary table, and cuts it with a pointer past the size limit', () => {
    const hostile = { ...problem('x.yaml', 'error'), message: 'bad | cell <img src=x onerror=alert(1)>\n| forged | row |' };
    const one = problemsSummary([hostile], new Set(), true);
    expect(one).not.toMatch(/<img/);
    expect(one.split('\n').filter((l) => l.startsWith('|'))).toHaveLength(3);
    expect(one).toContain('bad \\| cell &lt;img src=x onerror=alert\\(1\\)&gt; \\| forged \\| row \\|');

    const many = Array.from({ length: 2000 }, (_, i) => problem(`f${i}.yaml`, 'error'));
    const budget = { max: 10_000, section: 1000, measure: (s: string) => s.length, where: 'summary' as const };
    const cut = problemsSummary(many, new Set(), true, budget);
    expect(cut.length).toBeLessThanOrEqual(10_000);
    const shown = cut.split('\n').filter((l) => l.startsWith('| error')).length;
    expect(cut).toContain(`${(2000 - shown).toLocaleString('en-US')} more problems: run \`herald validate\` to see them all.`);
  });
});
