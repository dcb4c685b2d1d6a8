import { relative, resolve } from 'node:path';
import { initWorkspace } from '../../init/init.js';
import { print, workspaceDir, type GlobalOptions } from '../context.js';

/** `herald init [dir]`: scaffold a workspace in dir (default: --dir, else the current directory). */
export default async function init([target]: string[], opts: GlobalOptions): Promise<void> {
  const r = initWorkspace(target ? resolve(target) : workspaceDir(opts));
  const rel = relative(process.cwd(), r.dir);
  const where = rel === '' ? '.' : rel.startsWith('..') ? r.dir : rel;
  print(`Created a herald workspace in ${where}:`);
  for (const f of r.created) print(`  + ${f}`);
  for (const f of r.kept) print(`  = ${f} (already there, left as it was)`);
  if (r.gitignoreUpdated) print('  ~ .gitignore (added .herald/)');
  print('\nNext:');
  if (where !== '.') print(`  cd ${where}`);
  print('  npm install\n  npm run validate');
}
