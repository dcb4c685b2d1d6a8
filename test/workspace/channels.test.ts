import { describe, expect, it } from 'vitest';
import { desiredObjects } from '../../src/state/objects.js';
import { loadWorkspace } from '../../src/workspace/load.js';
import { validateWorkspace } from '../../src/workspace/validate.js';
import { longestContext, longestLinks, renderLongest } from '../../src/workspace/checks/templates-longest.js';
import { MINIMAL, tempWorkspace } from '../support/workspace.js';
import { useCleanups } from '../support/cleanup.js';

const cleanup = useCleanups();

function workspaceWith(files: Record<string, string>) {
  const ws = tempWorkspace({ ...MINIMAL, ...files });
  cleanup(ws.remove);
  return ws;
}

async function problemsWith(files: Record<string, string>): Promise<string[]> {
  const { problems } = await validateWorkspace(workspaceWith(files).dir);
  return problems.map((p) => `${p.severity} ${p.file}:${p.line}:${p.column}: ${p.message}`);
}

const SMS_HERALD = `${MINIMAL['herald.yaml']}sms:
  provider: twilio
  from: "+4930123456"
  account_sid: AC0123
  auth_token_env: HERALD_TWILIO_TOKEN
  max_parts: 1
`;

describe('SMS and push files of a template', () => {
  it('loads them into the model and deploys them as sms and push, an SMS without its trailing line breaks', () => {
    const ws = workspaceWith({
      'templates/hello/sms.en.txt': 'Hi {{ customer.first_name }}\n\n',
      'templates/hello/push.en.yaml': 'title: Hi\nbody: Our sale starts today.\nurl: "{{ site.url }}"\n',
    });
    const { workspace, problems } = loadWorkspace(ws.dir);
    expect(problems).toEqual([]);
    const t = workspace!.templates.get('hello')!;
    expect(t.sms).toEqual({ en: { file: 'templates/hello/sms.en.txt', text: 'Hi {{ customer.first_name }}\n\n' } });
    expect(t.push.en!.spec).toEqual({ title: 'Hi', body: 'Our sale starts today.', url: '{{ site.url }}' });
    const spec = desiredObjects(workspace!).find((o) => o.kind === 'template' && o.name === 'hello')!.spec;
    expect(spec.sms).toEqual({ en: 'Hi {{ customer.first_name }}' });
    expect(spec.push).toEqual({ en: { title: 'Hi', body: 'Our sale starts today.', url: '{{ site.url }}' } });
  });

  it('leaves a template without them as it was deployed before', () => {
    const { workspace } = loadWorkspace(workspaceWith({}).dir);
    const spec = desiredObjects(workspace!).find((o) => o.kind === 'template')!.spec;
    expect(Object.keys(spec).sort()).toEqual(['bodies', 'subject']);
  });

  it('refuses a file of the wrong kind for its channel', async () => {
    expect(await problemsWith({ 'templates/hello/sms.en.mjml': 'x', 'templates/hello/push.en.txt': 'x' })).toEqual([
      'error templates/hello/push.en.txt:1:1: unexpected file "push.en.txt" in template "hello"',
      'error templates/hello/sms.en.mjml:1:1: unexpected file "sms.en.mjml" in template "hello"',
    ]);
  });

  it('needs no MJML and no subject for a template with only SMS and push', async () => {
    expect(await problemsWith({
      'templates/note/template.yaml': 'description: SMS and push only\n',
      'templates/note/sms.en.txt': 'Your order shipped.\n',
      'templates/note/push.en.yaml': 'title: Shipped\nbody: Your order is on its way.\n',
    })).toEqual([]);
  });

  it('still needs a subject for a template with an email body, used or not', async () => {
    expect(await problemsWith({ 'templates/hello/template.yaml': 'description: no subject\n' })).toEqual([
      'error templates/hello/template.yaml:1:1: template "hello" has no en subject, needed by site "main" (campaign "hello")',
    ]);
    expect(await problemsWith({ 'templates/other/template.yaml': 'description: no subject\n', 'templates/other/de.mjml': MINIMAL['templates/hello/en.mjml']! })).toEqual([
      'error templates/other/template.yaml:1:1: template "other" has de.mjml but no subject',
    ]);
  });

  it('reports an empty SMS', async () => {
    expect(await problemsWith({ 'templates/hello/sms.en.txt': '\n' })).toEqual(['error templates/hello/sms.en.txt:1:1: sms.en.txt is empty']);
  });

  it('warns over sms.max_parts from herald.yaml, counting a link as a short tracking link', async () => {
    // 147 characters as written, one part; but the address becomes https://mail.example.com/s/<16>, 43 characters.
    expect(await problemsWith({ 'herald.yaml': SMS_HERALD, 'templates/hello/sms.en.txt': `${'a'.repeat(120)} https://shop.example.com/x\n` })).toEqual([
      'warning templates/hello/sms.en.txt:1:1: sms.en.txt needs 2 parts with every token at its longest (164 GSM-7 characters, 153 a part), more than sms.max_parts (1)',
    ]);
    expect(await problemsWith({ 'herald.yaml': SMS_HERALD, 'templates/hello/sms.en.txt': `${'a'.repeat(160)}\n` })).toEqual([]);
  });

  it('asks the sms provider for its own keys', async () => {
    const noSid = SMS_HERALD.replace('  account_sid: AC0123\n', '');
    expect(await problemsWith({ 'herald.yaml': noSid })).toEqual(['error herald.yaml:13:1: sms.provider is twilio, which needs sms.account_sid']);
    const webhook = `${MINIMAL['herald.yaml']}sms:\n  provider: webhook\n  from: MyShop\n`;
    expect(await problemsWith({ 'herald.yaml': webhook })).toEqual(['error herald.yaml:13:1: sms.provider is webhook, which needs sms.webhook']);
    expect(await problemsWith({ 'herald.yaml': `${webhook}  webhook: { url: "https://sms.example.com/send" }\n` })).toEqual([]);
  });
});

describe('tokens at their longest', () => {
  const project = {
    sites: [
      { id: 'main', name: 'A shop with a rather long name', url: 'https://shop.example.com', locales: ['en'], default_locale: 'en', currency: 'EUR', sender: { from: 'a@b.c' }, postal_address: 'x', brand: { tagline: 'twelve chars' } },
      { id: 'b', name: 'Short', url: 'https://b.example.com', locales: ['en'], default_locale: 'en', currency: 'EUR', sender: { from: 'a@b.c' }, postal_address: 'x' },
    ],
    tracking: { base_url: 'https://t.example.com/' },
  } as never;

  it('makes a short link of the tracking host and 16 characters', () => {
    expect(longestLinks(project).short).toBe('https://t.example.com/s/xxxxxxxxxxxxxxxx');
  });

  it('measures site values in herald.yaml, catalog tokens by the catalog, and names a list column or event key as it is used', () => {
    const source = '{{ site.name }}|{{ site.brand.tagline }}|{{ customer.first_name }}|{{ event.coupon }}|{{ site.url }}|{% for p in products %}{{ p.name }};{% endfor %}';
    const out = renderLongest(source, 'sms.en.txt', longestContext(project, source, 'LINK'))!;
    const [name, tagline, first, coupon, url, products] = out.split('|');
    expect(name).toHaveLength('A shop with a rather long name'.length);
    expect(tagline).toHaveLength(12);
    expect(first).toHaveLength(40);
    expect(coupon).toHaveLength(40);
    expect(url).toBe('LINK');
    expect(products!.split(';').filter(Boolean).map((x) => x.length)).toEqual([60, 60, 60]);
  });
});

describe('a site value outside GSM-7', () => {
  it('is named as coming from herald.yaml', async () => {
    const herald = MINIMAL['herald.yaml']!.replace('name: Main', 'name: Магазин');
    expect(await problemsWith({ 'herald.yaml': herald, 'templates/hello/sms.en.txt': 'News from {{ site.name }}\n' })).toEqual([
      "warning templates/hello/sms.en.txt:1:1: М (U+041C) in a site's value in herald.yaml (its name, address or brand) makes the whole message UCS-2: 70 characters a part instead of 160",
    ]);
  });
});
