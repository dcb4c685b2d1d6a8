import { randomBytes } from 'node:crypto';
import { sitesRefusing, linksIn, siteHosts, type SiteHosts } from '../render/link-check.js';
import { createRenderer, type Recipient } from '../render/message.js';
import { checkProducts, escapedText, type ProductToken } from '../render/products.js';
import { formatAddress } from '../channels/email/compose.js';
import type { ChannelName } from '../channels/channel.js';
import type { Workspace } from '../workspace/model.js';
import { messageSource, templateUses, workingTemplates, type TemplateUse } from '../workspace/uses.js';
import { renderPushCell, renderSmsCell, type PushCell, type SmsCell } from './channel-cells.js';
import type { Samples } from './samples.js';

/**
 * Rendering for review: every template × channel × site × locale × A/B
 * variant the workspace sends, for sample recipients, through the same
 * renderer as a real send. An email cell carries what a reviewer checks at a
 * glance (subject, preheader, From, size) and the problems a mail client or a
 * spam filter would find in the rendered message; SMS and push cells are in
 * channel-cells.ts.
 */
export interface PreviewCell {
  /**
   * A path-safe id, also the cell's file name without extension:
   * `campaign-winback/shop-en.en` for an email, `campaign-flash-sale/shop-en.en.sms`
   * and `….push` for the other channels (a sample customer's id, when a
   * locale has several, comes before the channel).
   */
  id: string;
  /** The grid's row: the campaign, trigger or template, and the variant. */
  row: string;
  channel: ChannelName;
  use: TemplateUse;
  site: string;
  locale: string;
  recipient: Recipient;
}

export interface CellProblem {
  severity: 'error' | 'warning';
  message: string;
}

export interface EmailCell extends PreviewCell {
  channel: 'email';
  subject: string;
  preheader: string;
  from: string;
  replyTo?: string;
  html: string;
  text: string;
  bytes: number;
  problems: CellProblem[];
}

export type RenderedCell = EmailCell | SmsCell | PushCell;

/** Gmail clips a message's HTML past this size and hides the rest behind a link. */
export const GMAIL_CLIP_BYTES = 102 * 1024;

/** The cells to render: every use of a template (or only those `keep` accepts) on each of its channels, sites and their locales. */
export function previewCells(ws: Workspace, samples: Samples, keep: (use: TemplateUse) => boolean = () => true): PreviewCell[] {
  const sites = new Map(ws.project.spec.sites.map((s) => [s.id, s]));
  const cells: PreviewCell[] = [];
  for (const use of templateUses(ws, { unused: true }).filter(keep)) {
    const row = `${use.kind}-${use.name}${use.variant ? `.${use.variant.name}` : ''}`;
    const channels = useChannels(ws, use);
    for (const siteId of use.sites) {
      const site = sites.get(siteId);
      if (!site) continue;
      for (const locale of site.locales) {
        const recipients = samples.recipients(use, site, locale);
        for (const channel of channels) {
          recipients.forEach((recipient, i) => {
            const suffix = recipients.length > 1 ? `.${recipient.customer_id ?? i + 1}` : '';
            // Email keeps the ids it always had; the other channels say theirs last.
            const id = `${row}/${site.id}.${locale}${suffix}${channel === 'email' ? '' : `.${channel}`}`;
            cells.push({ id, row, channel, use, site: site.id, locale, recipient });
          });
        }
      }
    }
  }
  return cells;
}

/**
 * The channels a use sends on: a campaign's or trigger's `channels` (email
 * unless it names others). A template nothing uses yet is shown on every
 * channel it has files for: email when it has an MJML body, SMS and push
 * when it has sms.<locale>.txt or push.<locale>.yaml.
 */
export function useChannels(ws: Workspace, use: TemplateUse): ChannelName[] {
  const named = use.kind === 'campaign' ? ws.campaigns.get(use.name)?.spec.channels : use.kind === 'trigger' ? ws.triggers.get(use.name)?.spec.channels : undefined;
  if (use.kind !== 'template') return named?.length ? [...new Set(named)] : ['email'];
  const t = ws.templates.get(use.template);
  const sms = Object.keys(t?.sms ?? {}).length > 0;
  const push = Object.keys(t?.push ?? {}).length > 0;
  const email = Object.keys(t?.bodies ?? {}).length > 0 || (!sms && !push);
  return [...(email ? ['email' as const] : []), ...(sms ? ['sms' as const] : []), ...(push ? ['push' as const] : [])];
}

export async function renderCells(ws: Workspace, cells: readonly PreviewCell[], samples: Samples, now: Date): Promise<RenderedCell[]> {
  const project = ws.project.spec;
  const templates = workingTemplates(ws);
  // Previews are shared in pull requests: their links are signed with a
  // throwaway secret, so no preview ever holds a working login for a real customer.
  const renderer = createRenderer({ project, secret: randomBytes(32).toString('base64url'), now });
  const sites = new Map(project.sites.map((s) => [s.id, s]));
  const out: RenderedCell[] = [];
  const channelRender = { project, secret: randomBytes(32).toString('base64url'), now };
  for (const cell of cells) {
    const site = sites.get(cell.site)!;
    const extras = samples.extras(cell.use, site, cell.locale);
    const hosts = siteHosts(project, site);
    const source = messageSource(cell.use, templates);
    if (cell.channel === 'sms') {
      out.push(renderSmsCell(channelRender, { ...cell, channel: 'sms' }, source, extras, hosts));
      continue;
    }
    if (cell.channel === 'push') {
      out.push(renderPushCell(channelRender, { ...cell, channel: 'push' }, source, extras));
      continue;
    }
    const m = await renderer.render(source, cell.recipient, extras);
    out.push({
      ...cell,
      channel: 'email',
      subject: m.subject,
      preheader: m.preheader,
      from: formatDisplay(m.from),
      ...(m.replyTo ? { replyTo: m.replyTo } : {}),
      html: m.html,
      text: m.text,
      bytes: Buffer.byteLength(m.html),
      problems: [...messageProblems(m.html, m.text, [hosts]), ...leftOutWhenSent(extras.products, hosts)],
    });
  }
  return out;
}

/**
 * Products a send would leave out (checkProducts), for this cell's site. A
 * send holds a product to every site of the campaign: one its other site
 * refuses shows in that site's cells. The preview still shows the product,
 * so the reviewer sees what is wrong with it.
 */
function leftOutWhenSent(products: readonly ProductToken[], hosts: SiteHosts): CellProblem[] {
  return checkProducts(products, [hosts]).leftOut.map((p) => ({ severity: 'warning', message: `product ${escapedText(p.sku)} is left out when sent: ${p.reason}` }));
}

/** `Name <address>` as a person reads it (not RFC 2047-encoded). */
function formatDisplay(a: { name?: string; address: string }): string {
  return a.name ? `${a.name} <${a.address}>` : formatAddress(a);
}

/**
 * What a mail client or spam filter would object to in a rendered message.
 * Validation finds these in the template's own markup; here they are found in
 * what tokens produced too (a product's image, a link from the shop's data).
 */
export function messageProblems(html: string, text: string, sites: Parameters<typeof sitesRefusing>[1]): CellProblem[] {
  const out: CellProblem[] = [];
  const bytes = Buffer.byteLength(html);
  if (bytes > GMAIL_CLIP_BYTES) out.push({ severity: 'warning', message: `the HTML is ${Math.round(bytes / 1024)} KB; Gmail clips messages over 102 KB` });
  const noAlt = [...html.matchAll(/<img\b(?:[^>"']|"[^"]*"|'[^']*')*>/gi)].filter((m) => !/\salt\s*=/i.test(m[0])).length;
  if (noAlt > 0) out.push({ severity: 'warning', message: `${noAlt} image${noAlt === 1 ? ' has' : 's have'} no alt text` });
  const links = linksIn(html);
  const http = [...new Set(links.filter((l) => /^\s*http:\/\//i.test(l.url)).map((l) => l.url.trim()))];
  for (const url of http) out.push({ severity: 'warning', message: `link uses http: ${url}` });
  const outside = new Map<string, string[]>();
  for (const l of links) {
    const refusing = sitesRefusing(l.url, sites);
    if (refusing.length > 0) outside.set(new URL(l.url.trim()).hostname, refusing.map((s) => s.site));
  }
  for (const [host, refusing] of outside) out.push({ severity: 'error', message: `link to ${host} is outside the domains of ${refusing.join(', ')}` });
  if (text.trim() === '') out.push({ severity: 'warning', message: 'the text part is empty: write <locale>.txt, or give the HTML some text' });
  return out;
}
