import { createHash } from 'node:crypto';
import { SHORT_PATH, shortSetKey, shortToken } from './short.js';
import { clickLink, clicksToken, MAX_LINK_INDEX, openToken, TRACKING_PATHS } from './tracking.js';

/**
 * Click tracking and the open pixel, added to a rendered message for one
 * ledger row. The template never changes for them: the links of the HTML
 * (`<a href>`) and the same addresses in the text part become
 * `<base>/c/<token>/<index>`, the token naming the message and the message's
 * link set, signed once per message, the index the link's in the set. The set, the destinations as rendered, is what the
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
  /**
   * The hosts whose links are tracked (with their subdomains): the site's
   * own, as link-check.ts siteHosts gives them. A link elsewhere can only
   * have come from a token's value (templates, and the shop's products, may
   * not link off the site's domains), and the shop's tracking host must not
   * become a signed redirect to wherever a customer's name pointed: it stays
   * as written.
   */
  hosts: readonly string[];
  /** This recipient's auto-login link, stored as AUTO_LOGIN. */
  autoLogin: string;
}

export interface Tracked {
  html: string;
  text: string;
  linkSet?: LinkSet;
}

/*
 * Anchors and their hrefs are found by hand (anchors, hrefOf): a regex over
 * the whole HTML with lazy groups, or one per tag, took 120–140 µs for a
 * 50 KB newsletter, more than the rest of tracking together.
 */
/**
 * The anchors' starts (`<a ` or `<A `), in order, found by indexOf: a regex
 * scan of 50 KB took as long as signing the links. Capitals are rare in
 * markup, so `<A` is found by looking for "A" and then at the character
 * before it: a search for "<A" stops at each of the page's ~500 "<" (3.7 µs
 * against 0.8).
 */
function anchors(html: string): number[] {
  const found: number[] = [];
  for (let at = html.indexOf('<a'); at >= 0; at = html.indexOf('<a', at + 2)) if (isSpace(html.charCodeAt(at + 2))) found.push(at);
  let upper = false;
  for (let at = html.indexOf('A', 1); at >= 0; at = html.indexOf('A', at + 1)) {
    if (html.charCodeAt(at - 1) === 60 && isSpace(html.charCodeAt(at + 1))) {
      found.push(at - 1);
      upper = true;
    }
  }
  return upper ? found.sort((a, b) => a - b) : found;
}

/** What `/\s/` matches, by character code: a regex test of each one-character string cost more than the scan. */
function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13) || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}
const TEXT_URL = /https?:\/\/[^\s<>"'\]\)]+/g;

export function trackMessage(m: { html: string; text: string }, o: TrackOptions): Tracked {
  let { html, text } = m;
  let linkSet: LinkSet | undefined;
  const pixel = o.opens ? openPixel(o) : undefined;
  // Where the pixel goes, in the HTML as rendered: it is put in as the links are, so the HTML is built once.
  const bodyEnd = pixel === undefined ? -1 : html.lastIndexOf('</body>');
  let pixelled = false;
  if (o.clicks) {
    const index = new Map<string, number>();
    const urls: string[] = [];
    const own = `${o.base}/`;
    const tracked = (original: string): number | undefined => {
      if (!/^https?:\/\//i.test(original) || original.startsWith(own) || !onSite(original, o.hosts)) return undefined;
      const stored = stored_(original, o);
      let i = index.get(stored);
      if (i === undefined) {
        if (urls.length > MAX_LINK_INDEX) return undefined;
        index.set(stored, (i = urls.push(detached(stored)) - 1));
      }
      return i;
    };
    // One pass over each part finds the links; the output is built once, when
    // the set's hash (which the tokens name) is known.
    const htmlParts = cut(html, anchors(html), (start) => {
      const h = hrefOf(html, start);
      if (!h) return undefined;
      const i = tracked(decodeEntities(html.slice(h.at, h.at + h.length)));
      // Written out: a spread ({ ...h, i }) took V8's slow path, a third of tracking's time.
      return i === undefined ? undefined : { at: h.at, length: h.length, i };
    });
    const textParts = cut(text, matches(text, TEXT_URL), (x) => {
      const i = tracked(x[0]);
      return i === undefined ? undefined : { at: x.index, length: x[0].length, i };
    });
    if (urls.length > 0) {
      const hash = setHash(urls);
      linkSet = { hash, urls };
      const token = clicksToken(o.ledgerId, hash, o.secret);
      const links = urls.map((_, i) => clickLink(o.base, token, i));
      const tail = htmlParts[htmlParts.length - 1] as string;
      // The pixel's place in the text after the last link (where </body> is, unless the HTML is odd).
      const inTail = bodyEnd - (html.length - tail.length);
      if (pixel !== undefined && inTail >= 0) {
        htmlParts[htmlParts.length - 1] = tail.slice(0, inTail);
        htmlParts.push(pixel, tail.slice(inTail));
        pixelled = true;
      }
      html = join(htmlParts, links);
      text = join(textParts, links);
    }
  }
  if (pixel !== undefined && !pixelled) {
    const end = html.lastIndexOf('</body>');
    html = end >= 0 ? `${html.slice(0, end)}${pixel}${html.slice(end)}` : html + pixel;
  }
  return linkSet ? { html, text, linkSet } : { html, text };
}

/** The open pixel: a 1×1 image naming the message. */
function openPixel(o: Pick<TrackOptions, 'base' | 'ledgerId' | 'secret'>): string {
  return `<img src="${o.base}/${TRACKING_PATHS.open}/${openToken(o.ledgerId, o.secret)}" width="1" height="1" alt="" style="display:block;border:0;width:1px;height:1px;" />`;
}

/** The quoted value of the href attribute of the tag starting at `start`: where it is and how long. */
function hrefOf(html: string, start: number): { at: number; length: number } | undefined {
  const end = html.indexOf('>', start);
  const tagEnd = end < 0 ? html.length : end;
  let p = start + 2;
  for (;;) {
    let h = html.indexOf('href', p);
    if (h < 0 || h >= tagEnd) {
      // Rare: HREF or Href, written by hand.
      const k = html.slice(p, tagEnd).toLowerCase().indexOf('href');
      if (k < 0) return undefined;
      h = p + k;
    }
    p = h + 4;
    // An attribute of its own (` href`), not the end of another's name (`data-href`).
    if (!isSpace(html.charCodeAt(h - 1))) continue;
    let q = p;
    while (q < tagEnd && isSpace(html.charCodeAt(q))) q++;
    if (html[q] !== '=') continue;
    q++;
    while (q < tagEnd && isSpace(html.charCodeAt(q))) q++;
    const quote = html[q];
    if (quote !== '"' && quote !== "'") return undefined;
    const close = html.indexOf(quote, q + 1);
    if (close < 0 || close > tagEnd) return undefined;
    return { at: q + 1, length: close - q - 1 };
  }
}

/** A text cut around the links to replace: its pieces, and between them the index of the link that goes there. */
type Pieces = (string | number)[];

function cut<T>(s: string, found: Iterable<T>, link: (found: T) => { at: number; length: number; i: number } | undefined): Pieces {
  const out: Pieces = [];
  let last = 0;
  for (const f of found) {
    const l = link(f);
    if (!l) continue;
    out.push(s.slice(last, l.at), l.i);
    last = l.at + l.length;
  }
  out.push(s.slice(last));
  return out;
}

function* matches(s: string, re: RegExp): Generator<RegExpExecArray> {
  re.lastIndex = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) yield m;
}

function join(pieces: Pieces, links: readonly string[]): string {
  let s = '';
  for (const p of pieces) s += typeof p === 'number' ? links[p]! : p;
  return s;
}

export interface ShortenOptions extends Pick<TrackOptions, 'ledgerId' | 'secret' | 'base' | 'utm' | 'shopHosts' | 'hosts' | 'autoLogin'> {
  /** A push notification's tap (short.ts): it counts as the push's open. */
  push: boolean;
}

export interface Shortened {
  text: string;
  linkSet?: LinkSet;
}

/**
 * The links of an SMS (or a push notification's url) made short signed
 * tracking links, `<base>/s/<token>`. Like trackMessage, the destinations
 * are stored as a link set (with UTM parameters, the auto-login link as its
 * placeholder), here under the message's own key (shortSetKey), since a
 * short token has no room for a set's hash. A sentence's full stop or comma
 * after a link is not part of it.
 */
export function shortenLinks(text: string, o: ShortenOptions): Shortened {
  const urls: string[] = [];
  const index = new Map<string, number>();
  const pieces = cut(text, matches(text, TEXT_URL), (x) => {
    const original = x[0].replace(/[.,!?;:]+$/, '');
    if (original.startsWith(`${o.base}/`) || !onHosts(original, o.hosts)) return undefined;
    const stored = stored_(original, o);
    let i = index.get(stored);
    if (i === undefined) index.set(stored, (i = urls.push(detached(stored)) - 1));
    return { at: x.index, length: original.length, i };
  });
  if (urls.length === 0) return { text };
  const links = urls.map((_, i) => `${o.base}/${SHORT_PATH}/${shortToken({ message: o.ledgerId, index: i, push: o.push }, o.secret)}`);
  return { text: join(pieces, links), linkSet: { hash: shortSetKey(o.ledgerId), urls } };
}

/** One link, a push notification's url, made a short link: the whole text is the link, nothing trimmed off it. */
export function shortenUrl(url: string, o: ShortenOptions): { url: string; linkSet?: LinkSet } {
  if (!/^https?:\/\//i.test(url) || url.startsWith(`${o.base}/`) || !onHosts(url, o.hosts)) return { url };
  return {
    url: `${o.base}/${SHORT_PATH}/${shortToken({ message: o.ledgerId, index: 0, push: o.push }, o.secret)}`,
    linkSet: { hash: shortSetKey(o.ledgerId), urls: [stored_(url, o)] },
  };
}

/**
 * onHosts, remembered per list of hosts: an email's links are mostly the
 * same for every recipient, and parsing each of a dozen per message cost
 * more than looking it up.
 */
const decided = new WeakMap<readonly string[], Map<string, boolean>>();

function onSite(url: string, hosts: readonly string[]): boolean {
  let known = decided.get(hosts);
  if (!known) decided.set(hosts, (known = new Map()));
  let yes = known.get(url);
  if (yes === undefined) {
    if (known.size >= 10_000) known.clear();
    // Kept as a text of its own: the link cut from a message would keep the message alive (detached).
    known.set(detached(url), (yes = onHosts(url, hosts)));
  }
  return yes;
}

function onHosts(url: string, hosts: readonly string[]): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase();
  } catch {
    return false;
  }
  return hosts.some((h) => host === h || host.endsWith(`.${h}`));
}

/**
 * A link as a text of its own. A link cut out of the rendered message is, to
 * V8, a view into the whole text it was cut from: kept in the message's link
 * set until the message's reply is recorded, it kept the 50 KB HTML alive
 * with it, for each of the hundreds of messages in flight, and a send spent
 * a fifth of its time in the garbage collector copying them.
 */
function detached(s: string): string {
  return ` ${s}`.slice(1);
}

/** The destination as stored: with the UTM parameters, the auto-login link as its placeholder. */
function stored_(url: string, o: Pick<TrackOptions, 'autoLogin' | 'utm' | 'shopHosts'>): string {
  if (url.startsWith(o.autoLogin)) return AUTO_LOGIN + withUtm(url, o).slice(o.autoLogin.length);
  return withUtm(url, o);
}

/**
 * The URL with the utm_* parameters it lacks, when it goes to one of the
 * shop's sites. Appended to the URL as written, never re-serialised: the
 * rest of it (an auto-login token, a fragment) stays exactly as rendered.
 */
function withUtm(url: string, o: Pick<TrackOptions, 'utm' | 'shopHosts'>): string {
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
