import { describe, expect, it } from 'vitest';
import { readShortToken, shortToken } from '../../src/links/short.js';
import { keyId } from '../../src/links/token.js';
import { verifyLink } from '../../src/links/verify.js';

const CURRENT = 'current-secret-0123456789abcdef0123456789';
const OLD = 'previous-secret-0123456789abcdef012345678';
const BASE = 'https://t.shop.example.com';

describe('short tokens', () => {
  it('read back what they carry, and stay short: 12 to 20 characters', () => {
    for (const [message, length] of [
      [1, 12],
      [127, 12],
      [128, 14],
      [2 ** 28 - 1, 16],
      [2 ** 35 - 1, 18],
      [2 ** 49 - 1, 20],
    ] as const) {
      for (const push of [false, true]) {
        const t = shortToken({ message, index: 3, push }, CURRENT);
        expect(t).toMatch(/^[A-Za-z0-9_-]+$/);
        expect({ message, length: t.length }).toEqual({ message, length });
        expect(readShortToken(t, [CURRENT, OLD])).toEqual({ ok: true, link: { message, index: 3, push }, keyId: keyId(CURRENT) });
      }
    }
    expect(() => shortToken({ message: 2 ** 49, index: 0, push: false }, CURRENT)).toThrow(/not a ledger id/);
    expect(() => shortToken({ message: 0, index: 0, push: false }, CURRENT)).toThrow(/not a ledger id/);
  });

  it('refuses any changed bit: message, link, the push mark and the MAC are all signed', () => {
    const t = shortToken({ message: 48113, index: 1, push: false }, CURRENT);
    const bytes = Buffer.from(t, 'base64url');
    for (let i = 0; i < bytes.length; i++) {
      for (const bit of [1, 2, 64]) {
        const b = Buffer.from(bytes);
        b[i]! ^= bit;
        const r = readShortToken(b.toString('base64url'), [CURRENT, OLD]);
        expect({ i, bit, ok: r.ok }).toEqual({ i, bit, ok: false });
      }
    }
    for (const bad of ['', 'short', `${t}x`, `${t}.abc`, 'A'.repeat(40), t.slice(0, -1)]) expect(readShortToken(bad, CURRENT).ok).toBe(false);
  });

  it('verify with a previous secret while it is listed, not once it is retired', () => {
    const t = shortToken({ message: 7, index: 0, push: true }, OLD);
    expect(readShortToken(t, [CURRENT, OLD])).toEqual({ ok: true, link: { message: 7, index: 0, push: true }, keyId: keyId(OLD) });
    expect(readShortToken(t, [CURRENT])).toEqual({ ok: false, reason: expect.stringMatching(/^signed with a key herald does not have/) });
  });
});

describe('herald token verify reads short links', () => {
  it('as a click on the message link set, saying a push tap and the key', () => {
    const link = `${BASE}/s/${shortToken({ message: 42, index: 2, push: true }, OLD)}`;
    expect(verifyLink(link, [CURRENT, OLD])).toEqual({ ok: true, link: { kind: 'click', message: 42, set: 'msg:42', index: 2, short: true, push: true }, keyId: keyId(OLD), currentKey: false });
    const bare = shortToken({ message: 42, index: 0, push: false }, CURRENT);
    expect(verifyLink(bare, [CURRENT, OLD])).toMatchObject({ ok: true, link: { kind: 'click', message: 42, index: 0, push: false }, currentKey: true });
    const tampered = `${BASE}/s/${bare.slice(0, -1)}${bare.endsWith('A') ? 'B' : 'A'}`;
    expect(verifyLink(tampered, [CURRENT, OLD])).toEqual({ ok: false, reason: 'bad signature: the token was altered, or signed with another secret' });
    expect(verifyLink(`${BASE}/s/${bare}`, ['a-third-secret-0123456789abcdef0123456789'])).toMatchObject({ ok: false, reason: expect.stringMatching(/signed with a key herald does not have/) });
  });
});
