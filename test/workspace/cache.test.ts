import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
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

  it('never reads a cache entry that links out of the workspace, nor writes through a link out', async () => {
    const broken = MINIMAL['templates/hello/en.mjml']!.replace('{{ greeting }}', '{{ greting }}');
    const ws = tempWorkspace({ ...MINIMAL, 'templates/hello/en.mjml': broken });
    cleanup(ws.remove);
    await validateWorkspace(ws.dir, { cache: true });
    const outside = mkdtempSync(join(tmpdir(), 'herald-outside-'));
    cleanup(() => rmSync(outside, { recursive: true, force: true }));
    const planted = JSON.stringify([{ file: 'x', line: 1, column: 1, message: 'SECRET from outside', rule: 'x', severity: 'error' }]);
    writeFileSync(join(outside, 'planted.json'), planted);
    // A pull request can commit links into .herald/: each cached body result now points out of the workspace.
    const cache = join(ws.dir, '.herald', 'cache');
    const keys = readdirSync(join(cache, 'template-body'));
    expect(keys.length).toBeGreaterThan(0);
    for (const f of keys) {
      rmSync(join(cache, 'template-body', f));
      symlinkSync(join(outside, 'planted.json'), join(cache, 'template-body', f));
    }
    const messages = async () => (await validateWorkspace(ws.dir, { cache: true })).problems.map((p) => p.message);
    expect(await messages()).toEqual([expect.stringContaining('greting')]);

    // The whole cache folder a link out: nothing planted there is read, and nothing is written there.
    rmSync(cache, { recursive: true });
    mkdirSync(join(outside, 'template-body'));
    for (const f of keys) writeFileSync(join(outside, 'template-body', f), planted);
    symlinkSync(outside, cache);
    expect(await messages()).toEqual([expect.stringContaining('greting')]);
    expect(readdirSync(outside).sort()).toEqual(['planted.json', 'template-body']);
    expect(readdirSync(join(outside, 'template-body')).sort()).toEqual([...keys].sort());
    for (const f of keys) expect(readFileSync(join(outside, 'template-body', f), 'utf8')).toBe(planted);
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
