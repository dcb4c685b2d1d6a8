import { describe, expect, it } from 'vitest';
import { keyId, readReturnPath, readTrackingToken, signAutoLoginToken, verifyAutoLoginToken, verifyLink } from '../../src/index.js';
import { clicksToken, clickToken, openToken, recipientUnsubscribeToken, returnPath, unsubscribeToken } from '../../src/links/tracking.js';

const CURRENT = 'current-secret-0123456789abcdef0123456789';
const OLD = 'previous-secret-0123456789abcdef012345678';
const BASE = 'https://t.shop.example.com';
const NOW = new Date('2026-11-20T12:00:00Z');

/** One of each kind herald makes, signed with `secret`. */
function everyKind(secret: string): [string, unknown][] {
  return [
    [`https://shop.example.com/auto-login?token=${signAutoLoginToken(7, 'shop-en', secret, { now: NOW })}&utm_source=x`, { kind: 'auto-login', customer: 7, site: 'shop-en', expiresAt: new Date('2026-11-27T12:00:00Z') }],
    [signAutoLoginToken(7, 'shop-en', secret, { now: NOW }), { kind: 'auto-login', customer: 7 }],
    [`${BASE}/o/${openToken(42, secret)}`, { kind: 'open', message: 42 }],
    [`${BASE}/c/${clicksToken(42, 'abc123', secret)}/3`, { kind: 'click', message: 42, set: 'abc123', index: 3 }],
    [`${BASE}/c/${clickToken(42, 'abc123', 3, secret)}`, { kind: 'click', message: 42, set: 'abc123', index: 3 }],
    [`${BASE}/u/${unsubscribeToken(42, secret)}`, { kind: 'unsubscribe', message: 42 }],
    [unsubscribeToken(42, secret), { kind: 'unsubscribe', message: 42 }],
    [`${BASE}/unsubscribe/${recipientUnsubscribeToken({ customer: 9, contact: null, site: 'shop-ru', source: 'winback' }, secret)}`, { kind: 'unsubscribe-recipient', customer: 9, contact: null, site: 'shop-ru', source: 'winback' }],
    [returnPath('bounces@mail.shop.example.com', 42, secret), { kind: 'return-path', message: 42 }],
    [`<${returnPath('bounces@mail.shop.example.com', 1234567, secret).toUpperCase()}>`, { kind: 'return-path', message: 1234567 }],
  ];
}

describe('verifyLink', () => {
  it('tells every kind of link apart and reads what it says', () => {
    for (const [text, link] of everyKind(CURRENT)) {
      const r = verifyLink(text, [CURRENT, OLD], NOW);
      expect({ text, r }).toMatchObject({ text, r: { ok: true, link, keyId: keyId(CURRENT), currentKey: true } });
    }
  });

  it('a link signed with a previous secret verifies while that secret is listed, and says so; not once it is removed', () => {
    for (const [text, link] of everyKind(OLD)) {
      expect({ text, r: verifyLink(text, [CURRENT, OLD], NOW) }).toMatchObject({ text, r: { ok: true, link, keyId: keyId(OLD), currentKey: false } });
      const retired = verifyLink(text, [CURRENT], NOW);
      expect({ text, ok: retired.ok, reason: !retired.ok && retired.reason }).toEqual({ text, ok: false, reason: expect.stringMatching(/signed with a key herald does not have/) });
    }
  });

  it('refuses a tampered link of each kind, with the reason', () => {
    // The signature's first character, after the token's payload.
    const tamper = (s: string) => s.replace(/([A-Za-z0-9_-]{20,}\.)([A-Za-z0-9_-])/, (_, body: string, c: string) => `${body}${c === 'A' ? 'B' : 'A'}`);
    for (const [text] of everyKind(CURRENT)) {
      const bad = text.includes('@') && !text.includes('://') ? text.replace(/-([0-9a-f]{16})@/i, (_, mac: string) => `-${mac.slice(0, -1)}${mac.endsWith('0') ? '1' : '0'}@`) : tamper(text);
      expect(bad).not.toBe(text);
      const r = verifyLink(bad, [CURRENT, OLD], NOW);
      expect({ bad, ok: r.ok }).toEqual({ bad, ok: false });
    }
    // A message's clicks token names no link without its index, and takes only a number there.
    const clicks = clicksToken(42, 'abc123', CURRENT);
    expect(verifyLink(`${BASE}/c/${clicks}`, CURRENT, NOW)).toEqual({ ok: false, reason: "a message's click token without the link's index: the whole link is <base>/c/<token>/<index>" });
    expect(verifyLink(clicks, CURRENT, NOW)).toMatchObject({ ok: false, reason: expect.stringMatching(/without the link's index/) });
    for (const index of ['x', '-1', '1e3', '123456']) expect(verifyLink(`${BASE}/c/${clicks}/${index}`, CURRENT, NOW)).toEqual({ ok: false, reason: 'malformed payload' });
    expect(verifyLink(`${BASE}/c/${clickToken(42, 'abc123', 3, CURRENT)}/3`, CURRENT, NOW)).toEqual({ ok: false, reason: 'only a click token is followed by an index' });
    // A genuine open token moved into a click link.
    expect(verifyLink(`${BASE}/c/${openToken(42, CURRENT)}`, CURRENT, NOW)).toEqual({ ok: false, reason: 'a open token in a /c/ link: the link was altered' });
    // An unsubscribe token where an auto-login token belongs never logs anyone in.
    expect(verifyLink(`https://shop.example.com/auto-login?token=${unsubscribeToken(42, CURRENT)}`, CURRENT, NOW)).toEqual({ ok: false, reason: 'not an auto-login token' });
    expect(verifyLink('https://shop.example.com/sale', CURRENT, NOW)).toMatchObject({ ok: false, reason: expect.stringMatching(/^not a link herald makes/) });
    expect(verifyLink(signAutoLoginToken(7, 'shop-en', CURRENT, { now: new Date('2020-01-01T00:00:00Z') }), CURRENT, NOW)).toEqual({ ok: false, reason: 'expired at 2020-01-08T00:00:00.000Z' });
  });

  it('each verifier the package exports takes every secret', () => {
    const login = signAutoLoginToken(7, 'shop-en', OLD, { now: NOW });
    expect(verifyAutoLoginToken(login, [CURRENT, OLD], NOW)).toMatchObject({ ok: true, login: { customerId: 7 } });
    expect(verifyAutoLoginToken(login, CURRENT, NOW)).toMatchObject({ ok: false });
    expect(readTrackingToken(openToken(5, OLD), [CURRENT, OLD])).toEqual({ ok: true, link: { kind: 'open', message: 5 } });
    expect(readReturnPath(returnPath('b@x.example', 5, OLD), [CURRENT, OLD])).toEqual({ ok: true, message: 5 });
  });
});
