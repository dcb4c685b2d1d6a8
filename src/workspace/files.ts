import { createHash } from 'node:crypto';
import { closeSync, constants, createReadStream, fstatSync, lstatSync, openSync, readdirSync, readSync, realpathSync, renameSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import type { Problem } from '../errors.js';
import { Utf8Check, type BadByte } from './utf8.js';

/**
 * The one way herald reads a workspace file. A workspace comes from a git
 * repository anyone can open a pull request against, so a file may be a link
 * to a key elsewhere on the machine, a device that never ends, a pipe that
 * never opens, or simply huge. Every read here:
 *
 * - resolves links and refuses a file whose real path leaves the workspace,
 *   so nothing outside it can ever reach an error message;
 * - accepts only regular files (a folder, device, pipe or socket is refused,
 *   and opening never blocks);
 * - refuses a file over its size limit, checked before reading and enforced
 *   while reading, for a file that grows or lies about its size;
 * - decodes strictly as UTF-8 (a leading BOM is fine), and points at the
 *   first byte that is not;
 * - refuses a NUL character, and points at it: PostgreSQL stores none in
 *   text or jsonb, so one would pass validate and fail apply.
 *
 * Each refusal is a Problem located in the file, never an exception.
 */

/** How large a kind of file may be, and what to tell its author when it is larger. */
export interface SizeLimit {
  bytes: number;
  what: string;
  hint: string;
}

/** YAML, MJML and plain-text files: a hand-written file is a few KB; Gmail clips HTML over 102 KB. */
export const TEXT_LIMIT: SizeLimit = {
  bytes: 1024 * 1024,
  what: 'a YAML, MJML or text file',
  hint: 'a workspace file is written by hand and needs far less; split it, or move repeated markup into a partial',
};

/** List CSVs: a million contacts take about 50 MB. */
export const CSV_LIMIT: SizeLimit = {
  bytes: 256 * 1024 * 1024,
  what: 'a list CSV',
  hint: 'split the contacts into several lists',
};

/** A refusal met while streaming a file, carrying its located problem. */
export class WorkspaceFileError extends Error {
  override name = 'WorkspaceFileError';
  constructor(readonly problem: Problem) {
    super(`${problem.file}:${problem.line}:${problem.column}: ${problem.message}`);
  }
}

export type TextRead = { text: string; problem?: undefined } | { text?: undefined; problem: Problem };

/** A whole text file, decoded. */
export function readWorkspaceText(root: string, file: string, limit: SizeLimit = TEXT_LIMIT): TextRead {
  const opened = openInside(root, file, limit);
  if (opened.problem) return { problem: opened.problem };
  const utf8 = new Utf8Check();
  const chunks: Buffer[] = [];
  try {
    const problem = readChunks(opened.fd, file, limit, (chunk) => {
      const bad = utf8.push(chunk);
      if (bad) return badByte(file, bad);
      chunks.push(chunk);
      return undefined;
    });
    if (problem) return { problem };
  } finally {
    closeSync(opened.fd);
  }
  const bad = utf8.end();
  if (bad) return { problem: badByte(file, bad) };
  return { text: stripBom(Buffer.concat(chunks).toString('utf8')) };
}

/** The SHA-256 of a file's bytes, read in chunks: a list's CSV may be large. */
export function hashWorkspaceFile(root: string, file: string, limit: SizeLimit = CSV_LIMIT): { sha256: string; problem?: undefined } | { sha256?: undefined; problem: Problem } {
  const opened = openInside(root, file, limit);
  if (opened.problem) return { problem: opened.problem };
  const hash = createHash('sha256');
  try {
    const problem = readChunks(opened.fd, file, limit, (chunk) => void hash.update(chunk));
    if (problem) return { problem };
  } finally {
    closeSync(opened.fd);
  }
  return { sha256: hash.digest('hex') };
}

/**
 * A file as a stream of its raw bytes (so a hash of them is the file's), for
 * files too large to hold, such as list CSVs. The stream fails with a
 * WorkspaceFileError when the file outgrows `limit` or is not UTF-8.
 */
export function openWorkspaceStream(root: string, file: string, limit: SizeLimit = CSV_LIMIT): { stream: Readable; problem?: undefined } | { stream?: undefined; problem: Problem } {
  const opened = openInside(root, file, limit);
  if (opened.problem) return { problem: opened.problem };
  const input = createReadStream('', { fd: opened.fd, autoClose: true });
  const utf8 = new Utf8Check();
  let size = 0;
  const checked = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > limit.bytes) return done(new WorkspaceFileError(tooLarge(file, limit)));
      const bad = utf8.push(chunk);
      if (bad) return done(new WorkspaceFileError(badByte(file, bad)));
      done(null, chunk);
    },
    flush(done) {
      const bad = utf8.end();
      done(bad ? new WorkspaceFileError(badByte(file, bad)) : null);
    },
  });
  input.on('error', (e) => checked.destroy(e));
  checked.on('close', () => input.destroy());
  return { stream: input.pipe(checked) };
}

/** The names in a workspace folder; the folder must be inside the workspace. */
export function listWorkspaceDir(root: string, folder: string): { names: string[]; problem?: undefined } | { names?: undefined; problem: Problem } {
  const resolved = resolveInside(root, folder);
  if (resolved.problem) return { problem: resolved.problem };
  if (!resolved.stats.isDirectory()) return { problem: fileProblem(folder, `${folder} is not a folder`, 'remove it, or make it a folder') };
  try {
    return { names: readdirSync(resolved.real).sort() };
  } catch (e) {
    return { problem: unreadable(folder, e) };
  }
}

/** What is at a workspace path, without following it: nothing, or something a read can judge. */
export function workspaceEntryExists(root: string, file: string): boolean {
  return lstatSync(join(root, file), { throwIfNoEntry: false }) !== undefined;
}

/** Why a workspace file cannot be read, judged without opening it: a link out of the workspace, a broken link, a folder, a pipe. */
export function unreadableWorkspaceFile(root: string, file: string): Problem | undefined {
  const resolved = resolveInside(root, file);
  return resolved.problem ?? notRegular(file, resolved.stats);
}

/**
 * Writes `file` whole: beside it under a temporary name made afresh (`wx`:
 * never through a link planted under that name, which a pull request can
 * commit), then renamed over it (which replaces a link standing at `file`,
 * not its target). A reader never sees half a file. Errors are the caller's
 * to word.
 */
export function replaceFile(file: string, content: string | Uint8Array): void {
  const tmp = `${file}.tmp`;
  rmSync(tmp, { force: true });
  writeFileSync(tmp, content, { flag: 'wx' });
  renameSync(tmp, file);
}

/**
 * The first path from `root` (not included) down to `folder` that is a
 * symbolic link or no folder; none when the rest is folders or missing.
 * What herald makes its own folders with (reports, the outbox): a link
 * committed in one's place would make herald write wherever it points.
 */
export function inTheWay(root: string, folder: string): { path: string; link: boolean } | undefined {
  const parts = relative(root, folder).split(sep).filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const path = join(root, ...parts.slice(0, i));
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (!st) return undefined;
    if (st.isSymbolicLink() || !st.isDirectory()) return { path, link: st.isSymbolicLink() };
  }
  return undefined;
}

/**
 * Whether writing at `path` would stay inside the workspace: the deepest part
 * of it that exists must, links resolved (a folder about to be made with
 * mkdir -p is created under it).
 */
export function writableInside(root: string, path: string): boolean {
  let base: string;
  try {
    base = realpathSync(root);
  } catch {
    return false;
  }
  for (let p = join(root, path); ; p = dirname(p)) {
    if (lstatSync(p, { throwIfNoEntry: false }) !== undefined) {
      try {
        const rel = relative(base, realpathSync(p));
        return !(rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel));
      } catch {
        return false; // a broken link or a loop
      }
    }
    if (p === dirname(p)) return false;
  }
}

/** What a workspace path leads to, links followed; a link out of the workspace, a broken link or a loop is a problem. */
export function workspacePathKind(root: string, path: string): { kind: 'folder' | 'file' | 'special'; problem?: undefined } | { kind?: undefined; problem: Problem } {
  const resolved = resolveInside(root, path);
  if (resolved.problem) return { problem: resolved.problem };
  return { kind: resolved.stats.isDirectory() ? 'folder' : resolved.stats.isFile() ? 'file' : 'special' };
}

/** The real path of `file`, checked to lie inside the workspace, with its stats. */
function resolveInside(root: string, file: string): { real: string; stats: Stats; problem?: undefined } | { real?: undefined; stats?: undefined; problem: Problem } {
  let real: string;
  let base: string;
  try {
    base = realpathSync(root);
    real = realpathSync(join(root, file));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      const link = lstatSync(join(root, file), { throwIfNoEntry: false })?.isSymbolicLink();
      return link
        ? { problem: fileProblem(file, `${file} is a symbolic link to a file that does not exist`, 'point the link at a file in the workspace, or replace it with the file itself') }
        : { problem: fileProblem(file, `${file} does not exist`, 'create it, or remove what refers to it') };
    }
    if (code === 'ELOOP') return { problem: fileProblem(file, `${file} is a symbolic link that loops back on itself`, 'replace the link with the file itself') };
    return { problem: unreadable(file, e) };
  }
  const rel = relative(base, real);
  if (rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel)) {
    // The target is deliberately not named: it is a path on this machine, not the workspace's business.
    return { problem: fileProblem(file, `${file} leads outside the workspace through a symbolic link`, 'herald reads only files inside the workspace: copy the file in instead of linking to it') };
  }
  try {
    return { real, stats: statSync(real) };
  } catch (e) {
    return { problem: unreadable(file, e) };
  }
}

/** Opens a regular file inside the workspace without blocking, its size within the limit. */
function openInside(root: string, file: string, limit: SizeLimit): { fd: number; problem?: undefined } | { fd?: undefined; problem: Problem } {
  const resolved = resolveInside(root, file);
  if (resolved.problem) return { problem: resolved.problem };
  const kind = notRegular(file, resolved.stats);
  if (kind) return { problem: kind };
  if (resolved.stats.size > limit.bytes) return { problem: tooLarge(file, limit, resolved.stats.size) };
  let fd: number;
  try {
    // O_NONBLOCK: a pipe swapped in since the check above cannot hang the open; O_NOFOLLOW: nor can a link.
    fd = openSync(resolved.real, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch (e) {
    return { problem: unreadable(file, e) };
  }
  const stats = fstatSync(fd);
  const problem = notRegular(file, stats) ?? (stats.size > limit.bytes ? tooLarge(file, limit, stats.size) : undefined);
  if (problem) {
    closeSync(fd);
    return { problem };
  }
  return { fd };
}

/** Reads to the end in chunks, refusing more than `limit` bytes; `take` may stop the read with a problem. */
function readChunks(fd: number, file: string, limit: SizeLimit, take: (chunk: Buffer) => Problem | undefined): Problem | undefined {
  let size = 0;
  for (;;) {
    const buf = Buffer.allocUnsafe(64 * 1024);
    let n: number;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch (e) {
      return unreadable(file, e);
    }
    if (n === 0) return undefined;
    size += n;
    if (size > limit.bytes) return tooLarge(file, limit);
    const problem = take(buf.subarray(0, n));
    if (problem) return problem;
  }
}

function notRegular(file: string, stats: Stats): Problem | undefined {
  if (stats.isFile()) return undefined;
  if (stats.isDirectory()) return fileProblem(file, `${file} is a folder, not a file`, 'rename or remove the folder');
  return fileProblem(file, `${file} is not a regular file (a device, pipe or socket)`, 'replace it with an ordinary file');
}

function tooLarge(file: string, limit: SizeLimit, size?: number): Problem {
  const is = size === undefined ? 'is larger than' : `has ${size.toLocaleString('en')} bytes, over`;
  return fileProblem(file, `${file} ${is} the limit of ${bytes(limit.bytes)} for ${limit.what}`, limit.hint);
}

/** A limit as people say it: 1 MB, 256 MB, 64 KB, 100 bytes. */
function bytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KB`;
  return `${n.toLocaleString('en')} bytes`;
}

function notUtf8(file: string, bad: { line: number; column: number; byte: number }): Problem {
  return {
    file,
    line: bad.line,
    column: bad.column,
    message: `the file is not valid UTF-8: byte 0x${bad.byte.toString(16).toUpperCase().padStart(2, '0')} here starts no character`,
    rule: 'file',
    severity: 'error',
    hint: 'herald reads UTF-8 only; re-save the file as UTF-8 (it was probably written as Latin-1 or Windows-1252)',
  };
}

/** Utf8Check's finding: a NUL, or a byte that starts no character. */
function badByte(file: string, bad: BadByte): Problem {
  return bad.byte === 0 ? hasNul(file, bad) : notUtf8(file, bad);
}

function hasNul(file: string, at: { line: number; column: number }): Problem {
  return {
    file,
    line: at.line,
    column: at.column,
    message: 'the file has a NUL character (byte 0x00) here',
    rule: 'file',
    severity: 'error',
    hint: 'remove it: herald cannot store a NUL, and text never needs one (a file full of them was saved as UTF-16: re-save it as UTF-8)',
  };
}

function unreadable(file: string, e: unknown): Problem {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return fileProblem(file, `${file} cannot be read: permission denied`, 'make it readable for the user running herald');
  if (code === undefined) throw e;
  return fileProblem(file, `${file} cannot be read (${code})`, 'check the file');
}

function fileProblem(file: string, message: string, hint: string): Problem {
  return { file, line: 1, column: 1, message, rule: 'file', severity: 'error', hint };
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}
