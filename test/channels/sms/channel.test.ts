import { describe, expect, it } from 'vitest';
import { ChannelFailure, type Outgoing } from '../../../src/channels/channel.js';
import { e164, smsChannelFor } from '../../../src/channels/sms/channel.js';
import type { SmsConfig } from '../../../src/channels/sms/provider.js';
import { UserError } from '../../../src/errors.js';
import type { RenderedSms } from '../../../src/render/sms.js';
import { useCleanups } from '../../support/cleanup.js';
import { twilioPeer, webhookPeer } from '../../support/twilio.js';

const cleanup = useCleanups();

const rendered: RenderedSms = { channel: 'sms', text: 'Spring sale: 20% off until Sunday https://t.shop.example/s/abc', encoding: 'GSM-7', parts: 1 };

const outgoing = (address: string, country: string | null, ledgerId = 7): Outgoing => ({
  ledgerId,
  source: { kind: 'campaign', name: 'spring' },
  address,
  site: 'main',
  customerId: 1,
  country,
  rendered,
});

async function twilioChannel() {
  const peer = await twilioPeer();
  cleanup(() => peer.close());
  const config: SmsConfig = { provider: 'twilio', from: '+4930123456', account_sid: 'AC123', auth_token_env: 'TEST_TWILIO_TOKEN', api_url: peer.url };
  const channel = smsChannelFor(config, 'https://t.shop.example/herald/', { TEST_TWILIO_TOKEN: 'token-1' });
  return { peer, channel };
}

describe('the SMS channel', () => {
  it('sends national numbers in the customer\'s country as E.164, with the status callback, and records the SID', async () => {
    const { peer, channel } = await twilioChannel();
    const handed = channel.send(outgoing('0151 2345 6789', 'de'));
    expect(handed.messageId).toBe('spring.7');
    expect(await handed.sent).toEqual({ response: `twilio 201 queued ${peer.sids[0]}`, messageId: peer.sids[0] });
    expect(peer.requests[0]!.form).toEqual({ To: '+4915123456789', From: '+4930123456', Body: rendered.text, StatusCallback: 'https://t.shop.example/herald/sms/status' });
    await channel.send(outgoing('+44 7911 123456', 'DE')).sent;
    await channel.send(outgoing('0044 7911 123456', null)).sent;
    expect(peer.requests.map((r) => r.form.To)).toEqual(['+4915123456789', '+447911123456', '+447911123456']);
  });

  it('never sends to a number that is none: an address problem', async () => {
    const { peer, channel } = await twilioChannel();
    for (const [address, country, why] of [
      ['12', 'DE', 'address: not a phone number: "12" in DE'],
      ['call me maybe', 'DE', 'address: not a phone number: "call me maybe" in DE'],
      ['0151 2345 6789', null, 'address: not a phone number: "0151 2345 6789" has no country code and the customer no country to read it in'],
      ['+49 151', 'DE', 'address: not a phone number: "+49 151"'],
    ] as const) {
      const err = await channel.send(outgoing(address, country)).sent.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ChannelFailure);
      expect((err as ChannelFailure).verdict).toEqual({ status: 'failed', response: why });
    }
    expect(peer.requests).toEqual([]);
  });

  it('reports an opted-out number as a bounce of its E.164 form, which the worker suppresses', async () => {
    const { peer, channel } = await twilioChannel();
    peer.nextError(400, 21610, 'Attempt to send to unsubscribed recipient');
    const err = (await channel.send(outgoing('0151 2345 6789', 'DE')).sent.catch((e: unknown) => e)) as ChannelFailure;
    expect(err.verdict.status).toBe('bounced');
    expect(err.address).toBe('+4915123456789');
  });

  it('sends through the generic webhook, keeping herald\'s id when the reply has none', async () => {
    const peer = await webhookPeer();
    cleanup(() => peer.close());
    const config: SmsConfig = { provider: 'webhook', from: 'SHOP', webhook: { url: peer.url, auth_header_env: 'TEST_SMS_AUTH', body: { to: '{{ to }}', text: '{{ text }}', from: '{{ from }}' }, id_field: '/data/id' } };
    const channel = smsChannelFor(config, 'https://t.shop.example', { TEST_SMS_AUTH: 'Bearer abc' });
    expect(await channel.send(outgoing('+4915123456789', null)).sent).toEqual({ response: 'webhook 202 msg-1', messageId: 'msg-1' });
    expect(peer.requests[0]!.body).toEqual({ to: '+4915123456789', text: rendered.text, from: 'SHOP' });
    expect(peer.requests[0]!.headers.authorization).toBe('Bearer abc');
    peer.next({ status: 200, body: {} });
    expect(await channel.send(outgoing('+4915123456789', null)).sent).toBe('webhook 200 without an id at /data/id: {}');
  });

  it('posts { to, from, text } when herald.yaml gives the webhook no body', async () => {
    const peer = await webhookPeer();
    cleanup(() => peer.close());
    const channel = smsChannelFor({ provider: 'webhook', from: 'SHOP', webhook: { url: peer.url } }, 'https://t.shop.example', {});
    await channel.send(outgoing('+4915123456789', null)).sent;
    expect(peer.requests[0]!.body).toEqual({ to: '+4915123456789', from: 'SHOP', text: rendered.text });
    expect(peer.requests[0]!.headers.authorization).toBeUndefined();
  });

  it('refuses, when made, a configuration whose secret is not set', () => {
    const twilio: SmsConfig = { provider: 'twilio', from: '+4930123456', account_sid: 'AC1', auth_token_env: 'TEST_UNSET_TOKEN' };
    const err = (() => {
      try {
        smsChannelFor(twilio, 'https://t.shop.example', {});
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(UserError);
    expect(err).toMatchObject({ message: "$TEST_UNSET_TOKEN is not set: herald.yaml's sms.auth_token_env names it for the SMS provider's secret", hint: 'set TEST_UNSET_TOKEN in the environment herald runs in' });
    expect(() => smsChannelFor({ ...twilio, auth_token_env: undefined } as never, 'https://t.shop.example', {})).toThrow(/sms.auth_token_env is missing/);
    expect(() => smsChannelFor(undefined, 'https://t.shop.example', {})).toThrow(/no `sms` block/);
    const webhook: SmsConfig = { provider: 'webhook', from: 'SHOP', webhook: { url: 'http://127.0.0.1:1/', auth_header_env: 'TEST_UNSET_AUTH', body: { to: '{{ to }}' } } };
    expect(() => smsChannelFor(webhook, 'https://t.shop.example', {})).toThrow(/\$TEST_UNSET_AUTH is not set/);
  });
});

describe('e164', () => {
  it('reads national numbers in the country, international ones anywhere', () => {
    expect(e164('030 1234567', 'DE')).toEqual({ ok: true, number: '+49301234567' });
    expect(e164('(415) 555-2671', 'US')).toEqual({ ok: true, number: '+14155552671' });
    expect(e164('+1 415 555 2671', 'DE')).toEqual({ ok: true, number: '+14155552671' });
    expect(e164('+1 415 555 2671', null)).toEqual({ ok: true, number: '+14155552671' });
    expect(e164('0151 2345 6789', 'XX').ok).toBe(false);
    expect(e164('', 'DE').ok).toBe(false);
  });
});
