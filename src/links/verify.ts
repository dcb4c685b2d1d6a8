import { autoLoginTokenOf, verifyAutoLoginToken } from './auto-login.js';
import { readShortToken, SHORT_PATH, shortSetKey } from './short.js';
import { keyId } from './token.js';
import { readReturnPath, readTrackingToken, TRACKING_PATHS, type TrackingLink } from './tracking.js';

/**
 * Every kind of link and address herald makes, told apart and checked, for
 * support (`herald token verify`) and for anyone holding the secrets: an
 * auto-login link or token, an open, click or unsubscribe link or token (the
 * legacy `/unsubscribe/` link too), a short link (`/s/`, SMS and push) or
 * its token, and a VERP return path. Pure: no
 * database, no clock but `now`. Each is verified against every secret
 * (the current one and tracking.previous_secret_envs), picked by the key id
 * it carries, so rotation never breaks what is already in inboxes.
 */
export type VerifiedLink =
  | { kind: 'auto-login'; customer: number; site: string; expiresAt: Date }
  | TrackingLink
  /** A short link (links/short.ts): a click on the message's own link set, `push` for a push notification's tap. */
  | { kind: 'click'; message: number; set: string; index: number; short: true; push: boolean }
  | { kind: 'return-path'; message: number };

export type LinkKind = VerifiedLink['kind'];

export type LinkVerification =
  | {
      ok: true;
      link: VerifiedLink;
      /** The key id it names (absent for a token from before key ids), and whether that is the current secret's. */
      keyId?: string;
      currentKey: boolean;
    }
  | { ok: false; reason: string };

const TRACKING_KIND: Record<string, TrackingLink['kind'][]> = {
  [TRACKING_PATHS.open]: ['open'],
  [TRACKING_PATHS.click]: ['click'],
  [TRACKING_PATHS.unsubscribe]: ['unsubscribe', 'unsubscribe-recipient'],
  [TRACKING_PATHS.legacyUnsubscribe]: ['unsubscribe', 'unsubscribe-recipient'],
};

/** A tracking link's path: the kind, the token, and for a click the link's index. */
const PATH = new RegExp(`/(${Object.values(TRACKING_PATHS).join('|')})/([^/?#]+)(?:/([^/?#]+))?/?$`);
const SHORT = new RegExp(`/${SHORT_PATH}/([^/?#]+)/?$`);
/** A short token alone: base64url without the dot every JSON token has. */
const BARE_SHORT = /^[A-Za-z0-9_-]{10,32}$/;

/** What `text` is, and whether herald signed it: a link, a bare token or a return-path address. */
export function verifyLink(text: string, secrets: string | readonly string[], now: Date = new Date()): LinkVerification {
  const all = typeof secrets === 'string' ? [secrets] : [...secrets];
  if (all.length === 0) return { ok: false, reason: 'no secret to verify against' };
  const t = text.trim().replace(/^<(.*)>$/, '$1');
  if (!t) return { ok: false, reason: 'nothing to verify' };
  const isUrl = /^[a-z][a-z0-9+.-]*:\/\//i.test(t);
  if (!isUrl && t.includes('@')) {
    const r = readReturnPath(t.replace(/^mailto:/i, ''), all);
    if (!r.ok) return r;
    const k = /-([0-9a-f]{6})-[0-9a-f]{16}@/i.exec(t)![1]!.toLowerCase();
    return { ok: true, link: { kind: 'return-path', message: r.message }, keyId: k, currentKey: k === keyId(all[0]!) };
  }
  if (!isUrl) return BARE_SHORT.test(t) ? verifyShort(t, all) : verifyToken(t, all, now);
  let url: URL;
  try {
    url = new URL(t);
  } catch {
    return { ok: false, reason: 'not a link herald can read' };
  }
  const short = SHORT.exec(url.pathname);
  if (short) return verifyShort(decodeURIComponent(short[1]!), all);
  const path = PATH.exec(url.pathname);
  if (path) {
    const [, segment, token, index] = path as unknown as [string, string, string, string | undefined];
    const r = verifyToken(decodeURIComponent(token), all, now, undefined, index);
    if (r.ok && !TRACKING_KIND[segment]!.includes(r.link.kind as TrackingLink['kind'])) {
      // A token moved into another kind of link: genuine, but not what this link does.
      return { ok: false, reason: `a ${r.link.kind} token in a /${segment}/ link: the link was altered` };
    }
    return r;
  }
  if (url.searchParams.has('token')) {
    const found = autoLoginTokenOf(t);
    return found.ok ? verifyToken(found.token, all, now, 'auto-login') : found;
  }
  return { ok: false, reason: 'not a link herald makes: no token= parameter and no /o/, /c/, /s/, /u/ or /unsubscribe/ path' };
}

/** A bare token, by the purpose its payload names; `expect` refuses any other (an auto-login link holds only a login token). */
function verifyToken(token: string, secrets: string[], now: Date, expect?: 'auto-login', index?: string): LinkVerification {
  const payload = peek(token);
  if (!payload) return { ok: false, reason: 'malformed token' };
  const k = typeof payload.k === 'string' ? payload.k : undefined;
  const signed = { ...(k ? { keyId: k } : {}), currentKey: k === undefined ? false : k === keyId(secrets[0]!) };
  if (payload.p === 'login') {
    const r = verifyAutoLoginToken(token, secrets, now);
    if (!r.ok) return r;
    return { ok: true, link: { kind: 'auto-login', customer: r.login.customerId, site: r.login.site, expiresAt: r.login.expiresAt }, ...signed };
  }
  if (expect === 'auto-login') return { ok: false, reason: 'not an auto-login token' };
  const r = readTrackingToken(token, secrets, index);
  if (!r.ok) return r.reason === 'bad signature' ? { ok: false, reason: 'bad signature: the token was altered, or signed with another secret' } : r;
  return { ok: true, link: r.link, ...signed };
}

function verifyShort(token: string, secrets: string[]): LinkVerification {
  const r = readShortToken(token, secrets);
  if (!r.ok) return r.reason === 'bad signature' ? { ok: false, reason: 'bad signature: the token was altered, or signed with another secret' } : r;
  const { message, index, push } = r.link;
  return { ok: true, link: { kind: 'click', message, set: shortSetKey(message), index, short: true, push }, keyId: r.keyId, currentKey: r.keyId === keyId(secrets[0]!) };
}

/** The payload, unverified: only to choose which verifier decides. */
function peek(token: string): Record<string, unknown> | undefined {
  const [body] = token.split('.');
  try {
    const v: unknown = JSON.parse(Buffer.from(body ?? '', 'base64url').toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
