import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ChannelFailure, type Verdict } from '../../../src/channels/channel.js';
import { classifyTwilio, readTwilioReceipt, twilioProvider, twilioSignature } from '../../../src/channels/sms/twilio.js';
import { closedPort } from '../../support/ports.js';
import { useCleanups } from '../../support/cleanup.js';
import { twilioPeer } from '../../support/twilio.js';

const cleanup = useCleanups();

async function setUp() {
  const peer = await twilioPeer();
  cleanup(() => peer.close());
  const provider = twilioProvider({ accountSid: 'AC123', authToken: 'token-1', apiUrl: peer.url });
  return { peer, provider };
}

const message = { to: '+4915123456789', from: '+4930123456', text: 'Hello Ann: 20% off today' };

async function verdictOf(p: Promise<unknown>): Promise<Verdict> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ChannelFailure);
  return (err as ChannelFailure).verdict;
}

describe('the Twilio provider', () => {
  it('posts the Messages API form with basic auth and returns the SID', async () => {
    const { peer, provider } = await setUp();
    const r = await provider.send({ ...message, statusCallback: 'https://t.shop.example/sms/status' });
    expect(r).toEqual({ id: peer.sids[0], response: `twilio 201 queued ${peer.sids[0]}` });
    expect(peer.requests).toEqual([
      {
        path: '/2010-04-01/Accounts/AC123/Messages.json',
        auth: 'AC123:token-1',
        form: { To: '+4915123456789', From: '+4930123456', Body: 'Hello Ann: 20% off today', StatusCallback: 'https://t.shop.example/sms/status' },
      },
    ]);
  });

  it('reads 21211 and 21614 as address problems, 21610 as opted out', async () => {
    const { peer, provider } = await setUp();
    peer.nextError(400, 21211, "The 'To' number +4915 is not a valid phone number.");
    expect(await verdictOf(provider.send(message))).toEqual({ status: 'failed', response: "address: invalid 'To' number (twilio 400 21211 The 'To' number +4915 is not a valid phone number.)" });
    peer.nextError(400, 21614, "'To' number is not a valid mobile number");
    expect((await verdictOf(provider.send(message))).response).toMatch(/^address: not a mobile number/);
    peer.nextError(400, 21610, 'Attempt to send to unsubscribed recipient');
    expect(await verdictOf(provider.send(message))).toEqual({ status: 'bounced', response: 'opted out: twilio 400 21610 Attempt to send to unsubscribed recipient' });
  });

  it('retries 429 with its Retry-After, and 5xx', async () => {
    const { peer, provider } = await setUp();
    peer.nextError(429, 20429, 'Too Many Requests', { 'retry-after': '30' });
    expect(await verdictOf(provider.send(message))).toEqual({ status: 'retry', response: 'twilio 429 20429 Too Many Requests', policy: false, retryAfter: 30 });
    peer.next({ status: 500, body: 'Internal Server Error' });
    expect(await verdictOf(provider.send(message))).toEqual({ status: 'retry', response: 'twilio 500', policy: false });
    peer.nextError(503, 20500, 'Service unavailable');
    expect((await verdictOf(provider.send(message))).status).toBe('retry');
  });

  it('counts a refused token for the circuit breaker instead of failing the message', async () => {
    const { peer, provider } = await setUp();
    peer.nextError(401, 20003, 'Authenticate');
    expect(await verdictOf(provider.send(message))).toEqual({ status: 'retry', response: 'twilio 401 20003 Authenticate', policy: true });
  });

  it('fails other 4xx for good', async () => {
    const { peer, provider } = await setUp();
    peer.nextError(400, 21408, 'Permission to send an SMS has not been enabled for the region');
    expect((await verdictOf(provider.send(message))).status).toBe('failed');
  });

  it('retries when nothing listens: the SMS was never sent', async () => {
    const provider = twilioProvider({ accountSid: 'AC123', authToken: 't', apiUrl: `http://127.0.0.1:${await closedPort()}` });
    const v = await verdictOf(provider.send(message));
    expect(v).toMatchObject({ status: 'retry', policy: false });
    expect(v.response).toMatch(/^twilio: could not connect \(ECONNREFUSED/);
  });

  it('calls a request that got no reply in time unknown: the SMS may have gone out, and is never resent blindly', async () => {
    const heard: string[] = [];
    let received!: () => void;
    const whole = new Promise<void>((r) => (received = r));
    // Takes the request, never answers.
    const silent = createServer((req) => void req.on('data', (c: Buffer) => heard.push(c.toString())).on('end', () => received()));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    cleanup(() => {
      silent.closeAllConnections();
      return new Promise<void>((r) => silent.close(() => r()));
    });
    const provider = twilioProvider({ accountSid: 'AC123', authToken: 't', apiUrl: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, timeoutMs: 300 });
    expect(await verdictOf(provider.send(message))).toEqual({ status: 'unknown', response: 'twilio: no reply within 0.3 s; the SMS may have been sent' });
    // The whole request had reached the provider.
    await whole;
    expect(heard.join('')).toContain('To=%2B4915123456789');
  });

  it('calls a 2xx without a SID unknown: something was sent, nothing names it', async () => {
    const { peer, provider } = await setUp();
    peer.next({ status: 201, body: { status: 'queued' } });
    expect((await verdictOf(provider.send(message))).status).toBe('unknown');
  });
});

describe('classifyTwilio', () => {
  it('believes the code over the HTTP status', () => {
    expect(classifyTwilio(400, { code: 20429, message: 'Too Many Requests' })).toMatchObject({ status: 'retry' });
    expect(classifyTwilio(400, { code: '21211', message: 'x' }).response).toMatch(/^address: /);
    expect(classifyTwilio(404, {})).toEqual({ status: 'failed', response: 'twilio 404' });
  });
});

describe('Twilio receipts and signatures', () => {
  it('signs as Twilio documents it: the URL, then the sorted parameters', () => {
    // Twilio's published example (its helper libraries' RequestValidator tests), parameters out of order.
    const params = { To: '+18005551212', Digits: '1234', From: '+14158675309', CallSid: 'CA1234567890ABCDE', Caller: '+14158675309' };
    expect(twilioSignature('12345', 'https://mycompany.com/myapp.php?foo=1&bar=2', params)).toBe('RSOYDt4T1cUTdK1PDd93/VVr8B8=');
    expect(twilioSignature('12345', 'https://mycompany.com/myapp.php?foo=1&bar=2', { ...params, Digits: '9999' })).not.toBe('RSOYDt4T1cUTdK1PDd93/VVr8B8=');
  });

  it('reads delivered, bounces by error code, and ignores interim statuses', () => {
    expect(readTwilioReceipt({ MessageSid: 'SM1', MessageStatus: 'delivered', To: '+4915123456789' })).toMatchObject({ outcome: 'delivered', sid: 'SM1' });
    expect(readTwilioReceipt({ MessageSid: 'SM1', MessageStatus: 'undelivered', ErrorCode: '30005' })).toMatchObject({ outcome: 'bounced', permanent: true, reason: 'twilio undelivered 30005 unknown destination handset' });
    expect(readTwilioReceipt({ MessageSid: 'SM1', MessageStatus: 'failed', ErrorCode: '30003' })).toMatchObject({ outcome: 'bounced', permanent: false });
    expect(readTwilioReceipt({ MessageSid: 'SM1', MessageStatus: 'undelivered', ErrorCode: '30007' })).toMatchObject({ outcome: 'failed', reason: 'twilio undelivered 30007' });
    expect(readTwilioReceipt({ MessageSid: 'SM1', MessageStatus: 'sent' })).toMatchObject({ outcome: 'ignored' });
    expect(readTwilioReceipt({ MessageStatus: 'delivered' })).toMatchObject({ outcome: 'ignored' });
  });
});
