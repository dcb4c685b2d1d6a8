import { lstatSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { printable, UserError } from '../errors.js';

/**
 * The folders reports are written into (reports/, reports/triggers/), made
 * when missing. A file where one of them goes is the user's (notes, a
 * mistaken copy): it is named, with what to do, and left alone.
 */
export function makeReportFolder(root: string, folder: string, what: string): void {
  // A link committed in its place would make every report land where it points.
  const link = linkOnTheWay(root, folder);
  if (link) throw new UserError(`cannot write ${what}: ${printable(link)} is a symbolic link; herald writes reports into the repository's own folder`, 'remove the link (a folder of that name is made), and run again');
  try {
    mkdirSync(folder, { recursive: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST' && code !== 'ENOTDIR') throw e;
    throw new UserError(`cannot write ${what}: ${printable(inTheWay(folder) ?? folder)} is a file, not a folder`, `move or remove it, and run again: herald writes ${what} into that folder`);
  }
}

/** The first path from `root` (not included) down to `folder` that is a symbolic link. */
function linkOnTheWay(root: string, folder: string): string | undefined {
  const parts = relative(root, folder).split(sep).filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const p = join(root, ...parts.slice(0, i));
    const st = lstatSync(p, { throwIfNoEntry: false });
    if (st?.isSymbolicLink()) return p;
    // Missing, or a file in the way (mkdir says so below): nothing further down exists.
    if (!st?.isDirectory()) return undefined;
  }
  return undefined;
}

/** The outermost part of `folder` that exists and is no folder (links followed, as mkdir follows them). */
function inTheWay(folder: string): string | undefined {
  const parts: string[] = [];
  for (let p = folder; ; p = dirname(p)) {
    parts.unshift(p);
    if (p === dirname(p)) break;
  }
  for (const p of parts) {
    try {
      if (!statSync(p).isDirectory()) return p;
    } catch {
      return undefined; // missing from here down: nothing in the way
    }
  }
  return undefined;
}

/** A report file's error when a folder stands where it goes; any other error as it is. */
export function reportFileError(e: unknown, file: string, what: string): unknown {
  const code = (e as NodeJS.ErrnoException).code;
  if (code !== 'EISDIR' && code !== 'ENOTEMPTY' && code !== 'EEXIST') return e;
  return new UserError(`cannot write ${what}: ${printable(file)} is a folder, not a file`, 'move or remove it, and run again');
}
