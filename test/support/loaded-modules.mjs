// `node --import ./loaded-modules.mjs …` writes every module the process
// loads to the file $HERALD_LOADED_MODULES, one a line: ES modules as the
// loader hook sees them (file:// URLs), CommonJS ones as require's cache
// holds them (paths) when the process exits. test/cli/startup.test.ts reads it.
import { appendFileSync, writeFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { isMainThread } from 'node:worker_threads';

const out = process.env.HERALD_LOADED_MODULES;

/** The loader hook, run on the hooks thread (this same file, registered below). */
export async function load(url, context, next) {
  appendFileSync(out, `${url}\n`);
  return next(url, context);
}

if (isMainThread && out) {
  writeFileSync(out, '');
  register(import.meta.url);
  const require = createRequire(import.meta.url);
  process.on('exit', () => appendFileSync(out, Object.keys(require.cache).map((p) => `${p}\n`).join('')));
}
