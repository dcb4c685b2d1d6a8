#!/usr/bin/env node
import { readFileSync, statSync } from 'node:fs';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * herald's entry. `herald --help` into a pipe is answered from the user's
 * cache folder without loading the command line (program.ts) or commander:
 * the text is commander's own, saved by the first such run, under a name
 * made of herald's version and program.js's size and time, so a rebuilt or
 * upgraded herald writes it anew. At a terminal, where commander wraps to its
 * width and may colour, commander answers every time. Issue 17: --help
 * within 1.3× of `node -e 0`.
 */
const args = process.argv.slice(2);
const plainHelp = (args.length === 1 && (args[0] === '--help' || args[0] === '-h')) && !process.stdout.isTTY && !colourForced();
const saved = plainHelp ? helpFile() : undefined;
const text = saved ? readSaved(saved) : undefined;
if (text !== undefined) {
  process.stdout.write(text);
} else {
  const { main, program } = await import('./program.js');
  process.exitCode = await main(process.argv);
  if (saved && process.exitCode === 0) save(saved, program.helpInformation());
}

/** Commander colours help into a pipe when told to. */
function colourForced(): boolean {
  return process.env.FORCE_COLOR !== undefined || process.env.CLICOLOR_FORCE !== undefined;
}

/** `$HERALD_CACHE_DIR`, else `$XDG_CACHE_HOME/herald`, else `~/.cache/herald`, as src/workspace/cache.ts (not imported: it loads more than --help may). */
function helpFile(): string | undefined {
  try {
    const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
    const program = statSync(new URL('./program.js', import.meta.url));
    const dir = process.env.HERALD_CACHE_DIR || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'herald');
    return join(dir, 'help', `${version}-${program.size}-${Math.trunc(program.mtimeMs)}.txt`);
  } catch {
    return undefined; // no package.json or program.js beside this file: commander answers
  }
}

function readSaved(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function save(file: string, help: string): void {
  try {
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(`${file}.${process.pid}.tmp`, help, { flag: 'wx' });
    renameSync(`${file}.${process.pid}.tmp`, file);
  } catch {
    // The cache is an optimisation: a read-only home still works.
  }
}
