import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SMTPServer } from 'smtp-server';
import { dkimVerify } from 'mailauth';
import { UserError } from '../../../src/errors.js';
import { composeMessage } from '../../../src/channels/email/compose.js';
import { dkimKeys } from '../../../src/channels/email/dkim.js';
import { smtpTransport } from '../../../src/channels/email/transport.js';
import type { Project } from '../../../src/workspace/model.js';
import { useCleanups } from '../../support/cleanup.js';

const cleanup = useCleanups();

// One key pair for the file: RSA 2048, what mailbox providers expect of a DKIM key.
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const dnsRecord = `v=DKIM1; k=rsa; p=${publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`;

const project: Project = {
  sites: [
    {
      id: 'shop-en',
      name: 'Northwind Outfitters',
      url: 'https://shop.example.com',
      locales: ['en'],
      default_locale: 'en',
      currency: 'EUR',
      sender: { from: 'news@shop.example.com', name: 'Northwind Outfitters' },
      dkim: { selector: 'herald', private_key_env: 'TEST_DKIM_KEY' },
    },
    // A site without dkim: sends unsigned, needs no variable.
    { id: 'shop-ru', name: 'Нордвинд', url: 'https://shop.example.ru', locales: ['ru'], default_locale: 'ru', currency: 'RUB', sender: { from: 'news@shop.example.ru' } },
  ],
  tracking: { base_url: 'https://mail.shop.example.com' },
};

/**
 * DNS for the verifier: the public key where the signature's d= and s= say it
 * is, and nothing anywhere else, as for a domain that publishes only that.
 */
async function resolver(name: string, rrtype: string): Promise<string[][]> {
  if (rrtype === 'TXT' && name === 'herald._domainkey.shop.example.com') return [[dnsRecord]];
  throw Object.assign(new Error(`queryTxt ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
}

/**
 * An SMTP peer that keeps each message's bytes exactly as they arrived: a
 * signature covers bytes, so it is verified on those and not on a re-parse.
 */
async function startRawSink(): Promise<{ url: string; raws: Buffer[] }> {
  const raws: Buffer[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        raws.push(Buffer.concat(chunks));
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `smtp://127.0.0.1:${(server.server.address() as { port: number }).port}`, raws };
}

/** Sends one signed message to a raw sink and returns the bytes the peer received. */
async function sendSigned(env: NodeJS.ProcessEnv): Promise<Buffer> {
  const key = dkimKeys(project, env).get('shop-en');
  expect(key).toBeDefined();
  const sink = await startRawSink();
  const transport = smtpTransport(sink.url);
  cleanup(() => transport.close());
  const message = composeMessage({
    from: { name: 'Нордвинд', address: 'news@shop.example.com' },
    to: 'anna@example.com',
    subject: 'Привет, Anna 👋 — a subject long enough to be folded over more than one header line',
    text: 'Здравствуйте!\nLine two.',
    html: '<p>Здравствуйте!</p>',
    messageId: 'campaign.1@shop.example.com',
  });
  await transport.send({ ...message, dkim: key! }, { source: 'campaign', ledgerId: 1 });
  expect(sink.raws).toHaveLength(1);
  return sink.raws[0]!;
}

describe('DKIM signing', () => {
  it.each([
    ['as PEM', pem],
    // CI secret stores often keep a multi-line value with literal \n sequences.
    ['with literal \\n sequences', pem.replace(/\n/g, '\\n')],
  ])('signs what passes a verifier, key given %s', async (_how, value) => {
    expect(dkimKeys(project, { TEST_DKIM_KEY: value })).toEqual(new Map([['shop-en', { domain: 'shop.example.com', selector: 'herald', privateKey: pem }]]));

    const raw = await sendSigned({ TEST_DKIM_KEY: value });
    const { results } = await dkimVerify(raw, { resolver });
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ signingDomain: 'shop.example.com', selector: 'herald', status: { result: 'pass' } });
  });

  it('fails verification once the body or a signed header is altered', async () => {
    const text = (await sendSigned({ TEST_DKIM_KEY: pem })).toString('latin1');

    // The first base64 line of the text part, replaced by another well-formed one.
    const line = /\r\n\r\n([A-Za-z0-9+/=]{8,})\r\n/.exec(text.slice(text.indexOf('Content-Type: text/plain')))![1]!;
    const body = await dkimVerify(Buffer.from(text.replace(line, Buffer.from('Changed in transit.').toString('base64')), 'latin1'), { resolver });
    // mailauth words a body hash mismatch as neutral, never pass.
    expect(body.results[0]).toMatchObject({ signingDomain: 'shop.example.com', selector: 'herald', status: { result: 'neutral', comment: 'body hash did not verify' } });

    const header = await dkimVerify(Buffer.from(text.replace(/^Subject: .*$/m, 'Subject: Hello'), 'latin1'), { resolver });
    expect(header.results[0]).toMatchObject({ signingDomain: 'shop.example.com', selector: 'herald', status: { result: 'fail' } });
  });
});

describe('dkimKeys', () => {
  it('refuses to start without the variable, naming it', () => {
    expect(() => dkimKeys(project, {})).toThrow(UserError);
    expect(() => dkimKeys(project, {})).toThrow(/\$TEST_DKIM_KEY is not set/);
  });

  it.each([
    ['garbage', 'not a key'],
    ['a public key', publicKey.export({ type: 'spki', format: 'pem' }).toString()],
  ])('refuses %s instead of sending unsigned mail', (_what, value) => {
    expect(() => dkimKeys(project, { TEST_DKIM_KEY: value })).toThrow(UserError);
    expect(() => dkimKeys(project, { TEST_DKIM_KEY: value })).toThrow(/\$TEST_DKIM_KEY does not hold a usable private key/);
  });

  // Private keys, but not ones nodemailer signs rsa-sha256 with: it sends an
  // Ed25519-keyed message unsigned, labels an ECDSA signature rsa-sha256 (which
  // fails every check), and verifiers ignore RSA keys under 1024 bits (RFC 8301).
  it.each([
    ['an Ed25519 key', 'ed25519', {}],
    ['an EC key', 'ec', { namedCurve: 'P-256' }],
    ['a 512-bit RSA key', 'rsa', { modulusLength: 512 }],
  ] as const)('refuses %s, which would not sign', (_what, type, options) => {
    const { privateKey: key } = generateKeyPairSync(type as 'rsa', options as { modulusLength: number });
    const value = key.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(() => dkimKeys(project, { TEST_DKIM_KEY: value })).toThrow(UserError);
    expect(() => dkimKeys(project, { TEST_DKIM_KEY: value })).toThrow(/\$TEST_DKIM_KEY holds .* DKIM needs an RSA key of 1024 bits or more/);
  });
});
