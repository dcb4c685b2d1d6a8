import type { Agent } from 'node:https';
import { lazily } from '../../lazy.js';
import type WebPush from 'web-push';
import { UserError } from '../../errors.js';
import { replyText, type Attempt } from './attempt.js';

/**
 * Web push (RFC 8030) with VAPID (RFC 8292) through the `web-push` library:
 * it encrypts the payload for the browser's keys (RFC 8291, aes128gcm),
 * signs the VAPID token, and POSTs to the subscription's endpoint. This file
 * reads herald.yaml's push.vapid and classifies what the push service says.
 */

/** herald.yaml `push.vapid`. */
export interface VapidConfig {
  /** A mailto: or https: URL the push service can reach the sender at. */
  subject: string;
  /** The application server key browsers subscribed with, base64url. */
  public_key: string;
  /** The environment variable holding the private key. */
  private_key_env: string;
}

export interface WebPushOptions {
  /** How long the push service keeps a notification for an offline device. Default a day: an offer older than that is noise. */
  ttlSeconds?: number;
  urgency?: 'very-low' | 'low' | 'normal' | 'high';
  /** Socket timeout; a service that hangs is retried later. Default 10 s. */
  timeoutMs?: number;
  /** The HTTPS agent (tests trust their own certificate with it). */
  agent?: Agent;
}

export type WebPushSubscription = { id: number; endpoint: string; p256dh: string; auth: string };
export type WebPushSend = (s: WebPushSubscription, payload: string) => Promise<Attempt>;

/**
 * The largest payload one web push message carries: push services take 4096
 * bytes of encrypted body, of which the aes128gcm header (86 bytes), the
 * AEAD tag (16) and the padding delimiter (1) are not the payload.
 */
export const WEB_PUSH_MAX_PAYLOAD_BYTES = 4096 - 86 - 16 - 1;

/** Loaded when a project first sends web push (~50 ms, with its crypto dependencies), not by every send that imports the push channel. */
const webpushLibrary = lazily<typeof WebPush>('web-push');

const VAPID_HINT = 'generate a key pair with `npx web-push generate-vapid-keys`; put the public key in herald.yaml push.vapid.public_key and the private key in the variable push.vapid.private_key_env names (docs/push.md)';

/** A sender for web push subscriptions, with the VAPID keys checked now: a missing or bad key is a UserError before anything is sent. */
export function webPushSender(vapid: VapidConfig, opts: WebPushOptions = {}): WebPushSend {
  const privateKey = process.env[vapid.private_key_env];
  if (!privateKey) throw new UserError(`herald.yaml push.vapid.private_key_env names $${vapid.private_key_env}, which is not set`, VAPID_HINT);
  const webpush = webpushLibrary();
  const vapidDetails = { subject: vapid.subject, publicKey: vapid.public_key, privateKey };
  try {
    // Checks the subject and both keys the way sending will, without sending.
    webpush.getVapidHeaders('https://push.invalid', vapid.subject, vapid.public_key, privateKey, 'aes128gcm');
  } catch (err) {
    throw new UserError(`herald.yaml push.vapid is not usable: ${(err as Error).message}`, VAPID_HINT);
  }
  const options = {
    vapidDetails,
    TTL: opts.ttlSeconds ?? 86_400,
    urgency: opts.urgency ?? 'normal',
    timeout: opts.timeoutMs ?? 10_000,
    contentEncoding: 'aes128gcm' as const,
    ...(opts.agent ? { agent: opts.agent } : {}),
  };
  return async (s, payload) => {
    const who = `#${s.id} webpush (${hostOf(s.endpoint)})`;
    const problem = unusable(s);
    if (problem) return { status: 'failed', reply: `${who}: ${problem}` };
    try {
      const r = await webpush.sendNotification({ endpoint: s.endpoint, keys: { p256dh: s.p256dh, auth: s.auth } }, payload, options);
      return classifyWebPush(who, r.statusCode, r.headers, r.body);
    } catch (err) {
      if (err instanceof webpush.WebPushError) return classifyWebPush(who, err.statusCode, err.headers, err.body);
      // No reply: refused, reset, timed out. The service may be back later.
      return { status: 'retry', reply: `${who}: no reply: ${(err as Error).message}` };
    }
  };
}

/**
 * What a push service's status means (RFC 8030 §5, §8): 2xx accepted; 404
 * and 410 the subscription is gone; 413 the payload is too big (the
 * template's fault, validate warns first); 429 too many (retry, after
 * Retry-After); 5xx retry; anything else (400 malformed, 401/403 VAPID not
 * accepted for this subscription) fails.
 */
export function classifyWebPush(who: string, status: number, headers: Record<string, string | string[] | undefined>, body: string | undefined): Attempt {
  const text = replyText(body);
  const reply = `${who} ${status}${text ? ` ${text}` : ''}`;
  if (status >= 200 && status < 300) return { status: 'accepted', reply };
  if (status === 404 || status === 410) return { status: 'gone', code: status, reply: `${reply} (subscription gone)` };
  if (status === 413) return { status: 'failed', reply: `${reply} (payload too large: shorten the push template)` };
  if (status === 429) {
    const after = headers['retry-after'];
    return { status: 'retry', reply: `${reply} (rate limited${after ? `, retry after ${String(after)}` : ''})` };
  }
  if (status >= 500) return { status: 'retry', reply };
  return { status: 'failed', reply };
}

/** What is wrong with a subscription, if anything: an https endpoint, and for encryption a P-256 point and a 16-byte secret. */
function unusable(s: WebPushSubscription): string | undefined {
  if (hostOf(s.endpoint) === 'not a URL' || !s.endpoint.startsWith('https://')) return 'the endpoint is not an https URL';
  if (Buffer.from(s.p256dh, 'base64url').length !== 65) return 'p256dh is not a P-256 public key (65 bytes, base64url)';
  if (Buffer.from(s.auth, 'base64url').length < 16) return 'auth is not a 16-byte secret (base64url)';
  return undefined;
}

function hostOf(endpoint: string): string {
  try {
    return new URL(endpoint).host;
  } catch {
    return 'not a URL';
  }
}
