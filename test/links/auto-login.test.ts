import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signAutoLoginToken, verifyAutoLoginToken } from '../../src/index.js';
import { autoLoginTokenOf } from '../../src/links/auto-login.js';
import { signToken } from '../../src/links/token.js';

const NOW = new Date('2026-11-20T12:00:00Z');
const day = 86_400_000;

describe('auto-login tokens', () => {
  it('round trip: customer, site and expiry (7 days by default)', () => {
    const t = signAutoLoginToken(42, 'shop-en', 's3cret', { now: NOW });
    expect(verifyAutoLoginToken(t, 's3cret', new Date(NOW.getTime() + day))).toEqual({
      ok: true,
      login: { customerId: 42, site: 'shop-en', expiresAt: new Date(NOW.getTime() + 7 * day) },
    });
    // A nonce: two links for the same customer never look alike.
    expect(signAutoLoginToken(42, 'shop-en', 's3cret', { now: NOW })).not.toBe(t);
  });

  it('refuses a tampered token, with a reason', () => {
    const t = signAutoLoginToken(42, 'shop-en', 's3cret', { now: NOW });
    const [body, sig] = t.split('.');
    const forged = Buffer.from(Buffer.from(body!, 'base64url').toString().replace('42', '43')).toString('base64url');
    expect(verifyAutoLoginToken(`${forged}.${sig}`, 's3cret', NOW)).toEqual({ ok: false, reason: 'bad signature: the token was altered, or signed with another secret' });
    expect(verifyAutoLoginToken('garbage', 's3cret', NOW)).toEqual({ ok: false, reason: 'malformed token' });
  });

  it('refuses an expired token and one signed with another secret', () => {
    const t = signAutoLoginToken(42, 'shop-en', 's3cret', { now: NOW, ttlDays: 1 });
    expect(verifyAutoLoginToken(t, 's3cret', new Date(NOW.getTime() + 2 * day))).toEqual({ ok: false, reason: 'expired at 2026-11-21T12:00:00.000Z' });
    // The token names its key: another secret is not even tried, and the reason says which key it needs.
    expect(verifyAutoLoginToken(t, 'other', NOW)).toMatchObject({ ok: false, reason: expect.stringMatching(/^signed with a key herald does not have \(key id [0-9a-f]{6}\)/) });
    // A token from before key ids is tried against every secret: a wrong one is a bad signature.
    const [body] = t.split('.');
    const payload = JSON.parse(Buffer.from(body!, 'base64url').toString('utf8')) as Record<string, unknown>;
    delete payload.k;
    const unkeyed = Buffer.from(JSON.stringify(payload)).toString('base64url');
    const mac = createHmac('sha256', 's3cret').update(unkeyed).digest('base64url');
    expect(verifyAutoLoginToken(`${unkeyed}.${mac}`, ['other', 's3cret'], NOW)).toMatchObject({ ok: true, login: { customerId: 42 } });
    expect(verifyAutoLoginToken(`${unkeyed}.${mac}`, 'other', NOW)).toMatchObject({ ok: false, reason: expect.stringMatching(/^bad signature/) });
  });

  it('never accepts another kind of herald token, such as an unsubscribe link', () => {
    const unsubscribe = signToken({ p: 'unsubscribe', c: 42, s: 'shop-en', m: 'winback' }, 's3cret');
    expect(verifyAutoLoginToken(unsubscribe, 's3cret', NOW)).toEqual({ ok: false, reason: 'not an auto-login token' });
  });

  it('takes the token out of a link, whatever other parameters it carries; a bare token is itself', () => {
    const t = signAutoLoginToken(42, 'shop-en', 's3cret', { now: NOW });
    for (const link of [
      t,
      ` ${t}\n`,
      `https://shop.example.com/auto-login?token=${t}`,
      `https://shop.example.com/auto-login?token=${t}&utm_source=newsletter&utm_medium=email&utm_campaign=winback`,
      `https://shop.example.com/auto-login?utm_source=newsletter&token=${t}#top`,
      `https://shop.example.com/auto-login?token=${t}&amp;utm_source=x`,
      `https://shop.example.com/auto-login?token=${encodeURIComponent(t)}&fbclid=abc`,
    ]) {
      expect(autoLoginTokenOf(link), link).toEqual({ ok: true, token: t });
      expect(verifyAutoLoginToken((autoLoginTokenOf(link) as { token: string }).token, 's3cret', NOW)).toMatchObject({ ok: true, login: { customerId: 42 } });
    }
    expect(autoLoginTokenOf('https://shop.example.com/auto-login?utm_source=x')).toEqual({ ok: false, reason: 'the link has no token= parameter' });
    expect(autoLoginTokenOf(`https://shop.example.com/auto-login?token=${t}&token=x.y`)).toEqual({ ok: false, reason: 'the link has 2 token= parameters; a genuine link has one' });
    // An extra parameter cannot smuggle anything into the token itself.
    const [body, sig] = t.split('.');
    expect(verifyAutoLoginToken(`${body}.${sig}&c=43`, 's3cret', NOW)).toMatchObject({ ok: false });
  });
});
