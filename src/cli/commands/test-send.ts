import { randomBytes } from 'node:crypto';
import { printable, UserError } from '../../errors.js';
import { envSecret, linkSecret } from '../../links/secret.js';
import { loadSamples } from '../../preview/samples.js';
import { dkimKeys } from '../../channels/email/dkim.js';
import { NOT_AN_ADDRESS_HINT, testPhone, testSend, type TestSent } from '../../preview/test-send.js';
import { transportFromEnv } from '../../channels/email/transport.js';
import { channelsOver } from '../../channels/channels.js';
import { ADDRESS } from '../../audience/address.js';
import { dbConfigured, heraldPath, print, printJson, validWorkspace, withDb, type GlobalOptions } from '../context.js';
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
  for (const to of opts.to) {
    if (to.includes('@') ? !ADDRESS.test(to) : !testPhone(to)) throw new UserError(`--to ${to} is neither an email address nor a phone number in E.164`, NOT_AN_ADDRESS_HINT);
  }
  const customerIds = opts.customer !== undefined ? [customerId(opts.customer)] : [];
  const ws = await validWorkspace(opts);
  const dkim = dkimKeys(ws.project.spec);
  const transport = transportFromEnv(heraldPath(opts, 'outbox'));
  // The SMS channel a send would use: herald.yaml's provider (or the outbox beside email's).
  const channels = channelsOver(transport);
  const sms = () => channels('sms', ws.project.spec);
  const secretEnv = ws.project.spec.tracking?.secret_env ?? 'HERALD_SECRET';
  let sent: TestSent[];
  try {
    const run = async (samples: Awaited<ReturnType<typeof loadSamples>>, secret: string) =>
      testSend(ws, { target: target!, to: opts.to, samples, secret, transport, dkim, sms, now: new Date(), ...pick(opts) });
    // A test message's links name the recipient it was rendered for, and they
    // go to whoever the test goes to (colleagues, seed lists, spam checkers,
    // a mailbox provider acting on the one-click header). Only a customer
    // named with --customer was chosen to be seen so: their links are signed
    // with the real secret and work as in a send. Every other sample (from
    // preview.yaml, the built-in one, or the shop's first customer of a site
    // and locale) gets a throwaway secret: its links show their shape and
    // open nothing for anyone. The real secret is still checked.
    const throwaway = () => randomBytes(32).toString('base64url');
    if (dbConfigured(opts)) {
      sent = await withDb(opts, async (db) => {
        const secret = await linkSecret(db, secretEnv);
        return run(await loadSamples(ws, { db, customerIds }), customerIds.length > 0 ? secret : throwaway());
      });
    } else {
      envSecret(secretEnv);
      sent = await run(await loadSamples(ws, { customerIds }), throwaway());
    }
  } finally {
    transport.close();
  }
  if (opts.json) return printJson({ transport: transport.description, sent });
  // The subject and the SMS hold the customer's data, and the reply is the SMTP server's or the provider's words.
  for (const s of sent) {
    const what = s.sms ? `SMS "${s.sms.text}" (${s.sms.encoding}, ${s.sms.parts} part${s.sms.parts === 1 ? '' : 's'})` : `"${s.subject}"`;
    print(printable(`${s.to}: ${what}${s.variant ? ` (variant ${s.variant})` : ''}, ${s.site} ${s.locale}, rendered for ${s.recipient}: ${s.response}`));
  }
  const through = [...(sent.some((s) => s.channel === 'email') ? [transport.description] : []), ...(sent.some((s) => s.channel === 'sms') ? [`SMS via herald.yaml's ${ws.project.spec.sms?.provider ?? 'sms'} provider`] : [])];
  print(`${sent.length} test message${sent.length === 1 ? '' : 's'} sent (${through.join('; ')}); the campaign's ledger and reports are untouched.`);
}

function pick(o: TestSendOpts) {
  return { ...(o.variant ? { variant: o.variant } : {}), ...(o.site ? { site: o.site } : {}), ...(o.locale ? { locale: o.locale } : {}) };
}

