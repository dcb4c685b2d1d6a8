import { UserError } from '../errors.js';
import { shortenUrl, type LinkSet } from '../links/rewrite.js';
import { siteHosts, sitesRefusing } from './link-check.js';
import { messageContext, type MessageExtras, type MessageSource, type PushSpec, type Recipient, type TemplateSpec } from './message.js';
import { compileTemplate } from './sandbox.js';
import { shortLinks, sitesOf, type ChannelRenderOptions } from './sms.js';

/** A push notification for one recipient, rendered from the template's `push.<locale>.yaml`. */
export interface RenderedPush {
  channel: 'push';
  title: string;
  body: string;
  /** Where a tap goes: a tracking click link, so the tap counts as the push's open. */
  url: string | null;
  icon: string | null;
  image: string | null;
  linkSet?: LinkSet;
}

type Field = keyof PushSpec;
type CompiledPush = Record<Field, ((ctx: object) => string) | undefined>;

const FIELDS: readonly Field[] = ['title', 'body', 'url', 'icon', 'image'];
const ADDRESSES = ['url', 'icon', 'image'] as const;

/**
 * One push notification for one recipient: title, body, url, icon and image
 * of the template's `push.<locale>.yaml`, each with the tokens and the
 * sandbox of the email (message.ts messageContext, sandbox.ts), as plain
 * text (a notification shows no markup, so nothing is escaped). The url,
 * icon and image must be absolute http(s) addresses on the site's domains
 * once rendered, as every link of an email must (templates.md#links);
 * anything else is a render problem, as a broken token is. With a ledger id
 * (a send) and click tracking, the url becomes a short tracking link
 * (`<tracking.base_url>/s/<token>`, marked as a push's tap): the tap is the
 * push's click and its open, since a notification has no pixel.
 */
export function renderPush(o: ChannelRenderOptions, src: MessageSource, r: Recipient, extras: MessageExtras, ledgerId?: number): RenderedPush {
  const { site, ctx, links } = messageContext(o, sitesOf(o.project), src, r, extras, ledgerId);
  const file = pushFile(src.templateName, r.locale);
  const parts = compiled(src, r.locale);
  const text = (f: Field) => parts[f]?.(ctx) ?? '';
  const hosts = siteHosts(o.project, site);
  const address = (f: (typeof ADDRESSES)[number]): string | null => {
    const v = text(f).trim();
    if (v === '') return null;
    if (!/^https?:\/\/[^/\s]/i.test(v) || !validUrl(v)) {
      throw new UserError(`${file}: ${f} is not an absolute http(s) address once rendered (it begins "${scheme(v)}")`, `write ${f} as https://… on the site's domain; a token in it must give such an address`);
    }
    if (sitesRefusing(v, [hosts]).length > 0) {
      throw new UserError(`${file}: ${f} leads off site ${site.id}'s domains (${new URL(v).hostname}) once rendered`, `links and images of a message stay on ${hosts.hosts.join(', ')}, or a domain in the site's domains: (templates.md#links)`);
    }
    return v;
  };
  let url = address('url');
  const icon = address('icon');
  const image = address('image');
  let linkSet: LinkSet | undefined;
  const shorten = url !== null ? shortLinks(o, src, site, links.autoLogin, ledgerId, true) : undefined;
  if (url !== null && shorten) {
    const s = shortenUrl(url, shorten);
    url = s.url;
    linkSet = s.linkSet;
  }

  return {
    channel: 'push',
    title: oneLine(text('title')),
    body: plain(text('body')),
    url,
    icon,
    image,
    ...(linkSet ? { linkSet } : {}),
  };
}

/** Where a push notification comes from, for messages: `templates/<name>/push.<locale>.yaml`. */
export function pushFile(templateName: string, locale: string): string {
  return `templates/${templateName}/push.${locale}.yaml`;
}

const compiledPush = new WeakMap<TemplateSpec, Map<string, CompiledPush>>();

function compiled(src: MessageSource, locale: string): CompiledPush {
  let byLocale = compiledPush.get(src.template);
  if (!byLocale) compiledPush.set(src.template, (byLocale = new Map()));
  let c = byLocale.get(locale);
  if (!c) {
    const file = pushFile(src.templateName, locale);
    const spec = src.template.push?.[locale];
    if (!spec) throw new UserError(`${file}: template ${src.templateName} has no push notification for locale ${locale}, and ${src.kind} ${src.name} sends one`, `add ${file}, or leave push out of the ${src.kind}'s channels`);
    const fields = FIELDS.map((f) => {
      const text = spec[f];
      return [f, typeof text === 'string' ? compileTemplate(text, `${file} (${f})`, false) : undefined];
    });
    c = Object.fromEntries(fields) as CompiledPush;
    byLocale.set(locale, c);
  }
  return c;
}

/** A title is one line, whatever a token held. */
function oneLine(s: string): string {
  return s.replace(/[\x00-\x1f\x7f]+/g, ' ').replace(/ {2,}/g, ' ').trim();
}

/** A body keeps its line breaks; other control characters go. */
function plain(s: string): string {
  return s
    .replace(/\r\n?/g, '\n')
    .replace(/[\x00-\x09\x0b-\x1f\x7f]/g, '')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

function validUrl(v: string): boolean {
  try {
    const u = new URL(v);
    return (u.protocol === 'https:' || u.protocol === 'http:') && u.username === '' && u.password === '';
  } catch {
    return false;
  }
}

/** What an address starts with, for an error that must not quote a customer's data at length. */
function scheme(v: string): string {
  return (/^[a-z][a-z0-9+.-]*:/i.exec(v)?.[0] ?? v.slice(0, 8)).replace(/[^\x20-\x7e]/g, '?');
}
