import { smsEncoding } from '../channels/sms/encoding.js';
import { UserError } from '../errors.js';
import { trackingBase } from '../links/links.js';
import { shortenLinks, type LinkSet, type ShortenOptions } from '../links/rewrite.js';
import type { Project, Site } from '../workspace/model.js';
import { siteHosts } from './link-check.js';
import { messageContext, tracking, type MessageExtras, type MessageSource, type Recipient, type TemplateSpec } from './message.js';
import { compileTemplate } from './sandbox.js';

/** An SMS for one recipient, rendered from the template's `sms.<locale>.txt`. */
export interface RenderedSms {
  channel: 'sms';
  /** Plain text, its links already short tracking links. */
  text: string;
  encoding: 'GSM-7' | 'UCS-2';
  /** How many parts the provider bills. */
  parts: number;
  linkSet?: LinkSet;
}

/** What every channel's renderer is given, as createRenderer is for email. `now` signs the auto-login link. */
export interface ChannelRenderOptions {
  project: Project;
  secret: string;
  now: Date;
}

/**
 * One SMS for one recipient: the template's `sms.<locale>.txt` with the same
 * tokens and the same sandbox as the email (message.ts messageContext,
 * sandbox.ts), printed as plain text: nothing is escaped, since an SMS shows
 * `&amp;` as it is, and nothing in it is markup. With a ledger id (a send),
 * each link to the site's domains becomes a short signed tracking link,
 * `<tracking.base_url>/s/<token>` (links/short.ts), its destination kept in
 * the message's link set, unless the source switched click tracking off.
 * Without one (preview, test send) links stay as written.
 */
/**
 * How a sent SMS's or push's links are shortened (links/rewrite.ts), or
 * undefined when they are not: a preview or test send (no ledger id), or a
 * source with click tracking off.
 */
export function shortLinks(o: ChannelRenderOptions, src: MessageSource, site: Site, autoLogin: string, ledgerId: number | undefined, push: boolean): ShortenOptions | undefined {
  if (ledgerId === undefined) return undefined;
  const t = tracking(o.project, src);
  if (!t.clicks) return undefined;
  return {
    ledgerId,
    secret: o.secret,
    base: trackingBase(o.project, site),
    ...(t.utm ? { utm: t.utm } : {}),
    shopHosts: shopHostsOf(o.project),
    autoLogin,
    hosts: siteHosts(o.project, site).hosts,
    push,
  };
}

export function renderSms(o: ChannelRenderOptions, src: MessageSource, r: Recipient, extras: MessageExtras, ledgerId?: number): RenderedSms {
  const { site, ctx, links } = messageContext(o, sitesOf(o.project), src, r, extras, ledgerId);
  let text = smsText(compiled(src, r.locale)(ctx));
  let linkSet: LinkSet | undefined;
  const shorten = shortLinks(o, src, site, links.autoLogin, ledgerId, false);
  if (shorten) {
    const s = shortenLinks(text, shorten);
    text = s.text;
    linkSet = s.linkSet;
  }
  const e = smsEncoding(text);
  return { channel: 'sms', text, encoding: e.encoding, parts: e.parts, ...(linkSet ? { linkSet } : {}) };
}

/** Where an SMS body comes from, for messages: `templates/<name>/sms.<locale>.txt`. */
export function smsFile(templateName: string, locale: string): string {
  return `templates/${templateName}/sms.${locale}.txt`;
}

/**
 * After rendering: line ends as \n, control characters other than a line
 * break gone (a tab is a space), no spaces at line ends, at most one empty
 * line in a row (loops leave them), nothing around the whole. Each character
 * costs: GSM-7 counts every one.
 */
function smsText(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .replace(/\t/g, ' ')
    .replace(/[\x00-\x09\x0b-\x1f\x7f]/g, '')
    .replace(/[ \u00a0]+$/gm, '')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** The compiled SMS body of a template's locale, made once per template object (a run loads each once). */
const compiledSms = new WeakMap<TemplateSpec, Map<string, (ctx: object) => string>>();

function compiled(src: MessageSource, locale: string): (ctx: object) => string {
  let byLocale = compiledSms.get(src.template);
  if (!byLocale) compiledSms.set(src.template, (byLocale = new Map()));
  let f = byLocale.get(locale);
  if (!f) {
    const file = smsFile(src.templateName, locale);
    const body = src.template.sms?.[locale];
    if (body === undefined) throw new UserError(`${file}: template ${src.templateName} has no SMS text for locale ${locale}, and ${src.kind} ${src.name} sends it by SMS`, `add ${file}, or leave sms out of the ${src.kind}'s channels`);
    // Plain text: autoescape off, as for the email's subject and text part.
    byLocale.set(locale, (f = compileTemplate(body, file, false)));
  }
  return f;
}

const sitesByProject = new WeakMap<Project, { sites: Map<string, Site>; shopHosts: Set<string> }>();

function projectHosts(project: Project): { sites: Map<string, Site>; shopHosts: Set<string> } {
  let p = sitesByProject.get(project);
  if (!p) {
    p = { sites: new Map(project.sites.map((s) => [s.id, s])), shopHosts: new Set(project.sites.flatMap((s) => hostOf(s.url))) };
    sitesByProject.set(project, p);
  }
  return p;
}

/** herald.yaml's sites by id, made once per project object. */
export function sitesOf(project: Project): ReadonlyMap<string, Site> {
  return projectHosts(project).sites;
}

/** The hosts of the shop's sites, which UTM parameters are added to (as message.ts does for email). */
export function shopHostsOf(project: Project): ReadonlySet<string> {
  return projectHosts(project).shopHosts;
}

function hostOf(url: string): string[] {
  try {
    return [new URL(url).host.toLowerCase()];
  } catch {
    return [];
  }
}
