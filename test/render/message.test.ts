import { describe, expect, it } from 'vitest';
import { createRenderer, type MessageSource, type Recipient, type TemplateSpec } from '../../src/render/message.js';
import { verifyAutoLoginToken } from '../../src/links/auto-login.js';
import { keyId, verifyToken } from '../../src/links/token.js';
import type { Project, Sender, Site, Variant } from '../../src/workspace/model.js';

const NOW = new Date('2026-11-20T12:00:00Z');
const SECRET = 'test-secret';
const day = 86_400_000;

const shopEn: Site = {
  id: 'shop-en',
  name: 'Northwind Outfitters',
  url: 'https://shop.example.com/',
  locales: ['en', 'ru'],
  default_locale: 'en',
  currency: 'EUR',
  sender: { from: 'news@shop.example.com', name: 'Northwind News', reply_to: 'care@shop.example.com' },
  auto_login_path: '/account/login',
  // The site words its own English greeting; Russian stays herald's.
  greetings: { en: { personal: 'Hi {first_name}!', generic: 'Hi!' } },
};

// No sender name, no Reply-To, no greetings: the fallbacks.
const shopRu: Site = {
  id: 'shop-ru',
  name: 'Нордвинд',
  url: 'https://shop.example.ru',
  locales: ['ru', 'en'],
  default_locale: 'ru',
  currency: 'RUB',
  sender: { from: 'news@shop.example.ru' },
};

const project: Project = { sites: [shopEn, shopRu], tracking: { base_url: 'https://mail.shop.example.com' } };

const body = (words: string) =>
  `<mjml><mj-body><mj-section><mj-column><mj-text>{{ greeting }} ${words} <a href="{{ links.unsubscribe }}">u</a> <a href="{{ links.auto_login }}">login</a></mj-text></mj-column></mj-section></mj-body></mjml>`;

function template(from?: Sender): TemplateSpec {
  return {
    subject: { en: '{{ customer.first_name }}, new arrivals', ru: '{{ customer.first_name }}, новинки' },
    bodies: { en: body('New arrivals are in.'), ru: body('Новинки уже в магазине.') },
    ...(from ? { from } : {}),
  };
}

function campaign(o: { template?: TemplateSpec; variant?: Variant; personalizedGreeting?: boolean } = {}): MessageSource {
  return {
    kind: 'campaign',
    name: 'arrivals',
    title: 'New arrivals',
    personalizedGreeting: o.personalizedGreeting ?? true,
    templateName: 'arrivals',
    template: o.template ?? template(),
    ...(o.variant ? { variant: o.variant } : {}),
  };
}

function recipient(over: Partial<Recipient> = {}): Recipient {
  return { customer_id: 42, email: 'anna@example.com', first_name: 'Anna', last_name: 'Berg', site: 'shop-en', locale: 'en', ...over };
}

// A renderer per test: it caches compiled templates by campaign and variant name.
const render = (source: MessageSource, r: Recipient = recipient()) => createRenderer({ project, secret: SECRET, now: NOW }).render(source, r, { products: [] });

describe('From and Reply-To', () => {
  it('come from the site when the template and variant say nothing, the site name standing in for a sender name', async () => {
    expect(await render(campaign())).toMatchObject({ from: { address: 'news@shop.example.com', name: 'Northwind News' }, replyTo: 'care@shop.example.com' });
    const ru = await render(campaign(), recipient({ site: 'shop-ru', locale: 'ru' }));
    expect(ru.from).toEqual({ address: 'news@shop.example.ru', name: 'Нордвинд' });
    expect(ru.replyTo).toBeUndefined();
  });

  it('take the template over the site, and the variant over both, field by field', async () => {
    const t = template({ address: 'offers@shop.example.com', name: 'Northwind Offers', reply_to: 'offers@shop.example.com' });
    expect(await render(campaign({ template: t }))).toMatchObject({ from: { address: 'offers@shop.example.com', name: 'Northwind Offers' }, replyTo: 'offers@shop.example.com' });

    // The variant changes only the name; address and Reply-To stay the template's.
    const variant: Variant = { name: 'b', from: { name: 'Anna at Northwind' } };
    expect(await render(campaign({ template: t, variant }))).toMatchObject({ from: { address: 'offers@shop.example.com', name: 'Anna at Northwind' }, replyTo: 'offers@shop.example.com' });

    // Over the site alone, the variant's Reply-To wins and the site's address stays.
    const replyVariant: Variant = { name: 'c', from: { reply_to: 'ab-test@shop.example.com' } };
    expect(await render(campaign({ variant: replyVariant }))).toMatchObject({ from: { address: 'news@shop.example.com', name: 'Northwind News' }, replyTo: 'ab-test@shop.example.com' });
  });
});

describe('subject', () => {
  it("is the variant's for the locales it words, the template's for the others", async () => {
    const variant: Variant = { name: 'b', subject: { en: '{{ customer.first_name }}, 20% off new arrivals' } };
    expect((await render(campaign({ variant }))).subject).toBe('Anna, 20% off new arrivals');
    expect((await render(campaign({ variant }), recipient({ first_name: 'Борис', locale: 'ru' }))).subject).toBe('Борис, новинки');
    expect((await render(campaign())).subject).toBe('Anna, new arrivals');
  });
});

describe('greeting', () => {
  it.each([
    ['the site\'s personal one', recipient(), true, 'Hi Anna!'],
    ['the site\'s generic one without a first name', recipient({ first_name: null }), true, 'Hi!'],
    ['the site\'s generic one when the campaign is not personal', recipient(), false, 'Hi!'],
    ['herald\'s Russian one where the site words none', recipient({ first_name: 'Борис', locale: 'ru' }), true, 'Здравствуйте, Борис!'],
    ['herald\'s generic one for a blank first name', recipient({ site: 'shop-ru', first_name: '  ', locale: 'ru' }), true, 'Здравствуйте!'],
    ['herald\'s English one on a site without greetings', recipient({ site: 'shop-ru' }), true, 'Dear Anna,'],
    ['herald\'s generic English one when not personal', recipient({ site: 'shop-ru' }), false, 'Hello,'],
  ] as const)('is %s', async (_what, r, personalizedGreeting, expected) => {
    const m = await render(campaign({ personalizedGreeting }), r);
    expect(m.html).toContain(`${expected} `);
    expect(m.text).toContain(`${expected} `);
  });
});

describe('customer.birthday', () => {
  it("is the day and month in the recipient's language, whatever the year, 29 February too", async () => {
    const birthdays = template();
    birthdays.subject = { en: '{{ customer.birthday }}', ru: '{{ customer.birthday }}' };
    const one = createRenderer({ project, secret: SECRET, now: NOW });
    const said = async (birthday: string, locale: string) => (await one.render(campaign({ template: birthdays }), recipient({ birthday, locale }), { products: [] })).subject;
    expect(await said('1990-03-12', 'en')).toBe('March 12');
    expect(await said('1975-03-12', 'en')).toBe('March 12');
    expect(await said('1990-03-12', 'ru')).toBe('12 марта');
    expect(await said('1988-02-29', 'en')).toBe('February 29');
    expect(await said('1988-02-29', 'ru')).toBe('29 февраля');
    expect(await said('2001-12-31', 'en')).toBe('December 31');
  });
});

describe('a customer named like markup', () => {
  it('arrives escaped in the HTML and as literal text in the subject', async () => {
    const name = '<script>alert(1)</script>';
    const m = await render(campaign(), recipient({ first_name: name }));
    expect(m.html).toContain('Hi &lt;script&gt;alert(1)&lt;/script&gt;!');
    expect(m.html).not.toContain('<script>');
    // The subject is a header, where HTML escaping would show as "&lt;".
    expect(m.subject).toBe('<script>alert(1)</script>, new arrivals');
  });
});

describe('a customer named like a link', () => {
  it('is shown as written, never made a tracked link: the tracking host redirects only to the site’s own domains', async () => {
    // A sign-up named https://evil.example/login would otherwise own a
    // signed link on the shop's tracking host that redirects to it.
    const renderer = createRenderer({ project, secret: SECRET, now: NOW });
    for (const name of ['https://evil.example/login', 'https://shop.example.com@evil.example/', 'https://evilshop.example.com/x']) {
      const m = await renderer.render(campaign(), recipient({ first_name: name }), { products: [] }, 7);
      expect(m.linkSet!.urls.filter((u) => u.includes('evil'))).toEqual([]);
      expect(m.text).toContain(`Hi ${name}!`);
      expect(m.html).toContain(`Hi ${name.replace(/&/g, '&amp;')}!`);
    }
    // The site's own links (here, auto-login) are still tracked.
    const m = await renderer.render(campaign(), recipient(), { products: [] }, 7);
    expect(m.linkSet!.urls).toEqual(['{auto_login}']);
    expect(m.html).toMatch(/href="https:\/\/mail\.shop\.example\.com\/c\//);
  });
});

describe('links', () => {
  it('puts signed unsubscribe and auto-login links into the HTML', async () => {
    const { html, links } = await render(campaign());
    expect(html).toContain(`href="${links.unsubscribe}"`);
    expect(html).toContain(`href="${links.autoLogin}"`);

    expect(links.unsubscribe).toMatch(/^https:\/\/mail\.shop\.example\.com\/unsubscribe\//);
    expect(verifyToken(links.unsubscribe.split('/').pop()!, SECRET)).toEqual({ ok: true, payload: { p: 'unsubscribe', c: 42, s: 'shop-en', m: 'arrivals', k: keyId(SECRET) } });

    // The site's own login path, on the site's URL without its trailing slash.
    const url = new URL(links.autoLogin);
    expect(`${url.origin}${url.pathname}`).toBe('https://shop.example.com/account/login');
    const token = url.searchParams.get('token')!;
    expect(verifyAutoLoginToken(token, SECRET, NOW)).toEqual({ ok: true, login: { customerId: 42, site: 'shop-en', expiresAt: new Date(NOW.getTime() + 7 * day) } });
    expect(verifyAutoLoginToken(token, 'another-secret', NOW)).toMatchObject({ ok: false });
  });

  it('gives a list contact who is no customer the plain site link', async () => {
    const { html, links } = await render(campaign(), recipient({ customer_id: null, contact_id: 7, site: 'shop-ru' }));
    expect(links.autoLogin).toBe('https://shop.example.ru');
    expect(html).toContain('href="https://shop.example.ru"');
    expect(verifyToken(links.unsubscribe.split('/').pop()!, SECRET)).toEqual({ ok: true, payload: { p: 'unsubscribe', k_: 7, s: 'shop-ru', m: 'arrivals', k: keyId(SECRET) } });
  });
});
