import { smsEncoding } from '../channels/sms/encoding.js';
import { UserError } from '../errors.js';
import { sitesRefusing, type SiteHosts } from '../render/link-check.js';
import type { MessageExtras, MessageSource } from '../render/message.js';
import { renderPush, type RenderedPush } from '../render/push.js';
import { renderSms, type ChannelRenderOptions } from '../render/sms.js';
import { SMS_MAX_PARTS_DEFAULT } from '../workspace/model.js';
import type { CellProblem, PreviewCell } from './render.js';

/**
 * SMS and push cells of the preview: the message as the phone shows it,
 * rendered by the same renderSms and renderPush as a send (without a ledger
 * id, so links stay as written: no short tracking link is signed for a
 * preview). Each cell's `html` is a page showing it (a text bubble, a
 * notification card), every value escaped: an SMS is plain text, and a
 * customer named `<b>x</b>` is text on a phone too.
 */
export interface SmsCell extends PreviewCell {
  channel: 'sms';
  sms: {
    text: string;
    encoding: 'GSM-7' | 'UCS-2';
    parts: number;
    /** The first character outside GSM-7, which makes the whole message UCS-2 (70 characters a part instead of 160). */
    forcedBy?: { char: string; index: number };
  };
  html: string;
  text: string;
  problems: CellProblem[];
}

export interface PushCell extends PreviewCell {
  channel: 'push';
  /** Empty fields when the notification could not be rendered (its problem says why). */
  push: Pick<RenderedPush, 'title' | 'body' | 'url' | 'icon' | 'image'>;
  html: string;
  text: string;
  problems: CellProblem[];
}

/** Links in an SMS: what renderSms shortens on a send. */
const TEXT_URL = /https?:\/\/[^\s<>"'\])]+/g;

export function renderSmsCell(o: ChannelRenderOptions, cell: PreviewCell & { channel: 'sms' }, source: MessageSource, extras: MessageExtras, hosts: SiteHosts): SmsCell {
  const m = renderSms(o, source, cell.recipient, extras);
  const e = smsEncoding(m.text);
  const sms = { text: m.text, encoding: e.encoding, parts: e.parts, ...(e.forcedBy ? { forcedBy: e.forcedBy } : {}) };
  return { ...cell, sms, html: smsPage(sms, o.project.sms?.from), text: m.text, problems: smsProblems(m.text, e.parts, o.project.sms?.max_parts ?? SMS_MAX_PARTS_DEFAULT, hosts) };
}

/** What a send would object to in a rendered SMS: more parts than herald.yaml allows, a link off the site's domains (a send leaves it out of tracking), plain http. */
function smsProblems(text: string, parts: number, maxParts: number, hosts: SiteHosts): CellProblem[] {
  const out: CellProblem[] = [];
  if (text === '') out.push({ severity: 'warning', message: 'the SMS is empty' });
  if (parts > maxParts) out.push({ severity: 'warning', message: `the SMS takes ${parts} parts, over sms.max_parts (${maxParts}); each part is billed` });
  const urls = [...new Set([...text.matchAll(TEXT_URL)].map((u) => u[0]))];
  for (const url of urls) {
    if (/^http:/i.test(url)) out.push({ severity: 'warning', message: `link uses http: ${url}` });
    if (sitesRefusing(url, [hosts]).length > 0) out.push({ severity: 'error', message: `link to ${new URL(url).hostname} is outside the domains of ${hosts.site}` });
  }
  return out;
}

/**
 * A push cell. A url, icon or image that is no address on the site's domains
 * once rendered (renderPush refuses it, as a send would fail that message)
 * is the cell's error, so the rest of the grid still renders.
 */
export function renderPushCell(o: ChannelRenderOptions, cell: PreviewCell & { channel: 'push' }, source: MessageSource, extras: MessageExtras): PushCell {
  let push: PushCell['push'];
  const problems: CellProblem[] = [];
  try {
    const m = renderPush(o, source, cell.recipient, extras);
    push = { title: m.title, body: m.body, url: m.url, icon: m.icon, image: m.image };
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    push = { title: '', body: '', url: null, icon: null, image: null };
    problems.push({ severity: 'error', message: e.message });
  }
  if (problems.length === 0 && push.title === '') problems.push({ severity: 'warning', message: 'the notification has no title' });
  const text = [push.title, push.body, ...(push.url ? [push.url] : [])].join('\n');
  return { ...cell, push, html: pushPage(push), text, problems };
}

/** Text in the preview's HTML: its own text, never markup (the grid's pages and these cells alike). */
export const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A character as a reviewer can tell it apart: a curly quote looks like a straight one, so its code point is shown too. */
export function charName(char: string): string {
  const code = `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
  return /^[\p{L}\p{N}\p{P}\p{S}]$/u.test(char) ? `${char} (${code})` : code;
}

/** The encoding as one line: `GSM-7 · 1 part` or `UCS-2 · 2 parts · forced by ’ (U+2019)`. */
export function smsLine(sms: { encoding: string; parts: number; forcedBy?: { char: string } }): string {
  return `${sms.encoding} · ${sms.parts} part${sms.parts === 1 ? '' : 's'}${sms.forcedBy ? ` · forced by ${charName(sms.forcedBy.char)}` : ''}`;
}

const PAGE_STYLE = `
  body { font: 15px/1.4 system-ui, sans-serif; margin: 24px; color: #111827; background: #f3f4f6; }
  .phone { max-width: 340px; margin: auto; padding: 16px; border-radius: 24px; background: #fff; border: 1px solid #d1d5db; }
  .sender { text-align: center; color: #6b7280; font-size: 13px; margin-bottom: 12px; }
  .bubble { background: #e5e7eb; border-radius: 16px; padding: 10px 12px; white-space: pre-wrap; overflow-wrap: anywhere; }
  .meta { color: #6b7280; font-size: 12px; margin-top: 8px; }
  .card { max-width: 360px; margin: auto; background: #fff; border-radius: 12px; box-shadow: 0 1px 4px rgba(0,0,0,.2); padding: 12px; display: grid; grid-template-columns: 40px 1fr; gap: 4px 10px; }
  .card .icon { width: 40px; height: 40px; border-radius: 8px; object-fit: cover; grid-row: span 2; }
  .card .title { font-weight: 600; }
  .card .body { white-space: pre-wrap; overflow-wrap: anywhere; }
  .card .image { grid-column: 1 / -1; width: 100%; border-radius: 8px; }
  .card .url { grid-column: 1 / -1; font-size: 12px; color: #6b7280; overflow-wrap: anywhere; }`;

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${PAGE_STYLE}
</style>
</head>
<body>
${body}
</body>
</html>
`;
}

/** The SMS as a phone shows it: plain text in a bubble, never markup or a link. */
export function smsBubble(sms: SmsCell['sms'], from?: string): string {
  return `<div class="phone">${from ? `<div class="sender">${esc(from)}</div>` : ''}<div class="bubble">${esc(sms.text)}</div><div class="meta">${esc(smsLine(sms))}</div></div>`;
}

function smsPage(sms: SmsCell['sms'], from?: string): string {
  return page('SMS preview', smsBubble(sms, from));
}

/** The notification as a card: icon, title, body, image, and where a tap goes. */
export function pushCard(p: PushCell['push']): string {
  return [
    '<div class="card">',
    p.icon ? `<img class="icon" src="${esc(p.icon)}" alt="">` : '<span></span>',
    `<div class="title">${esc(p.title)}</div>`,
    `<div class="body">${esc(p.body)}</div>`,
    p.image ? `<img class="image" src="${esc(p.image)}" alt="">` : '',
    `<div class="url">${p.url ? `Tap opens <a href="${esc(p.url)}">${esc(p.url)}</a>` : 'A tap opens the site or app'}</div>`,
    '</div>',
  ].join('');
}

function pushPage(p: PushCell['push']): string {
  return page('Push notification preview', pushCard(p));
}
