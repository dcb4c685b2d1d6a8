import type { Verdict } from '../channel.js';
import type { SmsSettings } from '../../workspace/model.js';

/**
 * An SMS provider, behind one narrow interface: hand it a message, get back
 * the provider's id for it (Twilio's SID) and its reply, or a ChannelFailure
 * whose verdict says what the failure means for the ledger row, as an SMTP
 * reply's does (src/channels/email/classify.ts):
 *
 * - retry: 429, 5xx, a connection that failed before the request was sent;
 *   and a refusal of herald's credentials (401/403), which is no fault of the
 *   number: retried and counted for the circuit breaker (`policy`), as a
 *   5.7.x is, so a wrong token pauses the source instead of failing everyone;
 * - unknown: no reply within the timeout after the request was sent; the
 *   provider may have sent it, and an SMS is never resent blindly;
 * - failed: permanent; when the number is the problem (invalid, not a
 *   mobile) the response starts with `address:`;
 * - bounced: the number opted out at the provider or carrier (Twilio 21610);
 *   the worker suppresses it for SMS.
 */
export interface SmsRequest {
  /** E.164. */
  to: string;
  /** A number in E.164 or an alphanumeric sender id. */
  from: string;
  text: string;
  /** Where the provider posts delivery receipts (Twilio's StatusCallback). */
  statusCallback?: string;
}

export interface SmsAccepted {
  /** The provider's id for the message: the ledger row's message_id, which receipts name. */
  id: string;
  /** The provider's reply, in a line, for the ledger. */
  response: string;
}

export interface SmsProvider {
  send(m: SmsRequest): Promise<SmsAccepted>;
}

/** herald.yaml's `sms` block (schemas/project.schema.json, docs/sms.md). */
export type SmsConfig = SmsSettings;

/** How long a provider has to answer one request. */
export const TIMEOUT_MS = 30_000;

/**
 * What an HTTP failure means, by status: the rules every provider shares.
 * `retryAfter` is the Retry-After header, in seconds, when the provider gave one.
 */
export function classifyStatus(status: number, response: string, retryAfter?: number): Verdict {
  if (status === 408 || status === 429 || status >= 500) return { status: 'retry', response, policy: false, ...(retryAfter !== undefined ? { retryAfter } : {}) };
  if (status === 401 || status === 403) return { status: 'retry', response, policy: true };
  return { status: 'failed', response };
}

/**
 * What a request that got no reply means: a connection that failed before
 * anything was sent is retried; a timeout, or a connection dropped once the
 * request was out, may have sent the SMS.
 */
export function classifyNoReply(err: unknown, provider: string, timeoutMs = TIMEOUT_MS): Verdict {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.cause?.code;
  const what = `${code ?? e.name ?? 'error'}: ${e.cause?.message ?? e.message ?? String(err)}`;
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return { status: 'unknown', response: `${provider}: no reply within ${timeoutMs / 1000} s; the SMS may have been sent` };
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return { status: 'unknown', response: `${provider}: the connection dropped before a reply (${what}); the SMS may have been sent` };
  return { status: 'retry', response: `${provider}: could not connect (${what})`, policy: false };
}

/** Retry-After in seconds (a number of seconds or an HTTP date), or undefined. */
export function retryAfterSeconds(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim());
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

/** A provider's text, fit for one line of the ledger. */
export function oneLine(text: string, max = 300): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}
