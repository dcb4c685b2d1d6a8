import { timingSafeEqual } from 'node:crypto';
import { keyId, shortMac } from './token.js';

/**
 * Short signed tracking links, `<tracking.base_url>/s/<token>`, for SMS
 * (where every character is paid for) and a push notification's tap. The
 * token is binary, base64url: 12 characters for a message id under 128, 16
 * under 2^28, 18 under 2^35, 20 at most (ids up to 2^49):
 *
 *   key    1 byte    the first byte of the signing secret's key id (keyId)
 *   id     varint    the ledger message (LEB128: 7 bits a byte)
 *   link   varint    the link's index × 2, + 1 for a push notification's tap
 *   mac    6 bytes   HMAC-SHA256 of "short\0" + the bytes above (as base64url), cut to 48 bits (shortMac)
 *
 * 48 bits is what nobody guesses against a server (the Message-ID tag has as
 * many); the key byte only picks the secrets to try, the MAC decides, so a
 * rotation keeps links in phones working while the old secret is listed.
 * The token names no link set: a short link's destinations are the
 * message's own set, stored under shortSetKey (see rewrite.ts shortenLinks).
 */
export const SHORT_PATH = 's';

const MAC_BYTES = 6;
/** Varint bytes of a message id: 7 carry 49 bits, every safe integer a bigserial reaches in practice. */
const MAX_ID_BYTES = 7;
const MAX_INDEX_BYTES = 3;

export interface ShortLink {
  message: number;
  /** The link's index in the message's link set. */
  index: number;
  /** A push notification's tap: it counts as the push's open too. */
  push: boolean;
}

export type ShortResult = { ok: true; link: ShortLink; keyId: string } | { ok: false; reason: string };

export function shortToken(link: ShortLink, secret: string): string {
  if (!Number.isSafeInteger(link.message) || link.message <= 0 || link.message >= 2 ** (7 * MAX_ID_BYTES)) throw new Error(`short link for message ${link.message}: not a ledger id`);
  if (!Number.isSafeInteger(link.index) || link.index < 0 || link.index >= 2 ** 20) throw new Error(`short link index ${link.index} out of range`);
  const body = Buffer.from([keyByte(secret), ...varint(link.message), ...varint(link.index * 2 + (link.push ? 1 : 0))]);
  return Buffer.concat([body, mac(body, secret)]).toString('base64url');
}

/** Reads and checks a short token against every secret (the current one first). */
export function readShortToken(token: string, secrets: string | readonly string[]): ShortResult {
  if (!/^[A-Za-z0-9_-]{10,32}$/.test(token)) return { ok: false, reason: 'malformed short token' };
  const bytes = Buffer.from(token, 'base64url');
  const body = bytes.subarray(0, bytes.length - MAC_BYTES);
  const given = bytes.subarray(bytes.length - MAC_BYTES);
  const id = readVarint(body, 1, MAX_ID_BYTES);
  const link = id && readVarint(body, id.end, MAX_INDEX_BYTES);
  if (body.length < 3 || !id || !link || link.end !== body.length || id.value <= 0) return { ok: false, reason: 'malformed short token' };
  const all = typeof secrets === 'string' ? [secrets] : secrets;
  const candidates = all.filter((s) => keyByte(s) === body[0]);
  if (candidates.length === 0) return { ok: false, reason: `signed with a key herald does not have (key id ${body[0]!.toString(16).padStart(2, '0')}…); was a secret retired from tracking.previous_secret_envs?` };
  for (const secret of candidates) {
    if (timingSafeEqual(mac(body, secret), given)) {
      return { ok: true, link: { message: id.value, index: Math.floor(link.value / 2), push: link.value % 2 === 1 }, keyId: keyId(secret) };
    }
  }
  return { ok: false, reason: 'bad signature' };
}

/**
 * The key in herald.link_sets under which a message's short links are
 * stored. Not a content hash (those are base64url, never with a colon): SMS
 * and push links are mostly per customer, and the short token has no room
 * for one.
 */
export function shortSetKey(message: number): string {
  return `msg:${message}`;
}

function keyByte(secret: string): number {
  return parseInt(keyId(secret).slice(0, 2), 16);
}

function mac(body: Buffer, secret: string): Buffer {
  return Buffer.from(shortMac(`short\0${body.toString('base64url')}`, secret, MAC_BYTES * 2), 'hex');
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
}

function readVarint(b: Buffer, start: number, maxBytes: number): { value: number; end: number } | undefined {
  let value = 0;
  for (let i = 0; i < maxBytes && start + i < b.length; i++) {
    const byte = b[start + i]!;
    value += (byte & 0x7f) * 2 ** (7 * i);
    if (byte < 0x80) return Number.isSafeInteger(value) ? { value, end: start + i + 1 } : undefined;
  }
  return undefined;
}
