import { originalOf } from './dsn.js';
import { bareAddress, header, parseHeaders, walk, type Header, type MimePart } from './mime.js';

/**
 * Complaint reports from mailbox providers' feedback loops: RFC 5965 ARF
 * (multipart/report; report-type=feedback-report, as Yahoo, AOL, Comcast and
 * most others send them), and Microsoft's JMRP, which forwards the
 * complained-of message as an attachment with X-HmXmrOriginalRecipient.
 * The recipient is often redacted; the returned message's Return-Path (our
 * VERP address) or Message-ID names the message all the same.
 */
export interface ArfReport {
  /** abuse, fraud, virus, other, not-spam, auth-failure, … (RFC 5965 Feedback-Type). */
  feedbackType: string;
  userAgent?: string;
  /** Original-Mail-From: the envelope sender the provider saw, our VERP address. */
  mailFrom?: string;
  recipient?: string;
  arrivalDate?: string;
  format: 'arf' | 'jmrp';
  original?: Header[];
}

/** Feedback types that are a person's complaint; the others are reported but change nothing. */
export const COMPLAINT_TYPES = new Set(['abuse', 'fraud', 'other']);

export function readArf(msg: MimePart): ArfReport | undefined {
  const parts = [...walk(msg)];
  const fr = parts.find((p) => p.type === 'message/feedback-report');
  if (fr) {
    const f = parseHeaders(fr.text);
    const rcpt = header(f, 'original-rcpt-to');
    const recipient = rcpt ? bareAddress(rcpt) : undefined;
    const mailFrom = header(f, 'original-mail-from');
    return {
      feedbackType: (header(f, 'feedback-type') ?? 'other').toLowerCase(),
      ...(header(f, 'user-agent') ? { userAgent: header(f, 'user-agent')! } : {}),
      ...(mailFrom ? { mailFrom } : {}),
      ...(recipient ? { recipient } : {}),
      ...(header(f, 'arrival-date') ? { arrivalDate: header(f, 'arrival-date')! } : {}),
      format: 'arf',
      ...originalOf(parts, msg),
    };
  }
  // JMRP: a forwarded message/rfc822 whose headers Microsoft marked with the original recipient.
  const jmrp = parts.find((p) => p.type === 'message/rfc822' && p.parts[0] && header(p.parts[0].headers, 'x-hmxmroriginalrecipient'));
  if (jmrp) {
    const original = jmrp.parts[0]!.headers;
    return { feedbackType: 'abuse', recipient: bareAddress(header(original, 'x-hmxmroriginalrecipient')!), userAgent: 'Microsoft JMRP', format: 'jmrp', original };
  }
  return undefined;
}
