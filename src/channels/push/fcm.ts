import type { JWT } from 'google-auth-library';
import { lazily } from '../../lazy.js';
import { UserError } from '../../errors.js';
import { replyText, type Attempt } from './attempt.js';

/**
 * Firebase Cloud Messaging, HTTP v1: one POST per device token to
 * `<api_url>/v1/projects/<project>/messages:send`, authorised by an OAuth
 * access token that google-auth-library's JWT client gets for the service
 * account (a signed assertion exchanged at the account's token_uri) and
 * keeps until it nears expiry. FCM also reaches iOS apps (through APNs, with
 * the APNs key uploaded to Firebase once), so herald needs one credential
 * for Android, iOS and FCM web clients instead of an APNs key per app.
 */

/** herald.yaml `push.fcm`. */
export interface FcmConfig {
  /** The environment variable holding the service account's JSON key. */
  service_account_env: string;
  /** Default https://fcm.googleapis.com (tests point it at 127.0.0.1). */
  api_url?: string;
}

export interface FcmOptions {
  /** Per request; a service that hangs is retried later. Default 10 s. */
  timeoutMs?: number;
}

/** What a notification shows, and where a tap goes. */
export interface FcmNotification {
  title: string;
  body: string;
  url: string | null;
  icon: string | null;
  image: string | null;
}

export type FcmSend = (s: { id: number; token: string }, n: FcmNotification) => Promise<Attempt>;

const SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
/** Where google-auth-library sends its assertion; rewritten to the key's token_uri when that differs. */
const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';
const HINT = 'create a service account key in the Firebase console (Project settings → Service accounts) and put its JSON in the variable push.fcm.service_account_env names (docs/push.md)';

interface ServiceAccount {
  project_id: string;
  client_email: string;
  private_key: string;
  token_uri?: string;
}

/** A sender for FCM tokens, with the service account read and checked now: a missing or malformed key is a UserError before anything is sent. */
export function fcmSender(config: FcmConfig, opts: FcmOptions = {}): FcmSend {
  const account = serviceAccount(config.service_account_env);
  const api = (config.api_url ?? 'https://fcm.googleapis.com').replace(/\/+$/, '');
  const url = `${api}/v1/projects/${encodeURIComponent(account.project_id)}/messages:send`;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const tokens = accessTokens(account);

  const post = (token: string, body: string) =>
    fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(timeoutMs) });

  return async (s, n) => {
    const who = `#${s.id} fcm`;
    const body = JSON.stringify(fcmMessage(s.token, n));
    try {
      let token = await tokens.get();
      let res = await post(token, body);
      if (res.status === 401) {
        // An access token revoked or expired early: get a new one, once.
        await res.body?.cancel();
        tokens.renew(token);
        token = await tokens.get();
        res = await post(token, body);
        if (res.status === 401) {
          return { status: 'failed', reply: `${who} 401 ${replyText(await res.text())} (FCM refused a fresh access token: does the service account have the Firebase Cloud Messaging API Admin role, and is the API enabled for project ${account.project_id}?)` };
        }
      }
      return classifyFcm(who, res.status, await res.text(), res.headers.get('retry-after'));
    } catch (err) {
      return tokenOrNetworkFailure(who, err);
    }
  };
}

/** The FCM v1 message: the notification for every platform, the link for web clients, and the URL as data for apps to open on a tap. */
export function fcmMessage(token: string, n: FcmNotification): { message: Record<string, unknown> } {
  const notification = { title: n.title, body: n.body, ...(n.image ? { image: n.image } : {}) };
  const webNotification = n.icon ? { notification: { icon: n.icon } } : {};
  // FCM accepts only https links for web clients.
  const link = n.url?.startsWith('https://') ? { fcm_options: { link: n.url } } : {};
  const webpush = { ...webNotification, ...link };
  return {
    message: {
      token,
      notification,
      ...(Object.keys(webpush).length > 0 ? { webpush } : {}),
      ...(n.url ? { data: { url: n.url } } : {}),
    },
  };
}

/**
 * What FCM's reply means (firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode):
 * 200 accepted; 404 or UNREGISTERED the token is gone; 429 (QUOTA_EXCEEDED)
 * and 5xx (UNAVAILABLE, INTERNAL) retry; the rest (400 INVALID_ARGUMENT,
 * 403 SENDER_ID_MISMATCH) fail.
 */
export function classifyFcm(who: string, status: number, body: string, retryAfter: string | null): Attempt {
  const error = parseError(body);
  if (status === 200) return { status: 'accepted', reply: `${who} 200 ${replyText(messageName(body))}`.trimEnd() };
  const reply = `${who} ${status} ${[error.errorCode ?? error.status, replyText(error.message)].filter(Boolean).join(' ')}`.trimEnd();
  if (status === 404 || error.errorCode === 'UNREGISTERED') return { status: 'gone', code: 404, reply: `${reply} (token gone)` };
  if (status === 429) return { status: 'retry', reply: `${reply} (rate limited${retryAfter ? `, retry after ${retryAfter}` : ''})` };
  if (status >= 500) return { status: 'retry', reply };
  return { status: 'failed', reply };
}

function parseError(body: string): { status?: string; message?: string; errorCode?: string } {
  try {
    const e = (JSON.parse(body) as { error?: { status?: unknown; message?: unknown; details?: unknown } }).error;
    if (!e || typeof e !== 'object') return {};
    const details = Array.isArray(e.details) ? (e.details as Array<{ errorCode?: unknown }>) : [];
    const errorCode = details.map((d) => d?.errorCode).find((c): c is string => typeof c === 'string');
    return {
      ...(typeof e.status === 'string' ? { status: e.status } : {}),
      ...(typeof e.message === 'string' ? { message: e.message } : {}),
      ...(errorCode ? { errorCode } : {}),
    };
  } catch {
    return { message: body };
  }
}

function messageName(body: string): string {
  try {
    const name = (JSON.parse(body) as { name?: unknown }).name;
    return typeof name === 'string' ? name : '';
  } catch {
    return '';
  }
}

/**
 * A failure before FCM answered: the token endpoint refusing the service
 * account (4xx: a revoked key or a wrong account fails every message until
 * someone fixes it) or no reply from either (retry later).
 */
function tokenOrNetworkFailure(who: string, err: unknown): Attempt {
  const e = err as { response?: { status?: number }; message?: string };
  const status = e.response?.status;
  if (status !== undefined && status >= 400 && status < 500) {
    return { status: 'failed', reply: `${who}: the token endpoint refused the service account (${status}: ${replyText(e.message)}); check push.fcm.service_account_env` };
  }
  return { status: 'retry', reply: `${who}: no reply: ${replyText(e.message ?? String(err))}` };
}

function serviceAccount(env: string): ServiceAccount {
  const raw = process.env[env];
  if (!raw) throw new UserError(`herald.yaml push.fcm.service_account_env names $${env}, which is not set`, HINT);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    throw new UserError(`$${env} is not JSON; it should hold a service account key`, HINT);
  }
  const missing = ['project_id', 'client_email', 'private_key'].filter((k) => typeof json[k] !== 'string' || json[k] === '');
  if (missing.length > 0) throw new UserError(`the service account key in $${env} has no ${missing.join(', ')}`, HINT);
  if (json.token_uri !== undefined && (typeof json.token_uri !== 'string' || !URL.canParse(json.token_uri))) {
    throw new UserError(`the service account key in $${env} has a token_uri that is not a URL`, HINT);
  }
  return json as unknown as ServiceAccount;
}

/**
 * Access tokens for the service account. The JWT client keeps its token
 * until shortly before it expires and shares one request among concurrent
 * callers; renew() drops it (after a 401) unless someone renewed already.
 */
function accessTokens(account: ServiceAccount): { get(): Promise<string>; renew(used: string): void } {
  let current = client(account);
  let last: string | undefined;
  return {
    async get() {
      const mine = current;
      const { token } = await mine.getAccessToken();
      if (!token) throw new Error('the token endpoint returned no access_token');
      if (mine === current) last = token;
      return token;
    },
    renew(used) {
      if (used === last) {
        current = client(account);
        last = undefined;
      }
    },
  };
}

/** Loaded when a project first sends through FCM (~70 ms, with gaxios and its JWT signing), not by every send that imports the push channel. */
const googleAuth = lazily<typeof import('google-auth-library')>('google-auth-library');

function client(account: ServiceAccount): JWT {
  const JWTClient = googleAuth().JWT;
  const jwt = new JWTClient({ email: account.client_email, key: account.private_key, scopes: [SCOPE] });
  const tokenUri = account.token_uri;
  if (tokenUri && tokenUri !== GOOGLE_TOKEN_URL) {
    // google-auth-library always posts to Google's token URL; the key file names where its tokens come from.
    jwt.transporter.interceptors.request.add({
      resolved: async (o) => (String(o.url) === GOOGLE_TOKEN_URL ? { ...o, url: new URL(tokenUri) } : o),
    });
  }
  return jwt;
}
