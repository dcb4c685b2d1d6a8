import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { printable, UserError } from '../errors.js';
import { inTheWay } from '../workspace/files.js';

/**
 * `<outbox>/<sub>` (a campaign's, `triggers/<name>`, `sms`, `push`), made
 * when missing. The outbox itself was checked where it was chosen (a link
 * as `.herald` or `.herald/outbox` is refused, cli/context.ts heraldPath);
 * a link committed below it would make herald write wherever it points, so
 * one there, or a file, is refused too.
 */
export function outboxFolder(outbox: string, sub: string): string {
  const folder = join(outbox, sub);
  const blocked = inTheWay(outbox, folder);
  if (blocked) {
    throw new UserError(
      `cannot write to the outbox: ${printable(blocked.path)} is ${blocked.link ? 'a symbolic link' : 'a file, not a folder'}; herald writes the outbox into folders of its own`,
      `remove it (herald makes the folder), and send again: the message is retried`,
    );
  }
  mkdirSync(folder, { recursive: true });
  return folder;
}
