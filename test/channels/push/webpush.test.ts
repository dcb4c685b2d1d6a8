import webpush from 'web-push';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyWebPush, webPushSender, WEB_PUSH_MAX_PAYLOAD_BYTES, type WebPushSend } from '../../../src/channels/push/webpush.js';
import { UserError } from '../../../src/errors.js';
import { closedPort } from '../../support/ports.js';
import { trustingAgent, webPushPeer, type WebPushPeer } from '../../support/push.js';

const vapid = webpush.generateVAPIDKeys();
const config = { subject: 'mailto:push@shop.example', public_key: vapid.publicKey, private_key_env: 'HERALD_TEST_VAPID_PRIVATE_KEY' };

describe('web push', () => {
  let peer: WebPushPeer;
  let send: WebPushSend;
  beforeAll(async () => {
    process.env.HERALD_TEST_VAPID_PRIVATE_KEY = vapid.privateKey;
    peer = await webPushPeer(vapid.publicKey);
    send = webPushSender(config, { agent: trustingAgent(), ttlSeconds: 3600, urgency: 'high' });
  });
  afterAll(() => peer?.close());

  it('encrypts for the subscription\'s keys: the service decrypts the exact payload, under a VAPID token for its origin', async () => {
    const s = peer.subscribe();
    const payload = JSON.stringify({ title: 'Ünïcode 🛍', body: 'Wool coats −20 %', url: 'https://t.shop.example/c/abc', icon: null, image: null });
    const a = await send({ id: 7, ...s }, payload);
    expect(a).toEqual({ status: 'accepted', reply: '#7 webpush (127.0.0.1:' + new URL(peer.origin).port + ') 201' });
    expect(peer.refused).toEqual([]);
    const d = peer.deliveries.at(-1)!;
    expect(d.payload).toBe(payload);
    expect(d).toMatchObject({ ttl: '3600', urgency: 'high', claims: { aud: peer.origin, sub: 'mailto:push@shop.example' } });
  });

  it('carries the largest payload validate allows in one message', async () => {
    const s = peer.subscribe();
    const payload = 'x'.repeat(WEB_PUSH_MAX_PAYLOAD_BYTES);
    expect((await send({ id: 8, ...s }, payload)).status).toBe('accepted');
    expect(peer.deliveries.at(-1)!.payload).toBe(payload);
  });

  it('reads 410 and 404 as gone, 413 as failed, 429 and 5xx as retry (with Retry-After)', async () => {
    const answers = [
      [410, { status: 'gone', code: 410 }],
      [404, { status: 'gone', code: 404 }],
      [413, { status: 'failed' }],
      [429, { status: 'retry' }],
      [503, { status: 'retry' }],
      [400, { status: 'failed' }],
    ] as const;
    for (const [status, expected] of answers) {
      const s = peer.subscribe();
      peer.answer(s, { status, headers: status === 429 ? { 'retry-after': '120' } : {} });
      const a = await send({ id: status, ...s }, '{}');
      expect(a, String(status)).toMatchObject(expected);
      expect(a.reply, String(status)).toContain(`#${status} webpush (127.0.0.1:`);
    }
    const s = peer.subscribe();
    peer.answer(s, { status: 429, headers: { 'retry-after': '120' } });
    expect((await send({ id: 1, ...s }, '{}')).reply).toMatch(/ 429 \(rate limited, retry after 120\)$/);
    peer.answer(s, { status: 413 });
    expect((await send({ id: 1, ...s }, '{}')).reply).toMatch(/ 413 \(payload too large: shorten the push template\)$/);
  });

  it('retries when nothing answers, and fails a subscription it cannot encrypt for, without sending', async () => {
    const s = peer.subscribe();
    const down = await send({ id: 1, ...s, endpoint: `https://127.0.0.1:${await closedPort()}/push/1` }, '{}');
    expect(down.status).toBe('retry');
    expect(down.reply).toMatch(/^#1 webpush \(127\.0\.0\.1:\d+\): no reply: .*ECONNREFUSED/);
    const before = peer.deliveries.length;
    expect(await send({ id: 2, ...s, p256dh: 'AAAA' }, '{}')).toEqual({ status: 'failed', reply: `#2 webpush (${new URL(peer.origin).host}): p256dh is not a P-256 public key (65 bytes, base64url)` });
    expect(await send({ id: 3, ...s, endpoint: 'http://127.0.0.1/push' }, '{}')).toMatchObject({ status: 'failed', reply: expect.stringContaining('not an https URL') });
    expect(peer.deliveries.length).toBe(before);
  });

  it('never names the endpoint in a reply: it is a capability', () => {
    const a = classifyWebPush('#1 webpush (push.example)', 201, {}, 'ok');
    expect(a).toEqual({ status: 'accepted', reply: '#1 webpush (push.example) 201 ok' });
  });

  it('refuses to start without the private key, or with a malformed one, saying how to make one', () => {
    const unset = () => webPushSender({ ...config, private_key_env: 'HERALD_TEST_VAPID_UNSET' });
    expect(unset).toThrow(UserError);
    expect(unset).toThrow('herald.yaml push.vapid.private_key_env names $HERALD_TEST_VAPID_UNSET, which is not set');
    try {
      unset();
    } catch (err) {
      expect((err as UserError).hint).toContain('npx web-push generate-vapid-keys');
    }
    process.env.HERALD_TEST_VAPID_SHORT = 'c2hvcnQ';
    expect(() => webPushSender({ ...config, private_key_env: 'HERALD_TEST_VAPID_SHORT' })).toThrow(/^herald.yaml push.vapid is not usable: /);
    expect(() => webPushSender({ ...config, subject: 'push@shop.example' })).toThrow(/^herald.yaml push.vapid is not usable: /);
  });
});
