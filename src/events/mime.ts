/**
 * Just enough MIME to read what comes back after a send: header blocks,
 * multipart bodies, base64 and quoted-printable, message/rfc822 and the
 * header-only parts reports carry (message/delivery-status,
 * message/feedback-report, text/rfc822-headers). Bounces and complaint
 * reports are machine-written and small; nothing here renders a body.
 * Hostile input is expected: nesting is bounded and nothing throws on a
 * malformed part, it just yields less.
 */
export interface Header {
  /** Lower-cased. */
  name: string;
  /** Unfolded, trimmed; encoded words are left as they are (see decodeWords). */
  value: string;
}

export interface MimePart {
  headers: Header[];
  /** Lower-cased type/subtype; text/plain when the part names none. */
  type: string;
  params: Record<string, string>;
  /** The decoded body as text (UTF-8, else Latin-1), for leaf parts. */
  text: string;
  /** Sub-parts of a multipart, or the one enclosed message of message/rfc822. */
  parts: MimePart[];
}

const MAX_DEPTH = 8;

export function parseMessage(raw: string, depth = 0): MimePart {
  const { headers, body } = splitHeaders(raw);
  const [type, params] = contentType(header(headers, 'content-type'));
  const part: MimePart = { headers, type, params, text: '', parts: [] };
  if (depth >= MAX_DEPTH) return part;
  if (type.startsWith('multipart/') && params.boundary) {
    part.parts = splitMultipart(body, params.boundary).map((p) => parseMessage(p, depth + 1));
    return part;
  }
  const text = decodeBody(body, header(headers, 'content-transfer-encoding'));
  part.text = text;
  if (type === 'message/rfc822' || type === 'message/global') part.parts = [parseMessage(text, depth + 1)];
  return part;
}

/** Headers and body: the first empty line divides them. A message without one is all headers. */
export function splitHeaders(raw: string): { headers: Header[]; body: string } {
  const m = /\r?\n\r?\n/.exec(raw);
  const head = m ? raw.slice(0, m.index) : raw;
  const body = m ? raw.slice(m.index + m[0].length) : '';
  return { headers: parseHeaders(head), body };
}

/** A block of `Name: value` lines; continuation lines start with white space. */
export function parseHeaders(block: string): Header[] {
  const out: Header[] = [];
  for (const line of block.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && out.length) {
      out[out.length - 1]!.value += ` ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    // A From_ line of an mbox, or prose: header names have no spaces.
    if (/\s/.test(name)) continue;
    out.push({ name, value: line.slice(colon + 1).trim() });
  }
  return out;
}

export function header(headers: readonly Header[], name: string): string | undefined {
  return headers.find((h) => h.name === name)?.value;
}

export function headersNamed(headers: readonly Header[], name: string): string[] {
  return headers.filter((h) => h.name === name).map((h) => h.value);
}

/** `multipart/report; report-type=delivery-status; boundary="x"` → ['multipart/report', {report-type, boundary}]. */
export function contentType(value: string | undefined): [string, Record<string, string>] {
  if (!value) return ['text/plain', {}];
  const [first, ...rest] = value.split(';');
  const params: Record<string, string> = {};
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq < 0) continue;
    params[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
  }
  return [(first ?? '').trim().toLowerCase() || 'text/plain', params];
}

function splitMultipart(body: string, boundary: string): string[] {
  const lines = body.split(/\r?\n/);
  const parts: string[] = [];
  let current: string[] | undefined;
  for (const line of lines) {
    const t = line.trimEnd();
    if (t === `--${boundary}--`) {
      if (current) parts.push(current.join('\n'));
      current = undefined;
      break;
    }
    if (t === `--${boundary}`) {
      if (current) parts.push(current.join('\n'));
      current = [];
      continue;
    }
    current?.push(line);
  }
  // A report cut off before its closing boundary still has its parts.
  if (current) parts.push(current.join('\n'));
  return parts;
}

function decodeBody(body: string, encoding: string | undefined): string {
  const e = (encoding ?? '').trim().toLowerCase();
  if (e === 'base64') return bytesToText(Buffer.from(body.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64'));
  if (e === 'quoted-printable') return bytesToText(quotedPrintable(body));
  return body;
}

function quotedPrintable(s: string): Buffer {
  const soft = s.replace(/=\r?\n/g, '');
  const bytes: number[] = [];
  for (let i = 0; i < soft.length; i++) {
    const c = soft[i]!;
    if (c === '=' && /^[0-9A-Fa-f]{2}$/.test(soft.slice(i + 1, i + 3))) {
      bytes.push(parseInt(soft.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      for (const b of Buffer.from(c, 'utf8')) bytes.push(b);
    }
  }
  return Buffer.from(bytes);
}

/** UTF-8 when the bytes are valid UTF-8, else Latin-1: reports rarely say their charset right. */
export function bytesToText(b: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(b);
  } catch {
    return b.toString('latin1');
  }
}

/** RFC 2047 encoded words (`=?utf-8?Q?…?=`), for subjects. An unknown charset is read as UTF-8. */
export function decodeWords(value: string): string {
  return value
    .replace(/(=\?[^?]+\?[bBqQ]\?[^?]*\?=)\s+(?==\?)/g, '$1')
    .replace(/=\?([^?*]+)(?:\*[^?]*)?\?([bBqQ])\?([^?]*)\?=/g, (_, charset: string, enc: string, text: string) => {
      const bytes = enc.toUpperCase() === 'B' ? Buffer.from(text, 'base64') : quotedPrintable(text.replace(/_/g, ' '));
      try {
        return new TextDecoder(charset.toLowerCase()).decode(bytes);
      } catch {
        return bytes.toString('utf8');
      }
    });
}

/** Every part, depth first, the message itself included. */
export function* walk(part: MimePart): Generator<MimePart> {
  yield part;
  for (const p of part.parts) yield* walk(p);
}

/** The bare address in `Name <a@b>` or `<a@b>` or `rfc822; a@b`. */
export function bareAddress(value: string): string {
  const v = value.replace(/^[a-z0-9-]+;\s*/i, '');
  const angle = /<([^<>\s]+@[^<>\s]+)>/.exec(v);
  return (angle ? angle[1]! : v.trim().split(/\s+/)[0] ?? '').trim();
}
