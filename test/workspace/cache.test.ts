import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cacheGet, cacheKey, cachePut, setCacheDir } from '../../src/workspace/cache.js';
import { validateWorkspace } from '../../src/workspace/validate.js';
import { MINIMAL, tempWorkspace } from '../support/workspace.js';
import { useCleanups } from '../support/cleanup.js';

const cleanup = useCleanups();
afterEach(() => setCacheDir(undefined));

describe('the disk cache', () => {
  it('keys Maps and Sets by their content', () => {
    expect(cacheKey(new Map([['a', 1]]))).not.toBe(cacheKey(new Map([['b', 1]])));
    expect(cacheKey(new Set(['x']))).not.toBe(cacheKey(new Set(['y'])));
  });

  it('stores and returns values, and is off without a directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-cache-'));
    cleanup(() => rmSync(dir, { recursive: true, force: true }));
    cachePut('ns', 'k', { a: 1 });
    expect(cacheGet('ns', 'k')).toBeUndefined();
    setCacheDir(dir);
    cachePut('ns', 'k', { a: 1 });
    expect(cacheGet('ns', 'k')).toEqual({ a: 1 });
  });

  it('a cached validation gives the same problems, and a changed body is checked again', async () => {
    const broken = MINIMAL['templates/hello/en.mjml']!.replace('{{ greeting }}', '{{ greting }}');
    const ws = tempWorkspace({ ...MINIMAL, 'templates/hello/en.mjml': broken });
    cleanup(ws.remove);
    const cold = await validateWorkspace(ws.dir, { cache: true });
    const warm = await validateWorkspace(ws.dir, { cache: true });
    expect(cold.problems.map((p) => p.message)).toEqual([expect.stringContaining('greting')]);
    expect(warm.problems).toEqual(cold.problems);
    ws.write('templates/hello/en.mjml', MINIMAL['templates/hello/en.mjml']!);
    expect((await validateWorkspace(ws.dir, { cache: true })).problems).toEqual([]);
  });
});
