import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Signed link tokens: base64url(JSON payload) + "." + base64url(HMAC-SHA256).
 * Links carry who and what they are for, and nobody can forge or alter them.
 */
export function signToken(payload: Record<string, unknown>, secret: string): string {
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return `${body}.${mac(body, secret)}`;
}

export type VerifyResult = { ok: true; payload: Record<string, unknown> } | { ok: false; reason: string };

export function verifyToken(token: string, secret: string): VerifyResult {
  const [body, sig, extra] = token.split('.');
  if (!body || !sig || extra !== undefined) return { ok: false, reason: 'malformed token' };
  const expected = Buffer.from(mac(body, secret));
  const given = Buffer.from(sig);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, reason: 'bad signature' };
  try {
    return { ok: true, payload: JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) };
  } catch {
    return { ok: false, reason: 'malformed payload' };
  }
}

function mac(body: string, secret: string): string {
  return createHmac('sha256', secret).update(body).digest('base64url');
}
