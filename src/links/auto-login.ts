import { randomBytes } from 'node:crypto';
import { signToken, verifyToken } from './token.js';

/**
 * Auto-login links: a signed token that logs a customer into the shop. It
 * names the customer and the site, expires (7 days by default), carries a
 * nonce so two links never look alike, and a purpose, so that no other
 * herald token (an unsubscribe link, say) can ever be used to log in.
 *
 * The shop's backend checks a token with verifyAutoLoginToken (exported by
 * the herald package) and the same secret herald signs with.
 */
export interface AutoLogin {
  customerId: number;
  site: string;
  expiresAt: Date;
}

export const AUTO_LOGIN_TTL_DAYS = 7;
const PURPOSE = 'login';

export function signAutoLoginToken(customerId: number, site: string, secret: string, opts: { now?: Date; ttlDays?: number } = {}): string {
  const now = opts.now ?? new Date();
  const exp = Math.floor(now.getTime() / 1000) + Math.round((opts.ttlDays ?? AUTO_LOGIN_TTL_DAYS) * 86_400);
  return signToken({ p: PURPOSE, c: customerId, s: site, exp, n: nonce() }, secret);
}

/**
 * 9 random bytes, taken from a pool filled 4 KB at a time: a call for random
 * bytes per link cost a sent message as much as signing a token. Each byte
 * is used once.
 */
function nonce(): string {
  if (used + NONCE_BYTES > pool.length) {
    pool = randomBytes(NONCE_BYTES * 455);
    used = 0;
  }
  const n = pool.toString('base64url', used, used + NONCE_BYTES);
  used += NONCE_BYTES;
  return n;
}
const NONCE_BYTES = 9;
let pool = Buffer.alloc(0);
let used = 0;

export type AutoLoginResult = { ok: true; login: AutoLogin } | { ok: false; reason: string };

/**
 * Checks a token: signature, purpose, expiry. A reason says why a bad one
 * is refused. `secret` may be several (the current one first, then those of
 * tracking.previous_secret_envs), so links sent before a rotation still log in.
 */
export function verifyAutoLoginToken(token: string, secret: string | readonly string[], now: Date = new Date()): AutoLoginResult {
  const v = verifyToken(token, secret);
  if (!v.ok) return v.reason === 'bad signature' ? { ok: false, reason: 'bad signature: the token was altered, or signed with another secret' } : v;
  const { p, c, s, exp } = v.payload as { p?: unknown; c?: unknown; s?: unknown; exp?: unknown };
  if (p !== PURPOSE) return { ok: false, reason: 'not an auto-login token' };
  if (typeof c !== 'number' || typeof s !== 'string' || typeof exp !== 'number') return { ok: false, reason: 'malformed payload' };
  const expiresAt = new Date(exp * 1000);
  if (expiresAt.getTime() <= now.getTime()) return { ok: false, reason: `expired at ${expiresAt.toISOString()}` };
  return { ok: true, login: { customerId: c, site: s, expiresAt } };
}

/**
 * The token of an auto-login link as a customer or support pastes it: the
 * value of its one `token=` parameter, whatever else the link carries. Only
 * the token is signed: parameters a newsletter tool, a redirector or a
 * forward adds (utm_*, fbclid, a #fragment, an HTML-escaped &amp;) are not
 * part of it and never affect verification. Anything that is not a URL is
 * taken as the bare token.
 */
export function autoLoginTokenOf(linkOrToken: string): { ok: true; token: string } | { ok: false; reason: string } {
  const text = linkOrToken.trim();
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return { ok: true, token: text };
  let tokens: string[];
  try {
    tokens = new URL(text).searchParams.getAll('token');
  } catch {
    return { ok: false, reason: 'not a link herald can read' };
  }
  if (tokens.length === 0) return { ok: false, reason: 'the link has no token= parameter' };
  // Two tokens: a backend reading the last could be given another than the one checked here.
  if (tokens.length > 1) return { ok: false, reason: `the link has ${tokens.length} token= parameters; a genuine link has one` };
  return { ok: true, token: tokens[0]! };
}

