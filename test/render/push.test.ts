import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { readShortToken, shortSetKey } from '../../src/links/short.js';
import type { MessageSource, PushSpec, Recipient, TemplateSpec } from '../../src/render/message.js';
import { renderPush } from '../../src/render/push.js';
import type { Project, Site } from '../../src/workspace/model.js';
import { ESCAPES, MARK, SECRET as ESCAPE_SECRET } from './escapes.js';

const NOW = new Date('2026-11-20T12:00:00Z');
const SECRET = 'push-test-secret-0123456789abcdef0123456789';
const BASE = 'https://t.shop.example.com';

const site: Site = {
  id: 'shop-en',
  name: 'Northwind & Co',
  url: 'https://shop.example.com/',
  locales: ['en'],
  default_locale: 'en',
  currency: 'EUR',
  sender: { from: 'news@shop.example.com' },
  domains: ['cdn.example.net'],
};
const project: Project = { sites: [site], tracking: { base_url: BASE, utm: { source: 'herald', medium: 'push' } } } as Project;
const o = { project, secret: SECRET, now: NOW };

function source(push: PushSpec, over: Partial<MessageSource> = {}): MessageSource {
  const template: TemplateSpec = { subject: { en: 's' }, bodies: { en: '<mjml><mj-body></mj-body></mjml>' }, push: { en: push } };
  return { kind: 'trigger', name: 'cart', title: 'Cart', personalizedGreeting: false, templateName: 'cart', template, ...over };
}

function recipient(over: Partial<Recipient> = {}): Recipient {
  return { customer_id: 42, email: 'customer:42', first_name: 'Anna', last_name: 'Berg', site: 'shop-en', locale: 'en', ...over };
}

const full: PushSpec = {
  title: '{{ customer.first_name }}, your cart at {{ site.name }}',
  body: 'Still thinking about {{ cart.items[0].name }}?\nIt is waiting.',
  url: '{{ site.url }}/cart',
  icon: 'https://cdn.example.net/icon.png',
  image: '{{ cart.items[0].image }}',
};
const cart = { items: [{ name: 'Boots & <Laces>', image: 'https://cdn.example.net/boots.jpg' }] };

describe('renderPush', () => {
  it('renders every field with the tokens, as plain text', () => {
    expect(renderPush(o, source(full), recipient(), { products: [], cart })).toEqual({
      channel: 'push',
      title: 'Anna, your cart at Northwind & Co',
      body: 'Still thinking about Boots & <Laces>?\nIt is waiting.',
      url: 'https://shop.example.com/cart',
      icon: 'https://cdn.example.net/icon.png',
      image: 'https://cdn.example.net/boots.jpg',
    });
  });

  it('keeps a hostile name as text, and a title on one line', () => {
    const m = renderPush(o, source({ title: 'Hi {{ customer.first_name }}', body: '{{ customer.last_name }}' }), recipient({ first_name: '<script>x</script>\nline', last_name: '&amp; "q"' }), { products: [] });
    expect(m).toEqual({ channel: 'push', title: 'Hi <script>x</script> line', body: '&amp; "q"', url: null, icon: null, image: null });
  });

  it('in a send, makes the url a short link marked as a push tap, its destination stored for the message', () => {
    const m = renderPush(o, source(full), recipient(), { products: [], cart }, 9001);
    expect(m.url).toMatch(/^https:\/\/t\.shop\.example\.com\/s\/[\w-]{14}$/);
    expect(readShortToken(m.url!.slice(`${BASE}/s/`.length), SECRET)).toMatchObject({ ok: true, link: { message: 9001, index: 0, push: true } });
    expect(m.linkSet).toEqual({ hash: shortSetKey(9001), urls: ['https://shop.example.com/cart?utm_source=herald&utm_medium=push'] });
    // Icon and image are fetched by the device, not tapped: never redirected.
    expect(m.image).toBe('https://cdn.example.net/boots.jpg');
  });

  it('refuses a url, icon or image that is not http(s) on the site once rendered, naming the file and field', () => {
    const bad: [Partial<PushSpec>, Record<string, unknown>, RegExp][] = [
      [{ url: '{{ event.link }}' }, { link: 'javascript:alert(1)' }, /push\.en\.yaml: url is not an absolute http\(s\) address once rendered \(it begins "javascript:"\)/],
      [{ url: '/cart' }, {}, /url is not an absolute http\(s\) address/],
      [{ icon: 'ftp://cdn.example.net/i.png' }, {}, /icon is not an absolute http\(s\) address/],
      [{ url: 'https://user:pw@shop.example.com/' }, {}, /url is not an absolute http\(s\) address/],
      [{ image: '{{ event.link }}' }, { link: 'https://evil.example/x.png' }, /image leads off site shop-en's domains \(evil\.example\)/],
      [{ url: 'https://shop.example.com.evil.example/' }, {}, /url leads off site shop-en's domains/],
    ];
    for (const [fields, event, message] of bad) {
      expect(() => renderPush(o, source({ title: 't', body: 'b', ...fields }), recipient(), { products: [], event }, 1)).toThrow(message);
    }
  });

  it('leaves the url as rendered without a ledger id or with click tracking off', () => {
    const spec: PushSpec = { title: 't', body: 'b', url: 'https://shop.example.com/sale' };
    expect(renderPush(o, source(spec), recipient(), { products: [] }).url).toBe('https://shop.example.com/sale');
    const off = renderPush(o, source(spec, { tracking: { clicks: false } }), recipient(), { products: [] }, 5);
    expect(off.url).toBe('https://shop.example.com/sale');
    expect(off.linkSet).toBeUndefined();
  });

  it('says which file is missing when the template has no push notification for the locale', () => {
    expect(() => renderPush(o, source(full), recipient({ locale: 'de' }), { products: [] })).toThrow(/templates\/cart\/push\.de\.yaml: template cart has no push notification for locale de/);
  });

  it('refuses every known sandbox escape, in every field, as the email does', () => {
    process.env.HERALD_SECRET = ESCAPE_SECRET;
    try {
      for (const { template } of ESCAPES) {
        for (const field of ['title', 'body', 'url'] as const) {
          let got: unknown;
          try {
            const m = renderPush(o, source({ title: 't', body: 'b', [field]: template }), recipient(), { products: [] }, 1);
            got = `${m.title}\n${m.body}\n${m.url}`;
          } catch (e) {
            got = e;
          }
          expect(existsSync(MARK), template).toBe(false);
          if (typeof got === 'string') {
            expect(got, template).not.toContain(ESCAPE_SECRET);
            expect(got, template).not.toMatch(/function|native code|=>/);
          } else expect(got, template).toBeInstanceOf(UserError);
        }
      }
    } finally {
      delete process.env.HERALD_SECRET;
    }
  });
});
