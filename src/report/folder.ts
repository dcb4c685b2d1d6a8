import { mkdirSync } from 'node:fs';
import { printable, UserError } from '../errors.js';
import { inTheWay } from '../workspace/files.js';

/**
 * The folders reports are written into (reports/, reports/triggers/), made
 * when missing. A file where one of them goes is the user's (notes, a
 * mistaken copy): it is named, with what to do, and left alone.
 */
export function makeReportFolder(root: string, folder: string, what: string): void {
  const blocked = inTheWay(root, folder);
  // A link committed in its place would make every report land where it points.
  if (blocked?.link) throw new UserError(`cannot write ${what}: ${printable(blocked.path)} is a symbolic link; herald writes reports into the repository's own folder`, 'remove the link (a folder of that name is made), and run again');
  if (blocked) throw new UserError(`cannot write ${what}: ${printable(blocked.path)} is a file, not a folder`, `move or remove it, and run again: herald writes ${what} into that folder`);
  mkdirSync(folder, { recursive: true });
}

/** A report file's error when a folder stands where it goes; any other error as it is. */
export function reportFileError(e: unknown, file: string, what: string): unknown {
  const code = (e as NodeJS.ErrnoException).code;
  if (code !== 'EISDIR' && code !== 'ENOTEMPTY' && code !== 'EEXIST') return e;
  return new UserError(`cannot write ${what}: ${printable(file)} is a folder, not a file`, 'move or remove it, and run again');
}
