import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
// @ts-expect-error — a plain .mjs script without types
import { generated } from '../scripts/gen.mjs';
import { repoRoot } from './support/workspace.js';

it('committed generated files are up to date (run `npm run gen` and commit when this fails)', async () => {
  for (const { path, content } of (await generated()) as { path: string; content: string }[]) {
    const committed = readFileSync(join(repoRoot, path), 'utf8');
    expect(committed, `${path} is out of date: run \`npm run gen\` and commit it`).toBe(content);
  }
});
