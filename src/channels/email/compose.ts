import { transcode } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import libmime from 'libmime';
import type { RenderedMessage } from '../../render/message.js';

/**
 * The MIME message for one recipient: multipart/alternative with a text and an
 * HTML part, both UTF-8 and base64.
 *
 * Built here rather than by nodemailer's composer because it is the hot path
 * of sending: nodemailer builds a 50 KB message through a chain of streams in
 * ~0.6 ms (~1,700 a second per core), this in ~0.2 ms. Header encoding
 * (RFC 2047 words, folding) is libmime's, the library nodemailer and mailparser
 * use for it. The transport sends the bytes as they are (smtp.ts), with CRLF
 * lines and no line starting with a dot. Base64, not quoted-printable:
 * MJML's long lines make QP slower and no smaller.
 */
export interface Address {
  name?: string;
  address: string;
}

export interface ComposeInput {
  from: Address;
  replyTo?: string;
  to: string;
  subject: string;
  html: string;
  text: string;
  /** Without angle brackets: `<campaign>.<ledger id>@<domain>` for a ledger row. */
  messageId: string;
  /** Extra headers, such as List-Unsubscribe; names as written, values ASCII or encoded here. */
  headers?: Record<string, string>;
  date?: Date;
}

export interface ComposedMessage {
  raw: Buffer;
  messageId: string;
  envelope: { from: string; to: string };
}

/**
 * A boundary only has to differ from every line of the parts, which are
 * base64 and never hold "-": one random prefix per process and a count
 * make each unique without a call for random bytes per message.
 */
const BOUNDARY = `herald-${randomBytes(8).toString('hex')}-`;
let boundaries = 0;

export function composeMessage(m: ComposeInput): ComposedMessage {
  const boundary = `${BOUNDARY}${(boundaries++).toString(36)}`;
  const head: string[] = [
    header('From', formatAddress(m.from)),
    ...(m.replyTo ? [header('Reply-To', cleanAddress(m.replyTo))] : []),
    header('To', cleanAddress(m.to)),
    header('Subject', headerText(oneLine(m.subject))),
    header('Date', rfc2822Date(m.date ?? new Date())),
    header('Message-ID', `<${oneLine(m.messageId)}>`),
    ...Object.entries(m.headers ?? {}).map(([k, v]) => header(k, libmime.encodeWords(oneLine(v), 'B', 52))),
    'MIME-Version: 1.0',
    `Content-Type: multipart/alternative; boundary="${boundary}"`,
  ];
  // After the head all is boundaries and base64, ASCII: one buffer of the
  // message's size, the head written as UTF-8 and the rest as latin1, which
  // copies it as it is. Every intermediate Buffer (a 50 KB message made four)
  // was as much garbage to collect.
  const headText = `${head.join('\r\n')}\r\n\r\n`;
  const body = part(boundary, 'text/plain', m.text) + part(boundary, 'text/html', m.html) + `--${boundary}--\r\n`;
  const headBytes = Buffer.byteLength(headText, 'utf8');
  const raw = Buffer.allocUnsafe(headBytes + body.length);
  raw.write(headText, 0, headBytes, 'utf8');
  raw.write(body, headBytes, body.length, 'latin1');
  return { raw, messageId: `<${m.messageId}>`, envelope: { from: m.from.address, to: m.to } };
}

function part(boundary: string, type: string, body: string): string {
  return `--${boundary}\r\nContent-Type: ${type}; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n${base64Lines(body)}\r\n`;
}

/**
 * Base64 in lines of 76 characters (RFC 2045). The lines are appended to one
 * string, which the write into the message flattens in one copy.
 */
function base64Lines(body: string): string {
  const b64 = utf8(body).toString('base64');
  let out = b64.slice(0, 76);
  for (let i = 76; i < b64.length; i += 76) out += `\r\n${b64.slice(i, i + 76)}`;
  return out;
}

/**
 * A text's UTF-8. V8's own UTF-8 writer (Buffer.from) takes twice as long as
 * copying the string's UTF-16 into a buffer kept for the purpose and
 * converting that with ICU's transcode, which refuses only a lone surrogate
 * (a broken token): that text takes V8's way, which writes U+FFFD for it.
 */
function utf8(text: string): Buffer {
  if (scratch.length < text.length * 2) scratch = Buffer.allocUnsafeSlow(text.length * 2);
  try {
    return transcode(scratch.subarray(0, scratch.write(text, 0, 'utf16le')), 'utf16le', 'utf8');
  } catch {
    return Buffer.from(text, 'utf8');
  }
}
let scratch = Buffer.allocUnsafeSlow(64 * 1024);

/** `Name: value`, folded at 76 characters where the value has spaces. */
function header(name: string, value: string): string {
  return libmime.foldLines(`${name}: ${value}`, 76);
}

/** `"Display Name" <address>`, the name encoded when it is not plain ASCII. */
export function formatAddress(a: Address): string {
  const address = cleanAddress(a.address);
  const name = oneLine(a.name ?? '');
  if (!name) return address;
  const text = headerText(name);
  if (text !== name) return `${text} <${address}>`;
  return /^[\w !#$%&'*+\-/=?^`{|}~]*$/.test(name) ? `${name} <${address}>` : `"${name.replace(/["\\]/g, '\\$&')}" <${address}>`;
}

/**
 * Text for the Subject or a display name: as it is when it is printable ASCII
 * that folds, else RFC 2047 B-words throughout. libmime's encodeWords would
 * leave the ASCII around non-ASCII words bare, where a reader parses it: `<x@y>`
 * or `"` in a display name, `=?utf-8?…?=` that decodes, control characters, or
 * a word too long to fold under the 998-byte line limit.
 */
function headerText(s: string): string {
  return /^[\x20-\x7e]*$/.test(s) && !s.includes('=?') && !/\S{77}/.test(s) ? s : libmime.encodeWord(s, 'B', 52);
}

/**
 * Header values never carry line breaks, whatever a token or a name
 * contained: a customer named "x\r\nBcc: …" cannot add a header.
 */
function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').trim();
}

/** An address goes into a header as it is; anything that could end or extend the header is dropped. */
function cleanAddress(s: string): string {
  return s.replace(/[\r\n<>,;"]/g, '').trim();
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `Mon, 23 Nov 2026 07:47:40 +0000`, as RFC 5322 writes dates. */
function rfc2822Date(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]}, ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/**
 * A rendered message as MIME, with the headers every herald message carries:
 * List-Unsubscribe with the https link and a mailto, and RFC 8058 one-click;
 * the envelope sender is the message's VERP return path when it has one.
 * `id` is the Message-ID's local part; the domain is the From address's.
 */
export function composeRendered(r: RenderedMessage, o: { to: string; id: string; subjectPrefix?: string; headers?: Record<string, string> }): ComposedMessage {
  const domain = r.from.address.split('@')[1] ?? 'localhost';
  const composed = composeMessage({
    from: r.from,
    ...(r.replyTo ? { replyTo: r.replyTo } : {}),
    to: o.to,
    subject: o.subjectPrefix ? `${o.subjectPrefix} ${r.subject}` : r.subject,
    html: r.html,
    text: r.text,
    messageId: `${o.id}@${domain}`,
    headers: {
      'List-Unsubscribe': `<${r.links.unsubscribe}>, <${r.links.unsubscribeMailto}>`,
      // RFC 8058 one-click: mailbox providers POST to the https link.
      'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
      ...o.headers,
    },
  });
  // A ledger message's bounces and complaints come back to its VERP address.
  return r.returnPath ? { ...composed, envelope: { ...composed.envelope, from: r.returnPath } } : composed;
}
