import { lazily } from '../../lazy.js';
import type { CountryCode } from 'libphonenumber-js/max';
import { UserError } from '../../errors.js';
import { ChannelFailure, renderedFor, type Channel } from '../channel.js';
import type { SmsConfig, SmsProvider } from './provider.js';
import { TWILIO_API, twilioProvider } from './twilio.js';
import { webhookProvider } from './webhook.js';

/**
 * The SMS channel: reads the ledger row's number as the shop stores it, in
 * the customer's country when it has no +, as E.164; a number that is none
 * is an address problem and never sent. Hands the rendered text to the
 * provider herald.yaml names, with Twilio's status callback pointing at
 * herald serve (POST <tracking.base_url>/sms/status). The ledger records the
 * provider's id for the message, which receipts name it by.
 */
export interface SmsChannelOptions {
  provider: SmsProvider;
  /** The sender: a number or an alphanumeric sender id. */
  from: string;
  /** Where delivery receipts go, when the provider takes a URL per message. */
  statusCallback?: string;
}

export function smsChannel(o: SmsChannelOptions): Channel {
  return {
    name: 'sms',
    send(out) {
      const rendered = renderedFor('sms', out.rendered);
      // herald's own id, recorded when the provider gives none (a failure, a webhook reply without one).
      const messageId = `${out.source.name}.${out.ledgerId}`;
      const to = e164(out.address, out.country);
      if (!to.ok) return { messageId, sent: Promise.reject(new ChannelFailure({ status: 'failed', response: `address: ${to.why}` })) };
      const sent = o.provider.send({ to: to.number, from: o.from, text: rendered.text, ...(o.statusCallback ? { statusCallback: o.statusCallback } : {}) }).then(
        (r) => (r.id ? { response: r.response, messageId: r.id } : r.response),
        (err: unknown) => {
          // A bounce (opted out) suppresses the number as sent, in E.164.
          if (err instanceof ChannelFailure && err.verdict.status === 'bounced') throw new ChannelFailure(err.verdict, to.number);
          throw err;
        },
      );
      return { messageId, sent };
    },
  };
}

export type PhoneNumber = { ok: true; number: string } | { ok: false; why: string };

/** Loaded when a number is first read (~90 ms: the full metadata), not by every send that imports the SMS channel. */
const phoneNumbers = lazily<typeof import('libphonenumber-js/max')>('libphonenumber-js/max');

/** A number as the shop stores it, read in `country` (ISO alpha-2) unless it starts with + or 00, as E.164. */
export function e164(text: string, country: string | null): PhoneNumber {
  const shown = JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
  const region = country && /^[A-Za-z]{2}$/.test(country.trim()) ? (country.trim().toUpperCase() as CountryCode) : undefined;
  const international = /^\s*(\+|00)/.test(text);
  if (!international && !region) return { ok: false, why: `not a phone number: ${shown} has no country code and the customer no country to read it in` };
  let parsed;
  try {
    parsed = phoneNumbers().parsePhoneNumberFromString(text.trim().replace(/^00/, '+'), region);
  } catch {
    parsed = undefined;
  }
  if (!parsed || !parsed.isValid()) return { ok: false, why: `not a phone number: ${shown}${region && !international ? ` in ${region}` : ''}` };
  return { ok: true, number: parsed.number };
}

/**
 * The channel herald.yaml's `sms` block describes, with its secret from the
 * environment; a block that cannot work is a UserError now, not a failure
 * per message later.
 */
export function smsChannelFor(config: SmsConfig | undefined, trackingBaseUrl: string, env: NodeJS.ProcessEnv = process.env): Channel {
  if (!config) throw new UserError('herald.yaml has no `sms` block: nothing can send an SMS', 'add `sms:` with a provider (docs/sms.md)');
  const secret = (name: string | undefined, key: string): string => {
    if (!name) throw new UserError(`herald.yaml: sms.${key} is missing`, `name the environment variable that holds it (docs/sms.md)`);
    const v = env[name];
    if (!v) throw new UserError(`$${name} is not set: herald.yaml's sms.${key} names it for the SMS provider's secret`, `set ${name} in the environment herald runs in`);
    return v;
  };
  if (config.provider === 'twilio') {
    if (!config.account_sid) throw new UserError('herald.yaml: sms.account_sid is missing', 'give the Twilio account SID (AC…)');
    const provider = twilioProvider({ accountSid: config.account_sid, authToken: secret(config.auth_token_env, 'auth_token_env'), apiUrl: config.api_url ?? TWILIO_API });
    return smsChannel({ provider, from: config.from, statusCallback: smsUrl(trackingBaseUrl, 'status') });
  }
  if (config.provider === 'webhook') {
    const w = config.webhook;
    if (!w?.url) throw new UserError('herald.yaml: sms.webhook needs a url', 'see docs/sms.md for the generic webhook provider');
    const provider = webhookProvider({
      url: w.url,
      body: w.body ?? DEFAULT_BODY,
      ...(w.auth_header_env ? { authorization: secret(w.auth_header_env, 'webhook.auth_header_env') } : {}),
      ...(w.id_field ? { idField: w.id_field } : {}),
    });
    return smsChannel({ provider, from: config.from });
  }
  throw new UserError(`herald.yaml: sms.provider ${JSON.stringify(String(config.provider))} is not one herald can send through here`, 'use twilio or webhook (outbox writes files: docs/sms.md)');
}

/** The generic provider's body when herald.yaml gives none. */
const DEFAULT_BODY = { to: '{{ to }}', from: '{{ from }}', text: '{{ text }}' };

/** herald serve's SMS endpoints, under tracking.base_url: what Twilio is told, and what its signatures cover. */
export function smsUrl(trackingBaseUrl: string, path: 'status' | 'inbound'): string {
  return `${trackingBaseUrl.replace(/\/+$/, '')}/sms/${path}`;
}
