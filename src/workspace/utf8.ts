import { isUtf8 } from 'node:buffer';

/** Where a file stops being UTF-8: the 1-based line and column (in characters, as editors count) of the offending byte. */
export interface BadByte {
  line: number;
  column: number;
  byte: number;
}

/**
 * Strict UTF-8 validation of a file read in chunks, keeping count of lines
 * and columns so the first bad byte can be located. Chunks are checked with
 * Node's native validator; only a failing chunk is scanned byte by byte. A
 * NUL (byte 0) is valid UTF-8 but no text herald can store (PostgreSQL
 * keeps none in text or jsonb), so the first one is reported too, as a bad
 * byte 0: whichever comes first. A NUL byte is never part of a longer
 * sequence, so it is found by a plain search.
 */
export class Utf8Check {
  private pending: Buffer = Buffer.alloc(0);
  private line = 1;
  private column = 1;
  private start = true;

  /** Checks the next chunk; returns where it breaks, if it does. */
  push(chunk: Buffer): BadByte | undefined {
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    if (this.start && buf.length >= 3) {
      this.start = false;
      // A byte-order mark is not a character the author sees.
      if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) buf = buf.subarray(3);
    } else if (this.start) {
      this.pending = Buffer.from(buf);
      return undefined;
    }
    const cut = incompleteTail(buf);
    const whole = buf.subarray(0, cut);
    const bad = firstBad(whole);
    if (bad >= 0) return this.locate(whole, bad);
    this.advance(whole);
    this.pending = Buffer.from(buf.subarray(cut));
    return undefined;
  }

  /** At the end of the file: a character cut short is an error too. */
  end(): BadByte | undefined {
    const rest = this.pending;
    this.pending = Buffer.alloc(0);
    if (rest.length === 0) return undefined;
    if (this.start) {
      this.start = false;
      if (rest.length === 3 && rest[0] === 0xef && rest[1] === 0xbb && rest[2] === 0xbf) return undefined;
    }
    const bad = firstBad(rest);
    return bad < 0 ? undefined : this.locate(rest, bad);
  }

  private advance(bytes: Buffer): void {
    const last = bytes.lastIndexOf(0x0a);
    if (last < 0) {
      this.column += bytes.toString('utf8').length;
      return;
    }
    for (let i = bytes.indexOf(0x0a); i >= 0 && i <= last; i = bytes.indexOf(0x0a, i + 1)) this.line++;
    this.column = 1 + bytes.toString('utf8', last + 1).length;
  }

  private locate(bytes: Buffer, found: number): BadByte {
    // Node's validator and firstInvalid follow the same table; should they ever differ, blame the start.
    const at = Math.max(0, found);
    this.advance(bytes.subarray(0, at));
    return { line: this.line, column: this.column, byte: bytes[at]! };
  }
}

/** The offset of the first byte that starts no character, or of the first NUL, whichever is first; -1 for neither. */
function firstBad(buf: Buffer): number {
  const nul = buf.indexOf(0);
  const invalid = isUtf8(buf) ? -1 : firstInvalid(nul < 0 ? buf : buf.subarray(0, nul));
  return invalid >= 0 ? invalid : nul;
}

/** The length of a valid sequence starting with `lead`, or 0 for a byte no character starts with. */
function sequenceLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

/** Where a character that the next chunk completes begins (the buffer's length when none is cut). */
function incompleteTail(buf: Buffer): number {
  for (let i = buf.length - 1; i >= Math.max(0, buf.length - 3); i--) {
    const b = buf[i]!;
    if (b >= 0x80 && b <= 0xbf) continue;
    const need = sequenceLength(b);
    return need > buf.length - i ? i : buf.length;
  }
  return buf.length;
}

/** The offset of the first byte that does not start a well-formed sequence (Unicode, Table 3-7). */
export function firstInvalid(buf: Uint8Array): number {
  let i = 0;
  while (i < buf.length) {
    const b = buf[i]!;
    const n = sequenceLength(b);
    if (n === 0 || i + n > buf.length) return i;
    if (n > 1) {
      const b1 = buf[i + 1]!;
      const lo = b === 0xe0 ? 0xa0 : b === 0xf0 ? 0x90 : 0x80;
      const hi = b === 0xed ? 0x9f : b === 0xf4 ? 0x8f : 0xbf;
      if (b1 < lo || b1 > hi) return i;
      for (let k = 2; k < n; k++) {
        const c = buf[i + k]!;
        if (c < 0x80 || c > 0xbf) return i;
      }
    }
    i += n;
  }
  return -1;
}
