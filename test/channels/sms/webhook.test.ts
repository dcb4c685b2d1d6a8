import { describe, expect, it } from 'vitest';
import { ChannelFailure, type Verdict } from '../../../src/channels/channel.js';
import { fill, webhookProvider } from '../../../src/channels/sms/webhook.js';
import { UserError } from '../../../src/errors.js';
import { useCleanups } from '../../support/cleanup.js';
import { webhookPeer } from '../../support/twilio.js';

const cleanup = useCleanups();

const body = { recipient: '{{ to }}', message: { text: '{{text}}', sender: '{{ from }}' }, tags: ['herald', 'to {{ to }}'], priority: 1 };

async function setUp(o: { idField?: string } = {}) {
  const peer = await webhookPeer();
  cleanup(() => peer.close());
  const provider = webhookProvider({ url: peer.url, authorization: 'Bearer s3cret', body, ...o, idField: o.idField ?? '/data/id' });
  return { peer, provider };
}

const message = { to: '+4915123456789', from: 'SHOP', text: 'He said "hi" {{ to }} \\ \u2019 {{ text }}' };

async function verdictOf(p: Promise<unknown>): Promise<Verdict> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ChannelFailure);
  return (err as ChannelFailure).verdict;
}

describe('the generic webhook provider', () => {
  it('posts the mapped body with the auth header and reads the id where configured', async () => {
    const { peer, provider } = await setUp();
    expect(await provider.send(message)).toEqual({ id: 'msg-1', response: 'webhook 202 msg-1' });
    expect(peer.requests[0]!.headers.authorization).toBe('Bearer s3cret');
    expect(peer.requests[0]!.headers['content-type']).toBe('application/json');
    // The text is a JSON string, escaped; placeholders inside the values are never substituted again.
    expect(peer.requests[0]!.body).toEqual({
      recipient: '+4915123456789',
      message: { text: message.text, sender: 'SHOP' },
      tags: ['herald', 'to +4915123456789'],
      priority: 1,
    });
  });

  it('reads a plain field name too', async () => {
    const { peer, provider } = await setUp({ idField: 'messageId' });
    peer.next({ status: 200, body: { messageId: 77 } });
    expect(await provider.send(message)).toEqual({ id: '77', response: 'webhook 200 77' });
  });

  it('retries 408, 429 and 5xx; fails other 4xx', async () => {
    const { peer, provider } = await setUp();
    peer.next({ status: 429, body: { error: 'slow down' }, headers: { 'retry-after': '12' } });
    expect(await verdictOf(provider.send(message))).toEqual({ status: 'retry', response: 'webhook 429 {"error":"slow down"}', policy: false, retryAfter: 12 });
    peer.next({ status: 408, body: '' });
    expect((await verdictOf(provider.send(message))).status).toBe('retry');
    peer.next({ status: 502, body: 'bad gateway' });
    expect((await verdictOf(provider.send(message))).status).toBe('retry');
    peer.next({ status: 422, body: { error: 'invalid' } });
    expect(await verdictOf(provider.send(message))).toEqual({ status: 'failed', response: 'webhook 422 {"error":"invalid"}' });
  });

  it('takes a 2xx without an id as sent, saying so', async () => {
    const { peer, provider } = await setUp();
    peer.next({ status: 200, body: { ok: true } });
    expect(await provider.send(message)).toEqual({ id: '', response: 'webhook 200 without an id at /data/id: {"ok":true}' });
  });

  it('refuses a body with any other placeholder when made', () => {
    expect(() => webhookProvider({ url: 'http://127.0.0.1:1/', body: { to: '{{ to }}', who: '{{ customer.email }}' } })).toThrow(UserError);
  });

  it('fills only strings, at any depth, leaving other values as they are', () => {
    expect(fill({ a: ['{{ from }}', 2, null, true], b: '{{ nope }}' }, { to: 't', text: 'x', from: 'f' })).toEqual({ a: ['f', 2, null, true], b: '{{ nope }}' });
  });
});
