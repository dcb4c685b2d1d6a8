import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { UserError } from '../errors.js';
import { bytesToText } from './mime.js';

/**
 * Mail to import, from wherever the user has it: one .eml file, a directory
 * of them, an mbox file (messages after `From ` lines, `>From ` unquoted),
 * or standard input (either form). Each mail keeps where it came from, so a
 * summary can say which one it could not use.
 */
export interface Mail {
  /** `file`, `file#3` for the third message of an mbox, `-#2` for stdin. */
  where: string;
  raw: string;
}

/**
 * Reads a file or a directory (not recursive). A file given by name must be
 * mail; in a directory, files that are not (a README, a listing) are skipped,
 * and said so.
 */
export function readMailPath(path: string): { mails: Mail[]; skipped: { where: string; why: string }[] } {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    throw new UserError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`, 'give a .eml file, an mbox file, a directory of them, or - for standard input');
  }
  if (!st.isDirectory()) return { mails: readMailFile(path), skipped: [] };
  const mails: Mail[] = [];
  const skipped: { where: string; why: string }[] = [];
  const names = readdirSync(path)
    .filter((n) => !n.startsWith('.'))
    .sort();
  for (const n of names) {
    const file = join(path, n);
    if (!statSync(file).isFile()) continue;
    try {
      mails.push(...readMailFile(file));
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      skipped.push({ where: file, why: err.message.replace(`${file} `, '') });
    }
  }
  return { mails, skipped };
}

function readMailFile(file: string): Mail[] {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new UserError(`cannot read ${file}: ${(err as Error).message}`);
  }
  return splitMail(bytesToText(bytes), file);
}

/** One text → its mails: an mbox when it starts with a From_ line, else one message. */
export function splitMail(text: string, where: string): Mail[] {
  const name = where === '-' ? '-' : where;
  if (text.trim() === '') throw new UserError(`${name} is empty`, 'give a mail (.eml) or an mbox file');
  if (!/^From \S/.test(text)) {
    checkLooksLikeMail(text, name);
    return [{ where: name, raw: text }];
  }
  const mails: Mail[] = [];
  let current: string[] | undefined;
  const flush = () => {
    if (current) mails.push({ where: `${name}#${mails.length + 1}`, raw: current.join('\n') });
  };
  for (const line of text.split(/\r?\n/)) {
    if (/^From \S/.test(line)) {
      flush();
      current = [];
      continue;
    }
    // mboxrd: a body line that began with From (after any >) got one more >.
    current!.push(/^>+From /.test(line) ? line.slice(1) : line);
  }
  flush();
  return mails;
}

function checkLooksLikeMail(text: string, where: string): void {
  const firstLine = text.split(/\r?\n/, 1)[0] ?? '';
  if (!/^[!-9;-~]+:/.test(firstLine)) {
    throw new UserError(`${where} is not a mail: it does not start with headers or a From_ line`, `give a .eml file (a DSN or complaint as your mail client saves it) or an mbox file; ${basename(where)} starts with "${firstLine.slice(0, 40)}"`);
  }
}
