/**
 * What an SMTP result means for a ledger row. Pure: the reply (or the error)
 * in, the row's next state out.
 *
 * - 2xx: sent.
 * - 4xx, or a connection that failed before the message was handed over: a
 *   transient problem, retried with backoff until the message's max age.
 * - A timeout or a dropped connection after the whole message was written:
 *   the server may have accepted it. `unknown`, never resent blindly.
 * - 5xx with an x.1.x status (bad mailbox or domain): bounced, and the
 *   address is suppressed.
 * - 5.7.x (policy, authentication, DMARC): not the address's fault. Retried
 *   like a transient problem, and counted for the circuit breaker.
 * - Any other 5xx: failed.
 */
export type { Verdict } from '../channel.js';
import type { Verdict } from '../channel.js';

export interface SmtpFailure {
  /** The server's reply, when there was one. */
  response?: string;
  responseCode?: number;
  /** The transport's error code: ETIMEDOUT, ECONNECTION, EENVELOPE, EMESSAGE, … (smtp.ts) */
  code?: string;
  /** What went wrong, in words. Never read for a reply code: it names the server, and "127.0.0.1 closed the connection" is no reply 127. */
  message?: string;
  /** Set by the transport when the whole message had been written before the failure. */
  afterData?: boolean;
  /** Set by the transport when the server cannot take the message at all (too big, an address it cannot carry). */
  permanent?: boolean;
}

export function classifyFailure(err: SmtpFailure): Verdict {
  const response = String(err.response ?? err.message ?? 'unknown error').trim();
  if (err.permanent) return { status: 'failed', response };
  // A reply code comes from a reply the server sent, never from an error's text.
  const code = err.responseCode ?? (err.response !== undefined ? Number(/^([2-5]\d\d)(?:[ -]|$)/.exec(err.response.trim())?.[1]) || undefined : undefined);
  if (code === undefined) {
    // No reply at all: a timeout or a dropped connection.
    return err.afterData ? { status: 'unknown', response: `no reply after the message was sent: ${response}` } : { status: 'retry', response, policy: false };
  }
  const enhanced = /\b([245])\.(\d{1,3})\.(\d{1,3})\b/.exec(response);
  if (code >= 400 && code < 500) return { status: 'retry', response, policy: enhanced?.[2] === '7' };
  if (code >= 500) {
    if (enhanced?.[2] === '1') return { status: 'bounced', response };
    if (enhanced?.[2] === '7') return { status: 'retry', response, policy: true };
    return { status: 'failed', response };
  }
  return { status: 'retry', response, policy: false };
}
