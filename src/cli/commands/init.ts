import { relative, resolve } from 'node:path';
import { initWorkspace, refreshSchemas } from '../../init/init.js';
import { print, workspaceDir, type GlobalOptions } from '../context.js';

interface InitOpts extends GlobalOptions {
  action?: string;
  schemas?: boolean;
}

/** `herald init [dir]`: scaffold a workspace in dir (default: --dir, else the current directory). */
export default async function init([target]: string[], opts: InitOpts): Promise<void> {
  const dir = target ? resolve(target) : workspaceDir(opts);
  if (opts.schemas) {
    const r = refreshSchemas(dir);
    print(`Copied herald's JSON Schemas into ${shown(r.dir)}:`);
    for (const f of r.written) print(`  ~ ${f}`);
    return;
  }
  const r = initWorkspace(dir, { ...(opts.action ? { action: opts.action } : {}) });
  const where = shown(r.dir);
  print(`Created a herald workspace in ${where}:`);
  for (const f of r.created) print(`  + ${f}`);
  for (const f of r.kept) print(`  = ${f} (already there, left as it was)`);
  if (r.gitignoreUpdated) print('  ~ .gitignore (added .herald/)');
  print('\nNext:');
  if (where !== '.') print(`  cd ${where}`);
  print('  herald validate\n  then read README.md: the workflows in .github/workflows/ need secrets set on GitHub');
}

function shown(dir: string): string {
  const rel = relative(process.cwd(), dir);
  return rel === '' ? '.' : rel.startsWith('..') ? dir : rel;
}
