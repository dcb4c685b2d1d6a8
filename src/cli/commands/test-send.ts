import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { printable, UserError } from '../../errors.js';
import { envSecret, linkSecret } from '../../links/secret.js';
import { loadSamples } from '../../preview/samples.js';
import { dkimKeys } from '../../channels/email/dkim.js';
import { testSend, type TestSent } from '../../preview/test-send.js';
import { transportFromEnv } from '../../channels/email/transport.js';
import { ADDRESS } from '../../audience/address.js';
import { dbConfigured, print, printJson, validWorkspace, withDb, workspaceDir, type GlobalOptions } from '../context.js';
import { customerId } from '../options.js';

interface TestSendOpts extends GlobalOptions {
  to: string[];
  customer?: string;
  locale?: string;
  site?: string;
  variant?: string;
  json?: boolean;
}

export default async function testSendCommand([target]: string[], opts: TestSendOpts): Promise<void> {
  for (const to of opts.to) if (!ADDRESS.test(to)) throw new UserError(`--to ${to} is not an email address`, 'give the inbox to send the test to, for example --to you@example.com');
  const customerIds = opts.customer !== undefined ? [customerId(opts.customer)] : [];
  const ws = await validWorkspace(opts);
  const dkim = dkimKeys(ws.project.spec);
  const transport = transportFromEnv(join(workspaceDir(opts), '.herald', 'outbox'));
  const secretEnv = ws.project.spec.tracking?.secret_env ?? 'HERALD_SECRET';
  let sent: TestSent[];
  try {
    const run = async (samples: Awaited<ReturnType<typeof loadSamples>>, secret: string) =>
      testSend(ws, { target: target!, to: opts.to, samples, secret, transport, dkim, now: new Date(), ...pick(opts) });
    sent = dbConfigured(opts)
      ? await withDb(opts, async (db) => run(await loadSamples(ws, { db, customerIds }), await linkSecret(db, secretEnv)))
      : await run(await loadSamples(ws, { customerIds }), envSecret(secretEnv) ?? randomBytes(32).toString('base64url'));
  } finally {
    transport.close();
  }
  if (opts.json) return printJson({ transport: transport.description, sent });
  // The subject holds the customer's data, and the reply is the SMTP server's words.
  for (const s of sent) print(printable(`${s.to}: "${s.subject}"${s.variant ? ` (variant ${s.variant})` : ''}, ${s.site} ${s.locale}, rendered for ${s.recipient}: ${s.response}`));
  print(`${sent.length} test message${sent.length === 1 ? '' : 's'} sent (${transport.description}); the campaign's ledger and reports are untouched.`);
}

function pick(o: TestSendOpts) {
  return { ...(o.variant ? { variant: o.variant } : {}), ...(o.site ? { site: o.site } : {}), ...(o.locale ? { locale: o.locale } : {}) };
}

