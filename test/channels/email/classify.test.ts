import { describe, expect, it } from 'vitest';
import { classifyFailure } from '../../../src/channels/email/classify.js';
import { backoffSeconds } from '../../../src/ledger/worker.js';

/**
 * What an SMTP result means for a ledger row. A reply code comes from the
 * server's reply (`responseCode`, or the reply text in `response`), never
 * from an error's message: "127.0.0.1 closed the connection" is not a reply
 * with code 127, and "550.example closed the connection" is not a 550.
 */
describe('classifyFailure', () => {
  const HOSTS = ['127.0.0.1', '250.1.2.3', '550.example', '421.example', '::1', '[::1]', 'mail.example.com', '127.0.0.1:2525', '250.1.2.3:587'];

  for (const host of HOSTS) {
    it(`a connection to ${host} dropped after the final dot is unknown, whatever the host looks like`, () => {
      const v = classifyFailure({ code: 'ECONNECTION', message: `${host} closed the connection`, afterData: true });
      expect(v.status).toBe('unknown');
      expect(v.response).toBe(`no reply after the message was sent: ${host} closed the connection`);
    });

    it(`a connection to ${host} dropped before the data was written is retried, not refused`, () => {
      const v = classifyFailure({ code: 'ECONNECTION', message: `${host} closed the connection` });
      expect(v).toEqual({ status: 'retry', response: `${host} closed the connection`, policy: false });
    });

    it(`a timeout from ${host} after the data is unknown`, () => {
      expect(classifyFailure({ code: 'ETIMEDOUT', message: `no reply from ${host} in 120 s`, afterData: true }).status).toBe('unknown');
    });
  }

  it('reads the code of a real reply, from responseCode or from the reply text', () => {
    expect(classifyFailure({ response: '550 5.1.1 no such user', responseCode: 550 }).status).toBe('bounced');
    expect(classifyFailure({ response: '550 5.1.1 no such user' }).status).toBe('bounced');
    expect(classifyFailure({ response: '552 5.3.4 message too big', responseCode: 552, afterData: true }).status).toBe('failed');
    expect(classifyFailure({ response: '550 5.7.26 DMARC', responseCode: 550, afterData: true })).toMatchObject({ status: 'retry', policy: true });
    expect(classifyFailure({ response: '451 4.7.1 greylisted', responseCode: 451 })).toMatchObject({ status: 'retry', policy: true });
    expect(classifyFailure({ response: '421 4.4.2 shutting down', responseCode: 421, afterData: true })).toEqual({ status: 'retry', response: '421 4.4.2 shutting down', policy: false });
  });

  it('an error message that happens to start with digits is no reply', () => {
    // As a reply these would be a bounce, a permanent failure and a policy refusal.
    expect(classifyFailure({ message: '550 5.1.1 looks like a bounce but is a message', afterData: true }).status).toBe('unknown');
    expect(classifyFailure({ message: '554 nothing the server said' })).toMatchObject({ status: 'retry', policy: false });
    expect(classifyFailure({ message: '550 5.7.1 not a reply either' })).toMatchObject({ status: 'retry', policy: false });
  });

  it('a message the server cannot take at all is failed', () => {
    expect(classifyFailure({ code: 'ESIZE', message: 'the message is 2000 bytes; the server takes at most 1000', permanent: true }).status).toBe('failed');
  });
});

describe('backoffSeconds', () => {
  it('doubles from a minute, up to an hour', () => {
    expect([1, 2, 3, 4, 7, 8, 20].map(backoffSeconds)).toEqual([60, 120, 240, 480, 3600, 3600, 3600]);
  });
});
