import { timingSafeEqual } from 'node:crypto';
import { shortMac, keyId, signToken, verifyToken } from './token.js';

/**
 * The links and addresses that bring what happens after a send back to the
 * ledger. Every one names a ledger message (herald.messages.id) and is signed,
 * so the tracking server acts on what herald made, never on what a request
 * claims:
 *
 *   open         <base>/o/<token>        the pixel
 *   click        <base>/c/<token>/<i>    a link: the token names the message and its link set's hash, <i> the link's index
 *                <base>/c/<token>        the same, from before one token served all of a message's links (the index signed in it)
 *   unsubscribe  <base>/u/<token>        RFC 8058 one-click (POST) and the confirmation page (GET)
 *   return path  bounces+<id>-<key>-<mac>@domain   the envelope sender (VERP), for DSNs and complaints
 *
 * Unsubscribe links sent before messages carried ids (`<base>/unsubscribe/<token>`,
 * naming the customer or contact and the site) keep working: see readTrackingToken.
 */
export type TrackingLink =
  | { kind: 'open'; message: number }
  | { kind: 'click'; message: number; set: string; index: number }
  | { kind: 'unsubscribe'; message: number }
  /** An unsubscribe link from before ids, or from a preview or test send (no ledger row). */
  | { kind: 'unsubscribe-recipient'; customer: number | null; contact: number | null; site: string; source: string };

export type TrackingResult = { ok: true; link: TrackingLink } | { ok: false; reason: string };

export const TRACKING_PATHS = { open: 'o', click: 'c', unsubscribe: 'u', legacyUnsubscribe: 'unsubscribe' } as const;

export function openToken(message: number, secret: string): string {
  return signToken({ p: 'o', m: message }, secret);
}

/**
 * The token of a message's click links: one per message, signed once, the
 * link's index after it in the path (clickLink). A message has a dozen links
 * and a signature each cost as much as rendering the message's tokens. The
 * index is not signed: changing it leads only to another link of the same
 * message's set, one herald rendered for that recipient, which the
 * recipient could have clicked anyway.
 */
export function clicksToken(message: number, set: string, secret: string): string {
  return signToken({ p: 'l', m: message, h: set }, secret);
}

/** A click link: the message's clicks token, then the link's index. */
export function clickLink(base: string, token: string, index: number): string {
  return `${base}/${TRACKING_PATHS.click}/${token}/${index}`;
}

/** The most links one message's set may hold; an index in a click link is at most this. */
export const MAX_LINK_INDEX = 99_999;

/** A click token from before clicksToken: one per link, the index signed in it. Still read (`/c/<token>`), no longer made. */
export function clickToken(message: number, set: string, index: number, secret: string): string {
  return signToken({ p: 'c', m: message, h: set, i: index }, secret);
}

export function unsubscribeToken(message: number, secret: string): string {
  return signToken({ p: 'u', m: message }, secret);
}

/** The unsubscribe token of a message without a ledger row (preview, test send): names the recipient. */
export function recipientUnsubscribeToken(r: { customer: number | null; contact: number | null; site: string; source: string }, secret: string): string {
  const who = r.customer !== null ? { c: r.customer } : { k_: r.contact };
  return signToken({ p: 'unsubscribe', ...who, s: r.site, m: r.source }, secret);
}

/**
 * Reads and checks any tracking token: signature (against every secret),
 * purpose, shape. `index` is what follows a clicks token in its link
 * (`/c/<token>/<index>`): a clicks token needs one, no other token takes one.
 */
export function readTrackingToken(token: string, secrets: string | readonly string[], index?: string): TrackingResult {
  const v = verifyToken(token, secrets);
  if (!v.ok) return v;
  const p = v.payload;
  const id = (x: unknown) => (Number.isSafeInteger(x) && (x as number) > 0 ? (x as number) : undefined);
  if (p.p === 'l') {
    if (index === undefined) return { ok: false, reason: "a message's click token without the link's index: the whole link is <base>/c/<token>/<index>" };
    const i = /^\d{1,5}$/.test(index) ? Number(index) : undefined;
    return id(p.m) && typeof p.h === 'string' && i !== undefined && i <= MAX_LINK_INDEX
      ? { ok: true, link: { kind: 'click', message: p.m as number, set: p.h, index: i } }
      : malformed();
  }
  if (index !== undefined) return { ok: false, reason: 'only a click token is followed by an index' };
  switch (p.p) {
    case 'o':
      return id(p.m) ? { ok: true, link: { kind: 'open', message: p.m as number } } : malformed();
    case 'c':
      return id(p.m) && typeof p.h === 'string' && Number.isSafeInteger(p.i) && (p.i as number) >= 0
        ? { ok: true, link: { kind: 'click', message: p.m as number, set: p.h, index: p.i as number } }
        : malformed();
    case 'u':
      return id(p.m) ? { ok: true, link: { kind: 'unsubscribe', message: p.m as number } } : malformed();
    case 'unsubscribe': {
      // Contacts were named by `k` before key ids took that name; `k_` since.
      const contact = id(p.k_) ?? (p.c === undefined ? id(p.k) : undefined) ?? null;
      const customer = id(p.c) ?? null;
      if ((customer === null) === (contact === null) || typeof p.s !== 'string') return malformed();
      return { ok: true, link: { kind: 'unsubscribe-recipient', customer, contact, site: p.s, source: typeof p.m === 'string' ? p.m : '' } };
    }
    default:
      return { ok: false, reason: 'not a tracking token (open, click or unsubscribe)' };
  }
}

function malformed(): TrackingResult {
  return { ok: false, reason: 'malformed payload' };
}

/**
 * The envelope sender of a ledger message: `bounces@mail.example.com` becomes
 * `bounces+<id base 36>-<key id>-<mac>@mail.example.com`. Lower-case letters,
 * digits and dashes only, as some servers fold the case of a local part; the
 * MAC is 64 bits, enough that nobody guesses one, short enough for the
 * 64-octet limit of a local part.
 */
export function returnPath(base: string, message: number, secret: string): string {
  const at = base.lastIndexOf('@');
  const local = base.slice(0, at);
  const domain = base.slice(at + 1);
  const id = message.toString(36);
  const k = keyId(secret);
  return `${local}+${id}-${k}-${shortMac(`verp\0${id}`, secret)}@${domain}`;
}

/** The ledger message a VERP address names, if it is one herald signed. */
export function readReturnPath(address: string, secrets: string | readonly string[]): { ok: true; message: number } | { ok: false; reason: string } {
  const m = /\+([0-9a-z]{1,12})-([0-9a-f]{6})-([0-9a-f]{16})@/i.exec(address.trim().replace(/^<|>$/g, ''));
  if (!m) return { ok: false, reason: 'not a herald return path (local+<id>-<key>-<mac>@domain)' };
  const [, id, k, given] = m.map((x) => x.toLowerCase()) as [string, string, string, string];
  const all = typeof secrets === 'string' ? [secrets] : secrets;
  const secret = all.find((s) => keyId(s) === k);
  if (!secret) return { ok: false, reason: `signed with a key herald does not have (key id ${k})` };
  if (!timingSafeEqual(Buffer.from(shortMac(`verp\0${id}`, secret)), Buffer.from(given))) return { ok: false, reason: 'bad signature' };
  const message = parseInt(id, 36);
  return Number.isSafeInteger(message) && message > 0 ? { ok: true, message } : { ok: false, reason: 'malformed id' };
}

/**
 * The tag in a ledger message's Message-ID, `<source>.<id>.<tag>@domain`: 48
 * bits of a MAC of the id, the same for every attempt of the row. Reports
 * that name a message by its Message-ID alone are matched against the one
 * the ledger recorded, so nobody who cannot read the messages can forge one.
 */
export function messageTag(message: number, secret: string): string {
  return shortMac(`message-id\0${message}`, secret, 12);
}
