// npm run bench -- render
//
// Personalised messages a second on one core (the main thread, nothing else
// running): the demo newsletter (templates/newsletter, partials inlined, as
// deployed) rendered by src/render/message.ts for distinct recipients (en and
// ru, shop-en and shop-ru, Cyrillic names, one named "<script>"), then
// composed as MIME by src/channels/email/compose.ts: what src/campaigns/send.ts does per
// message. MJML is compiled once before timing, as a send run caches it.
//
// The lower bound, in the same run: the same compiled HTML and text turned
// into JavaScript template literals (each token an interpolation, HTML-escaped
// as nunjucks escapes, the products loop a map), with the same links, greeting
// and MIME build. Its messages are checked against herald's: subject,
// preheader and HTML byte for byte, the text part word for word.
//
// Measured for the newsletter with the campaign's 4 products, and with enough
// products to make the ~50 KB message the issue names. Targets from the
// rendering issue: at least 2,500 complete MIME messages a second per core
// (stretch 5,000), and nunjucks personalisation within 2× of the template
// literals. Personalisation is also timed alone (the prepared template's
// render of subject, preheader, HTML and tidied text, against the literals;
// no links, no MIME), and each side's time is split into render and MIME.
// A sent message is also timed against itself untracked: what click
// tracking, the open pixel and the VERP return path add per message.
import { join } from 'node:path';
import { convert } from 'html-to-text';
import { CATALOG, PEOPLE } from '../dist/demo/reference.js';
import { messageLinks } from '../dist/links/links.js';
import { greeting } from '../dist/render/greeting.js';
import { createRenderer } from '../dist/render/message.js';
import { compileMjml } from '../dist/render/mjml.js';
import { prepareTemplate } from '../dist/render/personalize.js';
import { productTokens } from '../dist/render/products.js';
import { composeRendered } from '../dist/channels/email/compose.js';
import { desiredObjects } from '../dist/state/objects.js';
import { loadWorkspace } from '../dist/workspace/load.js';

const root = join(import.meta.dirname, '..');
const CAMPAIGN = 'winback';
const RECIPIENTS = 1000;
const NOW = new Date('2026-01-01T00:00:00Z');
const SECRET = 'bench-render-secret';
const TARGET = 2500;
const STRETCH = 5000;
const TARGET_RATIO = 2;
const ROUNDS = 5; // interleaved rounds per pair of measurements; the median round counts
const ROUND_SECONDS = 0.6;
const BIG_KB = 50;

// ── The workspace, as deployed ───────────────────────────────────────────────
const { workspace: ws, problems } = loadWorkspace(root);
const errors = problems.filter((p) => p.severity === 'error');
if (!ws || errors.length) throw new Error(`the repository's workspace does not load: ${errors.map((p) => p.message).join('; ')}`);
const project = ws.project.spec;
const campaign = ws.campaigns.get(CAMPAIGN).spec;
const template = desiredObjects(ws).find((o) => o.kind === 'template' && o.name === campaign.template).spec;
const source = {
  kind: 'campaign',
  name: CAMPAIGN,
  title: campaign.title,
  personalizedGreeting: campaign.personalized_greeting ?? false,
  templateName: campaign.template,
  template,
};
const sites = new Map(project.sites.map((s) => [s.id, s]));
const LOCALES = ['en', 'ru'];

/** Product rows as the demo shop's seed writes them (src/demo/seed.ts), priced in euros. */
function productRows(skus) {
  const home = sites.get('shop-en').url.replace(/\/+$/, '');
  return skus.map((sku) => {
    const [, name, category, price] = CATALOG.find((c) => c[0] === sku);
    const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
    return { sku, name, category, price: price.toFixed(2), currency: 'EUR', url: `${home}/products/${slug}`, image_url: `${home}/images/products/${sku.toLowerCase()}.jpg` };
  });
}
const productsByLocale = (rows) => new Map(LOCALES.map((l) => [l, productTokens(rows, l)]));

/** Distinct recipients over both locales and both sites; names native to the locale, a few awkward ones. */
function recipients() {
  const odd = ['<script>alert(1)</script>', null, `O'Brien & "Sons"`, '  Zoë  ', 'Jean-François'];
  return Array.from({ length: RECIPIENTS }, (_, i) => {
    const locale = LOCALES[i % 2];
    const site = ['shop-en', 'shop-ru'][(i >> 1) % 2];
    const folk = PEOPLE[locale][i % 3 ? 'f' : 'm'];
    const [first, latin] = folk.first[i % folk.first.length];
    const [last] = folk.last[(i * 7) % folk.last.length];
    return {
      customer_id: 100_000 + i,
      email: `${latin}.${i}@example.com`,
      first_name: i % 97 === 0 ? odd[(i / 97) % odd.length] : first,
      last_name: last,
      city: null,
      country: null,
      site,
      locale,
    };
  });
}
const people = recipients();

// ── The lower bound: template literals made from the same compiled parts ────
const ESCAPES = { '&': '&amp;', '"': '&quot;', "'": '&#39;', '<': '&lt;', '>': '&gt;', '\\': '&#92;' };
const esc = (v) => (v == null ? '' : String(v).replace(/[&"'<>\\]/g, (c) => ESCAPES[c]));
const str = (v) => (v == null ? '' : String(v));

/**
 * A nunjucks template that uses only `{{ a.b }}`, `{{ a.b or 'text' }}` and
 * `{% for x in list %}`, as the function a person would write by hand:
 * one template literal, the loop a map.
 */
function literal(text, html) {
  let loopVar;
  const code = text.split(/(\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\})/).map((part, i) => {
    if (i % 2 === 0) return part.replace(/[`\\$]/g, '\\$&');
    let m = /^\{%\s*for\s+(\w+)\s+in\s+([\w.]+)\s*%\}$/.exec(part);
    if (m) {
      if (loopVar) throw new Error(`the lower bound does not handle nested loops: ${part}`);
      loopVar = m[1];
      return `\${ctx.${m[2]}.map((${m[1]}) => \``;
    }
    if (/^\{%\s*endfor\s*%\}$/.test(part)) {
      loopVar = undefined;
      return "`).join('')}";
    }
    m = /^\{\{\s*([\w.]+)(?:\s+or\s+'([^']*)')?\s*\}\}$/.exec(part);
    if (!m) throw new Error(`the lower bound does not handle ${part}`);
    const path = m[1].split('.')[0] === loopVar ? m[1] : `ctx.${m[1]}`;
    const value = m[2] === undefined ? path : `(${path} || ${JSON.stringify(m[2])})`;
    return `\${${html ? 'esc' : 'str'}(${value})}`;
  });
  return new Function('esc', 'str', 'ctx', `return \`${code.join('')}\`;`).bind(null, esc, str);
}

/**
 * The text part's template, made from the compiled HTML as
 * src/render/personalize.ts makes it (image-only links dropped, then
 * html-to-text), and tidied once here where herald tidies each rendered text:
 * blank runs collapsed, the loop's blank lines folded into its items, lines
 * wrapped at 78 columns by html-to-text. A hand-written text part would be
 * written that way.
 */
function textTemplate(html) {
  return convert(html.replace(/<a\b[^>]*>(?:\s|<img\b[^>]*>)*<\/a>/gi, ''), {
    wordwrap: 78,
    selectors: [
      { selector: 'img', format: 'skip' },
      { selector: 'a', options: { hideLinkHrefIfSameAsText: true } },
      { selector: 'table', format: 'block' },
      { selector: 'tr', format: 'block' },
      { selector: 'td', format: 'block' },
    ],
  })
    .trim()
    .replace(/^[ \t\u00a0\u2000-\u200b]+$/gm, '')
    .replace(/\n{3,}/g, '\n\n')
    .replace(/(\{%\s*for [^%]*%\})\n\n/g, '$1')
    .replace(/\n\n(\{%\s*endfor\s*%\})\n\n/g, '\n\n$1');
}

async function literalTemplate(locale) {
  const html = await compileMjml(template.bodies[locale], `templates/${campaign.template}/${locale}.mjml`);
  return {
    html: literal(html, true),
    text: literal(textTemplate(html), false),
    subject: literal(template.subject[locale], false),
    preheader: literal(template.preheader?.[locale] ?? '', false),
  };
}
const literals = new Map(await Promise.all(LOCALES.map(async (l) => [l, await literalTemplate(l)])));

/** The token context, as message.ts builds it; the site's part built once, as a hand-written sender would. */
const siteTokens = new Map([...sites.values()].map((s) => [s.id, { id: s.id, name: s.name, url: s.url.replace(/\/+$/, ''), postal_address: s.postal_address ?? '', currency: s.currency, brand: s.brand ?? {} }]));
const senders = new Map([...sites.values()].map((s) => [s.id, { from: { address: s.sender.from, name: s.sender.name ?? s.name }, ...(s.sender.reply_to ? { replyTo: s.sender.reply_to } : {}) }]));

function literalContext(r, products, links) {
  return {
    customer: { first_name: r.first_name, last_name: r.last_name, email: r.email, city: r.city, country: r.country, locale: r.locale },
    greeting: greeting(r.locale, r.first_name, source.personalizedGreeting, sites.get(r.site)),
    site: siteTokens.get(r.site),
    campaign: { name: source.name, title: source.title },
    products,
    links: { unsubscribe: links.unsubscribe, auto_login: links.autoLogin },
  };
}

function literalRender(t, ctx) {
  ctx.preheader = t.preheader(ctx);
  return { subject: t.subject(ctx), preheader: ctx.preheader, html: t.html(ctx), text: t.text(ctx) };
}

function literalMessage(r, products) {
  const site = sites.get(r.site);
  const links = messageLinks({ project, site, secret: SECRET, now: NOW, recipient: r, source });
  const parts = literalRender(literals.get(r.locale), literalContext(r, products.get(r.locale), links));
  return { ...parts, ...senders.get(r.site), links, site };
}

// ── Timing ───────────────────────────────────────────────────────────────────
/** Runs `step(i)` for about `seconds`; messages a second. */
async function rate(step, seconds, isAsync) {
  const end = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
  const start = process.hrtime.bigint();
  let n = 0;
  let now = start;
  while (now < end) {
    if (isAsync) for (let k = 0; k < 64; k++) await step(n++);
    else for (let k = 0; k < 64; k++) step(n++);
    now = process.hrtime.bigint();
  }
  return n / (Number(now - start) / 1e9);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Two ways of doing the same work, warmed up, then timed in interleaved rounds. */
async function compare(a, b) {
  await rate(a.step, 0.5, a.async);
  await rate(b.step, 0.5, b.async);
  const ra = [];
  const rb = [];
  for (let k = 0; k < ROUNDS; k++) {
    ra.push(await rate(a.step, ROUND_SECONDS, a.async));
    rb.push(await rate(b.step, ROUND_SECONDS, b.async));
  }
  return [median(ra), median(rb)];
}

let sink = 0; // keeps the results alive, so nothing is optimised away

/**
 * The same messages both ways: subject, preheader and HTML byte for byte (the
 * auto-login nonce aside), the text part word for word (herald wraps and
 * tidies each rendered text; the lower bound's text is written tidy).
 */
async function check(label, renderer, products) {
  const nonce = (s) => s.replace(/token=[\w.-]+/g, 'token=…');
  const words = (s) => nonce(s).split(/\s+/).filter(Boolean).join(' ');
  let htmlBytes = 0, mimeBytes = 0;
  for (const r of people) {
    const h = await renderer.render(source, r, { products: products.get(r.locale) });
    const l = literalMessage(r, products);
    // composeMessage trims every header, so edge spaces in a subject never reach the message.
    const same = { subject: h.subject === l.subject.trim(), preheader: h.preheader === l.preheader, html: nonce(h.html) === nonce(l.html), text: words(h.text) === words(l.text) };
    const differs = Object.keys(same).filter((k) => !same[k]);
    if (differs.length) throw new Error(`${label}: the lower bound's ${differs.join(', ')} differ from herald's for ${r.email}; update the lower bound in bench/render.mjs`);
    htmlBytes += Buffer.byteLength(h.html);
    mimeBytes += composeRendered(h, { to: r.email, id: `${CAMPAIGN}.${r.customer_id}` }).raw.length;
  }
  return { html: htmlBytes / people.length / 1024, mime: mimeBytes / people.length / 1024 };
}

async function measure(label, rows) {
  const products = productsByLocale(rows);
  const renderer = createRenderer({ project, secret: SECRET, now: NOW });
  const size = await check(label, renderer, products);
  const prepared = new Map(await Promise.all(LOCALES.map(async (l) => [l, await prepareTemplate({
    mjml: template.bodies[l],
    subject: template.subject[l],
    preheader: template.preheader?.[l],
    text: template.texts?.[l],
    file: `templates/${campaign.template}/${l}.mjml`,
  })])));
  const person = (i) => people[i % people.length];

  // The whole message: render (links, tokens, every part) and MIME, as send.ts does per message.
  const [full, fullBound] = await compare(
    { async: true, step: async (i) => {
      const r = person(i);
      const m = await renderer.render(source, r, { products: products.get(r.locale) });
      sink += composeRendered(m, { to: r.email, id: `${CAMPAIGN}.${i}` }).raw.length;
    } },
    { step: (i) => {
      const r = person(i);
      sink += composeRendered(literalMessage(r, products), { to: r.email, id: `${CAMPAIGN}.${i}` }).raw.length;
    } },
  );

  // What a sent message costs more than a preview: click tracking (every link
  // to a signed click link, the link set hashed), the open pixel and the VERP
  // return path, as the worker renders with the ledger row's id.
  const [tracked, untracked] = await compare(
    { async: true, step: async (i) => {
      const r = person(i);
      const m = await renderer.render(source, r, { products: products.get(r.locale) }, 1_000_000 + i);
      sink += composeRendered(m, { to: r.email, id: `${CAMPAIGN}.${i}` }).raw.length;
    } },
    { async: true, step: async (i) => {
      const r = person(i);
      const m = await renderer.render(source, r, { products: products.get(r.locale) });
      sink += composeRendered(m, { to: r.email, id: `${CAMPAIGN}.${i}` }).raw.length;
    } },
  );

  // The same without MIME: the difference is what composing costs on freshly rendered strings.
  const [render, renderBound] = await compare(
    { async: true, step: async (i) => { const r = person(i); sink += (await renderer.render(source, r, { products: products.get(r.locale) })).html.length; } },
    { step: (i) => { sink += literalMessage(person(i), products).html.length; } },
  );

  // Personalisation alone (no links, no MIME): the prepared template against the template literals, same contexts.
  // (Each side its own contexts: the literals write the preheader into theirs.)
  const contexts = () => people.map((r) => {
    const links = messageLinks({ project, site: sites.get(r.site), secret: SECRET, now: NOW, recipient: r, source });
    return { locale: r.locale, ctx: { ...literalContext(r, products.get(r.locale), links), trigger: { name: source.name } } };
  });
  const [forNunjucks, forLiterals] = [contexts(), contexts()];
  const [nunjucks, literal_] = await compare(
    { step: (i) => { const c = forNunjucks[i % people.length]; sink += prepared.get(c.locale).render(c.ctx).html.length; } },
    { step: (i) => { const c = forLiterals[i % people.length]; sink += literalRender(literals.get(c.locale), c.ctx).html.length; } },
  );

  const us = (perSecond) => 1e6 / perSecond;
  const f = (x) => x.toFixed(1).padStart(6);
  const n = (perSecond) => Math.round(perSecond).toLocaleString('en').padStart(7);
  const goal = full >= STRETCH ? 'ok, stretch met too' : full >= TARGET ? `ok (stretch ${STRETCH.toLocaleString('en')} not met)` : 'SHORT';
  const ratio = us(nunjucks) / us(literal_);
  console.log(`\n  ${label}: HTML ${size.html.toFixed(1)} KB, MIME message ${size.mime.toFixed(1)} KB (means over the recipients)`);
  console.log(`    complete MIME messages, herald:       ${n(full)} /s  ${f(us(full))} µs each   target ≥ ${TARGET.toLocaleString('en')} /s: ${goal}`);
  console.log(`    complete MIME messages, lower bound:  ${n(fullBound)} /s  ${f(us(fullBound))} µs each   herald ${(us(full) / us(fullBound)).toFixed(2)}× the lower bound`);
  console.log(`    tracked as sent (clicks, pixel, VERP): ${n(tracked)} /s  ${f(us(tracked))} µs each   ${(us(tracked) / us(untracked)).toFixed(2)}× the same message untracked (${n(untracked)} /s in this run)`);
  console.log(`    personalisation alone, nunjucks:      ${n(nunjucks)} /s  ${f(us(nunjucks))} µs each`);
  console.log(`    personalisation alone, literals:      ${n(literal_)} /s  ${f(us(literal_))} µs each   nunjucks ${ratio.toFixed(2)}× the literals (target ≤ ${TARGET_RATIO}×): ${ratio <= TARGET_RATIO ? 'ok' : 'SHORT'}`);
  console.log(`    where herald's time goes: render (links, context, personalisation) ${f(us(render))} µs, MIME ${f(us(full) - us(render))} µs`);
  console.log(`    and the lower bound's:    render (links, context, literals)        ${f(us(renderBound))} µs, MIME ${f(us(fullBound) - us(renderBound))} µs`);
  return { full, ratio };
}

// Enough products for the ~50 KB message: each card adds the same HTML.
async function productsForKb(kb) {
  const renderer = createRenderer({ project, secret: SECRET, now: NOW });
  const size = async (k) => {
    const rows = productRows(CATALOG.slice(0, k).map((c) => c[0]));
    const m = await renderer.render(source, people[0], { products: productTokens(rows, people[0].locale) });
    return Buffer.byteLength(m.html);
  };
  const base = await size(0);
  const card = (await size(1)) - base;
  return Math.min(CATALOG.length, Math.max(1, Math.round((kb * 1024 - base) / card)));
}

console.log(`\nrender benchmark: templates/${campaign.template} for campaign ${CAMPAIGN}, ${people.length} distinct recipients (en/ru, shop-en/shop-ru), one core (main thread)`);
console.log(`  MJML compiled before timing; each figure the median of ${ROUNDS} interleaved ${ROUND_SECONDS} s rounds after a warm-up`);
const results = [await measure(`demo newsletter, the campaign's ${campaign.products.length} products`, productRows(campaign.products))];
const big = await productsForKb(BIG_KB);
results.push(await measure(`newsletter with ${big} products (~${BIG_KB} KB)`, productRows(CATALOG.slice(0, big).map((c) => c[0]))));
if (results.some((r) => r.full < TARGET || r.ratio > TARGET_RATIO)) process.exitCode = 1;
