import webpush from 'web-push';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChannelFailure, type Outgoing } from '../../../src/channels/channel.js';
import { pushChannel, pushSenders } from '../../../src/channels/push/channel.js';
import { liveSubscriptions, markGone } from '../../../src/channels/push/subscriptions.js';
import type { RenderedPush } from '../../../src/render/push.js';
import { createTestDb, type TestDb } from '../../support/db.js';
import { createShop } from '../../support/shop.js';
import { fcmError, fcmPeer, trustingAgent, webPushPeer, type BrowserSubscription, type FcmPeer, type WebPushPeer } from '../../support/push.js';

const vapid = webpush.generateVAPIDKeys();
const rendered: RenderedPush = { channel: 'push', title: 'Sale', body: 'Coats −20 %', url: 'https://t.shop.example/c/tok', icon: null, image: 'https://shop.example/coat.jpg' };

describe('the push channel', () => {
  let db: TestDb;
  let web: WebPushPeer;
  let fcm: FcmPeer;
  let channel: ReturnType<typeof pushChannel>;
  const browsers = new Map<number, BrowserSubscription>();

  beforeAll(async () => {
    db = await createTestDb();
    web = await webPushPeer(vapid.publicKey);
    fcm = await fcmPeer();
    process.env.HERALD_TEST_VAPID = vapid.privateKey;
    process.env.HERALD_TEST_FCM = fcm.serviceAccount;
    for (const id of [11, 21, 22, 31, 41, 51, 61, 62]) browsers.set(id, web.subscribe());
    const sub = (id: number, customer_id: number) => ({ id, customer_id, kind: 'webpush' as const, ...browsers.get(id)! });
    await createShop(db, {
      customers: [1, 2, 3, 4, 5, 6].map((id) => ({ id, email: null })),
      push_subscriptions: [
        sub(11, 1), { id: 12, customer_id: 1, kind: 'fcm', token: 'phone-1' },
        sub(21, 2), sub(22, 2),
        sub(31, 3), { id: 32, customer_id: 3, kind: 'fcm', token: 'phone-3' },
        sub(41, 4),
        sub(51, 5),
        sub(61, 6), sub(62, 6),
      ],
    });
    const senders = pushSenders(
      { vapid: { subject: 'mailto:push@shop.example', public_key: vapid.publicKey, private_key_env: 'HERALD_TEST_VAPID' }, fcm: { service_account_env: 'HERALD_TEST_FCM', api_url: fcm.apiUrl } },
      { webpush: { agent: trustingAgent() } },
    );
    channel = pushChannel(senders, (addresses, status) => markGone(db, addresses, status));
  });
  afterAll(async () => {
    await web?.close();
    await fcm?.close();
    await db?.dispose();
  });

  async function send(customer: number, ledgerId = customer * 100) {
    const subscriptions = (await liveSubscriptions(db, 'shop', [customer])).get(customer) ?? [];
    const o: Outgoing = { ledgerId, source: { kind: 'campaign', name: 'coats' }, address: `customer:${customer}`, site: 'shop-en', customerId: customer, country: null, rendered, subscriptions };
    const handed = channel.send(o);
    return { messageId: handed.messageId, result: await handed.sent.then((reply) => ({ reply }), (err: unknown) => (err as ChannelFailure).verdict) };
  }

  it('sends to every device of the customer, the browser decrypting the exact payload, the phone through FCM', async () => {
    const { messageId, result } = await send(1);
    expect(messageId).toBe('push.100');
    expect(result).toEqual({ reply: expect.stringMatching(/^2 of 2 accepted: #11 webpush \(127\.0\.0\.1:\d+\) 201; #12 fcm 200 projects\/herald-test\/messages\/\d+$/) });
    const endpointId = browsers.get(11)!.endpoint.split('/').pop();
    expect(JSON.parse(web.deliveries.find((d) => d.id === endpointId)!.payload)).toEqual({ title: 'Sale', body: 'Coats −20 %', url: 'https://t.shop.example/c/tok', icon: null, image: 'https://shop.example/coat.jpg' });
    expect(fcm.sends.find((s) => s.message.token === 'phone-1')!.message).toMatchObject({ notification: { title: 'Sale', body: 'Coats −20 %' }, data: { url: 'https://t.shop.example/c/tok' } });
  });

  it('marks a 410 subscription gone, still sends to the others, and the next batch leaves it out', async () => {
    web.answer(browsers.get(21)!, { status: 410 });
    const { result } = await send(2);
    expect(result).toEqual({ reply: expect.stringMatching(/^1 of 2 accepted: #21 webpush \(.*\) 410 \(subscription gone\); #22 webpush \(.*\) 201$/) });
    expect((await liveSubscriptions(db, 'shop', [2])).get(2)!.map((s) => s.id)).toEqual([22]);
  });

  it('fails as an address problem when every subscription is gone, and when none is left', async () => {
    web.answer(browsers.get(31)!, { status: 404 });
    fcm.answer('phone-3', fcmError(404, 'NOT_FOUND', 'UNREGISTERED'));
    const { result } = await send(3);
    expect(result).toMatchObject({ status: 'failed', response: expect.stringMatching(/^address: no live push subscription \(#31 webpush .* 404 \(subscription gone\); #32 fcm 404 UNREGISTERED .*\(token gone\)\)$/) });
    expect(await liveSubscriptions(db, 'shop', [3])).toEqual(new Map());
    expect((await send(3)).result).toEqual({ status: 'failed', response: 'address: no live push subscription' });
  });

  it('fails when the payload is too large for the push service (413), and retries a 429 with none accepted', async () => {
    web.answer(browsers.get(41)!, { status: 413 });
    expect((await send(4)).result).toMatchObject({ status: 'failed', response: expect.stringMatching(/^0 of 1 accepted: #41 webpush .* 413 \(payload too large: shorten the push template\)$/) });
    web.answer(browsers.get(51)!, { status: 429, headers: { 'retry-after': '60' } });
    expect((await send(5)).result).toEqual({ status: 'retry', policy: false, response: expect.stringMatching(/^0 of 1 accepted: #51 webpush .* 429 \(rate limited, retry after 60\)$/) });
    // Neither is gone: the next batch still has them.
    expect([...(await liveSubscriptions(db, 'shop', [4, 5])).keys()]).toEqual([4, 5]);
  });

  it('is sent when one device took it, without retrying the other\'s temporary failure', async () => {
    web.answer(browsers.get(61)!, { status: 503 });
    const { result } = await send(6);
    expect(result).toEqual({ reply: expect.stringMatching(/^1 of 2 accepted: #61 webpush .* 503; #62 webpush .* 201$/) });
  });

  it('says which kind herald.yaml does not configure, and refuses a rendered email', async () => {
    const webOnly = pushChannel(pushSenders({ vapid: { subject: 'mailto:push@shop.example', public_key: vapid.publicKey, private_key_env: 'HERALD_TEST_VAPID' } }), () => Promise.resolve());
    const o: Outgoing = { ledgerId: 1, source: { kind: 'trigger', name: 't' }, address: 'customer:9', site: 's', customerId: 9, country: null, rendered, subscriptions: [{ id: 9, kind: 'fcm', token: 'x' }] };
    await expect(webOnly.send(o).sent).rejects.toMatchObject({ verdict: { status: 'failed', response: '0 of 1 accepted: #9 fcm: herald.yaml has no push.fcm' } });
    expect(() => webOnly.send({ ...o, rendered: { subject: 's', html: '', text: '' } as never })).toThrow('the push channel was handed a rendered email message');
  });
});
