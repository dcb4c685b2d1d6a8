import { isbotMatch } from 'isbot';

/**
 * Who caused an open or a click (herald.message_events.class, migration 0009):
 *
 *   human    a person: their mail client loaded the image, their browser followed the link
 *   mpp      Apple Mail Privacy Protection: Apple's proxies fetch every image of
 *            every message as it arrives, whether or not anybody reads it
 *   scanner  a security gateway, link checker or prefetcher: it fetches
 *            (images and links alike) to inspect them
 *
 * Reports show totals and human-only figures; A/B decisions and attribution
 * count human events only. What can be told from one request is decided
 * here; the timing rule (a click within seconds of delivery) needs the
 * ledger's sent_at and is applied where events are written (ingest.ts).
 */
export type EventClass = 'human' | 'mpp' | 'scanner';

export interface Classified {
  class: EventClass;
  /** Why, when not human: kept in the event's detail so a figure can be explained. */
  by?: 'head' | 'prefetch' | 'no-user-agent' | 'mpp-user-agent' | 'bare-user-agent' | 'isbot';
}

export interface RequestFacts {
  kind: 'open' | 'click';
  method: string;
  userAgent: string | undefined;
  /** Purpose / Sec-Purpose / X-Moz / X-Purpose headers, which browsers send with speculative fetches. */
  purpose?: string | undefined;
}

/**
 * Apple's MPP proxies fetch with the user agent `Mozilla/5.0` and nothing
 * more (and from the egress addresses of iCloud Private Relay, a list that
 * changes and that herald does not ship). No mail client a person uses sends
 * so bare a user agent.
 */
const BARE_MOZILLA = /^Mozilla\/5\.0$/;

/**
 * Image proxies that fetch when a person opens the message, so their opens
 * are human: Gmail's (`… (via ggpht.com GoogleImageProxy)`) and Yahoo's
 * (`YahooMailProxy; …`). isbot lists both as bots, so they are told apart first.
 */
const HUMAN_IMAGE_PROXY = /GoogleImageProxy|YahooMailProxy/;

/**
 * classify, remembered by its inputs: the same few user agents make most
 * requests, and isbot's pattern is long. Bounded, oldest first out.
 */
const seen = new Map<string, Classified>();
const SEEN_MAX = 2000;

export function classifyCached(r: RequestFacts): Classified {
  const key = `${r.kind}\0${r.method}\0${r.purpose ?? ''}\0${r.userAgent ?? ''}`;
  let c = seen.get(key);
  if (!c) {
    c = classify(r);
    if (seen.size >= SEEN_MAX) seen.delete(seen.keys().next().value!);
    seen.set(key, c);
  }
  return c;
}

export function classify(r: RequestFacts): Classified {
  // A HEAD fetches nothing to show: a link checker asking where a link goes.
  if (r.method === 'HEAD') return { class: 'scanner', by: 'head' };
  if (r.purpose && /prefetch|preview/i.test(r.purpose)) return { class: 'scanner', by: 'prefetch' };
  const ua = r.userAgent?.trim() ?? '';
  if (ua === '') return { class: 'scanner', by: 'no-user-agent' };
  if (BARE_MOZILLA.test(ua)) return r.kind === 'open' ? { class: 'mpp', by: 'mpp-user-agent' } : { class: 'scanner', by: 'bare-user-agent' };
  if (r.kind === 'open' && HUMAN_IMAGE_PROXY.test(ua)) return { class: 'human' };
  if (isbotMatch(ua) !== null) return { class: 'scanner', by: 'isbot' };
  return { class: 'human' };
}
