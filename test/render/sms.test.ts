import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { verifyAutoLoginToken } from '../../src/links/auto-login.js';
import { AUTO_LOGIN } from '../../src/links/rewrite.js';
import { readShortToken, shortSetKey } from '../../src/links/short.js';
import type { MessageSource, Recipient, TemplateSpec } from '../../src/render/message.js';
import { renderSms } from '../../src/render/sms.js';
import type { Project, Site } from '../../src/workspace/model.js';
import { ESCAPES, MARK, SECRET as ESCAPE_SECRET } from './escapes.js';

const NOW = new Date('2026-11-20T12:00:00Z');
const SECRET = 'sms-test-secret-0123456789abcdef0123456789';
const BASE = 'https://t.shop.example.com';

const site: Site = {
  id: 'shop-en',
  name: 'Northwind & Co',
  url: 'https://shop.example.com/',
  locales: ['en', 'ru'],
  default_locale: 'en',
  currency: 'EUR',
  sender: { from: 'news@shop.example.com' },
  domains: ['cdn.example.net'],
};
const project: Project = { sites: [site], tracking: { base_url: BASE, utm: { source: 'herald', medium: 'sms', campaign: '{name}' } } } as Project;
const o = { project, secret: SECRET, now: NOW };

function source(sms: Record<string, string>, over: Partial<MessageSource> = {}): MessageSource {
  const template: TemplateSpec = { subject: { en: 's' }, bodies: { en: '<mjml><mj-body></mj-body></mjml>' }, sms };
  return { kind: 'campaign', name: 'flash', title: 'Flash sale', personalizedGreeting: true, templateName: 'flash', template, ...over };
}

function recipient(over: Partial<Recipient> = {}): Recipient {
  return { customer_id: 42, email: '+4915112345678', first_name: 'Anna', last_name: 'Berg', site: 'shop-en', locale: 'en', ...over };
}

describe('renderSms', () => {
  it('reads the same tokens as the email, as plain text, and counts encoding and parts', () => {
    const m = renderSms(o, source({ en: '{{ greeting }} {{ customer.first_name }}: 20% off at {{ site.name }} today ({{ campaign.title }}).' }), recipient(), { products: [] });
    expect(m).toEqual({ channel: 'sms', text: 'Dear Anna, Anna: 20% off at Northwind & Co today (Flash sale).', encoding: 'GSM-7', parts: 1 });
  });

  it('never escapes: a token holding markup stays as text', () => {
    const m = renderSms(o, source({ en: 'Hi {{ customer.first_name }}, "{{ customer.last_name }}" & you' }), recipient({ first_name: '<script>alert(1)</script>', last_name: "O'Brien <b>" }), { products: [] });
    expect(m.text).toBe(`Hi <script>alert(1)</script>, "O'Brien <b>" & you`);
    expect(m.text).not.toContain('&lt;');
    expect(m.text).not.toContain('&amp;');
  });

  it('names the character that makes it UCS-2, and counts parts by it', () => {
    // 74 UTF-16 units: over the 70 of one UCS-2 SMS.
    const ru = renderSms(o, source({ en: 'x', ru: 'Привет, {{ customer.first_name }}! Скидки до 50% только сегодня, заходите к нам: {{ site.name }}' }), recipient({ locale: 'ru', first_name: 'Анна' }), { products: [] });
    expect(ru.text).toHaveLength(74);
    expect(ru.encoding).toBe('UCS-2');
    expect(ru.parts).toBe(2);
    // One curly quote in a customer's name turns the whole message UCS-2.
    const quote = renderSms(o, source({ en: 'Hi {{ customer.first_name }}' }), recipient({ first_name: 'Ann’s' }), { products: [] });
    expect(quote.encoding).toBe('UCS-2');
  });

  it('tidies what loops leave: no blank runs, no control characters, no spaces at line ends', () => {
    const m = renderSms(o, source({ en: 'Top picks:\n{% for p in products %}\n- {{ p.name }}   \n{% endfor %}\n\n\nBye\r\n' }), recipient({ first_name: 'A\u0007nna' }), { products: [{ name: 'Boot' }, { name: 'Hat' }] as never });
    expect(m.text).toBe('Top picks:\n\n- Boot\n\n- Hat\n\nBye');
  });

  it('in a send, makes links to the site short signed links, stored as the message link set, with UTM', () => {
    const m = renderSms(
      o,
      source({ en: 'Sale: https://shop.example.com/sale?x=1. Shoes, https://www.shop.example.com/shoes and https://shop.example.com/sale?x=1 again; login {{ links.auto_login }}' }),
      recipient(),
      { products: [] },
      123456,
    );
    const links = [...m.text.matchAll(/https:\/\/\S+?(?=[.,;]?(\s|$))/g)].map((x) => x[0]);
    expect(links).toHaveLength(4);
    for (const l of links) {
      expect(l.startsWith(`${BASE}/s/`)).toBe(true);
      // 15 characters for this message id: an SMS link costs little more than the base URL.
      expect(l.length - `${BASE}/s/`.length).toBe(15);
    }
    // The sentence's full stop stays text; the same link twice is one entry of the set.
    expect(m.text).toMatch(/^Sale: https:\/\/t\.shop\.example\.com\/s\/[\w-]+\. Shoes, /);
    expect(links[0]).toBe(links[2]);
    expect(m.linkSet).toEqual({
      hash: shortSetKey(123456),
      urls: [
        'https://shop.example.com/sale?x=1&utm_source=herald&utm_medium=sms&utm_campaign=flash',
        'https://www.shop.example.com/shoes',
        `${AUTO_LOGIN}&utm_source=herald&utm_medium=sms&utm_campaign=flash`,
      ],
    });
    const tokens = links.map((l) => readShortToken(l.slice(`${BASE}/s/`.length), [SECRET]));
    expect(tokens.map((t) => t.ok && t.link)).toEqual([
      { message: 123456, index: 0, push: false },
      { message: 123456, index: 1, push: false },
      { message: 123456, index: 0, push: false },
      { message: 123456, index: 2, push: false },
    ]);
  });

  it('leaves links off the site as written: a token cannot make the shop a signed redirect to anywhere', () => {
    const m = renderSms(o, source({ en: 'Hi {{ customer.first_name }} https://shop.example.com/' }), recipient({ first_name: 'https://evil.example/phish' }), { products: [] }, 7);
    expect(m.text).toMatch(/^Hi https:\/\/evil\.example\/phish https:\/\/t\.shop\.example\.com\/s\/[\w-]{12}$/);
    expect(m.linkSet!.urls).toEqual(['https://shop.example.com/?utm_source=herald&utm_medium=sms&utm_campaign=flash']);
  });

  it('keeps links as written without a ledger id (preview, test send) or with click tracking off', () => {
    const text = 'See https://shop.example.com/sale';
    expect(renderSms(o, source({ en: text }), recipient(), { products: [] })).toEqual({ channel: 'sms', text, encoding: 'GSM-7', parts: 1 });
    expect(renderSms(o, source({ en: text }, { tracking: { clicks: false } }), recipient(), { products: [] }, 9)).toEqual({ channel: 'sms', text, encoding: 'GSM-7', parts: 1 });
  });

  it("the auto-login link is the customer's, signed now, when not tracked", () => {
    const m = renderSms(o, source({ en: '{{ links.auto_login }}' }), recipient(), { products: [] });
    const token = new URL(m.text).searchParams.get('token')!;
    expect(verifyAutoLoginToken(token, SECRET, NOW)).toMatchObject({ ok: true, login: { customerId: 42, site: 'shop-en' } });
  });

  it('says which file is missing when the template has no SMS text for the locale', () => {
    expect(() => renderSms(o, source({ en: 'x' }), recipient({ locale: 'ru' }), { products: [] })).toThrow(/templates\/flash\/sms\.ru\.txt: template flash has no SMS text for locale ru/);
  });

  it('refuses every known sandbox escape, as the email does', () => {
    process.env.HERALD_SECRET = ESCAPE_SECRET;
    try {
      for (const { template } of ESCAPES) {
        let got: unknown;
        try {
          got = renderSms(o, source({ en: template }), recipient(), { products: [] }, 1).text;
        } catch (e) {
          got = e;
        }
        expect(existsSync(MARK), template).toBe(false);
        if (typeof got === 'string') {
          expect(got, template).not.toContain(ESCAPE_SECRET);
          expect(got, template).not.toMatch(/function|native code|=>/);
        } else expect(got, template).toBeInstanceOf(UserError);
      }
    } finally {
      delete process.env.HERALD_SECRET;
    }
  });
});
