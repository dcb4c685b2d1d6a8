import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { keyId, signToken, verifyToken } from '../../src/links/token.js';

describe('signToken', () => {
  // Links already in inboxes were signed over JSON.stringify({ ...payload, k }): the bytes must not move.
  it('signs exactly the JSON of the payload with the key id last, as earlier versions did', () => {
    const secret = 'token-test-secret';
    const payloads: Record<string, unknown>[] = [
      { p: 'c', m: 1_000_001, h: 'abcdefghijklmnop', i: 7 },
      { p: 'unsubscribe', c: 5, s: 'shop-ru', m: 'Привет "quoted"' },
      { p: 'o', m: 3, skipped: undefined },
      {},
      { k: 'overridden', p: 'u', m: 9 },
    ];
    for (const payload of payloads) {
      const body = Buffer.from(JSON.stringify({ ...payload, k: keyId(secret) })).toString('base64url');
      const sig = createHmac('sha256', secret).update(body).digest('base64url');
      const token = signToken(payload, secret);
      expect(token).toBe(`${body}.${sig}`);
      expect(verifyToken(token, secret).ok).toBe(true);
    }
  });
});
