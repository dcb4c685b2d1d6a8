import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateWorkspace } from '../../src/workspace/validate.js';
import { useCleanups } from '../support/cleanup.js';
import { MINIMAL, repoRoot, tempWorkspace } from '../support/workspace.js';

/**
 * The corpus of broken workspaces: each folder in test/workspace/corpus/ holds
 * files laid over the MINIMAL workspace (an empty file deletes one) and
 * `expected.txt`, the exact problems `herald validate` must report, one per
 * line as `severity file:line:col: message`.
 */
const corpus = join(repoRoot, 'test', 'workspace', 'corpus');
const cleanup = useCleanups();

function filesOf(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else out[relative(dir, p)] = readFileSync(p, 'utf8');
    }
  };
  walk(dir);
  return out;
}

const cases = readdirSync(corpus).filter((f) => statSync(join(corpus, f)).isDirectory()).sort();

describe('the broken-workspace corpus', () => {
  it('has at least 40 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  it.each(cases)('%s', async (name) => {
    const { 'expected.txt': expected, ...overlay } = filesOf(join(corpus, name));
    const files = { ...MINIMAL, ...overlay };
    for (const [k, v] of Object.entries(overlay)) if (v === '') delete files[k];
    const ws = tempWorkspace(files);
    cleanup(ws.remove);
    const { problems } = await validateWorkspace(ws.dir);
    const got = problems.map((p) => `${p.severity} ${p.file}:${p.line}:${p.column}: ${p.message}`);
    expect(got).toEqual((expected ?? '').split('\n').filter((l) => l.trim() !== ''));
  });
});
