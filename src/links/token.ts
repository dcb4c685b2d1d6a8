import { createHash, createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';

/**
 * Signed link tokens: base64url(JSON payload) + "." + base64url(HMAC-SHA256).
 * Links carry who and what they are for, and nobody can forge or alter them.
 *
 * Each payload names the key it was signed with (`k`, keyId below), so the
 * secret can be rotated: the new one signs, the earlier ones (herald.yaml's
 * tracking.previous_secret_envs) still verify the links already in inboxes.
 * A token from before key ids is tried against every secret.
 */
export function signToken(payload: Record<string, unknown>, secret: string): string {
  const body = Buffer.from(withKeyId(payload, keyId(secret))).toString('base64url');
  return `${body}.${mac(body, secret)}`;
}

/**
 * The payload's JSON with the key id last, byte for byte what
 * `JSON.stringify({ ...payload, k })` gives, without the copy: a sent message
 * signs a dozen tokens, and the spread cost more than the HMAC.
 */
function withKeyId(payload: Record<string, unknown>, k: string): string {
  if (Object.hasOwn(payload, 'k')) return JSON.stringify({ ...payload, k });
  const json = JSON.stringify(payload);
  return `${json.length > 2 ? `${json.slice(0, -1)},` : '{'}"k":${JSON.stringify(k)}}`;
}

export type VerifyResult = { ok: true; payload: Record<string, unknown> } | { ok: false; reason: string };

/** Checks a token against the secrets (the current one first); a reason says why a bad one is refused. */
export function verifyToken(token: string, secrets: string | readonly string[]): VerifyResult {
  const [body, sig, extra] = token.split('.');
  if (!body || !sig || extra !== undefined) return { ok: false, reason: 'malformed token' };
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed payload' };
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return { ok: false, reason: 'malformed payload' };
  const all = typeof secrets === 'string' ? [secrets] : secrets;
  const k = (payload as { k?: unknown }).k;
  // The key id only picks the secret to try; the signature decides.
  const candidates = typeof k === 'string' ? all.filter((s) => keyId(s) === k) : all;
  if (candidates.length === 0) return { ok: false, reason: `signed with a key herald does not have (key id ${String(k)}); was a secret retired from tracking.previous_secret_envs?` };
  const given = Buffer.from(sig);
  for (const secret of candidates) {
    const expected = Buffer.from(mac(body, secret));
    if (expected.length === given.length && timingSafeEqual(expected, given)) return { ok: true, payload: payload as Record<string, unknown> };
  }
  return { ok: false, reason: 'bad signature' };
}

/** A secret's public name: 6 hex digits of a hash of it, which say nothing of the secret itself. */
export function keyId(secret: string): string {
  return keyOf(secret).id;
}

function mac(body: string, secret: string): string {
  return createHmac('sha256', keyOf(secret).key).update(body).digest('base64url');
}

/**
 * Each secret's id and HMAC key, made once: a sent message signs a token per
 * link, and hashing the secret anew for each cost a third of the signing.
 */
const keys = new Map<string, { id: string; key: KeyObject }>();

function keyOf(secret: string): { id: string; key: KeyObject } {
  let k = keys.get(secret);
  if (!k) {
    k = { id: createHash('sha256').update(`herald key id\0${secret}`).digest('hex').slice(0, 6), key: createSecretKey(Buffer.from(secret, 'utf8')) };
    if (keys.size > 16) keys.clear();
    keys.set(secret, k);
  }
  return k;
}

/** A short MAC for addresses (VERP): lower-case hex, as mail servers may fold the case of a local part. */
export function shortMac(text: string, secret: string, length = 16): string {
  return createHmac('sha256', keyOf(secret).key).update(text).digest('hex').slice(0, length);
}
