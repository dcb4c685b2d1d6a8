import { createHash } from 'node:crypto';
import { clickToken, openToken, TRACKING_PATHS } from './tracking.js';

/**
 * Click tracking and the open pixel, added to a rendered message for one
 * ledger row. The template never changes for them: the links of the HTML
 * (`<a href>`) and the same addresses in the text part become
 * `<base>/c/<token>`, a token naming the message, the message's link set and
 * the link's index. The set, the destinations as rendered, is what the
 * tracking server redirects to (herald.link_sets): nothing in a request can
 * name a destination.
 *
 * A recipient's auto-login link is stored as the placeholder AUTO_LOGIN and
 * signed afresh when it is clicked, so the sets of a campaign's recipients
 * stay one shared set and no login token is kept in the database. UTM
 * parameters are added to links to the shop's own sites before anything is
 * stored, so the set holds exactly where a click goes.
 */
export const AUTO_LOGIN = '{auto_login}';

export interface LinkSet {
  /** 16 characters of a hash of the URLs: the set's key in herald.link_sets. */
  hash: string;
  urls: string[];
}

export interface TrackOptions {
  ledgerId: number;
  secret: string;
  /** tracking.base_url, without a trailing slash. */
  base: string;
  opens: boolean;
  clicks: boolean;
  /** utm_* parameters for links to the shop's sites (hosts below). */
  utm?: Record<string, string>;
  shopHosts: ReadonlySet<string>;
  /** This recipient's auto-login link, stored as AUTO_LOGIN. */
  autoLogin: string;
}

export interface Tracked {
  html: string;
  text: string;
  linkSet?: LinkSet;
}

const HREF = /(<a\b[^>]*?\shref\s*=\s*)(["'])(.*?)\2/gis;
const TEXT_URL = /https?:\/\/[^\s<>"'\]\)]+/g;

export function trackMessage(m: { html: string; text: string }, o: TrackOptions): Tracked {
  let { html, text } = m;
  let linkSet: LinkSet | undefined;
  if (o.clicks) {
    const index = new Map<string, number>();
    const urls: string[] = [];
    const tracked = (original: string): string | undefined => {
      if (!/^https?:\/\//i.test(original) || original.startsWith(`${o.base}/`)) return undefined;
      const stored = stored_(original, o);
      let i = index.get(stored);
      if (i === undefined) index.set(stored, (i = urls.push(stored) - 1));
      return `\0${i}\0`;
    };
    // First collect, with placeholders; the tokens need the set's hash, known once all links are seen.
    html = html.replace(HREF, (whole, pre: string, quote: string, value: string) => {
      const t = tracked(decodeEntities(value));
      return t === undefined ? whole : `${pre}${quote}${t}${quote}`;
    });
    text = text.replace(TEXT_URL, (url) => tracked(url) ?? url);
    if (urls.length > 0) {
      linkSet = { hash: setHash(urls), urls };
      const links = urls.map((_, i) => `${o.base}/${TRACKING_PATHS.click}/${clickToken(o.ledgerId, linkSet!.hash, i, o.secret)}`);
      const fill = (s: string) => s.replace(/\0(\d+)\0/g, (_, i: string) => links[Number(i)]!);
      html = fill(html);
      text = fill(text);
    }
  }
  if (o.opens) {
    const pixel = `<img src="${o.base}/${TRACKING_PATHS.open}/${openToken(o.ledgerId, o.secret)}" width="1" height="1" alt="" style="display:block;border:0;width:1px;height:1px;" />`;
    const end = html.lastIndexOf('</body>');
    html = end >= 0 ? `${html.slice(0, end)}${pixel}${html.slice(end)}` : html + pixel;
  }
  return linkSet ? { html, text, linkSet } : { html, text };
}

/** The destination as stored: with the UTM parameters, the auto-login link as its placeholder. */
function stored_(url: string, o: TrackOptions): string {
  if (url.startsWith(o.autoLogin)) return AUTO_LOGIN + withUtm(url, o).slice(o.autoLogin.length);
  return withUtm(url, o);
}

/**
 * The URL with the utm_* parameters it lacks, when it goes to one of the
 * shop's sites. Appended to the URL as written, never re-serialised: the
 * rest of it (an auto-login token, a fragment) stays exactly as rendered.
 */
function withUtm(url: string, o: TrackOptions): string {
  if (!o.utm) return url;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return url;
  }
  if (!o.shopHosts.has(u.host.toLowerCase())) return url;
  const missing = Object.entries(o.utm).filter(([k]) => !u.searchParams.has(k));
  if (missing.length === 0) return url;
  const [head, hash] = splitHash(url);
  const query = missing.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  return `${head}${head.includes('?') ? (head.endsWith('?') || head.endsWith('&') ? '' : '&') : '?'}${query}${hash}`;
}

function splitHash(url: string): [string, string] {
  const i = url.indexOf('#');
  return i < 0 ? [url, ''] : [url.slice(0, i), url.slice(i)];
}

const setHashes = new Map<string, string>();

/** A set's key; most messages of a run share a few sets, so the hash of each is kept. */
export function setHash(urls: readonly string[]): string {
  const key = JSON.stringify(urls);
  let h = setHashes.get(key);
  if (!h) {
    h = createHash('sha256').update(key).digest('base64url').slice(0, 16);
    if (setHashes.size > 10_000) setHashes.clear();
    setHashes.set(key, h);
  }
  return h;
}

/** An href's value as the browser reads it: MJML and templates write & as &amp;. */
function decodeEntities(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|amp|quot|apos|lt|gt);/gi, (whole, e: string) => {
    const l = e.toLowerCase();
    if (l === 'amp') return '&';
    if (l === 'quot') return '"';
    if (l === 'apos') return "'";
    if (l === 'lt') return '<';
    if (l === 'gt') return '>';
    const code = l.startsWith('#x') ? parseInt(l.slice(2), 16) : parseInt(l.slice(1), 10);
    return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });
}
