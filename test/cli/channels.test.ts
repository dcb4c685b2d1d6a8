import { describe, expect, it } from 'vitest';
import { herald } from '../support/cli.js';
import { useCleanups } from '../support/cleanup.js';
import { createTestDb, serverUrl } from '../support/db.js';
import { createShop } from '../support/shop.js';
import { startSmtpSink } from '../support/smtp.js';
import { twilioPeer, twilioError } from '../support/twilio.js';
import { MINIMAL, tempWorkspace } from '../support/workspace.js';

/**
 * One campaign on email and SMS, as a shop runs it: validate and plan price
 * the SMS, send reaches a real SMTP peer and a Twilio-shaped API on
 * 127.0.0.1, each customer gets what their consent and addresses allow, a
 * number the carrier says opted out is suppressed for SMS, and the report
 * shows each channel.
 */
const cleanup = useCleanups();
const TOKEN = 'twilio-auth-token-for-the-test';

describe.skipIf(!serverUrl)('a campaign on email and SMS', () => {
  it('plans the SMS cost, sends on both channels, suppresses an opted-out number, and reports per channel', async () => {
    const twilio = await twilioPeer();
    cleanup(() => twilio.close());
    const smtp = await startSmtpSink();
    cleanup(() => smtp.close());
    const ws = tempWorkspace({
      ...MINIMAL,
      'herald.yaml': `${MINIMAL['herald.yaml']}sms:
  provider: twilio
  from: "+4930123456"
  account_sid: AC0123456789abcdef0123456789abcdef
  auth_token_env: HERALD_TEST_TWILIO_TOKEN
  api_url: ${twilio.url}
  price_per_part: { amount: 0.07, currency: EUR }
`,
      'templates/hello/sms.en.txt': 'Hi {{ customer.first_name }}, our winter sale starts now: https://shop.example.com/sale\n',
      'campaigns/hello.yaml': `title: Hello
site: main
audience:
  segment: everyone
template: hello
channels: [email, sms]
mode: all
status: ready
`,
    });
    cleanup(ws.remove);
    const db = await createTestDb();
    cleanup(() => db.dispose());
    await createShop(db, {
      customers: [
        { id: 1, email: 'both@example.com', first_name: 'Bo', site: 'main', locale: 'en', country: 'DE', phone: '0151 1111 1111', sms_opt_in: true },
        { id: 2, email: 'mail@example.com', first_name: 'Em', site: 'main', locale: 'en', country: 'DE', phone: '0151 2222 2222', sms_opt_in: false },
        { id: 3, email: null, first_name: 'Si', site: 'main', locale: 'en', country: 'DE', phone: '+49 151 3333 3333', sms_opt_in: true },
        { id: 4, email: null, first_name: 'Op', site: 'main', locale: 'en', country: 'DE', phone: '0151 4444 4444', sms_opt_in: true },
      ],
    } as Parameters<typeof createShop>[1]);
    const args = ['--dir', ws.dir, '--db', db.url!];
    const env = { HERALD_TEST_TWILIO_TOKEN: TOKEN, HERALD_SMTP_URL: smtp.url };

    const validate = await herald(['validate', ...args]);
    expect(validate.code, validate.stdout + validate.stderr).toBe(0);

    const plan = await herald(['plan', ...args], env);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain('campaign/hello: 5 recipients');
    expect(plan.stdout).toContain('(2 on email, 3 on sms)');
    expect(plan.stdout).toMatch(/SMS: 3 recipients × up to 1 part = 3 parts, 0\.21 EUR/);

    expect((await herald(['apply', '--auto-approve', ...args], env)).code).toBe(0);
    // The carrier says customer 4's number opted out.
    twilio.answer((form) => (form.To === '+4915144444444' ? twilioError(400, 21610, 'Attempt to send to unsubscribed recipient') : undefined));
    const send = await herald(['send', 'hello', '--now', '2026-12-05T12:00:00Z', ...args], env);
    expect(send.code, send.stderr).toBe(0);

    expect(smtp.messages.map((m) => (m.to as { text: string }).text).sort()).toEqual(['both@example.com', 'mail@example.com']);
    const texts = twilio.requests.map((r) => [r.form.To, r.form.From, r.form.Body]);
    expect(texts.map((t) => t[0]).sort()).toEqual(['+4915111111111', '+4915133333333', '+4915144444444']);
    const bo = texts.find((t) => t[0] === '+4915111111111')!;
    expect(bo[1]).toBe('+4930123456');
    // A short signed tracking link in place of the shop's link.
    expect(bo[2]).toMatch(/^Hi Bo, our winter sale starts now: https:\/\/mail\.example\.com\/s\/[A-Za-z0-9_-]{12,20}$/);
    expect(twilio.requests.every((r) => r.auth === `AC0123456789abcdef0123456789abcdef:${TOKEN}`)).toBe(true);

    const [stop] = await db.query<{ email: string; channel: string; reason: string }>("SELECT email, channel, reason FROM herald.suppressions WHERE channel = 'sms'");
    expect(stop).toEqual({ email: '+4915144444444', channel: 'sms', reason: 'bounced' });

    const report = await herald(['report', 'hello', '--json', ...args], env);
    expect(report.code, report.stderr).toBe(0);
    const r = JSON.parse(report.stdout) as { by_channel: { channel: string; recipients: number; sent: number; bounced: number }[] };
    expect(r.by_channel.map((c) => [c.channel, c.recipients, c.sent, c.bounced])).toEqual([
      ['email', 2, 2, 0],
      ['sms', 3, 2, 1],
    ]);
  }, 300_000);
});
