import { execFileSync } from 'node:child_process';
import { createSign } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { returnPath } from '../../src/links/tracking.js';
import { createTestDb } from '../support/db.js';
import { useCleanups } from '../support/cleanup.js';
import { FIXTURE_SECRET, project, sentMessages, suppressions } from '../events/ledger.js';
import { webhookServer, written } from './webhook-app.js';

const cleanup = useCleanups();
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:ses-events';

/**
 * A stand-in for SNS's certificate host, on 127.0.0.1: a self-signed RSA
 * certificate made by openssl for this run, and a SubscribeURL that counts
 * its confirmations. Every request it gets is logged, so a test can see that
 * an untrusted URL was never fetched.
 */
let certHost: { base: string; key: string; hits: string[] };
let stopCertHost = async () => {};
afterAll(() => stopCertHost());

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'herald-sns-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=sns.test'], { stdio: 'ignore' });
  const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? '');
    if (req.url === '/SimpleNotificationService.pem') res.writeHead(200, { 'content-type': 'application/x-pem-file' }).end(cert);
    else if (req.url?.startsWith('/confirm')) res.writeHead(200).end('<ConfirmSubscriptionResponse/>');
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  stopCertHost = () => new Promise<void>((r) => server.close(() => r()));
  certHost = { base: `http://127.0.0.1:${(server.address() as { port: number }).port}`, key: readFileSync(join(dir, 'key.pem'), 'utf8'), hits };
});

/** An SNS message signed as SNS signs it: the type's fields, name and value on lines of their own. */
function snsMessage(fields: Record<string, string>, o: { version?: '1' | '2'; certUrl?: string } = {}): Record<string, string> {
  const m: Record<string, string> = { MessageId: 'b1b2c3d4', Timestamp: '2026-11-17T09:00:00.000Z', TopicArn: TOPIC, SignatureVersion: o.version ?? '2', SigningCertURL: o.certUrl ?? `${certHost.base}/SimpleNotificationService.pem`, ...fields };
  const order = m.Type === 'Notification' ? ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'] : ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'];
  const text = order.filter((f) => m[f] !== undefined).map((f) => `${f}\n${m[f]}\n`).join('');
  m.Signature = createSign(m.SignatureVersion === '1' ? 'RSA-SHA1' : 'RSA-SHA256').update(text).sign(certHost.key, 'base64');
  return m;
}

async function setUp() {
  const db = await createTestDb();
  cleanup(() => db.dispose());
  const ids = await sentMessages(db, { source: 'spring', addresses: ['ann@example.com', 'ben@example.com'] });
  const server = await webhookServer(db, project({ webhooks: { ses: { topic_arn: TOPIC, cert_url: '^http://127\\.0\\.0\\.1:' } } } as never));
  cleanup(() => server.close());
  // SNS posts text/plain.
  const post = (m: unknown) => fetch(`${server.url}/ses`, { method: 'POST', body: JSON.stringify(m), headers: { 'content-type': 'text/plain; charset=UTF-8', 'x-amz-sns-message-type': 'Notification' } });
  return { db, ids, post };
}

const bounceOf = (source: string) =>
  JSON.stringify({
    notificationType: 'Bounce',
    bounce: { bounceType: 'Permanent', bounceSubType: 'General', timestamp: '2026-11-17T08:59:59.000Z', bouncedRecipients: [{ emailAddress: 'ann@example.com', action: 'failed', status: '5.1.1', diagnosticCode: 'smtp; 550 5.1.1 user unknown' }] },
    mail: { source, messageId: '0100018b-ses-id', commonHeaders: { messageId: '<spring.2@shop.example>' } },
  });

describe('Amazon SES through SNS', () => {
  it('applies a signed notification (SignatureVersion 2 and 1), finding the message by mail.source', async () => {
    const { db, ids, post } = await setUp();
    const res = await post(snsMessage({ Type: 'Notification', Message: bounceOf(returnPath('bounces@mail.shop.example', ids[0]!, FIXTURE_SECRET)) }));
    expect(res.status).toBe(200);
    expect(await suppressions(db)).toEqual([{ email: 'ann@example.com', site: null, reason: 'bounced', source: 'ses' }]);
    // A complaint signed with SHA1, named by the Message-ID only (mail.source is not ours).
    const complaint = JSON.stringify({
      notificationType: 'Complaint',
      complaint: { complaintFeedbackType: 'abuse', complainedRecipients: [{ emailAddress: 'ben@example.com' }], timestamp: '2026-11-17T09:30:00.000Z' },
      mail: { source: 'news@shop.example', commonHeaders: { messageId: `<spring.${ids[1]}@shop.example>` } },
    });
    expect((await post(snsMessage({ Type: 'Notification', Subject: 'Amazon SES Email Event Notification', Message: complaint }, { version: '1' }))).status).toBe(200);
    expect(await suppressions(db)).toEqual([
      { email: 'ann@example.com', site: null, reason: 'bounced', source: 'ses' },
      { email: 'ben@example.com', site: null, reason: 'complained', source: 'ses' },
    ]);
  });

  it('refuses an altered message, a foreign topic, an untrusted certificate host and no signature, and writes nothing', async () => {
    const { db, ids, post } = await setUp();
    const good = snsMessage({ Type: 'Notification', Message: bounceOf(returnPath('bounces@mail.shop.example', ids[0]!, FIXTURE_SECRET)) });
    expect((await post({ ...good, Message: good.Message!.replace('ann@', 'ben@') })).status).toBe(401);
    expect((await post(snsMessage({ Type: 'Notification', Message: good.Message!, TopicArn: 'arn:aws:sns:eu-west-1:999999999999:other' }))).status).toBe(403);
    const hits = certHost.hits.length;
    const elsewhere = snsMessage({ Type: 'Notification', Message: good.Message! }, { certUrl: certHost.base.replace('127.0.0.1', 'localhost') + '/SimpleNotificationService.pem' });
    expect((await post(elsewhere)).status).toBe(403);
    expect(certHost.hits.length).toBe(hits);
    const { Signature: _, ...unsigned } = good;
    expect((await post(unsigned)).status).toBe(401);
    expect(await written(db)).toEqual({ events: 0, suppressions: 0 });
  });

  it('confirms a subscription by its SubscribeURL, only on a trusted host', async () => {
    const { post } = await setUp();
    const confirm = (url: string) => snsMessage({ Type: 'SubscriptionConfirmation', Message: 'You have chosen to subscribe', SubscribeURL: url, Token: 't0ken' });
    expect((await post(confirm(`${certHost.base}/confirm?Token=t0ken`))).status).toBe(200);
    expect(certHost.hits).toContain('/confirm?Token=t0ken');
    const untrusted = `${certHost.base.replace('127.0.0.1', 'localhost')}/confirm?Token=evil`;
    expect((await post(confirm(untrusted))).status).toBe(403);
    expect(certHost.hits).not.toContain('/confirm?Token=evil');
  });
});
