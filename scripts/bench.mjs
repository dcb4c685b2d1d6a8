#!/usr/bin/env node
// `npm run bench -- <name>`: builds herald, then runs bench/<name>.mjs against
// the built code. Each benchmark prints its figures and its ratio against the
// baseline its issue names, measured in the same run.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const name = process.argv[2];
const available = readdirSync(join(root, 'bench')).filter((f) => f.endsWith('.mjs')).map((f) => f.slice(0, -4));
if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench -- <name>   (one of: ${available.join(', ')})`);
  process.exit(2);
}
execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) process.exit(1);
try {
  execFileSync(process.execPath, [join(root, 'bench', `${name}.mjs`), ...process.argv.slice(3)], { cwd: root, stdio: 'inherit' });
} catch (e) {
  // The benchmark has printed its figures and which target it missed.
  process.exit(typeof e.status === 'number' ? e.status : 1);
}
