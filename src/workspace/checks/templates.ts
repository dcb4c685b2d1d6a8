import { closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { compileMjmlResult, precompileMjml, type MjmlResult } from '../../render/mjml.js';
import { cached, cachedAsync, cacheHas, cacheKey } from '../cache.js';
import type { Problem } from '../../errors.js';
import { expandIncludes, lineStarts, positionIn, type ExpandedBody, type SourcePosition } from '../../render/partials.js';
import { isScalar, locate, problemAt, type PathSegment, type YamlSource } from '../source.js';
import type { ListEntry, TemplateEntry, Workspace } from '../model.js';
import { templateUses } from '../uses.js';
import { siteHosts, type SiteHosts } from '../../render/link-check.js';
import { unsafeSyntax } from '../../render/template-rules.js';
import type { Check } from './index.js';
import { footerProblems, sitePostalProblems, templateSenders, type TemplateSender } from './templates-footer.js';
import { httpLinks, missingAlt, outsideLinks, scanMarkup, type MarkupProblem, type Tag } from './templates-markup.js';
import { parseNunjucks } from './templates-nunjucks.js';
import { ANY_CONTEXT, contextTree, fieldNames, matchToken, tokenProblem, type TokenUsage } from './templates-tokens.js';
import { tokenUses } from './templates-walk.js';

/**
 * Templates: each body compiles as MJML (partials inlined), every part parses
 * as nunjucks, every token exists where the template is used, marketing email
 * carries its unsubscribe link and postal address, and the warnings a mail
 * client would give (size, alt text, http links); SMS texts are plain and
 * their cost known, push notifications fit a push service.
 */
export const templateChecks: Check = async (ws, failed) => {
  const usages = templateUsages(ws);
  const senders = templateSenders(ws);
  const bodies = bodyJobs(ws, usages, senders, failed);
  // Compile the bodies whose results are not cached up front, spread over the cores.
  await precompileMjml(bodies.filter((b) => !cacheHas('template-body', b.key)).map((b) => b.expanded.text));
  const checked = new Map<string, Problem[]>();
  await Promise.all(bodies.map(async (b) => checked.set(b.file, await cachedBodyCheck(b))));
  const perTemplate = await Promise.all(
    [...ws.templates.values()].map(async (t) => [
      ...checkTemplateTexts(t, usagesOf(usages, t), failed),
      ...Object.values(t.bodies).flatMap((b) => checked.get(b.file) ?? []),
      ...(await channelProblems(t, ws, failed)),
    ]),
  );
  const sites = failed.has(ws.project.source.file) ? [] : sitePostalProblems(ws, senders);
  const problems = [...perTemplate.flat(), ...variantSubjects(ws, failed), ...localesNoSiteUses(ws, failed), ...sites];
  return dedupe(problems.filter((p) => !failed.has(p.file)));
};

/** A template no campaign or trigger uses is checked against the whole catalog. */
const UNUSED: TokenUsage[] = [{ label: 'any use', tree: ANY_CONTEXT }];

function usagesOf(usages: Map<string, TokenUsage[]>, t: TemplateEntry): TokenUsage[] {
  const used = usages.get(t.name) ?? [];
  return used.length > 0 ? used : UNUSED;
}

/** Subject, preheader and .txt parts: one cache entry per template, so a warm run parses none of them. */
function checkTemplateTexts(t: TemplateEntry, usages: TokenUsage[], failed: ReadonlySet<string>): Problem[] {
  const texts: LocatedText[] = [];
  if (!failed.has(t.source.file)) {
    for (const field of ['subject', 'preheader'] as const) {
      for (const [locale, text] of Object.entries(t.spec[field] ?? {})) texts.push({ text, locator: yamlText(t.source, [field, locale]) });
    }
  }
  for (const txt of [...Object.values(t.texts), ...Object.values(t.sms)]) {
    if (!failed.has(txt.file)) texts.push({ text: txt.text, locator: (line, column) => ({ file: txt.file, line, column }) });
  }
  for (const push of Object.values(t.push)) {
    if (failed.has(push.source.file)) continue;
    for (const field of ['title', 'body', 'url', 'icon', 'image'] as const) {
      const text = push.spec[field];
      if (text !== undefined) texts.push({ text, locator: yamlText(push.source, [field]) });
    }
  }
  return cachedTextProblems(texts, usages);
}

// Bump when the SMS or push checks change, so cached results from an older herald are not reused.
const CHANNEL_CHECKS_VERSION = 1;

/**
 * SMS texts and push notifications: what they cost and whether a push
 * service takes them. Each is rendered with every token at its longest,
 * which needs nunjucks: from the cache when neither the files nor herald.yaml
 * changed, so a warm validate loads no template engine.
 */
async function channelProblems(t: TemplateEntry, ws: Workspace, failed: ReadonlySet<string>): Promise<Problem[]> {
  const sms = Object.values(t.sms).filter((f) => !failed.has(f.file));
  const push = Object.values(t.push).filter((e) => !failed.has(e.source.file));
  if (sms.length === 0 && push.length === 0) return [];
  const key = cacheKey(CHANNEL_CHECKS_VERSION, sms.map((f) => [f.file, f.text]), push.map((e) => [e.source.file, e.source.text]), ws.project.spec);
  return cachedAsync('template-channels', key, async () => {
    const [{ smsProblems }, { pushProblems }] = await Promise.all([import('./templates-sms.js'), import('./templates-push.js')]);
    return [...sms.flatMap((f) => smsProblems(f, ws.project.spec)), ...push.flatMap((e) => pushProblems(e, ws.project.spec))];
  });
}

interface BodyJob {
  file: string;
  expanded: ExpandedBody;
  usages: TokenUsage[];
  /** The sites that send it, whose domains its links must stay within. */
  sites: SiteHosts[];
  /** The campaigns and triggers that send it, for what marketing email must carry. */
  senders: TemplateSender[];
  /** Everything the body's problems depend on: its file, its text with partials inlined, where it is used. */
  key: string;
}

// Bump when the body checks change, so cached results from an older herald are not reused.
const BODY_CHECKS_VERSION = 4;

function bodyJobs(ws: Workspace, usages: Map<string, TokenUsage[]>, sendersOf: Map<string, TemplateSender[]>, failed: ReadonlySet<string>): BodyJob[] {
  const sitesOf = templateSiteHosts(ws);
  return [...ws.templates.values()].flatMap((t) => {
    const used = usagesOf(usages, t);
    const sites = sitesOf.get(t.name) ?? [];
    const senders = sendersOf.get(t.name) ?? [];
    const usageKey = cacheKey(used, sites, senders);
    return Object.values(t.bodies)
      .filter((b) => !failed.has(b.file))
      .map((b) => {
        const expanded = expandIncludes(b.text, b.file, ws.partials);
        return { file: b.file, expanded, usages: used, sites, senders, key: cacheKey(BODY_CHECKS_VERSION, b.file, expanded.text, usageKey) };
      });
  });
}

/** A body's problems, from the cache when nothing it depends on has changed. */
function cachedBodyCheck(b: BodyJob): Promise<Problem[]> {
  return cachedAsync('template-body', b.key, () => checkBody(b.expanded, b.usages, b.sites, b.senders));
}

/** One <locale>.mjml, after its partials are inlined; positions map back through them. */
async function checkBody(body: ExpandedBody, usages: readonly TokenUsage[], sites: readonly SiteHosts[], senders: readonly TemplateSender[]): Promise<Problem[]> {
  const at = (p: MarkupProblem): Problem => ({ ...body.originOf(p.offset), message: p.message, rule: p.rule, severity: p.severity, ...(p.hint ? { hint: p.hint } : {}) });
  const { tags, problems: structure } = scanMarkup(body.text);
  const out: Problem[] = [
    ...body.problems,
    ...structure.map(at),
    ...missingAlt(tags).map(at),
    ...httpLinks(tags).map(at),
    ...outsideLinks(body.text, tags, sites).map(at),
    ...nunjucksProblems(body.text, usages, body.origin),
  ];
  // A tag left open makes MJML nest what follows inside it, so its own errors
  // would only echo the one already reported.
  const unbalanced = structure.some((p) => /never closed|no matching|still open/.test(p.message));
  const compiled = await mjmlProblems(body, tags, !unbalanced);
  out.push(...compiled.problems);
  if (compiled.html !== undefined && !unbalanced) {
    const mjBody = tags.find((t) => t.name === 'mj-body' && t.kind !== 'close' && !t.inContent);
    const where = mjBody ? body.originOf(mjBody.start) : body.origin(1);
    for (const p of footerProblems(compiled.html, senders)) out.push({ ...where, ...p, rule: 'marketing' });
  }
  return out;
}

/** Gmail clips a message's HTML past this size and hides the rest behind a link. */
const GMAIL_CLIP_BYTES = 102 * 1024;

/** MJML's errors and the size warning; and the compiled HTML, unless MJML rejected the body outright. */
async function mjmlProblems(body: ExpandedBody, tags: readonly Tag[], reportErrors: boolean): Promise<{ problems: Problem[]; html?: string }> {
  const file = body.origin(1).file;
  let result: MjmlResult;
  try {
    // Soft validation renders despite errors, so one compile gives both the errors and the size.
    result = await compileMjmlResult(body.text);
  } catch (e) {
    return { problems: [{ file, line: 1, column: 1, message: `MJML: ${(e as Error).message}`, rule: 'mjml', severity: 'error', hint: 'a body is <mjml><mj-body>…</mj-body></mjml>' }] };
  }
  const out: Problem[] = [];
  const starts = lineStarts(body.text);
  for (const e of reportErrors ? result.errors : []) {
    // A value written as a token ({{ site.brand.color }}) is only known per recipient.
    if (/\{\{|\{%/.test(e.message)) continue;
    const offset = mjmlErrorOffset(e, tags, starts);
    const where = offset === undefined ? body.origin(e.line) : body.originOf(offset);
    out.push({ ...where, message: `MJML: ${e.message}`, rule: 'mjml', severity: 'error', hint: `see https://documentation.mjml.io/#${e.tagName}` });
  }
  const bytes = Buffer.byteLength(result.html);
  if (bytes > GMAIL_CLIP_BYTES) {
    out.push({
      file, line: 1, column: 1,
      message: `the compiled HTML is ${Math.round(bytes / 1024)} KB; Gmail clips messages over 102 KB`,
      rule: 'size', severity: 'warning',
      hint: 'shorten the content or move styles into mj-attributes; loops over products grow it further per recipient',
    });
  }
  return { problems: out, html: result.html };
}

/** MJML gives only a line: point at the element on it, or at the attribute the message names. */
function mjmlErrorOffset(e: { line: number; tagName: string; message: string }, tags: readonly Tag[], starts: number[]): number | undefined {
  const tag = tags.find((t) => t.name === e.tagName && t.kind !== 'close' && !t.inContent && positionIn(starts, t.start).line === e.line);
  if (!tag) return undefined;
  const attr = /^Attribute (\S+) /.exec(e.message)?.[1];
  return tag.attributes.find((a) => a.name === attr)?.start ?? tag.start;
}

type Locator = (line: number, column: number) => SourcePosition;

interface LocatedText {
  text: string;
  locator: Locator;
}

/** A problem in one nunjucks text, at a line and column of that text: where the text sits is the locator's. */
interface TextFinding {
  line: number;
  column: number;
  message: string;
  rule: string;
  hint?: string;
}

// Bump when nunjucksFindings, templates-walk.ts or templates-tokens.ts change what they find, so cached findings of an older herald are not reused.
const TEXT_CHECKS_VERSION = 1;

/**
 * The problems of texts checked against the same uses, their findings kept in
 * the disk cache (cache.ts) as one entry keyed by the texts and the uses: a
 * warm run reads one file per template instead of parsing every subject.
 */
function cachedTextProblems(texts: readonly LocatedText[], usages: readonly TokenUsage[]): Problem[] {
  if (texts.length === 0) return [];
  const key = cacheKey(TEXT_CHECKS_VERSION, texts.map((t) => t.text), usages);
  const found = cached('template-texts', key, () => texts.map((t) => nunjucksFindings(t.text, usages)));
  return texts.flatMap((t, i) => found[i]!.map((f) => located(f, t.locator)));
}

function located(f: TextFinding, locator: Locator): Problem {
  return { ...locator(f.line, f.column), message: f.message, rule: f.rule, severity: 'error', ...(f.hint !== undefined ? { hint: f.hint } : {}) };
}

/** Syntax, loader tags, tokens, and what templates may not do, in one nunjucks text. */
function nunjucksProblems(text: string, usages: readonly TokenUsage[], locator: Locator): Problem[] {
  return nunjucksFindings(text, usages).map((f) => located(f, locator));
}

function nunjucksFindings(text: string, usages: readonly TokenUsage[]): TextFinding[] {
  const parsed = parseNunjucks(text);
  if (!parsed.ok) {
    const { line, column, message, hint } = parsed.error;
    return [{ line, column, message, rule: 'nunjucks', ...(hint ? { hint } : {}) }];
  }
  const fields = fieldNames(usages.map((u) => u.tree));
  const { uses, loaderTags, refusals } = tokenUses(parsed.root, {
    isKnown: (path) => usages.every((u) => matchToken(u.tree, path).ok),
    isKey: (key) => fields.has(key),
  });
  const out: TextFinding[] = loaderTags.map((t) => ({
    line: t.line,
    column: t.column,
    message: `{% ${t.tag} %} needs a template loader, which herald templates do not have`,
    rule: 'nunjucks',
    hint: 'share markup with <mj-include path="../_partials/<name>.mjml" />',
  }));
  // Calls of what is not a name, and names every object has, the walk below refuses, with more to say.
  for (const u of unsafeSyntax(parsed.root).filter((x) => x.kind !== 'call' && x.kind !== 'reserved')) out.push({ line: u.node.lineno + 1, column: u.node.colno + 1, message: u.message, rule: 'nunjucks', hint: u.hint });
  for (const r of refusals) out.push({ line: r.line, column: r.column, message: r.message, rule: 'nunjucks', hint: r.hint });
  for (const use of uses) {
    const p = tokenProblem(use, usages);
    if (p) out.push({ line: use.line, column: use.column, message: p.message, rule: 'token', hint: p.hint });
  }
  return out;
}

/**
 * Positions inside a YAML string value. For a one-line plain or quoted
 * scalar without escapes the text starts at a known column; otherwise point at
 * the value itself.
 */
function yamlText(src: YamlSource, path: PathSegment[]): Locator {
  // Worked out at the first problem: a text without one never needs the document (see parseYaml).
  let locator: Locator | undefined;
  return (line, column) => (locator ??= textLocator(src, path))(line, column);
}

function textLocator(src: YamlSource, path: PathSegment[]): Locator {
  const value = locate(src, path);
  const fallback: Locator = () => ({ file: src.file, ...value });
  const node = src.doc.getIn(path, true);
  if (!isScalar(node) || typeof node.value !== 'string' || !node.range) return fallback;
  const quote = node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE' ? 1 : 0;
  if (!quote && node.type !== 'PLAIN') return fallback;
  const [start, end] = node.range;
  const first = src.lines.linePos(start);
  const exact = end - start - 2 * quote === node.value.length && src.lines.linePos(end).line === first.line;
  if (!exact) return fallback;
  return (line, column) => (line === 1 ? { file: src.file, line: first.line, column: first.col + quote + column - 1 } : fallback(line, column));
}

/** Per template, the hosts of each site that sends it; every site for a template nothing uses yet. */
function templateSiteHosts(ws: Workspace): Map<string, SiteHosts[]> {
  const sites = new Map(ws.project.spec.sites.map((s) => [s.id, s]));
  const ids = new Map<string, Set<string>>();
  for (const u of templateUses(ws, { unused: true })) {
    const set = ids.get(u.template) ?? new Set<string>();
    for (const s of u.sites) set.add(s);
    ids.set(u.template, set);
  }
  return new Map([...ids].map(([t, set]) => [t, [...set].sort().flatMap((id) => (sites.has(id) ? [siteHosts(ws.project.spec, sites.get(id)!)] : []))]));
}

/**
 * Where each template is used, as token contexts: a campaign to segments, a
 * campaign to each of its lists (whose contacts carry that CSV's columns),
 * and a trigger's event.
 */
function templateUsages(ws: Workspace): Map<string, TokenUsage[]> {
  const out = new Map<string, TokenUsage[]>();
  const add = (template: string | undefined, u: TokenUsage) => {
    if (template !== undefined) out.set(template, [...(out.get(template) ?? []), u]);
  };
  for (const c of ws.campaigns.values()) {
    for (const u of campaignUsages(ws, c.name, c.spec.audience)) {
      add(c.spec.template, u);
      for (const v of c.spec.ab_test?.variants ?? []) if (v.template !== c.spec.template) add(v.template, u);
    }
  }
  for (const t of ws.triggers.values()) {
    add(t.spec.template, { label: `trigger "${t.name}" (${t.spec.event})`, context: t.spec.event, tree: contextTree(t.spec.event) });
  }
  return out;
}

function campaignUsages(ws: Workspace, name: string, a: { segment?: string; segments?: string[]; list?: string; lists?: string[] }): TokenUsage[] {
  const out: TokenUsage[] = [];
  if (a.segment !== undefined || a.segments !== undefined) out.push({ label: `campaign "${name}"`, context: 'campaign', tree: contextTree('campaign') });
  for (const list of [...(a.list !== undefined ? [a.list] : []), ...(a.lists ?? [])]) {
    out.push({ label: `campaign "${name}" (list "${list}")`, context: 'list', tree: contextTree('list', csvColumns(ws, ws.lists.get(list))) });
  }
  return out;
}

/** Columns that are not tokens: the CSV's site only routes the contact. */
const ROUTING_COLUMNS = new Set(['site']);

/**
 * The header of a list's CSV, lower-cased as the import reads it. Only the
 * first 64 KB is read; when the file cannot be read, any column is allowed and
 * the list checks report the file.
 */
function csvColumns(ws: Workspace, list: ListEntry | undefined): string[] | 'any' {
  if (!list) return 'any';
  let head: string;
  try {
    const fd = openSync(join(ws.dir, list.csv), 'r');
    try {
      const buf = Buffer.alloc(64 * 1024);
      head = buf.toString('utf8', 0, readSync(fd, buf, 0, buf.length, 0));
    } finally {
      closeSync(fd);
    }
  } catch {
    return 'any';
  }
  const header = head.replace(/^\uFEFF/, '').split(/\r?\n/)[0] ?? '';
  return header
    .split(',')
    .map((c) => c.trim().replace(/^"(.*)"$/, '$1').trim().toLowerCase())
    .filter((c) => c !== '' && !ROUTING_COLUMNS.has(c));
}

/** An A/B variant's subject is a template too, used by its campaign. */
function variantSubjects(ws: Workspace, failed: ReadonlySet<string>): Problem[] {
  const out: Problem[] = [];
  for (const c of ws.campaigns.values()) {
    if (failed.has(c.source.file)) continue;
    const own = campaignUsages(ws, c.name, c.spec.audience);
    const mine = own.length > 0 ? own : UNUSED;
    const texts: LocatedText[] = [];
    c.spec.ab_test?.variants.forEach((v, i) => {
      for (const [locale, text] of Object.entries(v.subject ?? {})) texts.push({ text, locator: yamlText(c.source, ['ab_test', 'variants', i, 'subject', locale]) });
    });
    out.push(...cachedTextProblems(texts, mine));
  }
  return out;
}

/**
 * A body without a subject, or a subject without a body, in a locale no site
 * writes in. For a locale some site uses, the rules already report what that
 * site's campaigns miss.
 */
function localesNoSiteUses(ws: Workspace, failed: ReadonlySet<string>): Problem[] {
  const siteLocales = new Set(ws.project.spec.sites.flatMap((s) => s.locales));
  const out: Problem[] = [];
  for (const t of ws.templates.values()) {
    if (failed.has(t.source.file)) continue;
    const subjects = t.spec.subject ?? {};
    for (const locale of Object.keys(t.bodies)) {
      if (subjects[locale] !== undefined || siteLocales.has(locale)) continue;
      out.push(problemAt(t.source, ['subject'], `${locale}.mjml has no ${locale} subject`, 'template', {
        key: true,
        severity: 'warning',
        hint: `no site writes in ${locale}: add "${locale}: ..." under subject, or remove templates/${t.name}/${locale}.mjml`,
      }));
    }
    for (const locale of Object.keys(subjects)) {
      if (t.bodies[locale] || siteLocales.has(locale)) continue;
      out.push(problemAt(t.source, ['subject', locale], `the ${locale} subject has no ${locale}.mjml`, 'template', {
        key: true,
        severity: 'warning',
        hint: `no site writes in ${locale}: add templates/${t.name}/${locale}.mjml, or remove the ${locale} subject`,
      }));
    }
  }
  return out;
}

function dedupe(ps: Problem[]): Problem[] {
  const seen = new Set<string>();
  return ps.filter((p) => {
    const k = `${p.severity}|${p.file}:${p.line}:${p.column}|${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
