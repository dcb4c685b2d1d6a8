import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.js';
import { cacheGet, cacheHas, cachePut } from '../workspace/cache.js';
import { MJML_OPTIONS_VERSION } from './mjml-options.js';

/**
 * MJML → HTML, once per distinct source. A compile costs ~10 ms, so results
 * are cached by content hash in memory and, for CLI runs, on disk
 * (`~/.cache/herald/mjml/`, see workspace/cache.ts): an unchanged template is
 * never compiled twice.
 * Cold compiles run on worker threads, one per core, when there are enough of
 * them to pay for starting the workers.
 */
export interface MjmlResult {
  html: string;
  errors: { line: number; message: string; tagName: string }[];
}

const memory = new Map<string, Promise<MjmlResult>>();
let pool: { run(source: string): Promise<MjmlResult>; close(): Promise<void> } | undefined;

/** Compiles (or finds) one MJML source; errors are returned, not thrown. */
export function compileMjmlResult(source: string): Promise<MjmlResult> {
  const key = keyOf(source);
  let hit = memory.get(key);
  if (!hit) {
    hit = fromDisk(key) ?? compileFresh(source).then((r) => toDisk(key, r));
    memory.set(key, hit);
  }
  return hit;
}

/** Compiles for sending: an MJML error stops the send with its location. */
export async function compileMjml(source: string, file: string): Promise<string> {
  const result = await compileMjmlResult(source);
  if (result.errors.length > 0) {
    const first = result.errors[0]!;
    throw new UserError(`${file}:${first.line}: MJML: ${first.message}`, 'fix the MJML markup; `herald validate` lists every error');
  }
  return result.html;
}

/**
 * Compiles many sources, spreading cold ones over worker threads. Call it
 * before a batch of compileMjmlResult calls (validation of a whole workspace).
 */
export async function precompileMjml(sources: string[]): Promise<void> {
  const cold = sources.filter((s) => {
    const key = keyOf(s);
    return !memory.has(key) && !cacheHas('mjml', key);
  });
  if (cold.length >= 64 && availableParallelism() > 1) await startPool();
  // A source MJML rejects outright is reported by whoever asks for it next.
  await Promise.allSettled(sources.map((s) => compileMjmlResult(s)));
  await stopPool();
}

/** The cache key of a source: its hash, and the version of the options it is compiled with. */
function keyOf(source: string): string {
  return createHash('sha256').update(`${MJML_OPTIONS_VERSION}\0${source}`).digest('hex');
}

async function compileFresh(source: string): Promise<MjmlResult> {
  if (pool) return pool.run(source);
  // Loaded on first use: importing mjml costs ~0.4 s, which a warm run never needs.
  const { default: compile } = await import('./mjml-worker.js');
  return compile(source);
}

async function startPool(): Promise<void> {
  // The worker is compiled JavaScript; from TypeScript sources (tests) compile in-process.
  const worker = fileURLToPath(new URL('./mjml-worker.js', import.meta.url));
  if (!existsSync(worker)) return;
  const { Piscina } = await import('piscina');
  const p = new Piscina({ filename: worker, maxThreads: availableParallelism(), minThreads: availableParallelism() });
  pool = { run: (source) => p.run(source) as Promise<MjmlResult>, close: () => p.destroy() };
}

async function stopPool(): Promise<void> {
  const p = pool;
  pool = undefined;
  await p?.close();
}

function fromDisk(key: string): Promise<MjmlResult> | undefined {
  const hit = cacheGet<MjmlResult>('mjml', key);
  return hit ? Promise.resolve(hit) : undefined;
}

function toDisk(key: string, r: MjmlResult): MjmlResult {
  cachePut('mjml', key, r);
  return r;
}
