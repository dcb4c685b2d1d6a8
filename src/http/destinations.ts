import type { Queryable } from '../db/db.js';
import { autoLoginLink } from '../links/links.js';
import { AUTO_LOGIN } from '../links/rewrite.js';
import type { Project } from '../workspace/model.js';

/**
 * Where a click goes: the link a message was rendered with, looked up by the
 * token's link set and index (herald.link_sets), never anything the request
 * says. Link sets never change once written (their key is a hash of their
 * content), so they are cached in this process; the cache holds nothing
 * that another server would need to agree on.
 */

/** link_set: a message's links, in the order click tokens index them. */
const LINK_SET = 'SELECT urls FROM herald.link_sets WHERE hash = $1';
/** message_customer: who a message went to, and for which site, for an auto-login link. */
const MESSAGE_CUSTOMER = 'SELECT customer_id, site FROM herald.messages WHERE id = $1';
/**
 * message_opened: whether a message has an open of this class already, on
 * message_events_message (message_id, kind). A push's tap records its open
 * once (PushOpens).
 */
const MESSAGE_OPENED = "SELECT EXISTS (SELECT 1 FROM herald.message_events WHERE message_id = $1 AND kind = 'open' AND class = $2) AS opened";

export class LinkSets {
  private readonly cache = new Map<string, readonly string[]>();
  private readonly loading = new Map<string, Promise<readonly string[] | undefined>>();

  constructor(
    private readonly db: Queryable,
    private readonly max = 10_000,
  ) {}

  /** The set's links, or undefined when the database has no such set. */
  async get(hash: string): Promise<readonly string[] | undefined> {
    const hit = this.cache.get(hash);
    if (hit) {
      // Least recently used goes first: a hit moves to the end.
      this.cache.delete(hash);
      this.cache.set(hash, hit);
      return hit;
    }
    // Concurrent misses for one set share one query (a campaign's first clicks all arrive at once).
    let p = this.loading.get(hash);
    if (!p) {
      p = this.load(hash).finally(() => this.loading.delete(hash));
      this.loading.set(hash, p);
    }
    return p;
  }

  private async load(hash: string): Promise<readonly string[] | undefined> {
    const [row] = await this.db.query<{ urls: string[] }>(LINK_SET, [hash]);
    if (!row) return undefined; // not cached: it may be written yet
    this.cache.set(hash, Object.freeze([...row.urls]));
    if (this.cache.size > this.max) this.cache.delete(this.cache.keys().next().value!);
    return row.urls;
  }
}

export type Destination = { ok: true; url: string; stored: string } | { ok: false; reason: string };

/**
 * The URL to redirect a click to. `stored` is the link as rendered (kept in
 * the event); `url` is where the browser goes: the same, except for an
 * auto-login link, freshly signed for the message's customer, or the site's
 * plain URL for a list contact. Only http(s) destinations are followed.
 */
export async function destination(
  o: { db: Queryable; project: Project; secret: string; sets: LinkSets; now: Date },
  click: { message: number; set: string; index: number },
): Promise<Destination> {
  const urls = await o.sets.get(click.set);
  if (!urls) return { ok: false, reason: 'unknown link set' };
  const stored = urls[click.index];
  if (stored === undefined) return { ok: false, reason: 'no such link in the set' };
  // The message's customer's auto-login link, signed afresh at each click.
  if (stored.startsWith(AUTO_LOGIN)) {
    const [m] = await o.db.query<{ customer_id: number | null; site: string }>(MESSAGE_CUSTOMER, [click.message]);
    const site = m && o.project.sites.find((s) => s.id === m.site);
    if (!m || !site) return { ok: false, reason: 'unknown message or site' };
    return { ok: true, url: withRest(autoLoginLink(site, m.customer_id, o.secret, o.now), stored.slice(AUTO_LOGIN.length)), stored };
  }
  return httpUrl(stored) ? { ok: true, url: stored, stored } : { ok: false, reason: 'not an http(s) link' };
}

/** What followed the placeholder in the rendered link (UTM parameters, a fragment), kept on the signed link. */
function withRest(url: string, rest: string): string {
  if (rest === '') return url;
  if (rest.startsWith('?') || rest.startsWith('&')) return `${url}${url.includes('?') ? '&' : '?'}${rest.slice(1)}`;
  return `${url}${rest}`;
}

function httpUrl(text: string): boolean {
  try {
    const u = new URL(text);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
}

/**
 * A push notification has no pixel: its tap (a short link marked as a push's,
 * links/short.ts) is its open, recorded once per message and class, however
 * often the notification's link is followed. A scanner's tap does not hide
 * the person's that follows. Taps this process has seen are remembered (the
 * event writer holds events ~200 ms before the database has them); another
 * server's tap within that moment may add a second open, which reports do
 * not count twice (they count messages opened).
 */
export class PushOpens {
  private readonly seen = new Set<string>();

  constructor(
    private readonly db: Queryable,
    private readonly max = 10_000,
  ) {}

  /** Whether this tap is the message's first of its class, the one to record as an open. */
  async first(message: number, cls: string): Promise<boolean> {
    const key = `${message}:${cls}`;
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    if (this.seen.size > this.max) this.seen.delete(this.seen.values().next().value!);
    const [row] = await this.db.query<{ opened: boolean }>(MESSAGE_OPENED, [message, cls]);
    return !row?.opened;
  }
}
