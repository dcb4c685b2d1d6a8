import { randomUUID } from 'node:crypto';
import { UserError } from '../errors.js';
import { createRenderer, type Recipient } from '../render/message.js';
import type { Samples } from './samples.js';
import type { Site, Workspace } from '../workspace/model.js';
import { messageSource, templateOnlyUse, templateUses, workingTemplates, type TemplateUse } from '../workspace/uses.js';
import { composeRendered } from '../channels/email/compose.js';
import type { DkimKey } from '../channels/email/dkim.js';
import { SmtpError } from '../channels/email/smtp.js';
import type { Transport } from '../channels/email/transport.js';
import { ChannelFailure, type Channel } from '../channels/channel.js';
import { smsEncoding } from '../channels/sms/encoding.js';
import { e164 } from '../channels/sms/channel.js';
import { renderSms } from '../render/sms.js';
import { useChannels } from './render.js';

/**
 * `herald test-send`: real messages, rendered from the working copy exactly as
 * a send would render them, to a marketer's own inbox or phone before launch.
 * An email's subject says [TEST] and an X-Herald-Test header marks it; an
 * SMS starts with `[TEST] ` and goes through herald.yaml's SMS provider, the
 * channel a send uses. They never touch the ledger: no report counts them and
 * the campaign still sends to everyone later. Push is not test-sent: it needs
 * a device's subscription, which only the shop's data has (preview shows the
 * notification).
 */
export interface TestSendOptions {
  /** A campaign, trigger or template name; `campaign/x`, `trigger/x` or `template/x` when names clash. */
  target: string;
  /** Email addresses, and phone numbers in E.164 (`+4915112345678`) for the SMS. */
  to: string[];
  variant?: string;
  site?: string;
  locale?: string;
  samples: Samples;
  secret: string;
  transport: Transport;
  dkim: Map<string, DkimKey>;
  /** The SMS channel, made when a phone number is given (herald.yaml's sms provider, as a send makes it). */
  sms?: () => Channel;
  now: Date;
}

export interface TestSent {
  channel: 'email' | 'sms';
  to: string;
  /** An email's subject, with [TEST]. */
  subject?: string;
  /** An SMS as sent, with [TEST], its encoding and parts. */
  sms?: { text: string; encoding: 'GSM-7' | 'UCS-2'; parts: number };
  variant?: string;
  site: string;
  locale: string;
  recipient: string;
  messageId: string;
  response: string;
}

/** A phone number test-send takes: E.164 only (a + and the country code, no spaces), so no number is read in the wrong country. */
export function testPhone(to: string): boolean {
  return /^\+[1-9]\d{6,14}$/.test(to) && e164(to, null).ok;
}

/** What a --to that is neither an inbox nor a phone number gets told. */
export const NOT_AN_ADDRESS_HINT =
  'give an inbox (--to you@example.com) or a phone number in E.164, with + and the country code and no spaces (--to +4915112345678); ' +
  "push notifications are not test-sent, since they need a device's subscription: herald preview shows them";

export async function testSend(ws: Workspace, o: TestSendOptions): Promise<TestSent[]> {
  const phones = o.to.filter((to) => !to.includes('@'));
  const inboxes = o.to.filter((to) => to.includes('@'));
  for (const to of phones) if (!testPhone(to)) throw new UserError(`--to ${to} is neither an email address nor a phone number in E.164`, NOT_AN_ADDRESS_HINT);
  const uses = pickUses(ws, o.target, o.variant);
  for (const use of uses) onChannels(ws, use, inboxes.length > 0, phones.length > 0);
  const sms = phones.length > 0 ? smsChannelOf(o) : undefined;
  const templates = workingTemplates(ws);
  const renderer = createRenderer({ project: ws.project.spec, secret: o.secret, now: o.now });
  const sent: TestSent[] = [];
  // test-send takes one --customer; without it, samples per site and locale.
  const customer = o.samples.customers[0];
  for (const use of uses) {
    const site = pickSite(ws, use, o.site, customer);
    const recipient = pickRecipient(use, site, customer, o);
    const extras = o.samples.extras(use, site, recipient.locale);
    if (sms) {
      // Links stay as written: a test SMS has no ledger row for a short tracking link to name.
      const m = renderSms({ project: ws.project.spec, secret: o.secret, now: o.now }, messageSource(use, templates), recipient, extras);
      const text = `[TEST] ${m.text}`;
      const e = smsEncoding(text);
      for (const to of phones) {
        const handed = sms.send({
          ledgerId: 0,
          source: { kind: use.kind === 'trigger' ? 'trigger' : 'campaign', name: use.name },
          address: to,
          site: site.id,
          customerId: null,
          country: null,
          rendered: { channel: 'sms', text, encoding: e.encoding, parts: e.parts },
        });
        const reply = await handed.sent.catch((err: unknown) => {
          throw err instanceof ChannelFailure ? smsProblem(err, to) : err;
        });
        sent.push({
          channel: 'sms',
          to,
          sms: { text, encoding: e.encoding, parts: e.parts },
          ...(use.variant ? { variant: use.variant.name } : {}),
          site: site.id,
          locale: recipient.locale,
          recipient: recipient.email,
          messageId: typeof reply === 'string' ? handed.messageId : reply.messageId,
          response: typeof reply === 'string' ? reply : reply.response,
        });
      }
    }
    if (inboxes.length === 0) continue;
    const rendered = await renderer.render(messageSource(use, templates), recipient, extras);
    for (const to of inboxes) {
      const id = `test.${randomUUID()}`;
      const message = composeRendered(rendered, { to, id, subjectPrefix: '[TEST]', headers: { 'X-Herald-Test': `${use.kind}/${use.name}${use.variant ? ` variant ${use.variant.name}` : ''}` } });
      const { response } = await o.transport
        .send({ ...message, ...(o.dkim.has(site.id) ? { dkim: o.dkim.get(site.id)! } : {}) }, { source: 'test-sends', ledgerId: id })
        .catch((e: unknown) => {
          throw e instanceof SmtpError ? smtpProblem(e, to) : e;
        });
      sent.push({
        channel: 'email',
        to,
        subject: `[TEST] ${rendered.subject}`,
        ...(use.variant ? { variant: use.variant.name } : {}),
        site: site.id,
        locale: recipient.locale,
        recipient: recipient.email,
        messageId: message.messageId,
        response,
      });
    }
  }
  return sent;
}

/** An email address needs a use on email, a phone number one on SMS. */
function onChannels(ws: Workspace, use: TemplateUse, email: boolean, sms: boolean): void {
  const channels = useChannels(ws, use);
  const what = use.kind === 'template' ? `template "${use.name}"` : `${use.kind} "${use.name}"`;
  const on = use.kind === 'template' ? `it has files for ${channels.join(', ')}` : `its channels: ${channels.join(', ')}`;
  if (email && !channels.includes('email')) {
    throw new UserError(`${what} sends no email (${on})`, channels.includes('sms') ? 'give a phone number in E.164 for its SMS (--to +4915112345678)' : NOT_AN_ADDRESS_HINT);
  }
  if (sms && !channels.includes('sms')) {
    throw new UserError(`${what} sends no SMS (${on})`, use.kind === 'template' ? `add templates/${use.template}/sms.<locale>.txt, or give an email address` : 'give an email address for its email');
  }
}

/** herald.yaml's SMS channel; a test send says so when there is none. */
function smsChannelOf(o: TestSendOptions): Channel {
  if (!o.sms) throw new UserError('this test send cannot send SMS', 'give only email addresses with --to');
  return o.sms();
}

/**
 * What the SMS provider said, for the person at the terminal: its reply (the
 * channel's words, never a secret), and what to do about it.
 */
function smsProblem(e: ChannelFailure, to: string): UserError {
  const v = e.verdict;
  if (v.status === 'bounced') return new UserError(`the SMS provider will not send to ${to}: ${v.response}`, 'the number opted out (replied STOP) at the provider; send START from that phone, or test with another number');
  if (v.status === 'failed' && v.response.startsWith('address:')) return new UserError(`the SMS provider refused ${to}: ${v.response.slice('address:'.length).trim()}`, 'check the number: E.164, a + and the country code');
  if (v.status === 'retry') return new UserError(`the SMS provider did not take the test message to ${to}: ${v.response}`, 'try again in a moment; if it keeps failing, check sms.api_url (or sms.webhook.url) in herald.yaml and that the provider is reachable from here');
  return new UserError(`the SMS provider refused the test message to ${to}: ${v.response}`, "its reply says why: check herald.yaml's sms block and its secret (docs/sms.md)");
}

/** The uses the target names: every A/B variant unless one is picked. */
function pickUses(ws: Workspace, target: string, variant?: string): TemplateUse[] {
  const [kind, name] = target.includes('/') ? (target.split('/', 2) as [string, string]) : [undefined, target];
  if (kind !== undefined && !['campaign', 'trigger', 'template'].includes(kind)) {
    throw new UserError(`"${target}" is not a campaign, trigger or template`, 'write campaign/<name>, trigger/<name> or template/<name>, or just the name');
  }
  const all = templateUses(ws);
  let uses = all.filter((u) => u.name === name && (kind === undefined || u.kind === kind) && u.kind !== 'template');
  if ((kind === undefined || kind === 'template') && uses.length === 0 && ws.templates.has(name)) {
    uses = [templateOnlyUse(ws, name)];
  }
  if (uses.length === 0) {
    throw new UserError(`no campaign, trigger or template "${target}" in the workspace`, 'check the name: `herald state list` shows what is deployed, campaigns/, triggers/ and templates/ what is in git');
  }
  const kinds = new Set(uses.map((u) => u.kind));
  if (kinds.size > 1) throw new UserError(`"${name}" is both a ${[...kinds].join(' and a ')}`, `write ${[...kinds].map((k) => `${k}/${name}`).join(' or ')}`);
  if (variant === undefined) return uses;
  const picked = uses.filter((u) => u.variant?.name === variant);
  if (picked.length === 0) {
    const names = uses.flatMap((u) => (u.variant ? [u.variant.name] : []));
    throw new UserError(`${uses[0]!.kind} "${name}" has no variant "${variant}"`, names.length ? `its variants: ${names.join(', ')}` : 'it has no A/B test; leave out --variant');
  }
  return picked;
}

/** --site, else the --customer's own site, else the first the use sends for. */
function pickSite(ws: Workspace, use: TemplateUse, wanted: string | undefined, customer: Recipient | undefined): Site {
  if (customer && wanted !== undefined && customer.site !== wanted) {
    throw new UserError(`customer ${customer.customer_id} belongs to site ${customer.site}, not ${wanted}`, "leave out --site to send for the customer's own site, or pick a customer of that site");
  }
  const id = wanted ?? customer?.site ?? use.sites[0]!;
  if (!use.sites.includes(id)) {
    throw new UserError(
      customer ? `customer ${customer.customer_id} belongs to site ${id}, and ${use.kind} "${use.name}" does not send for it` : `${use.kind} "${use.name}" does not send for site "${id}"`,
      customer ? `pick a customer of its sites: ${use.sites.join(', ')}` : `its sites: ${use.sites.join(', ')}`,
    );
  }
  return ws.project.spec.sites.find((s) => s.id === id)!;
}

/**
 * The --customer as they would receive it: in --locale, else their own
 * locale, else (one the site does not write in) the site's default, as a
 * send resolves it. Without --customer, the sample for the site and locale.
 */
function pickRecipient(use: TemplateUse, site: Site, customer: Recipient | undefined, o: TestSendOptions): Recipient {
  const locale = o.locale ?? (customer && site.locales.includes(customer.locale) ? customer.locale : site.default_locale);
  if (!site.locales.includes(locale)) throw new UserError(`site ${site.id} does not write in "${locale}"`, `its locales: ${site.locales.join(', ')}`);
  if (customer) return { ...customer, locale };
  const [recipient] = o.samples.recipients(use, site, locale);
  if (!recipient) throw new UserError(`no sample customer for ${site.id} in ${locale}`, 'pick another --site or --locale, or add customers for it to the template\'s preview.yaml');
  return recipient;
}

/**
 * What went wrong with the SMTP server, for the person at the terminal: which
 * server (host:port; the credentials never), what it said or what failed,
 * and what to check. A test send stops at the first failure: the next
 * message would meet the same server.
 */
function smtpProblem(e: SmtpError, to: string): UserError {
  if (e.responseCode !== undefined && (e.code === 'EENVELOPE' || e.code === 'EMESSAGE')) {
    return new UserError(`the SMTP server ${e.server} refused the test message to ${to}: ${e.response}`, "its reply says why: an address it does not accept, a sender it does not relay for, or a policy (5.7.x: DKIM, SPF, DMARC)");
  }
  // The error names the server first; say it once.
  const words = e.message.startsWith(`${e.server}: `) ? e.message.slice(e.server.length + 2) : e.message.startsWith(`${e.server} `) ? `it ${e.message.slice(e.server.length + 1)}` : e.message;
  const hints: Record<string, string> = {
    ETLS: /starttls=required/.test(e.message)
      ? 'use a server that offers STARTTLS, or smtps:// for TLS from the first byte; or drop ?starttls=required from HERALD_SMTP_URL'
      : 'use smtps:// or a server that offers STARTTLS, or leave the user and password out of HERALD_SMTP_URL for a relay that needs none',
    EAUTH: 'check the user and password in HERALD_SMTP_URL (percent-encode @ : / in the password)',
    EGREETING: 'the server turned the connection away; try again later, or check HERALD_SMTP_URL',
    ETIMEDOUT: 'check the host and port in HERALD_SMTP_URL, and that nothing between here and the server drops the connection',
  };
  return new UserError(`cannot send through the SMTP server ${e.server}: ${words}`, hints[e.code] ?? 'check the host and port in HERALD_SMTP_URL, and that the SMTP server is running and reachable from here');
}
