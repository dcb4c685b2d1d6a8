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

/** Runs `fn` with these environment variables set, then restores them. */
async function withEnv(vars: Record<string, string>, fn: () => Promise<void>): Promise<void> {
  const before = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    await fn();
  } finally {
    for (const [k, v] of Object.entries(before)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

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

  it('lives outside the workspace: a .herald/cache committed by a pull request is never read', async () => {
    const home = mkdtempSync(join(tmpdir(), 'herald-cache-home-'));
    cleanup(() => rmSync(home, { recursive: true, force: true }));
    const broken = MINIMAL['templates/hello/en.mjml']!.replace('{{ greeting }}', '{{ greting }}');
    const ws = tempWorkspace({ ...MINIMAL, 'templates/hello/en.mjml': broken });
    cleanup(ws.remove);
    const messages = async () => (await validateWorkspace(ws.dir, { cache: true })).problems.map((p) => p.message);
    await withEnv({ HERALD_CACHE_DIR: home }, async () => {
      expect(await messages()).toEqual([expect.stringContaining('greting')]);
      const keys = readdirSync(join(home, 'template-body'));
      expect(keys.length).toBeGreaterThan(0);
      // The same entries, planted where the cache used to be: herald neither reads nor writes there.
      const planted = JSON.stringify([{ file: 'x', line: 1, column: 1, message: 'planted by a pull request', rule: 'x', severity: 'error' }]);
      mkdirSync(join(ws.dir, '.herald', 'cache', 'template-body'), { recursive: true });
      for (const f of keys) writeFileSync(join(ws.dir, '.herald', 'cache', 'template-body', f), planted);
      rmSync(join(home, 'template-body'), { recursive: true });
      expect(await messages()).toEqual([expect.stringContaining('greting')]);
      expect(readdirSync(join(home, 'template-body')).sort()).toEqual([...keys].sort());
    });
  });

  it('never reads a cache entry that links out of the cache folder, nor writes through a link out', async () => {
    const home = mkdtempSync(join(tmpdir(), 'herald-cache-home-'));
    cleanup(() => rmSync(home, { recursive: true, force: true }));
    const cache = join(home, 'herald');
    const broken = MINIMAL['templates/hello/en.mjml']!.replace('{{ greeting }}', '{{ greting }}');
    const ws = tempWorkspace({ ...MINIMAL, 'templates/hello/en.mjml': broken });
    cleanup(ws.remove);
    const messages = async () => (await validateWorkspace(ws.dir, { cache: true })).problems.map((p) => p.message);
    await withEnv({ HERALD_CACHE_DIR: cache }, async () => {
      await messages();
      const outside = mkdtempSync(join(tmpdir(), 'herald-outside-'));
      cleanup(() => rmSync(outside, { recursive: true, force: true }));
      const planted = JSON.stringify([{ file: 'x', line: 1, column: 1, message: 'SECRET from outside', rule: 'x', severity: 'error' }]);
      writeFileSync(join(outside, 'planted.json'), planted);
      // Each cached body result now points out of the cache folder.
      const keys = readdirSync(join(cache, 'template-body'));
      expect(keys.length).toBeGreaterThan(0);
      for (const f of keys) {
        rmSync(join(cache, 'template-body', f));
        symlinkSync(join(outside, 'planted.json'), join(cache, 'template-body', f));
      }
      expect(await messages()).toEqual([expect.stringContaining('greting')]);

      // A namespace folder that is a link out: nothing planted there is read, and nothing is written there.
      rmSync(join(cache, 'template-body'), { recursive: true });
      mkdirSync(join(outside, 'template-body'));
      for (const f of keys) writeFileSync(join(outside, 'template-body', f), planted);
      symlinkSync(join(outside, 'template-body'), join(cache, 'template-body'));
      expect(await messages()).toEqual([expect.stringContaining('greting')]);
      expect(readdirSync(join(outside, 'template-body')).sort()).toEqual([...keys].sort());
      for (const f of keys) expect(readFileSync(join(outside, 'template-body', f), 'utf8')).toBe(planted);
    });
  });

  it('a cached validation gives the same problems, and a changed body is checked again', async () => {
    const home = mkdtempSync(join(tmpdir(), 'herald-cache-home-'));
    cleanup(() => rmSync(home, { recursive: true, force: true }));
    process.env.HERALD_CACHE_DIR = home;
    cleanup(() => {
      delete process.env.HERALD_CACHE_DIR;
    });
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

  it("takes a YAML file's value from the cache and still locates its problems; a value JSON cannot hold is parsed every time", async () => {
    const home = mkdtempSync(join(tmpdir(), 'herald-cache-home-'));
    cleanup(() => rmSync(home, { recursive: true, force: true }));
    const ws = tempWorkspace({
      ...MINIMAL,
      // A segment the campaign does not have (line 4), a subject token nobody has (line 2), and .inf, which JSON writes as null.
      'campaigns/hello.yaml': MINIMAL['campaigns/hello.yaml']!.replace('segment: everyone', 'segment: nobody'),
      'templates/hello/template.yaml': 'subject:\n  en: Hello {{ customer.frist_name }}\n',
      'segments/endless.yaml': 'where:\n  order_count: { lte: .inf }\n',
    });
    cleanup(ws.remove);
    const run = async () => (await validateWorkspace(ws.dir, { cache: true })).problems;
    await withEnv({ HERALD_CACHE_DIR: home }, async () => {
      const cold = await run();
      expect(cold.filter((p) => p.file === 'campaigns/hello.yaml').map((p) => [p.line, p.message])).toEqual([[4, expect.stringContaining('nobody')]]);
      expect(cold.filter((p) => p.file === 'templates/hello/template.yaml').map((p) => [p.line, p.column])).toEqual([[2, 16]]);
      // Every YAML file but the one with .inf: herald.yaml, two segments, the template and the campaign.
      expect(readdirSync(join(home, 'yaml'))).toHaveLength(4);
      const warm = await run();
      expect(warm).toEqual(cold);
    });
  });
});
