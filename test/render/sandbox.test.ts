import { execFile } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import nunjucks from 'nunjucks';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { createRenderer } from '../../src/render/message.js';
import { prepareTemplate, type TokenContext } from '../../src/render/personalize.js';
import type { Site } from '../../src/workspace/model.js';
import { ESCAPES, MARK, SECRET } from './escapes.js';
import { repoRoot } from '../support/workspace.js';

/**
 * Rendering is the second line: a deployed template that never went through
 * `herald validate` (or a working copy rendered by preview --serve while it is
 * being typed) must still not reach JavaScript.
 */

const ctx = (): TokenContext => ({
  customer: { first_name: 'Anna', last_name: 'Berg', email: 'anna@example.com', city: null },
  greeting: 'Hi Anna,',
  site: { id: 'main', name: 'Main', url: 'https://shop.example.com', postal_address: '1 Main St', currency: 'EUR', brand: { logo_url: 'https://shop.example.com/logo.png' } },
  campaign: { name: 'c', title: 'C' },
  trigger: { name: 'c' },
  products: [{ sku: 'A-1', name: 'Boot', category: 'shoes', url: 'https://shop.example.com/a', image_url: null, price: '€10.00' }],
  links: { unsubscribe: 'https://mail.example.com/u/x', auto_login: 'https://shop.example.com/l/x' },
});

const mjml = (inner: string) => `<mjml><mj-body><mj-section><mj-column><mj-text>${inner}</mj-text></mj-column></mj-section></mj-body></mjml>`;

let saved: string | undefined;
beforeEach(() => {
  saved = process.env.HERALD_SECRET;
  process.env.HERALD_SECRET = SECRET;
  rmSync(MARK, { force: true });
});
afterEach(() => {
  if (saved === undefined) delete process.env.HERALD_SECRET;
  else process.env.HERALD_SECRET = saved;
  rmSync(MARK, { force: true });
});

/** Every part rendered, or the error that stopped it; nothing else may come out. */
async function attempt(template: string): Promise<{ output: string } | { error: unknown }> {
  try {
    const t = await prepareTemplate({ mjml: mjml(template), subject: template, preheader: template, text: template, file: 'templates/x/en.mjml' });
    const m = t.render(ctx());
    return { output: [m.subject, m.preheader, m.html, m.text].join('\n') };
  } catch (error) {
    return { error };
  }
}

describe('a template that tries to reach JavaScript', () => {
  it.each(ESCAPES)('$name: neither runs code nor shows what it found', async ({ template }) => {
    const got = await attempt(template);
    expect(existsSync(MARK), 'the code ran: it wrote a file').toBe(false);
    if ('error' in got) {
      // Refused with a message for the user, never a crash.
      expect(got.error).toBeInstanceOf(UserError);
      expect((got.error as Error).message).not.toContain(SECRET);
    } else {
      expect(got.output).not.toContain(SECRET);
      expect(got.output).not.toMatch(/function|native code|=>/);
    }
  });
});

it('holds for a deployed template, rendered as herald send renders it', async () => {
  const site: Site = { id: 'main', name: 'Main', url: 'https://shop.example.com', locales: ['en'], default_locale: 'en', currency: 'EUR', sender: { from: 'news@shop.example.com' } };
  const renderer = createRenderer({ project: { sites: [site], tracking: { base_url: 'https://mail.example.com' } }, secret: SECRET, now: new Date('2026-01-01T00:00:00Z') });
  for (const { template } of ESCAPES) {
    const source = { kind: 'campaign' as const, name: 'c', title: 'C', personalizedGreeting: false, templateName: 'x', template: { subject: { en: 'Hi' }, bodies: { en: mjml(template) } } };
    const recipient = { customer_id: 1, email: 'anna@example.com', first_name: 'Anna', last_name: null, site: 'main', locale: 'en' };
    const got = await renderer.render(source, recipient, { products: [] }).then((m) => m.html, (e: unknown) => e);
    expect(existsSync(MARK), template).toBe(false);
    if (typeof got === 'string') expect(got, template).not.toContain(SECRET);
    else expect(got, template).toBeInstanceOf(UserError);
  }
});

describe('what templates may do', () => {
  const render = async (template: string, text = true, data: TokenContext = ctx()) => {
    const t = await prepareTemplate({ mjml: mjml('x'), subject: 's', text: template, file: 'templates/x/en.mjml' });
    return text ? t.render(data).text : t.render(data).html;
  };
  /** Each template renders in the text part (trimmed by tidyText) as with nunjucks' own runtime. */
  const rendersAsNunjucks = async (templates: string[], data: TokenContext) => {
    const stock = new nunjucks.Environment(null, { autoescape: false });
    for (const t of templates) expect(await render(t, true, data), t).toBe(stock.renderString(t, data).trim());
  };

  it('reads tokens, loops, sets, macros with caller, allowed filters, tests and range', async () => {
    expect(await render('{{ customer.first_name | upper }} {{ customer.email | length }} {{ products | length }} {{ products[0].name }}')).toBe('ANNA 16 1 Boot');
    expect(await render('{% for p in products %}{{ loop.index }}/{{ loop.length }} {{ p.name | lower }}{% endfor %}')).toBe('1/1 boot');
    expect(await render('{% macro card(p, label="x") %}{{ label }}:{{ p.name }}:{{ caller() }}{% endmacro %}{% call card(products[0]) %}in{% endcall %}')).toBe('x:Boot:in');
    expect(await render('{% set n = customer.last_name %}{% set t %}[{{ n }}]{% endset %}{{ t }}')).toBe('[Berg]');
    expect(await render('{% for i in range(1, 4) %}{{ i }}{% endfor %} {{ range(3) | join(",") }} {{ [3, 1, 2] | sort | join }}')).toBe('123 0,1,2 123');
    expect(await render('{% if customer.city is falsy %}none{% endif %}{% if 4 is divisibleby(2) %} even{% endif %}')).toBe("none even");
    expect(await render('{{ customer.city | default("somewhere", true) }} {{ "a b c" | replace(" ", "-") | truncate(3) }} {{ 2.567 | round(1) }}')).toBe('somewhere a-b... 2.6');
    expect(await render('{{ {"a": 1, "b": 2}.b }} {{ "x" in "xyz" }} {{ "email" in customer }}')).toBe('2 true true');
  });

  it("reads loop.* as with nunjucks' own runtime (set by one call per iteration here)", async () => {
    const data = { ...ctx(), xs: ['a', 'b', 'c'], obj: { x: 1, y: 2 }, pairs: [['p', 1], ['q', 2]] };
    await rendersAsNunjucks([
      '{% for p in xs %}{{ loop.index }},{{ loop.index0 }},{{ loop.revindex }},{{ loop.revindex0 }},{{ loop.first }},{{ loop.last }},{{ loop.length }};{% endfor %}',
      '{% for a in xs %}{% for b in xs %}{{ loop.index }}{% endfor %}:{{ loop.index }}/{{ loop.last }} {% endfor %}',
      '{% for k, v in obj %}{{ k }}={{ v }}@{{ loop.index }}/{{ loop.length }}{{ loop.last }} {% endfor %}',
      '{% for a, b in pairs %}{{ a }}{{ b }}{{ loop.revindex }}{{ loop.first }} {% endfor %}',
      // One object per loop, its fields set per iteration, as nunjucks does: a kept `loop` shows the current iteration.
      '{% for a in xs %}{% if prev %}{{ prev.index }}{% endif %}{% set prev = loop %}|{% endfor %}',
      '{% macro m(x) %}{% for i in x %}{{ loop.index }}{{ i }}{% endfor %}{% endmacro %}{{ m(xs) }} {{ m(pairs | first) }}',
      '{% for a in [] %}x{% else %}none{{ loop.index }}{% endfor %}{{ loop.index }}',
      '{% for a in xs %}{{ a }}{% endfor %}{% for a in xs | reverse %}{{ a }}{% endfor %}',
      '{% for p in products %}{{ p.name }}{{ loop.length }}{% endfor %}',
    ], data);
    // What only the sandbox decides: loop prints nothing and answers to nothing but its fields.
    expect(await render('{% for a in xs %}[{{ loop }}{{ loop.constructor }}{{ loop.toString }}{{ "index" in loop }}{{ "constructor" in loop }}]{% endfor %}', true, data)).toBe('[truefalse]'.repeat(3));
  });

  it("scopes {% set %} as nunjucks' own runtime does (a name set through a fast path of its own here)", async () => {
    await rendersAsNunjucks([
      // A name set before a loop is the one the loop sets; one first set in the loop stays in it.
      '{% set n = 0 %}{% for a in xs %}{% set n = n + 1 %}{% set inner = a %}{{ n }}{{ inner }}{% endfor %}|{{ n }}|{{ inner }}',
      // A macro isolates its writes: it sets its own, the caller's stays.
      '{% set x = "out" %}{% macro m(x) %}{% set x = x + "!" %}{% set y = 1 %}{{ x }}{% endmacro %}{{ m("in") }}{{ x }}{{ y }}',
      '{% set z = "out" %}{% macro m() %}{% set z = "in" %}{{ z }}{% endmacro %}{{ m() }}{{ z }}{% for a in xs %}{{ m() }}{{ z }}{% endfor %}',
      // A caller block sees the names around it, and isolates its writes too.
      '{% set z = "out" %}{% macro m() %}[{{ caller() }}]{% endmacro %}{% call m() %}{{ z }}{% set z = "in" %}{{ z }}{% endcall %}{{ z }}',
      '{% set a = 1 %}{% if true %}{% set a = 2 %}{% set b = 3 %}{% endif %}{{ a }}{{ b }}',
      '{% for a in xs %}{% for b in xs %}{% set last = a + b %}{% endfor %}{{ last }}{% endfor %}{{ last }}',
      '{% set t %}{% for a in xs %}{% set t2 = a %}{{ t2 }}{% endfor %}{% endset %}{{ t }}{{ t2 }}',
      '{% macro outer() %}{% set v = "o" %}{% for a in xs %}{% set v = v + a %}{% endfor %}{{ v }}{% endmacro %}{{ outer() }}{{ v }}',
    ], { ...ctx(), xs: ['a', 'b', 'c'] } as TokenContext);
  });

  it('still escapes data in the HTML', async () => {
    const t = await prepareTemplate({ mjml: mjml('{{ customer.first_name }} {{ customer.first_name | escape }}'), subject: 's', file: 'templates/x/en.mjml' });
    const c = ctx();
    c.customer.first_name = '<b>x</b>';
    const html = t.render(c).html;
    expect(html).toContain('&lt;b&gt;x&lt;/b&gt; &lt;b&gt;x&lt;/b&gt;');
    expect(html).not.toContain('<b>x</b>');
  });

  it("escapes data that replace or truncate put into text the template marked safe (a macro's, a block set's)", async () => {
    const c = ctx();
    c.customer.first_name = '<a href="https://evil.example/">win</a>';
    const html = async (body: string) => {
      const t = await prepareTemplate({ mjml: mjml(body), subject: 's', file: 'templates/x/en.mjml' });
      return t.render(c).html;
    };
    const escaped = '&lt;a href=&quot;https://evil.example/&quot;&gt;win&lt;/a&gt;';
    for (const body of [
      '{% macro m() %}<b>Hi NAME</b>{% endmacro %}{{ m() | replace("NAME", customer.first_name) }}',
      '{% macro m() %}<b>Hi there, a long greeting</b>{% endmacro %}{{ m() | truncate(12, true, customer.first_name) }}',
      '{% macro m() %}<b>{{ caller() | replace("NAME", customer.first_name) }}</b>{% endmacro %}{% call m() %}Hi NAME{% endcall %}',
      '{% set s %}<b>Hi NAME</b>{% endset %}{{ s | replace("NAME", customer.first_name) }}',
    ]) {
      const out = await html(body);
      expect(out, body).toContain(escaped);
      expect(out, body).not.toContain('evil.example/">');
    }
    // The template's own markup stays markup; what goes into it is text, unless a macro made it.
    expect(await html('{% macro m() %}<b>Hi NAME</b>{% endmacro %}{{ m() | replace("NAME", "<i>you</i>") }}')).toContain('<b>Hi &lt;i&gt;you&lt;/i&gt;</b>');
    expect(await html('{% macro m() %}<b>Hi NAME</b>{% endmacro %}{% macro you() %}<i>you</i>{% endmacro %}{{ m() | replace("NAME", you()) }}')).toContain('<b>Hi <i>you</i></b>');
    expect(await html('{% macro m() %}<b>Hi there, a long greeting</b>{% endmacro %}{{ m() | truncate(12, true) }}')).toContain('<b>Hi there,...');
  });

  it('refuses a filter outside the allowed ones by name', async () => {
    await expect(render('{{ customer.first_name | safe }}')).rejects.toThrow(UserError);
    await expect(render('{{ customer.first_name | safe }}')).rejects.toThrow(/filter "safe" is not allowed/);
  });

  it('refuses a range too long to be meant', async () => {
    await expect(render('{% for i in range(100000000) %}{% endfor %}')).rejects.toThrow(/range\(\) gives at most 1,000 numbers/);
  });
});

describe('escaping', () => {
  it("escapes a printed value exactly as nunjucks' own escape does", async () => {
    const { default: fc } = await import('fast-check');
    const { default: nunjucks } = await import('nunjucks');
    const theirs = (nunjucks as unknown as { lib: { escape(s: string): string } }).lib.escape;
    const { escapeHtml } = await import('../../src/render/sandbox.js');
    for (const s of ['', 'Anna', `<script>alert("x")</script>`, `O'Brien & "Sons" \\ <b>`, '&&&', '>', 'Зоя & Ko', '\uD800<']) expect(escapeHtml(s)).toBe(theirs(s));
    const chars = fc.constantFrom('a', 'я', '&', '"', "'", '<', '>', '\\', ' ', '\u00a0', '\uD83D\uDE00');
    fc.assert(fc.property(fc.array(chars, { maxLength: 40 }).map((a) => a.join('')), (s) => escapeHtml(s) === theirs(s)), { numRuns: 2000 });
  });
});

describe("String.prototype after nunjucks' runtime loads", () => {
  /**
   * Whether V8 keeps String.prototype's properties fast (not a dictionary)
   * in a fresh node process that imports `module`: asked with V8's own
   * %HasFastProperties, which needs --allow-natives-syntax, so in a process
   * of its own. The built module (npm test builds first).
   */
  const fastAfter = (module: string) =>
    new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        ['--allow-natives-syntax', '--input-type=module', '-e', `await import(${JSON.stringify(module)}); console.log(%HasFastProperties(String.prototype))`],
        { cwd: repoRoot },
        (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout.trim())),
      );
    });

  it('is laid out fast again once the sandbox has loaded nunjucks (string methods are looked up by hash otherwise)', async () => {
    // nunjucks alone leaves it a dictionary (SafeString.prototype = Object.create(String.prototype, …)).
    expect(await fastAfter('nunjucks')).toBe('false');
    expect(await fastAfter(pathToFileURL(join(repoRoot, 'dist', 'render', 'sandbox.js')).href)).toBe('true');
  });
});
