import type { Address } from '../channels/email/compose.js';
import { messageLinks, trackingBase, type MessageLinks } from '../links/links.js';
import { trackMessage, type LinkSet } from '../links/rewrite.js';
import { messageTag, returnPath } from '../links/tracking.js';
import type { PerLocale, Project, Sender, Site, Template, Tracking, Variant } from '../workspace/model.js';
import { greeting } from './greeting.js';
import { prepareTemplate, type PreparedTemplate, type TokenContext } from './personalize.js';
import type { ProductToken } from './products.js';
import { siteHosts } from './link-check.js';

/**
 * One message for one recipient, rendered: the same path for a campaign send,
 * a preview and a test send, so what a reviewer sees is what is sent.
 *
 * The template is a deployed spec (template.yaml with its bodies, partials
 * inlined; see state/objects.ts), whether it comes from the database or from
 * the working copy.
 */
export interface TemplateSpec extends Template {
  bodies: Record<string, string>;
  texts?: Record<string, string>;
  /** sms.<locale>.txt, per locale (render/sms.ts). */
  sms?: Record<string, string>;
  /** push.<locale>.yaml, per locale (render/push.ts). */
  push?: Record<string, PushSpec>;
}

/** A push notification as a template writes it: every field may use tokens. */
export interface PushSpec {
  title: string;
  body: string;
  url?: string;
  icon?: string;
  image?: string;
}

/** Who a message goes to: a ledger row, a sample customer, or a list's contact. */
export interface Recipient {
  /** A shop customer, or null for a list's contact who is not one. */
  customer_id: number | null;
  contact_id?: number | null;
  email: string;
  first_name: string | null;
  last_name: string | null;
  city?: string | null;
  country?: string | null;
  /** YYYY-MM-DD */
  birthday?: string | null;
  site: string;
  locale: string;
  /** A list's extra CSV columns, as customer.* tokens. */
  tokens?: Record<string, string | null> | null;
}

/** What a message is sent for: a campaign (with its variant, when A/B tested) or a trigger. */
export interface MessageSource {
  kind: 'campaign' | 'trigger';
  name: string;
  title: string;
  personalizedGreeting: boolean;
  templateName: string;
  template: TemplateSpec;
  variant?: Variant;
  /** The source's own tracking settings, over herald.yaml's. */
  tracking?: Tracking;
}

/** Event data a trigger's template shows (cart, order, an sql trigger's payload) and the products, per locale. */
export interface MessageExtras {
  products: ProductToken[];
  cart?: Record<string, unknown>;
  order?: Record<string, unknown>;
  /** An sql trigger's payload, as `event.*` tokens: data, read through the sandbox like any other. */
  event?: Record<string, unknown>;
}

export interface RenderedMessage {
  subject: string;
  preheader: string;
  html: string;
  text: string;
  from: Address;
  replyTo?: string;
  links: MessageLinks;
  site: Site;
  /** The links the message's click-tracking links lead to (a ledger message with click tracking). */
  linkSet?: LinkSet;
  /** The envelope sender: a VERP address naming the ledger message (RFC 5321 MAIL FROM). */
  returnPath?: string;
  /**
   * A MAC of the ledger id, for the Message-ID (`<source>.<id>.<tag>@domain`):
   * a report that names the message only by its Message-ID (an ARF report,
   * an ESP's webhook) then cannot be forged for a guessed ledger id.
   */
  messageTag?: string;
}

/**
 * A renderer for one run: it compiles each (template, locale, subject) once
 * and then only personalises. `now` signs the auto-login links' expiry.
 */
export interface Renderer {
  /**
   * With a ledger id, the message is the one sent for that ledger row: its
   * unsubscribe link names the row, its links are click-tracked, it carries
   * the open pixel and a VERP return path (as tracking settings say). Without
   * one (previews, test sends) it shows the links as written.
   */
  render(source: MessageSource, r: Recipient, extras: MessageExtras, ledgerId?: number): Promise<RenderedMessage>;
}

export function createRenderer(o: { project: Project; secret: string; now: Date }): Renderer {
  const sites = new Map(o.project.sites.map((s) => [s.id, s]));
  const shopHosts = new Set(o.project.sites.flatMap((s) => hostOf(s.url)));
  // Each site's domains, the only ones its messages' links are tracked to (trackMessage).
  const hostsOf = new Map(o.project.sites.map((s) => [s.id, siteHosts(o.project, s).hosts]));
  // A source's tracking settings, worked out once, not for every message it sends.
  const settings = new WeakMap<MessageSource, ReturnType<typeof tracking>>();
  const prepared = new Map<string, Promise<PreparedTemplate>>();
  const templateFor = (src: MessageSource, locale: string): Promise<PreparedTemplate> => {
    const key = `${src.kind}/${src.name}\0${src.variant?.name ?? ''}\0${locale}`;
    let p = prepared.get(key);
    if (!p) {
      const t = src.template;
      p = prepareTemplate({
        mjml: t.bodies[locale]!,
        subject: pick(src.variant?.subject, locale) ?? t.subject?.[locale]!,
        preheader: pick(t.preheader, locale),
        text: t.texts?.[locale],
        file: `templates/${src.templateName}/${locale}.mjml`,
      });
      prepared.set(key, p);
    }
    return p;
  };

  return {
    async render(src, r, extras, ledgerId) {
      const { site, ctx, links } = messageContext(o, sites, src, r, extras, ledgerId);
      const rendered = (await templateFor(src, r.locale)).render(ctx);
      const sender = sender_(site, src.template.from, src.variant?.from);
      // The message is written out field by field: spreading three objects into one took V8's slow path, ~7 µs a message.
      const m: RenderedMessage = { subject: rendered.subject, preheader: rendered.preheader, html: rendered.html, text: rendered.text, from: sender.from, links, site };
      if (sender.replyTo !== undefined) m.replyTo = sender.replyTo;
      if (ledgerId === undefined) return m;
      let t = settings.get(src);
      if (!t) settings.set(src, (t = tracking(o.project, src)));
      const tracked = trackMessage(rendered, {
        ledgerId,
        secret: o.secret,
        base: trackingBase(o.project, site),
        opens: t.opens,
        clicks: t.clicks,
        ...(t.utm ? { utm: t.utm } : {}),
        shopHosts,
        hosts: hostsOf.get(site.id) ?? siteHosts(o.project, site).hosts,
        autoLogin: links.autoLogin,
      });
      const bounceTo = o.project.tracking?.return_path ?? `bounces@${sender.from.address.split('@')[1] ?? 'localhost'}`;
      m.html = tracked.html;
      m.text = tracked.text;
      if (tracked.linkSet) m.linkSet = tracked.linkSet;
      m.returnPath = returnPath(bounceTo, ledgerId, o.secret);
      m.messageTag = messageTag(ledgerId, o.secret);
      return m;
    },
  };
}

/**
 * The tokens of one message for one recipient, and the links herald adds
 * (unsubscribe, auto-login): one context for every channel, so an SMS or a
 * push notification reads the same tokens as the email.
 */
export function messageContext(
  o: { project: Project; secret: string; now: Date },
  sites: ReadonlyMap<string, Site>,
  src: MessageSource,
  r: Recipient,
  extras: MessageExtras,
  ledgerId?: number,
): { site: Site; ctx: TokenContext; links: MessageLinks } {
  const site = sites.get(r.site);
  if (!site) throw new Error(`recipient of ${src.kind} ${src.name} is on site "${r.site}", which herald.yaml does not have`);
  const links = messageLinks({ project: o.project, site, secret: o.secret, now: o.now, recipient: r, source: src, ...(ledgerId !== undefined ? { ledgerId } : {}) });
  const customer = {
    first_name: r.first_name,
    last_name: r.last_name,
    email: r.email,
    city: r.city ?? null,
    country: r.country ?? null,
    birthday: r.birthday ? birthdayText(r.birthday, r.locale) : null,
    locale: r.locale,
  };
  const ctx: TokenContext = {
    // A list's extra columns, under the fields every recipient has. (Spread, not Object.assign, so a
    // column named __proto__ stays a column; only list contacts pay for it, see personalize.ts.)
    customer: r.tokens ? { ...r.tokens, ...customer } : customer,
    greeting: greeting(r.locale, r.first_name, src.personalizedGreeting, site),
    site: { id: site.id, name: site.name, url: site.url.replace(/\/+$/, ''), postal_address: site.postal_address ?? '', currency: site.currency, brand: site.brand ?? {} },
    campaign: { name: src.name, title: src.title },
    trigger: { name: src.name },
    products: extras.products,
    ...(extras.cart ? { cart: extras.cart } : {}),
    ...(extras.order ? { order: extras.order } : {}),
    ...(extras.event ? { event: extras.event } : {}),
    links: { unsubscribe: links.unsubscribe, auto_login: links.autoLogin },
  };
  return { site, ctx, links };
}

/**
 * What a source's messages track: its own settings over herald.yaml's; opens
 * and clicks are on unless switched off. `{name}` in a UTM value is the
 * source's name.
 */
export function tracking(project: Project, src: MessageSource): { opens: boolean; clicks: boolean; utm?: Record<string, string> } {
  const p = project.tracking;
  const s = src.tracking;
  const utm = { ...p?.utm, ...s?.utm };
  const entries = Object.entries(utm).filter((e): e is [string, string] => typeof e[1] === 'string');
  return {
    opens: s?.opens ?? p?.opens ?? true,
    clicks: s?.clicks ?? p?.clicks ?? true,
    ...(entries.length > 0 ? { utm: Object.fromEntries(entries.map(([k, v]) => [`utm_${k}`, v.replaceAll('{name}', src.name)])) } : {}),
  };
}

function hostOf(url: string): string[] {
  try {
    return [new URL(url).host.toLowerCase()];
  } catch {
    return [];
  }
}

/** From and Reply-To: the variant's, else the template's, else the site's. */
function sender_(site: Site, template?: Sender, variant?: Sender): { from: Address; replyTo?: string } {
  const from: Address = {
    address: variant?.address ?? template?.address ?? site.sender.from,
    name: variant?.name ?? template?.name ?? site.sender.name ?? site.name,
  };
  const replyTo = variant?.reply_to ?? template?.reply_to ?? site.sender.reply_to;
  return replyTo ? { from, replyTo } : { from };
}

/**
 * "March 12", "12 марта": the day a birthday falls on, without the year
 * nobody needs to read. Formatting took ~9 µs a message; a locale has 366
 * such texts, each made once (in 2000, a leap year, for 29 February).
 */
function birthdayText(date: string, locale: string): string {
  const day = /^\d{4}(-\d\d-\d\d)$/.exec(date)?.[1];
  if (day === undefined) return birthdayFormat(locale).format(new Date(`${date}T00:00:00Z`));
  const key = `${locale}\0${day}`;
  let text = birthdayTexts.get(key);
  if (text === undefined) {
    text = birthdayFormat(locale).format(new Date(`2000${day}T00:00:00Z`));
    if (birthdayTexts.size < 10_000) birthdayTexts.set(key, text);
  }
  return text;
}
const birthdayTexts = new Map<string, string>();

/** A formatter costs ~60 µs to make, as much as the rest of a message's tokens: one per locale. */
function birthdayFormat(locale: string): Intl.DateTimeFormat {
  let f = birthdayFormats.get(locale);
  if (!f) birthdayFormats.set(locale, (f = new Intl.DateTimeFormat(locale, { day: 'numeric', month: 'long', timeZone: 'UTC' })));
  return f;
}
const birthdayFormats = new Map<string, Intl.DateTimeFormat>();

function pick(v: PerLocale | undefined, locale: string): string | undefined {
  return (v as Record<string, string> | undefined)?.[locale];
}
