import { createDecipheriv, createECDH, createPublicKey, generateKeyPairSync, hkdfSync, randomBytes, verify, type ECDH } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Agent, createServer as createHttpsServer } from 'node:https';

/**
 * Push services on 127.0.0.1, built from the RFCs rather than from the
 * libraries herald uses, so a bug on herald's side does not cancel out:
 *
 * - a web push service (RFC 8030) over TLS that checks the VAPID
 *   Authorization header (RFC 8292: an ES256 JWT for this origin, signed by
 *   the key in k=) and decrypts the aes128gcm payload (RFC 8291) with the
 *   private key of a subscription made here, as a browser would;
 * - FCM HTTP v1 with its OAuth token endpoint, which verifies the service
 *   account's signed assertion (RS256) and hands out access tokens.
 *
 * Both answer what a test asks for and record what they received.
 */

const TLS_DIR = new URL('./tls/', import.meta.url);

/** An HTTPS agent that trusts the test certificate (test/support/tls), for web push to 127.0.0.1. */
export function trustingAgent(): Agent {
  return new Agent({ ca: readFileSync(new URL('cert.pem', TLS_DIR)) });
}

/** A browser's subscription: what PushManager.subscribe() gives the shop, and the private half it keeps. */
export interface BrowserSubscription {
  endpoint: string;
  p256dh: string;
  auth: string;
}

export interface WebPushDelivery {
  /** The subscription's endpoint path id. */
  id: string;
  /** The decrypted payload, exactly as the service worker would read it. */
  payload: string;
  ttl: string | undefined;
  urgency: string | undefined;
  /** The VAPID JWT's claims, verified. */
  claims: { aud: string; exp: number; sub: string };
  status: number;
}

export interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface WebPushPeer {
  origin: string;
  /** A new subscription, as a browser makes one: ECDH P-256 keys and 16 random auth bytes. */
  subscribe(): BrowserSubscription;
  /** What the service answers for this subscription from now on (default 201). */
  answer(s: BrowserSubscription, a: Answer): void;
  /** Every request that passed VAPID and decryption, in order. */
  deliveries: WebPushDelivery[];
  /** Requests refused for a bad VAPID header or a payload that did not decrypt, with why. */
  refused: string[];
  close(): Promise<void>;
}

/** A web push service that accepts only VAPID tokens signed by `vapidPublicKey` (base64url, uncompressed P-256 point). */
export async function webPushPeer(vapidPublicKey: string): Promise<WebPushPeer> {
  const subs = new Map<string, { keys: ECDH; auth: Buffer; answer: Answer }>();
  const deliveries: WebPushDelivery[] = [];
  const refused: string[] = [];
  let origin = '';
  const server = createHttpsServer({ cert: readFileSync(new URL('cert.pem', TLS_DIR)), key: readFileSync(new URL('key.pem', TLS_DIR)) }, (req, res) => {
    void body(req).then((raw) => {
      const id = /^\/push\/([0-9a-f]+)$/.exec(req.url ?? '')?.[1];
      const sub = id ? subs.get(id) : undefined;
      if (req.method !== 'POST' || !id || !sub) return reply(res, { status: 404 });
      let claims: WebPushDelivery['claims'];
      let payload: string;
      try {
        claims = checkVapid(req.headers.authorization, vapidPublicKey, origin);
        if (req.headers['content-encoding'] !== 'aes128gcm') throw new Error(`Content-Encoding ${String(req.headers['content-encoding'])}`);
        payload = decryptAes128gcm(raw, sub.keys, sub.auth);
      } catch (err) {
        refused.push((err as Error).message);
        return reply(res, { status: 400, body: (err as Error).message });
      }
      deliveries.push({ id, payload, ttl: header(req, 'ttl'), urgency: header(req, 'urgency'), claims, status: sub.answer.status });
      reply(res, sub.answer);
    });
  });
  const port = await listen(server);
  origin = `https://127.0.0.1:${port}`;
  return {
    origin,
    subscribe() {
      const keys = createECDH('prime256v1');
      keys.generateKeys();
      const auth = randomBytes(16);
      const id = randomBytes(8).toString('hex');
      subs.set(id, { keys, auth, answer: { status: 201 } });
      return { endpoint: `${origin}/push/${id}`, p256dh: keys.getPublicKey().toString('base64url'), auth: auth.toString('base64url') };
    },
    answer(s, a) {
      subs.get(s.endpoint.split('/').pop()!)!.answer = a;
    },
    deliveries,
    refused,
    close: () => close(server),
  };
}

/** RFC 8292: `vapid t=<ES256 JWT>, k=<public key>`; the JWT's aud is the push service's origin and it has not expired. */
function checkVapid(authorization: string | undefined, expectedKey: string, origin: string): WebPushDelivery['claims'] {
  const m = /^vapid t=([\w-]+)\.([\w-]+)\.([\w-]+), k=([\w-]+)$/.exec(authorization ?? '');
  if (!m) throw new Error(`no VAPID Authorization header: ${String(authorization)}`);
  const [, h, p, sig, k] = m as unknown as [string, string, string, string, string];
  if (k !== expectedKey) throw new Error('VAPID k= is not the application server key');
  const point = Buffer.from(k, 'base64url');
  const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33, 65).toString('base64url') }, format: 'jwk' });
  if (JSON.parse(Buffer.from(h, 'base64url').toString()).alg !== 'ES256') throw new Error('VAPID JWT is not ES256');
  if (!verify('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(sig, 'base64url'))) throw new Error('VAPID JWT signature does not verify');
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as WebPushDelivery['claims'];
  if (claims.aud !== origin) throw new Error(`VAPID aud ${claims.aud} is not ${origin}`);
  if (!(claims.exp > Date.now() / 1000)) throw new Error('VAPID JWT expired');
  return claims;
}

/**
 * RFC 8291 §3.4 and RFC 8188, one record: salt(16) rs(4) idlen(1) keyid(the
 * sender's public key) ciphertext. The key and nonce come from the ECDH
 * secret and the auth secret through HKDF; the plaintext ends in the 0x02
 * delimiter of a last record, then optional zero padding.
 */
function decryptAes128gcm(body: Buffer, ua: ECDH, authSecret: Buffer): string {
  const salt = body.subarray(0, 16);
  const idlen = body[20]!;
  const asPublic = body.subarray(21, 21 + idlen);
  const ciphertext = body.subarray(21 + idlen);
  const ecdhSecret = ua.computeSecret(asPublic);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), ua.getPublicKey(), asPublic]);
  const ikm = Buffer.from(hkdfSync('sha256', ecdhSecret, authSecret, keyInfo, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
  const plain = Buffer.concat([decipher.update(ciphertext.subarray(0, ciphertext.length - 16)), decipher.final()]);
  let end = plain.length - 1;
  while (end >= 0 && plain[end] === 0) end--;
  if (plain[end] !== 2) throw new Error('no last-record delimiter');
  return plain.subarray(0, end).toString('utf8');
}

export interface FcmSendRequest {
  project: string;
  authorization: string | undefined;
  message: { token: string; [k: string]: unknown };
}

export interface FcmPeer {
  /** push.fcm.api_url */
  apiUrl: string;
  /** The service account's JSON key, its token_uri on this peer. */
  serviceAccount: string;
  projectId: string;
  /** Assertions verified and exchanged for an access token. */
  tokenRequests: number;
  sends: FcmSendRequest[];
  /** What messages:send answers for a device token from now on (default 200 with a message name). */
  answer(token: string, a: Answer): void;
  /** Makes FCM refuse every access token issued so far with 401, as a revoked one. */
  revokeTokens(): void;
  close(): Promise<void>;
}

export async function fcmPeer(projectId = 'herald-test'): Promise<FcmPeer> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const clientEmail = `herald@${projectId}.iam.gserviceaccount.com`;
  const issued = new Set<string>();
  const answers = new Map<string, Answer>();
  const sends: FcmSendRequest[] = [];
  let tokenRequests = 0;
  let sent = 0;
  const server = createHttpServer((req, res) => {
    void body(req).then((raw) => {
      if (req.method === 'POST' && req.url === '/token') {
        const form = new URLSearchParams(raw.toString());
        if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return reply(res, { status: 400, body: JSON.stringify({ error: 'unsupported_grant_type' }) });
        const [h, p, sig] = (form.get('assertion') ?? '').split('.') as [string, string, string];
        const claims = JSON.parse(Buffer.from(p ?? '', 'base64url').toString() || '{}') as { iss?: string; scope?: string; exp?: number };
        const ok =
          sig !== undefined &&
          verify('RSA-SHA256', Buffer.from(`${h}.${p}`), publicKey, Buffer.from(sig, 'base64url')) &&
          claims.iss === clientEmail &&
          (claims.scope ?? '').split(' ').includes('https://www.googleapis.com/auth/firebase.messaging') &&
          (claims.exp ?? 0) > Date.now() / 1000;
        if (!ok) return reply(res, { status: 400, body: JSON.stringify({ error: 'invalid_grant', error_description: 'Invalid JWT Signature.' }) });
        tokenRequests++;
        const token = `ya29.${randomBytes(12).toString('hex')}`;
        issued.add(token);
        return reply(res, { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ access_token: token, expires_in: 3599, token_type: 'Bearer' }) });
      }
      const project = /^\/v1\/projects\/([^/]+)\/messages:send$/.exec(req.url ?? '')?.[1];
      if (req.method !== 'POST' || !project) return reply(res, { status: 404 });
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (!bearer || !issued.has(bearer)) {
        return reply(res, { status: 401, body: JSON.stringify({ error: { code: 401, message: 'Request had invalid authentication credentials.', status: 'UNAUTHENTICATED' } }) });
      }
      const { message } = JSON.parse(raw.toString()) as { message: FcmSendRequest['message'] };
      sends.push({ project, authorization: req.headers.authorization, message });
      const a = answers.get(message.token);
      reply(res, a ?? { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: `projects/${project}/messages/${++sent}` }) });
    });
  });
  const port = await listen(server);
  const base = `http://127.0.0.1:${port}`;
  return {
    apiUrl: base,
    projectId,
    serviceAccount: JSON.stringify({
      type: 'service_account',
      project_id: projectId,
      private_key_id: randomBytes(20).toString('hex'),
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }),
      client_email: clientEmail,
      token_uri: `${base}/token`,
    }),
    get tokenRequests() {
      return tokenRequests;
    },
    sends,
    answer(token, a) {
      answers.set(token, a);
    },
    revokeTokens() {
      issued.clear();
    },
    close: () => close(server),
  };
}

/** An FCM error reply as the v1 API writes it. */
export function fcmError(code: number, status: string, errorCode?: string): Answer {
  const details = errorCode ? [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode }] : [];
  return { status: code, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ error: { code, message: `${status} from the test peer`, status, details } }) };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function body(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function reply(res: ServerResponse, a: Answer): void {
  res.writeHead(a.status, a.headers ?? {});
  res.end(a.body ?? '');
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as { port: number }).port;
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((r) => server.close(() => r()));
}
