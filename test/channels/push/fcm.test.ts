import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyFcm, fcmMessage, fcmSender, type FcmNotification } from '../../../src/channels/push/fcm.js';
import { UserError } from '../../../src/errors.js';
import { closedPort } from '../../support/ports.js';
import { fcmError, fcmPeer, type FcmPeer } from '../../support/push.js';

const note: FcmNotification = { title: 'Sale', body: 'Coats −20 %', url: 'https://t.shop.example/c/abc', icon: 'https://shop.example/i.png', image: 'https://shop.example/coat.jpg' };

describe('FCM HTTP v1', () => {
  let peer: FcmPeer;
  beforeAll(async () => {
    peer = await fcmPeer();
  });
  afterAll(() => peer?.close());

  /** A sender with a service account of its own env variable, so token caches do not mix between tests. */
  let n = 0;
  function sender() {
    const env = `HERALD_TEST_FCM_${++n}`;
    process.env[env] = peer.serviceAccount;
    return fcmSender({ service_account_env: env, api_url: peer.apiUrl });
  }

  it('gets an access token at the key\'s token_uri with a signed assertion, once, and reuses it', async () => {
    const send = sender();
    const before = peer.tokenRequests;
    const first = peer.sends.length;
    const results = await Promise.all([send({ id: 1, token: 'device-a' }, note), send({ id: 2, token: 'device-b' }, note)]);
    expect(await send({ id: 3, token: 'device-c' }, note)).toMatchObject({ status: 'accepted', reply: expect.stringMatching(/^#3 fcm 200 projects\/herald-test\/messages\/\d+$/) });
    expect(results.map((r) => r.status)).toEqual(['accepted', 'accepted']);
    expect(peer.tokenRequests - before).toBe(1);
    const sends = peer.sends.slice(first);
    expect(sends.map((s) => s.message.token).sort()).toEqual(['device-a', 'device-b', 'device-c']);
    expect(new Set(sends.map((s) => s.authorization)).size).toBe(1);
    expect(sends[0]!.project).toBe('herald-test');
  });

  it('sends the notification, the link for web clients and the URL as data for apps', async () => {
    const send = sender();
    await send({ id: 1, token: 'device-shape' }, note);
    expect(peer.sends.find((s) => s.message.token === 'device-shape')!.message).toEqual({
      token: 'device-shape',
      notification: { title: 'Sale', body: 'Coats −20 %', image: 'https://shop.example/coat.jpg' },
      webpush: { notification: { icon: 'https://shop.example/i.png' }, fcm_options: { link: 'https://t.shop.example/c/abc' } },
      data: { url: 'https://t.shop.example/c/abc' },
    });
    expect(fcmMessage('t', { title: 'a', body: 'b', url: null, icon: null, image: null })).toEqual({ message: { token: 't', notification: { title: 'a', body: 'b' } } });
    // FCM takes only https links for web clients; an app still gets the URL.
    expect(fcmMessage('t', { title: 'a', body: 'b', url: 'http://x.example/', icon: null, image: null }).message).toEqual({ token: 't', notification: { title: 'a', body: 'b' }, data: { url: 'http://x.example/' } });
  });

  it('reads UNREGISTERED and 404 as gone, INVALID_ARGUMENT as failed, 429 and 503 as retry', async () => {
    const send = sender();
    const cases = [
      ['unregistered', fcmError(404, 'NOT_FOUND', 'UNREGISTERED'), { status: 'gone', code: 404, reply: '#1 fcm 404 UNREGISTERED NOT_FOUND from the test peer (token gone)' }],
      ['unregistered-400', fcmError(400, 'INVALID_ARGUMENT', 'UNREGISTERED'), { status: 'gone', code: 404 }],
      ['invalid', fcmError(400, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT'), { status: 'failed', reply: '#1 fcm 400 INVALID_ARGUMENT INVALID_ARGUMENT from the test peer' }],
      ['mismatch', fcmError(403, 'PERMISSION_DENIED', 'SENDER_ID_MISMATCH'), { status: 'failed' }],
      ['quota', { ...fcmError(429, 'RESOURCE_EXHAUSTED', 'QUOTA_EXCEEDED'), headers: { 'retry-after': '30' } }, { status: 'retry', reply: expect.stringMatching(/ \(rate limited, retry after 30\)$/) }],
      ['unavailable', fcmError(503, 'UNAVAILABLE', 'UNAVAILABLE'), { status: 'retry' }],
    ] as const;
    for (const [token, answer, expected] of cases) {
      peer.answer(token, answer);
      expect(await send({ id: 1, token }, note), token).toMatchObject(expected);
    }
  });

  it('after a 401 gets a new access token once and sends again; a second 401 fails and says what to check', async () => {
    const send = sender();
    expect((await send({ id: 1, token: 'device-401' }, note)).status).toBe('accepted');
    const tokens = peer.tokenRequests;
    peer.revokeTokens();
    expect((await send({ id: 1, token: 'device-401' }, note)).status).toBe('accepted');
    expect(peer.tokenRequests).toBe(tokens + 1);
    // FCM refusing every token (the API disabled, the role missing): one new token, then a clear failure.
    peer.answer('device-401-always', fcmError(401, 'UNAUTHENTICATED', 'THIRD_PARTY_AUTH_ERROR'));
    const failed = await send({ id: 2, token: 'device-401-always' }, note);
    expect(failed).toMatchObject({ status: 'failed', reply: expect.stringMatching(/^#2 fcm 401 .*\(FCM refused a fresh access token: does the service account have the Firebase Cloud Messaging API Admin role, and is the API enabled for project herald-test\?\)$/) });
    expect(peer.tokenRequests).toBe(tokens + 2);
    expect(classifyFcm('#1 fcm', 401, JSON.stringify({ error: { status: 'UNAUTHENTICATED' } }), null).status).toBe('failed');
  });

  it('fails when the token endpoint refuses the key, and retries when FCM does not answer', async () => {
    const other = await fcmPeer('other-project');
    try {
      // A key the token endpoint does not know: its signature does not verify there.
      const forged = { ...JSON.parse(other.serviceAccount), token_uri: JSON.parse(peer.serviceAccount).token_uri, client_email: JSON.parse(peer.serviceAccount).client_email };
      process.env.HERALD_TEST_FCM_FORGED = JSON.stringify(forged);
      const refused = await fcmSender({ service_account_env: 'HERALD_TEST_FCM_FORGED', api_url: peer.apiUrl })({ id: 4, token: 'x' }, note);
      expect(refused).toMatchObject({ status: 'failed', reply: expect.stringMatching(/^#4 fcm: the token endpoint refused the service account \(400: invalid_grant: Invalid JWT Signature\.\)/) });
      process.env.HERALD_TEST_FCM_DOWN = peer.serviceAccount;
      const down = await fcmSender({ service_account_env: 'HERALD_TEST_FCM_DOWN', api_url: `http://127.0.0.1:${await closedPort()}` })({ id: 5, token: 'x' }, note);
      expect(down).toMatchObject({ status: 'retry', reply: expect.stringMatching(/^#5 fcm: no reply: /) });
    } finally {
      await other.close();
    }
  });

  it('refuses to start without a usable service account key', () => {
    expect(() => fcmSender({ service_account_env: 'HERALD_TEST_FCM_UNSET' })).toThrow(UserError);
    expect(() => fcmSender({ service_account_env: 'HERALD_TEST_FCM_UNSET' })).toThrow('herald.yaml push.fcm.service_account_env names $HERALD_TEST_FCM_UNSET, which is not set');
    process.env.HERALD_TEST_FCM_BAD = '{"type": "service_account"';
    expect(() => fcmSender({ service_account_env: 'HERALD_TEST_FCM_BAD' })).toThrow('$HERALD_TEST_FCM_BAD is not JSON; it should hold a service account key');
    process.env.HERALD_TEST_FCM_PARTIAL = '{"type": "service_account", "project_id": "p"}';
    expect(() => fcmSender({ service_account_env: 'HERALD_TEST_FCM_PARTIAL' })).toThrow('the service account key in $HERALD_TEST_FCM_PARTIAL has no client_email, private_key');
  });
});
