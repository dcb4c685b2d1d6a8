import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useCleanups } from '../support/cleanup.js';
import { herald } from '../support/cli.js';
import { moduleRecord, packageOf, packages } from '../support/loaded.js';
import { exampleWorkspace, repoRoot } from '../support/workspace.js';

/**
 * What herald loads at start-up (issue 17): `herald --help` nothing but
 * commander, and a warm `herald validate` none of the heavy modules other
 * commands need, nor ajv's schema compiler (the validators are generated)
 * or PostgreSQL's parser (a sql: query's findings are cached). Each run
 * records its modules with test/support/loaded-modules.mjs.
 */
const cleanup = useCleanups();

/** Packages that no start-up of --help or a warm validate needs. */
const HEAVY = [
  'mjml',
  'libpg-query',
  'pg',
  '@electric-sql/pglite',
  'fastify',
  'libphonenumber-js',
  'nodemailer',
  'mailparser',
  'imapflow',
  'google-auth-library',
  'web-push',
  'd3-scale',
  'd3-shape',
  '@actions/core',
  'undici',
  'pino',
  'piscina',
  'playwright-core',
  'diff',
];

/** Runs the built CLI under the recorder; the modules it loaded, as paths. */
async function loaded(args: string[], env: Record<string, string> = {}): Promise<{ code: number; modules: string[]; stdout: string }> {
  const record = moduleRecord();
  cleanup(record.remove);
  const run = await herald(args, { ...record.env, ...env });
  return { code: run.code, modules: record.modules(), stdout: run.stdout };
}

describe('start-up', () => {
  it('herald --help loads commander and the command line once, then answers from the cache with nothing loaded, in the same words', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'herald-help-cache-'));
    cleanup(() => rmSync(cache, { recursive: true, force: true }));
    const own = (modules: string[]) => modules.filter((m) => m.startsWith(join(repoRoot, 'dist')) && !packageOf(m)).map((m) => m.slice(join(repoRoot, 'dist').length + 1)).sort();
    const first = await loaded(['--help'], { HERALD_CACHE_DIR: cache });
    expect(first.code).toBe(0);
    expect(packages(first.modules)).toEqual(['commander']);
    // herald's own: the command line alone, nothing of any command.
    expect(own(first.modules)).toEqual(['cli/main.js', 'cli/program.js']);
    expect(first.stdout).toContain('Usage: herald [options] [command]');

    const second = await loaded(['--help'], { HERALD_CACHE_DIR: cache });
    expect(second.code).toBe(0);
    expect(second.stdout).toBe(first.stdout);
    expect(packages(second.modules)).toEqual([]);
    expect(own(second.modules)).toEqual(['cli/main.js']);
  });

  it("a warm herald validate loads neither the heavy modules, nor ajv's compiler, nor PostgreSQL's parser", async () => {
    const ws = exampleWorkspace();
    cleanup(ws.remove);
    const cache = mkdtempSync(join(tmpdir(), 'herald-modules-cache-'));
    cleanup(() => rmSync(cache, { recursive: true, force: true }));
    const env = { HERALD_CACHE_DIR: cache };

    // Cold: the example workspace has a sql: trigger, so its query is parsed (and the recorder sees ES modules).
    const cold = await loaded(['validate', '--dir', ws.dir], env);
    expect(cold.code).toBe(0);
    expect(packages(cold.modules)).toContain('libpg-query');

    const warm = await loaded(['validate', '--dir', ws.dir], env);
    expect(warm.code).toBe(0);
    const heavy = packages(warm.modules).filter((p) => HEAVY.includes(p));
    expect(heavy, 'heavy packages loaded by a warm validate').toEqual([]);
    // Every file's value comes from the cache, and the SMS and push checks' findings: no YAML parser, no template engine.
    expect(packages(warm.modules).filter((p) => p === 'yaml' || p === 'nunjucks'), 'parsers a warm validate needs none of').toEqual([]);
    // ajv's generated validators need only its small runtime helpers.
    const ajv = warm.modules.filter((m) => packageOf(m) === 'ajv').map((m) => m.replace(/.*\/node_modules\/ajv\//, ''));
    expect(ajv.filter((m) => !m.startsWith('dist/runtime/')), "ajv's compiler").toEqual([]);
  });
});
