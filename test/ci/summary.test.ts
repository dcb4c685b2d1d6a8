import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appendStepSummary } from '../../src/ci/summary.js';
import { useCleanups } from '../support/cleanup.js';
import { tempWorkspace } from '../support/workspace.js';

const cleanup = useCleanups();

describe('the job summary', () => {
  it('appends each body as its own block, and only to a file the runner made', () => {
    const dir = tempWorkspace({});
    cleanup(dir.remove);
    const file = join(dir.dir, 'summary.md');
    writeFileSync(file, '');
    expect(appendStepSummary(file, '### one')).toBeUndefined();
    expect(appendStepSummary(file, '### two\n')).toBeUndefined();
    expect(readFileSync(file, 'utf8')).toBe('### one\n\n### two\n\n');
    expect(appendStepSummary(join(dir.dir, 'gone', 'summary.md'), 'x')).toBe(`the GitHub job summary was not written to ${join(dir.dir, 'gone', 'summary.md')}: no such file`);
    expect(appendStepSummary(dir.dir, 'x')).toBe(`the GitHub job summary was not written to ${dir.dir}: it is a folder`);
  });
});
