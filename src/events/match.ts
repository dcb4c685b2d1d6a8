import { readReturnPath, readTrackingToken } from '../links/tracking.js';
import { COMPLAINT_TYPES, readArf } from './arf.js';
import { classifyBounce, readDsn } from './dsn.js';
import type { Feedback, MessageRef } from './feedback.js';
import { decodeWords, header, headersNamed, parseMail, type Header, type ParsedMail } from './parse.js';

/**
 * One mail from the bounce mailbox → one Feedback item: a DSN, an ARF
 * complaint, a mailto unsubscribe (`unsubscribe <token>`, as herald's
 * List-Unsubscribe mailto writes it), an autoresponder (ignored), or
 * something else (ignored, said why).
 *
 * Which message it is about, strongest first:
 * 1. our VERP address (readReturnPath: signed, so it cannot be forged): where
 *    the report was delivered (Delivered-To, X-Original-To, Envelope-To,
 *    To), the complaint's Original-Mail-From, the returned copy's Return-Path;
 * 2. the returned copy's Message-ID, `<source>.<ledger id>@domain`, checked
 *    against the Message-ID the ledger recorded for that id (feedback.ts),
 *    unless the report carries a return path of ours that does not verify:
 *    such a report was altered, and is not believed;
 * 3. any VERP address of ours anywhere in the text, for formats that put the
 *    returned copy where no parser looks.
 */
export async function readFeedback(raw: string | Buffer, where: string, secrets: readonly string[], via: string): Promise<Feedback> {
  const msg = await parseMail(raw);
  if (msg instanceof Error) return { kind: 'ignored', where, why: `not readable as mail: ${msg.message}` };
  const arf = readArf(msg);
  if (arf) {
    if (!COMPLAINT_TYPES.has(arf.feedbackType)) return { kind: 'ignored', where, why: `a ${arf.feedbackType} feedback report is no complaint` };
    // The report's own date: Arrival-Date is when the complained-of message arrived, maybe long before.
    const at = dateOf(header(msg.headers, 'date')) ?? dateOf(arf.arrivalDate);
    return {
      kind: 'complaint',
      origin: 'arf',
      where,
      via,
      feedbackType: arf.feedbackType,
      ...(arf.recipient ? { recipient: arf.recipient } : {}),
      ...(at ? { at } : {}),
      ...refOf(msg, [...(arf.mailFrom ? [arf.mailFrom] : []), ...returnPaths(arf.original)], arf.original, raw, secrets),
    };
  }
  const dsn = readDsn(msg);
  if (dsn) {
    const c = classifyBounce(dsn.bounce);
    const at = dateOf(header(msg.headers, 'date'));
    return {
      kind: c.kind,
      origin: 'dsn',
      where,
      via,
      class: c.class,
      status: dsn.bounce.status,
      ...(dsn.bounce.diagnostic ? { diagnostic: dsn.bounce.diagnostic } : {}),
      ...(dsn.bounce.recipient ? { recipient: dsn.bounce.recipient } : {}),
      ...(at ? { at } : {}),
      ...refOf(msg, returnPaths(dsn.original), dsn.original, raw, secrets),
    };
  }
  const subject = decodeWords(header(msg.headers, 'subject') ?? '').trim();
  const unsubscribe = /^unsubscribe\s+(\S+)$/i.exec(subject);
  if (unsubscribe) {
    const t = readTrackingToken(unsubscribe[1]!, secrets);
    if (!t.ok) return { kind: 'unsubscribe', origin: 'mailto', where, via, ref: {}, why: `the unsubscribe token does not verify: ${t.reason}` };
    if (t.link.kind === 'unsubscribe-recipient') return { kind: 'unsubscribe', origin: 'mailto', where, via, ref: { recipient: t.link } };
    if (t.link.kind !== 'unsubscribe') return { kind: 'unsubscribe', origin: 'mailto', where, via, ref: {}, why: `the token is a ${t.link.kind} token, not a message's unsubscribe` };
    return { kind: 'unsubscribe', origin: 'mailto', where, via, ref: { message: t.link.message } };
  }
  const auto = autoresponder(msg.headers, subject);
  if (auto) return { kind: 'ignored', where, why: `autoresponder (${auto})` };
  return { kind: 'ignored', where, why: 'not a DSN, a complaint report, an unsubscribe or an autoresponder' };
}

/** Where a report was delivered: the VERP address it came back to. */
const DELIVERED_TO = ['delivered-to', 'x-original-to', 'envelope-to', 'x-envelope-to', 'to'];

function returnPaths(original: Header[] | undefined): string[] {
  return original ? headersNamed(original, 'return-path') : [];
}

function refOf(msg: ParsedMail, extra: readonly string[], original: Header[] | undefined, raw: string | Buffer, secrets: readonly string[]): { ref: MessageRef; why?: string } {
  const candidates = [...DELIVERED_TO.flatMap((h) => headersNamed(msg.headers, h)), ...extra];
  let reason: string | undefined;
  for (const c of candidates) {
    for (const address of c.split(',')) {
      if (!/\+[0-9a-z]+-[0-9a-f]{6}-[0-9a-f]{16}@/i.test(address)) continue;
      const r = readReturnPath(address.replace(/^.*</, '').replace(/>.*$/, ''), secrets);
      if (r.ok) return { ref: { message: r.message } };
      reason = `return path ${address.trim()}: ${r.reason}`;
    }
  }
  // A return path of ours that does not verify was altered or forged: the report is not believed, whatever else it says.
  if (reason) return { ref: {}, why: reason };
  const messageId = original ? header(original, 'message-id') : undefined;
  if (messageId) return { ref: { messageId } };
  for (const m of (typeof raw === 'string' ? raw : raw.toString('latin1')).matchAll(/[^\s<>"'@:;,]+\+[0-9a-z]{1,12}-[0-9a-f]{6}-[0-9a-f]{16}@[a-z0-9.-]+/gi)) {
    const r = readReturnPath(m[0], secrets);
    if (r.ok) return { ref: { message: r.message } };
    reason ??= `return path ${m[0]}: ${r.reason}`;
  }
  return { ref: {}, why: reason ?? 'names no message herald sent: no return path of ours, no returned Message-ID' };
}

/**
 * RFC 3834 and the conventions older vacation programs follow. A DSN carries
 * Auto-Submitted too, so this is asked only of mail that is no report.
 */
export function autoresponder(headers: readonly Header[], subject: string): string | undefined {
  const autoSubmitted = header(headers, 'auto-submitted')?.toLowerCase();
  if (autoSubmitted && !autoSubmitted.startsWith('no')) return `Auto-Submitted: ${autoSubmitted}`;
  for (const h of ['x-autoreply', 'x-autorespond', 'x-autoresponder']) if (header(headers, h) !== undefined) return h;
  const precedence = header(headers, 'precedence')?.toLowerCase();
  if (precedence === 'auto_reply') return 'Precedence: auto_reply';
  if (/^(auto(matic)?[ -]?(reply|response|antwort)|out of (the )?office|abwesenheit|automatische antwort|r[ée]ponse automatique|autosvar|risposta automatica|respuesta automática|on vacation|away from (my|the) (desk|office))/i.test(subject)) {
    return `subject "${subject.slice(0, 60)}"`;
  }
  return undefined;
}

function dateOf(text: string | undefined): Date | undefined {
  if (!text) return undefined;
  const d = new Date(text);
  return Number.isNaN(d.getTime()) ? undefined : d;
}
