import { createHmac } from 'node:crypto';
import { ChannelFailure, type Verdict } from '../channel.js';
import { classifyNoReply, classifyStatus, oneLine, retryAfterSeconds, TIMEOUT_MS, type SmsProvider } from './provider.js';

/**
 * Twilio's Messages API: POST {api_url}/2010-04-01/Accounts/{sid}/Messages.json,
 * form-encoded (To, From, Body, StatusCallback), with
 * HTTP basic auth (account SID, auth token). A 201 carries the message's
 * `sid`; an error carries `{code, message, more_info, status}`, whose code
 * says more than the HTTP status (https://www.twilio.com/docs/api/errors).
 */
export interface TwilioOptions {
  accountSid: string;
  authToken: string;
  /** Default https://api.twilio.com. */
  apiUrl?: string;
  /** How long Twilio has to answer (default TIMEOUT_MS). */
  timeoutMs?: number;
}

/** Error codes that say the number itself cannot take an SMS: an address problem. */
const ADDRESS_CODES: Record<number, string> = {
  21211: "invalid 'To' number",
  21612: 'the number cannot be reached by SMS',
  21614: 'not a mobile number',
};

/** 21610: the recipient replied STOP to this sender; Twilio refuses to send until they reply START. */
const UNSUBSCRIBED = 21610;
/** 20429: too many requests, whatever the HTTP status. */
const TOO_MANY_REQUESTS = 20429;

export const TWILIO_API = 'https://api.twilio.com';

export function twilioProvider(o: TwilioOptions): SmsProvider {
  const url = `${(o.apiUrl ?? TWILIO_API).replace(/\/+$/, '')}/2010-04-01/Accounts/${encodeURIComponent(o.accountSid)}/Messages.json`;
  const auth = `Basic ${Buffer.from(`${o.accountSid}:${o.authToken}`).toString('base64')}`;
  return {
    async send(m) {
      const form = new URLSearchParams({ To: m.to, From: m.from, Body: m.text });
      if (m.statusCallback) form.set('StatusCallback', m.statusCallback);
      let res: Response;
      let body: string;
      try {
        res = await fetch(url, { method: 'POST', body: form, headers: { authorization: auth, accept: 'application/json' }, redirect: 'error', signal: AbortSignal.timeout(o.timeoutMs ?? TIMEOUT_MS) });
        body = await res.text();
      } catch (err) {
        throw new ChannelFailure(classifyNoReply(err, 'twilio', o.timeoutMs));
      }
      const reply = parse(body);
      if (res.ok && typeof reply.sid === 'string' && reply.sid) {
        return { id: reply.sid, response: oneLine(`twilio ${res.status} ${typeof reply.status === 'string' ? reply.status : 'accepted'} ${reply.sid}`) };
      }
      if (res.ok) throw new ChannelFailure({ status: 'unknown', response: oneLine(`twilio ${res.status} without a message sid: ${body}`) });
      throw new ChannelFailure(classifyTwilio(res.status, reply, retryAfterSeconds(res.headers.get('retry-after'))));
    },
  };
}

export interface TwilioError {
  code?: unknown;
  message?: unknown;
}

/** What a Twilio error reply means for the ledger row. Pure. */
export function classifyTwilio(status: number, e: TwilioError, retryAfter?: number): Verdict {
  const code = typeof e.code === 'number' ? e.code : Number(e.code) || undefined;
  const message = typeof e.message === 'string' ? e.message : '';
  const said = oneLine(`twilio ${status}${code ? ` ${code}` : ''}${message ? ` ${message}` : ''}`);
  if (code === UNSUBSCRIBED) return { status: 'bounced', response: `opted out: ${said}` };
  if (code !== undefined && ADDRESS_CODES[code]) return { status: 'failed', response: `address: ${ADDRESS_CODES[code]} (${said})` };
  if (code === TOO_MANY_REQUESTS) return classifyStatus(429, said, retryAfter);
  return classifyStatus(status, said, retryAfter);
}

function parse(body: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(body);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/**
 * Twilio's webhook signature (X-Twilio-Signature): HMAC-SHA1, keyed with the
 * auth token, over the URL Twilio was given followed by every POST
 * parameter's name and value, sorted by name; base64.
 */
export function twilioSignature(authToken: string, url: string, params: Record<string, string>): string {
  const data = url + Object.keys(params).sort().map((k) => k + params[k]).join('');
  return createHmac('sha1', authToken).update(data, 'utf8').digest('base64');
}

/** Delivery errors that say the handset or number cannot take an SMS; the latter two for good, so the number is suppressed. */
const BOUNCES: Record<string, { why: string; permanent: boolean }> = {
  '30003': { why: 'unreachable destination handset', permanent: false },
  '30005': { why: 'unknown destination handset', permanent: true },
  '30006': { why: 'landline or unreachable carrier', permanent: true },
};

export type TwilioReceipt =
  | { outcome: 'delivered' | 'bounced' | 'failed'; sid: string; reason: string; permanent: boolean; to: string | undefined }
  | { outcome: 'ignored'; why: string };

/** What a status callback's form says. Pure. Interim statuses (queued, sent, …) change nothing. */
export function readTwilioReceipt(form: Record<string, string>): TwilioReceipt {
  const sid = form.MessageSid ?? form.SmsSid;
  const status = form.MessageStatus ?? form.SmsStatus;
  if (!sid || !status) return { outcome: 'ignored', why: 'no MessageSid or MessageStatus' };
  const to = form.To || undefined;
  if (status === 'delivered') return { outcome: 'delivered', sid, reason: 'twilio delivered', permanent: false, to };
  if (status !== 'undelivered' && status !== 'failed') return { outcome: 'ignored', why: `status ${status.slice(0, 20)}` };
  const code = (form.ErrorCode ?? '').trim();
  const bounce = BOUNCES[code];
  const reason = oneLine(`twilio ${status}${code ? ` ${code}` : ''}${bounce ? ` ${bounce.why}` : ''}`);
  return bounce ? { outcome: 'bounced', sid, reason, permanent: bounce.permanent, to } : { outcome: 'failed', sid, reason, permanent: false, to };
}
