import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { setCacheDir } from '../../../src/workspace/cache.js';
import { loadWorkspace, sortProblems } from '../../../src/workspace/load.js';
import { templateChecks } from '../../../src/workspace/checks/templates.js';
import { useCleanups } from '../../support/cleanup.js';
import { exampleWorkspace, MINIMAL, tempWorkspace } from '../../support/workspace.js';
import { ESCAPES } from '../../render/escapes.js';

const cleanup = useCleanups();

/** The template problems of MINIMAL with `files` laid over it (an empty file deletes one), as `severity file:line:col: message [hint]`. */
async function check(files: Record<string, string>, opts: { hints?: boolean } = {}): Promise<string[]> {
  const all: Record<string, string> = { ...MINIMAL, ...files };
  for (const [k, v] of Object.entries(files)) if (v === '') delete all[k];
  const ws = tempWorkspace(all);
  cleanup(ws.remove);
  const { workspace, problems } = loadWorkspace(ws.dir);
  expect(workspace, problems.map((p) => p.message).join('\n')).toBeDefined();
  const found = await templateChecks(workspace!, new Set(problems.map((p) => p.file)));
  return sortProblems(found).map((p) => `${p.severity} ${p.file}:${p.line}:${p.column}: ${p.message}${opts.hints && p.hint ? ` [${p.hint}]` : ''}`);
}

/** A body with `inner` on line 5, and after it the footer marketing email must carry. */
const body = (inner: string, footer = FOOTER) => `<mjml>\n<mj-body>\n<mj-section>\n<mj-column>\n${inner}\n</mj-column>\n</mj-section>${footer}\n</mj-body>\n</mjml>\n`;
const FOOTER = '<mj-section><mj-column><mj-text>{{ site.postal_address }} <a href="{{ links.unsubscribe }}">Unsubscribe</a></mj-text></mj-column></mj-section>';

const CART_TRIGGER = { 'triggers/cart.yaml': 'event: cart_abandoned\nafter: 4h\ntemplate: hello\n' };

describe('templateChecks', () => {
  it('finds nothing wrong with the minimal workspace or the example workspace', async () => {
    expect(await check({})).toEqual([]);
    const ws = exampleWorkspace();
    cleanup(ws.remove);
    const { workspace, problems } = loadWorkspace(ws.dir);
    const found = await templateChecks(workspace!, new Set(problems.map((p) => p.file)));
    expect(found).toEqual([]);
  });

  describe('tokens', () => {
    it('reports a misspelt token with the nearest name', async () => {
      expect(await check({ 'templates/hello/en.mjml': body('<mj-text>{{ customer.frist_name }} {{ greting }} {{ site.nmae }}</mj-text>') }, { hints: true })).toEqual([
        'error templates/hello/en.mjml:5:13: unknown token "customer.frist_name" [did you mean "customer.first_name"?]',
        'error templates/hello/en.mjml:5:39: unknown token "greting" [did you mean "greeting"?]',
        'error templates/hello/en.mjml:5:53: unknown token "site.nmae" [did you mean "site.name"?]',
      ]);
    });

    it('holds a template used by a campaign and a trigger to both', async () => {
      const got = await check({
        ...CART_TRIGGER,
        'templates/hello/en.mjml': body('<mj-text>{{ cart.total }} {{ campaign.title }} {{ site.brand.logo_url }} {{ trigger.name }}</mj-text>'),
      }, { hints: true });
      expect(got).toEqual([
        'error templates/hello/en.mjml:5:13: token "cart.total" is not available to campaign "hello" [cart.total exists for triggers on cart_abandoned]',
        'error templates/hello/en.mjml:5:30: token "campaign.title" is not available to trigger "cart" (cart_abandoned) [campaign.title exists for campaigns to segments, campaigns to lists]',
        'error templates/hello/en.mjml:5:77: token "trigger.name" is not available to campaign "hello" [trigger.name exists for every trigger]',
      ]);
    });

    it('follows loop variables, set, macros, filters and tests', async () => {
      const text = [
        '{% for item in cart.items %}{{ item.name }} {{ item.quantity }} {{ loop.index }} {{ item.nme }}{% endfor %}',
        '{% set first = cart.items[0] %}{{ first.sku }} {{ first.colour }}',
        '{% set n = cart.items | length %}{{ n }} {{ cart.items.length }}',
        '{% macro line(p, label="x") %}{{ label }}: {{ p.anything }}{% endmacro %}{{ line(cart) }}',
        '{% if customer.first_name is defined %}{{ customer.first_name | upper | replace("A", greeting) }}{% endif %}',
        '{{ {"a": 1, b: cart.url}.a }} {{ range(3) | join(",") }} {{ "x" if cart.total else "y" }}',
        '{% for k, v in cart %}{{ k }}{{ v }}{% endfor %}{{ item }}',
        '{% raw %}{{ not_a_token }}{% endraw %}',
        '{% set note %}{{ greeting }}{% endset %}{{ note }} {% set a, b = 1 %}{{ a }}{{ b }}',
      ].join('\n');
      expect(await check({ ...CART_TRIGGER, 'campaigns/hello.yaml': '', 'templates/hello/en.txt': text }, { hints: true })).toEqual([
        'error templates/hello/en.txt:1:85: unknown token "item.nme" [did you mean "item.name"? (item is an item of cart.items)]',
        'error templates/hello/en.txt:2:51: unknown token "first.colour" [first has: name, sku, url, image_url, price, category, quantity (first is an item of cart.items)]',
        'error templates/hello/en.txt:4:49: "p.anything" reads "anything", which no token has [p is not a token the catalog describes (a macro argument, a loop over a dict, or a set from an expression): only the names of token fields can be read from it]',
        'error templates/hello/en.txt:7:52: unknown token "item" [tokens here: cart, customer, greeting, links, preheader, site, trigger]',
      ]);
    });

    it('explains a list used as one product', async () => {
      expect(await check({ 'templates/hello/en.mjml': body('<mj-text>{{ products.name }}</mj-text>') }, { hints: true })).toEqual([
        'error templates/hello/en.mjml:5:13: unknown token "products.name" [products is a list: loop over it with {% for item in products %} and use item.name]',
      ]);
    });

    it('gives a campaign to a list the columns of its CSV as customer tokens', async () => {
      const got = await check({
        'lists/fair.yaml': 'file: fair.csv\nsite: main\n',
        'lists/fair.csv': '\uFEFFemail,First_Name,"company",site\na@example.com,Anna,ACME,main\n',
        'campaigns/hello.yaml': 'title: Hello\nsite: main\naudience:\n  list: fair\ntemplate: hello\n',
        'templates/hello/en.mjml': body('<mj-text>{{ customer.first_name }} {{ customer.company }} {{ customer.city }} {{ customer.site }} {{ links.auto_login }}</mj-text>'),
      }, { hints: true });
      expect(got).toEqual([
        'error templates/hello/en.mjml:5:62: token "customer.city" is not available to campaign "hello" (list "fair") [customer.city exists for campaigns to segments, every trigger; for a list, add a city column to its CSV]',
        'error templates/hello/en.mjml:5:82: unknown token "customer.site" [customer has: first_name, last_name, email, locale, company]',
        'error templates/hello/en.mjml:5:102: token "links.auto_login" is not available to campaign "hello" (list "fair") [links.auto_login exists for campaigns to segments, every trigger]',
      ]);
    });

    it('allows any customer column when a list\'s CSV cannot be read', async () => {
      expect(await check({
        'lists/fair.yaml': 'file: missing.csv\n',
        'campaigns/hello.yaml': 'title: Hello\nsite: main\naudience:\n  list: fair\ntemplate: hello\n',
        'templates/hello/en.mjml': body('<mj-text>{{ customer.shoe_size }}</mj-text>'),
      })).toEqual([]);
    });

    it('gives an sql trigger\'s template any key of its payload as event.*, and no other use', async () => {
      const SQL_TRIGGER = { 'triggers/review.yaml': 'event: sql\nsql: SELECT customer_id, id::text AS event_key FROM shop.orders\ntemplate: hello\n' };
      const text = '{{ event.order_id }} {{ event["delivered on"] }} {% if event.rating is defined %}{{ event.rating | upper }}{% endif %} {{ event.items.length }}';
      expect(await check({ ...SQL_TRIGGER, 'campaigns/hello.yaml': '', 'templates/hello/en.txt': text })).toEqual([]);
      expect(await check({ ...SQL_TRIGGER, 'campaigns/hello.yaml': '', 'templates/hello/en.txt': '{{ event.order.id }} {{ event.constructor }}' }, { hints: true })).toEqual([
        'error templates/hello/en.txt:1:4: unknown token "event.order.id" [event.order is a value, not a set of tokens: only its length can be read]',
        'error templates/hello/en.txt:1:25: unknown token "event.constructor" [constructor is a name every JavaScript value has, never a token; docs/tokens.md lists the tokens]',
      ]);
      // The campaign and the cart trigger have no event; the sql trigger sharing the template does.
      expect(await check({ ...SQL_TRIGGER, ...CART_TRIGGER, 'templates/hello/en.txt': 'Order {{ event.order_id }}' }, { hints: true })).toEqual([
        'error templates/hello/en.txt:1:10: token "event.order_id" is not available to campaign "hello" and trigger "cart" (cart_abandoned) [event.order_id exists for triggers on sql]',
      ]);
    });

    it('checks a template nothing uses against every context', async () => {
      expect(await check({
        'campaigns/hello.yaml': '',
        'templates/hello/en.mjml': body('<mj-text>{{ cart.total }} {{ campaign.title }} {{ custmer.email }}</mj-text>'),
      })).toEqual(['error templates/hello/en.mjml:5:51: unknown token "custmer.email"']);
    });

    it('points into a subject at the token, and at the value when the YAML string has escapes', async () => {
      expect(await check({
        'templates/hello/template.yaml': 'subject:\n  en: "Hi {{ customer.nam }}"\n  ru: "\\u041f {{ customr }}"\npreheader:\n  en: Plain {{ sitename }}\n',
        'templates/hello/ru.mjml': MINIMAL['templates/hello/en.mjml']!,
      })).toEqual([
        'error templates/hello/template.yaml:2:14: unknown token "customer.nam"',
        'error templates/hello/template.yaml:3:7: unknown token "customr"',
        'error templates/hello/template.yaml:5:16: unknown token "sitename"',
      ]);
    });

    it("keeps a template's subject and preheader findings in one cache entry, which a warm run reads and locates anew", async () => {
      const home = mkdtempSync(join(tmpdir(), 'herald-cache-texts-'));
      cleanup(() => rmSync(home, { recursive: true, force: true }));
      cleanup(() => setCacheDir(undefined));
      setCacheDir(home);
      const files = { 'templates/hello/template.yaml': 'subject:\n  en: "Hi {{ customer.nam }}"\npreheader:\n  en: Plain\n' };
      expect(await check(files)).toEqual(['error templates/hello/template.yaml:2:14: unknown token "customer.nam"']);
      const entries = readdirSync(join(home, 'template-texts'));
      expect(entries).toHaveLength(1);
      // What the entry says is what a warm run reports: nunjucks is not asked again.
      const entry = join(home, 'template-texts', entries[0]!);
      const cached = JSON.parse(readFileSync(entry, 'utf8')) as { message: string }[][];
      expect(cached).toHaveLength(2);
      writeFileSync(entry, JSON.stringify([[{ ...cached[0]![0], message: 'from the cache' }], []]));
      expect(await check(files)).toEqual(['error templates/hello/template.yaml:2:14: from the cache']);
    });

    it('checks an A/B variant\'s subject for its campaign', async () => {
      expect(await check({
        'campaigns/hello.yaml': [
          'title: Hello', 'site: main', 'audience:', '  segment: everyone', 'template: hello',
          'ab_test:', '  variants:', '    - name: a', '      subject:', '        en: "Hi {{ cart.total }}"', '    - name: b',
          '  test_size: 20%', '  winner: { metric: opens, after: 4h, fallback: a }', '',
        ].join('\n'),
      })).toEqual(['error campaigns/hello.yaml:10:20: token "cart.total" is not available to campaign "hello"']);
    });
  });

  describe('nunjucks', () => {
    it('reports a syntax error at its line, in a body, a text part and a subject', async () => {
      expect(await check({
        'templates/hello/template.yaml': 'subject:\n  en: "Hello {{ customer.first_name }"\n',
        'templates/hello/en.mjml': body('<mj-text>{{ greeting }</mj-text>'),
        'templates/hello/en.txt': 'Hello\n{{ greeting | }}\n',
      })).toEqual([
        'error templates/hello/en.mjml:5:22: nunjucks syntax: expected variable end',
        'error templates/hello/en.txt:2:15: nunjucks syntax: expected symbol, got variable-end',
        'error templates/hello/template.yaml:2:37: nunjucks syntax: expected variable end',
      ]);
    });

    it('reports an unclosed block where it opens, through a partial', async () => {
      expect(await check({
        'templates/_partials/list.mjml': '<mj-text>\n  {% for p in products %}{{ p.name }}\n</mj-text>\n',
        'templates/hello/en.mjml': body('<mj-include path="../_partials/list.mjml" />\n<mj-text>{{ greeting }}</mj-text>'),
      }, { hints: true })).toEqual(['error templates/_partials/list.mjml:2:3: nunjucks syntax: {% for %} is never closed [add {% endfor %}]']);
    });

    it('refuses tags that need a template loader', async () => {
      expect(await check({ 'templates/hello/en.txt': 'Hi\n{% include "footer.txt" %}\n' })).toEqual([
        'error templates/hello/en.txt:2:4: {% include %} needs a template loader, which herald templates do not have',
      ]);
    });
  });

  describe('what templates may not do', () => {
    it.each(ESCAPES)('refuses $name where it is written', async ({ template }) => {
      const got = await check({ 'templates/hello/en.mjml': body(`<mj-text>${template}</mj-text>`) });
      expect(got.filter((p) => p.startsWith('error templates/hello/en.mjml:5:'))).not.toEqual([]);
    });

    it('takes only a name where a tag sets one: not a string, not an expression', async () => {
      const text = '{% set "total" = 1 %}{% set a.b = 2 %}\n{% macro "card"() %}{% endmacro %}{% macro m(x, "y"=1) %}{% endmacro %}\n{% set t %}{{ a"b }}{% endset %}';
      expect(await check({ 'templates/hello/en.txt': text }, { hints: true })).toEqual([
        'error templates/hello/en.txt:1:8: {% set %} takes a name here, not a string [a name is letters, digits and _, without quotes: {% set total = 1 %}]',
        'error templates/hello/en.txt:1:30: {% set %} takes a name here, not an expression [a name is letters, digits and _, without quotes: {% set total = 1 %}]',
        'error templates/hello/en.txt:2:10: {% macro %} takes a name here, not a string [a name is letters, digits and _, without quotes: {% set total = 1 %}]',
        'error templates/hello/en.txt:2:49: {% macro %} takes a name here, not a string [a name is letters, digits and _, without quotes: {% set total = 1 %}]',
        // Inside a block set too, which nunjucks' tree does not list among the tag's fields.
        'error templates/hello/en.txt:3:15: "a\\"b" is not a name [a name is letters, digits and _; quote text: "like this"]',
        'error templates/hello/en.txt:3:15: unknown token "a"b" [tokens here: campaign, customer, greeting, links, preheader, products, site]',
      ]);
    });

    it('says what is refused and what to do instead', async () => {
      const text = [
        '{{ customer.first_name.constructor }} {{ customer.email.toUpperCase() }} {{ site.brand.__proto__ }}',
        '{{ customer.first_name | safe }} {{ products | join(",", "name") }} {{ products | dump }}',
        '{{ range.constructor }} {{ cycler(1, 2) }} {% set r = range %}',
        '{% for p in products %}{{ loop.constructor }}{{ loop.index }}{{ p.name.length }}{% endfor %}',
        '{% macro card(p) %}{{ p.name }} {{ p.constructor }} {{ p.whatever }}{% endmacro %}{{ card.call }}{{ card(products[0]) }}',
        '{{ customer[customer.first_name] }} {{ "abc".length }} {{ "abc".constructor }} {{ r/a+/ }} {% if greeting is callable %}{% endif %}',
        '{% set constructor = 1 %}{{ {"__proto__": 1}.a }} {{ caller() }}',
        '{{ a"b }} {% if 1 is "odd" %}{% endif %}',
      ].join('\n');
      expect(await check({ 'templates/hello/en.txt': text }, { hints: true })).toEqual([
        'error templates/hello/en.txt:1:4: unknown token "customer.first_name.constructor" [constructor is a name every JavaScript value has, never a token; docs/tokens.md lists the tokens]',
        'error templates/hello/en.txt:1:42: customer.email.toUpperCase cannot be called [a template calls only its own macros, caller() inside a macro, and range(); use a filter (| upper, | replace) for what a method would do]',
        'error templates/hello/en.txt:1:77: unknown token "site.brand.__proto__" [__proto__ is a name every JavaScript value has, never a token; docs/tokens.md lists the tokens]',
        'error templates/hello/en.txt:2:26: filter "safe" is not allowed [values are escaped so that data cannot add markup; write the markup in the template itself]',
        'error templates/hello/en.txt:2:58: filter "join" takes at most 1 argument [see docs/templates.md for the filters and their arguments]',
        'error templates/hello/en.txt:2:83: filter "dump" is not allowed [filters templates can use: abs, batch, capitalize, d, default, e, escape, first, float, forceescape, int, join, last, length, lower, nl2br, replace, reverse, round, sort, string, striptags, title, trim, truncate, upper, urlencode, wordcount]',
        'error templates/hello/en.txt:3:4: "range.constructor": range can only be called, as range(…) [a template calls only its own macros, caller() inside a macro, and range(); use a filter (| upper, | replace) for what a method would do]',
        'error templates/hello/en.txt:3:28: cycler() is not available in herald templates [use loop.index or loop.first, or {% if loop.index is odd %}]',
        'error templates/hello/en.txt:3:55: "range": range can only be called, as range(…) [a template calls only its own macros, caller() inside a macro, and range(); use a filter (| upper, | replace) for what a method would do]',
        'error templates/hello/en.txt:4:32: "loop.constructor": loop has no "constructor" [loop has: index, index0, revindex, revindex0, first, last, length]',
        'error templates/hello/en.txt:5:38: "p.constructor" reads "constructor", which no token has [p is not a token the catalog describes (a macro argument, a loop over a dict, or a set from an expression): only the names of token fields can be read from it]',
        'error templates/hello/en.txt:5:58: "p.whatever" reads "whatever", which no token has [p is not a token the catalog describes (a macro argument, a loop over a dict, or a set from an expression): only the names of token fields can be read from it]',
        'error templates/hello/en.txt:5:86: "card.call": card is a macro, which can only be called, as card(…) [a template calls only its own macros, caller() inside a macro, and range(); use a filter (| upper, | replace) for what a method would do]',
        'error templates/hello/en.txt:6:13: a computed key cannot be checked against the tokens [write the key itself: customer.company, products[0]]',
        'error templates/hello/en.txt:6:65: "constructor" cannot be read from "abc" [only an item ([0]) or the length of a list or text can be read from a value that is not a token]',
        'error templates/hello/en.txt:6:83: regular expressions are not allowed in templates [replace with plain text: | replace("old", "new")]',
        'error templates/hello/en.txt:6:110: test "callable" is not allowed [tests templates can use: defined, undefined, null, truthy, falsy, odd, even, divisibleby, number, string, lower, upper, iterable, mapping, escaped, equalto, eq, sameas, ne, ge, gt, greaterthan, le, lt, lessthan]',
        'error templates/hello/en.txt:7:8: "constructor" cannot be a variable\'s name [pick another name]',
        'error templates/hello/en.txt:7:30: "__proto__" cannot be a key [pick another name]',
        'error templates/hello/en.txt:7:46: "a" cannot be read from a dict [only an item ([0]) or the length of a list or text can be read from a value that is not a token]',
        'error templates/hello/en.txt:7:54: caller cannot be called [a template calls only its own macros, caller() inside a macro, and range(); use a filter (| upper, | replace) for what a method would do]',
        'error templates/hello/en.txt:8:4: "a\\"b" is not a name [a name is letters, digits and _; quote text: "like this"]',
        'error templates/hello/en.txt:8:4: unknown token "a\"b" [tokens here: campaign, customer, greeting, links, preheader, products, site]',
        'error templates/hello/en.txt:8:22: a test is named, not written as a string or an expression [write x is odd, x is divisibleby(3)]',
      ]);
    });
  });

  describe('what marketing email must carry', () => {
    const POSTAL = '{{ site.postal_address }}';
    const UNSUBSCRIBE = '<a href="{{ links.unsubscribe }}">Unsubscribe</a>';

    it('errors when a campaign\'s body, in any locale, lacks the unsubscribe link or the postal address', async () => {
      expect(await check({
        'herald.yaml': MINIMAL['herald.yaml']!.replace('locales: [en]', 'locales: [en, de]'),
        'templates/hello/template.yaml': 'subject:\n  en: Hello\n  de: Hallo\n',
        'templates/hello/en.mjml': body(`<mj-text>{{ greeting }} ${POSTAL}</mj-text>`, ''),
        'templates/hello/de.mjml': body(`<mj-text>{{ greeting }} ${UNSUBSCRIBE}</mj-text>`, ''),
      }, { hints: true })).toEqual([
        'error templates/hello/de.mjml:2:1: the body does not show {{ site.postal_address }}, which campaign "hello" must show as marketing email [show {{ site.postal_address }} in the footer: CAN-SPAM asks every marketing message for the sender\'s postal address; a footer partial keeps it in every template]',
        'error templates/hello/en.mjml:2:1: the body has no {{ links.unsubscribe }} link, which campaign "hello" must carry as marketing email [add <a href="{{ links.unsubscribe }}">Unsubscribe</a> to the footer: CAN-SPAM, and Gmail\'s and Yahoo\'s rules for bulk senders, ask every marketing message for a working way out; a footer partial keeps it in every template]',
      ]);
    });

    it('reads the compiled body: a partial\'s footer counts, a commented-out link does not', async () => {
      expect(await check({
        'templates/_partials/footer.mjml': `<mj-section><mj-column><mj-text>${POSTAL}</mj-text></mj-column></mj-section>`,
        'templates/hello/en.mjml': `<mjml>\n<mj-body>\n<!-- ${UNSUBSCRIBE} -->\n<mj-section><mj-column><mj-text>{% set u = links.unsubscribe %}{{ greeting }}</mj-text></mj-column></mj-section>\n<mj-include path="../_partials/footer.mjml" />\n</mj-body>\n</mjml>\n`,
      })).toEqual([
        'error templates/hello/en.mjml:2:1: the body has no {{ links.unsubscribe }} link, which campaign "hello" must carry as marketing email',
      ]);
    });

    it('holds a trigger under the frequency cap to it, and only warns for a transactional one (frequency_cap: false)', async () => {
      const bare = body('<mj-text>{{ greeting }}</mj-text>', '');
      const trigger = (extra: string) => ({ 'triggers/cart.yaml': `event: cart_abandoned\nafter: 4h\ntemplate: hello\n${extra}`, 'campaigns/hello.yaml': '', 'templates/hello/en.mjml': bare });
      expect(await check(trigger(''))).toEqual([
        'error templates/hello/en.mjml:2:1: the body does not show {{ site.postal_address }}, which trigger "cart" (cart_abandoned) must show as marketing email',
        'error templates/hello/en.mjml:2:1: the body has no {{ links.unsubscribe }} link, which trigger "cart" (cart_abandoned) must carry as marketing email',
      ]);
      expect(await check(trigger('frequency_cap: false\n'), { hints: true })).toEqual([
        'warning templates/hello/en.mjml:2:1: the body does not show {{ site.postal_address }} [trigger "cart" (cart_abandoned) is transactional (frequency_cap: false), where the law does not ask for it; showing who sends the message still earns trust]',
        'warning templates/hello/en.mjml:2:1: the body has no {{ links.unsubscribe }} link [trigger "cart" (cart_abandoned) is transactional (frequency_cap: false), where the law does not ask for it; a way out still keeps the message from being reported as spam]',
      ]);
    });

    it('errors for a site without a postal address that marketing email is sent for, only then', async () => {
      const noAddress = MINIMAL['herald.yaml']!.replace(/ {4}postal_address: .*\n/, '');
      expect(noAddress).not.toContain('postal_address');
      expect(await check({ 'herald.yaml': noAddress }, { hints: true })).toEqual([
        'error herald.yaml:2:5: site "main" has no postal_address, which the marketing email of campaign "hello" must show [add postal_address: "Company, street, postcode city, country" to the site: CAN-SPAM asks every marketing message for it]',
      ]);
      // Transactional email only: the body's own warnings say enough.
      expect(await check({ 'herald.yaml': noAddress, 'triggers/cart.yaml': 'event: cart_abandoned\nafter: 4h\ntemplate: hello\nfrequency_cap: false\n', 'campaigns/hello.yaml': '' })).toEqual([]);
    });
  });

  describe('MJML', () => {
    it('reports MJML errors at their element, or the attribute they name, in the file that holds it', async () => {
      expect(await check({
        'templates/_partials/header.mjml': '<mj-section>\n  <mj-column>\n    <mj-text\n      colr="red">Hi</mj-text>\n  </mj-column>\n</mj-section>\n',
        'templates/hello/en.mjml': `<mjml>\n<mj-body>\n<mj-include path="../_partials/header.mjml" />\n<mj-section><mj-column><mj-textt>x</mj-textt></mj-column></mj-section>${FOOTER}\n</mj-body>\n</mjml>\n`,
      })).toEqual([
        'error templates/_partials/header.mjml:4:7: MJML: Attribute colr is illegal',
        'error templates/hello/en.mjml:4:24: MJML: Element mj-textt doesn\'t exist or is not registered',
      ]);
    });

    it('leaves attribute values written as tokens to the recipient', async () => {
      expect(await check({ 'templates/hello/en.mjml': body('<mj-image src="{{ site.brand.logo_url }}" width="{{ site.brand.logo_width }}" alt="" />') })).toEqual([]);
    });

    it('reports a body that is no MJML document', async () => {
      expect(await check({ 'templates/hello/en.mjml': '<mj-section></mj-section>\n' })).toEqual([
        'error templates/hello/en.mjml:1:1: MJML: Malformed MJML. Check that your structure is correct and enclosed in <mjml> tags.',
      ]);
    });

    it('reports nunjucks tags and text that MJML would drop', async () => {
      expect(await check({
        'templates/hello/en.mjml': body('{% for p in products %}\n<mj-text>{{ p.name }}</mj-text>\n{# a comment is fine #}{% endfor %}\n<mj-raw>{% if greeting %}</mj-raw>loose text<mj-raw>{% endif %}</mj-raw>'),
      })).toEqual([
        'error templates/hello/en.mjml:5:1: "{% for p in products %}" sits directly in <mj-column>, where MJML drops it',
        'error templates/hello/en.mjml:7:24: "{% endfor %}" sits directly in <mj-column>, where MJML drops it',
        'error templates/hello/en.mjml:8:35: "loose text" sits directly in <mj-column>, where MJML drops it',
      ]);
    });

    it('reports elements closed out of order or never closed, and not what MJML says about them', async () => {
      expect(await check({
        'templates/hello/en.mjml': '<mjml>\n<mj-body>\n<mj-section>\n<mj-column>\n<mj-image src="a.png" alt="">\n<mj-text>x</mj-text>\n</mj-section>\n</mj-column>\n</mj-body>\n</mjml>\n',
      })).toEqual([
        'error templates/hello/en.mjml:7:1: </mj-section> closes <mj-section> while <mj-image> inside it is still open',
        'error templates/hello/en.mjml:7:1: </mj-section> closes <mj-section> while <mj-column> inside it is still open',
        'error templates/hello/en.mjml:8:1: </mj-column> has no matching <mj-column>',
      ]);
      expect(await check({ 'templates/hello/en.mjml': body('<mj-text>never closed') })).toEqual([
        'error templates/hello/en.mjml:5:1: <mj-text> is never closed',
      ]);
    });
  });

  describe('links', () => {
    it('reports a link, a stylesheet, a web font or a CSS import outside the site\'s domains, protocol-relative ones too', async () => {
      expect(await check({
        'templates/hello/en.mjml': [
          '<mjml>',
          '<mj-head><mj-font name="Raleway" href="https://fonts.googleapis.com/css?family=Raleway" />',
          '<mj-style>@import url(https://fonts.evil.example/a.css); .x { background: url("//img.evil.example/bg.png") } .y { background: url(https://shop.example.com/ok.png) }</mj-style></mj-head>',
          '<mj-body><mj-section><mj-column>',
          '<mj-text><div style="background-image:url(\'https://img.evil.example/inline.png\')">{{ greeting }}</div> <a href="//evil.example/x">x</a> <a href="{{ links.unsubscribe }}">u</a> {{ site.postal_address }}</mj-text>',
          '</mj-column></mj-section></mj-body>',
          '</mjml>',
        ].join('\n'),
      }, { hints: true })).toEqual([
        'error templates/hello/en.mjml:2:34: link to fonts.googleapis.com is outside the domains of main [link to the site itself, or add "fonts.googleapis.com" to domains: of main in herald.yaml]',
        'error templates/hello/en.mjml:3:23: link to fonts.evil.example is outside the domains of main [link to the site itself, or add "fonts.evil.example" to domains: of main in herald.yaml]',
        'error templates/hello/en.mjml:3:80: link to img.evil.example is outside the domains of main [link to the site itself, or add "img.evil.example" to domains: of main in herald.yaml]',
        'error templates/hello/en.mjml:5:44: link to img.evil.example is outside the domains of main [link to the site itself, or add "img.evil.example" to domains: of main in herald.yaml]',
        'error templates/hello/en.mjml:5:107: link to evil.example is outside the domains of main [link to the site itself, or add "evil.example" to domains: of main in herald.yaml]',
      ]);
    });
  });

  describe('warnings', () => {
    it('warns about images without alt text and http links, but not about image defaults', async () => {
      expect(await check({
        'templates/hello/en.mjml': [
          '<mjml>',
          '<mj-head><mj-attributes><mj-image padding="0" /></mj-attributes></mj-head>',
          '<mj-body><mj-section><mj-column>',
          '<mj-image src="https://shop.example.com/img/a.png" href="http://shop.example.com/a" />',
          '<mj-image src="https://shop.example.com/img/b.png" alt="" />',
          '<mj-text><img src="https://shop.example.com/img/c.png"> <a href="HTTP://shop.example.com">x</a> <a href="https://shop.example.com">y</a></mj-text>',
          `</mj-column></mj-section>${FOOTER}</mj-body>`,
          '</mjml>',
        ].join('\n'),
      }, { hints: true })).toEqual([
        'warning templates/hello/en.mjml:4:1: <mj-image> has no alt text [describe the image in alt="…", or write alt="" if it is only decoration]',
        'warning templates/hello/en.mjml:4:52: link uses http: http://shop.example.com/a [use https://shop.example.com/a]',
        'warning templates/hello/en.mjml:6:10: <img> has no alt text [describe the image in alt="…", or write alt="" if it is only decoration]',
        'warning templates/hello/en.mjml:6:60: link uses http: HTTP://shop.example.com [use https://shop.example.com]',
      ]);
    });

    it('warns when the compiled HTML is over the size Gmail clips', async () => {
      const section = '<mj-section><mj-column><mj-text>' + 'Lorem ipsum dolor sit amet. '.repeat(20) + '</mj-text></mj-column></mj-section>';
      const got = await check({ 'templates/hello/en.mjml': `<mjml><mj-body>\n${Array(150).fill(section).join('\n')}\n${FOOTER}</mj-body></mjml>\n` });
      expect(got).toHaveLength(1);
      expect(got[0]).toMatch(/^warning templates\/hello\/en\.mjml:1:1: the compiled HTML is \d+ KB; Gmail clips messages over 102 KB$/);
    });

    it('warns about a body or a subject in a locale no site uses', async () => {
      expect(await check({
        'templates/hello/template.yaml': 'subject:\n  en: Hello\n  fr: Bonjour\n',
        'templates/hello/de.mjml': MINIMAL['templates/hello/en.mjml']!,
      })).toEqual([
        'warning templates/hello/template.yaml:1:1: de.mjml has no de subject',
        'warning templates/hello/template.yaml:3:3: the fr subject has no fr.mjml',
      ]);
    });
  });

  it('skips files that already failed', async () => {
    const ws = tempWorkspace({ ...MINIMAL, 'templates/hello/en.txt': '{{ nope }}', 'templates/hello/en.mjml': body('<mj-text>{{ nope }}</mj-text>') });
    cleanup(ws.remove);
    const { workspace } = loadWorkspace(ws.dir);
    const failed = new Set(['templates/hello/en.txt', 'templates/hello/en.mjml']);
    expect(await templateChecks(workspace!, failed)).toEqual([]);
  });
});
