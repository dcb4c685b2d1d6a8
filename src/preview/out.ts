import { lstatSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { basename, dirname, join, relative, sep } from 'node:path';
import { printable, UserError } from '../errors.js';

/**
 * Where `herald preview` may write. It replaces its --out folder whole, so
 * that folder must be new, empty, or a preview herald wrote before (its
 * preview.json is the mark); never the workspace or a folder holding it,
 * nothing in git's own folder, never through a link.
 */

const HINT = 'herald preview replaces its --out folder with the preview: give a new or empty folder, or one an earlier herald preview wrote (the default is .herald/preview)';

/** Refuses `out` (absolute) as the preview's folder for the workspace `workspace`, saying why. */
export function checkPreviewOut(out: string, workspace: string): void {
  const shown = `--out ${printable(out)}`;
  const real = realPath(out);
  const ws = realPath(workspace);
  if (real === ws) throw new UserError(`${shown} is the workspace`, HINT);
  if (within(real, ws)) throw new UserError(`${shown} holds the workspace`, HINT);
  if (real.split(sep).includes('.git')) throw new UserError(`${shown} is in git's own folder (.git)`, HINT);
  const st = lstatSync(out, { throwIfNoEntry: false });
  if (!st) return;
  if (st.isSymbolicLink()) throw new UserError(`${shown} is a symbolic link`, `${HINT}; name the folder itself, not a link to it`);
  if (!st.isDirectory()) throw new UserError(`${shown} is a file, not a folder`, HINT);
  const names = readdirSync(out);
  if (names.length === 0 || (names.includes('preview.json') && isPreviewSummary(join(out, 'preview.json')))) return;
  throw new UserError(`${shown} is a folder herald preview did not write (it has no preview.json), and would be replaced`, HINT);
}

/** Whether `file` is a preview's preview.json: what publish replaces is a preview, nothing else. */
function isPreviewSummary(file: string): boolean {
  try {
    if (!lstatSync(file).isFile()) return false;
    const summary = JSON.parse(readFileSync(file, 'utf8')) as { generated_at?: unknown; cells?: unknown };
    return typeof summary.generated_at === 'string' && Array.isArray(summary.cells);
  } catch {
    return false; // unreadable or not JSON: not herald's
  }
}

/** `path` with links resolved as far as it exists; the rest as written (mkdir -p makes it). */
function realPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    const parent = dirname(path);
    return parent === path ? path : join(realPath(parent), basename(path));
  }
}

/** Whether `inner` lies strictly inside `outer`. */
function within(outer: string, inner: string): boolean {
  const rel = relative(outer, inner);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..';
}
