import { header, parseHeaders, splitHeaders, walk, bareAddress, decodeWords, type Header, type MimePart } from './mime.js';

/**
 * Delivery status notifications: what a receiving server says about a
 * message after the SMTP conversation ended. RFC 3464 reports
 * (multipart/report; report-type=delivery-status) from Postfix, Sendmail,
 * Exchange/Office 365, Gmail and most others; and the plain-text bounces of
 * qmail and older Exim, read from their status codes and the copy of the
 * message they return.
 */
export interface Bounce {
  /** The enhanced status code, e.g. 5.1.1; a bare 550 becomes 5.0.0. */
  status: string;
  /** failed, delayed, … (RFC 3464 Action); failed or delayed for plain bounces. */
  action: string;
  diagnostic?: string;
  /** The address that failed, as the report names it. */
  recipient?: string;
  remoteMta?: string;
  format: 'rfc3464' | 'qmail' | 'exim' | 'plain';
}

export interface DsnReport {
  bounce: Bounce;
  /** The headers of the returned message, when the report carries them. */
  original?: Header[];
}

/**
 * What a status means for the address. The same lines as the SMTP
 * classification at send time (src/channels/email/classify.ts):
 * - 5.1.x (bad mailbox or domain): `hard`; the address is suppressed.
 * - 5.7.x (policy, authentication, reputation): `policy`; says nothing about the address.
 * - any other 5.x.x (mailbox full, message too big, routing): `other`; the
 *   message failed, and the address counts it like a soft bounce.
 * - 4.x.x, or Action: delayed: `soft`; counts towards bounces.soft_limit.
 */
export type BounceClass = 'hard' | 'policy' | 'other' | 'soft';

export function classifyBounce(b: Pick<Bounce, 'status' | 'action'>): { kind: 'bounce' | 'soft_bounce'; class: BounceClass } {
  const [klass, subject] = b.status.split('.');
  if (klass !== '5' || /^(delayed|relayed|delivered|expanded)$/i.test(b.action)) return { kind: 'soft_bounce', class: 'soft' };
  if (subject === '1') return { kind: 'bounce', class: 'hard' };
  if (subject === '7') return { kind: 'bounce', class: 'policy' };
  return { kind: 'bounce', class: 'other' };
}

const ENHANCED = /\b([245])\.(\d{1,3})\.(\d{1,3})\b/;

/**
 * The status to act on: a Status field of x.0.0 says little, and many
 * servers put the precise code in the diagnostic (`smtp; 550 5.1.1 …`).
 */
export function preciseStatus(status: string | undefined, diagnostic: string | undefined): string | undefined {
  const s = status ? ENHANCED.exec(status)?.[0] : undefined;
  const d = diagnostic ? ENHANCED.exec(diagnostic)?.[0] : undefined;
  if (s && !s.endsWith('.0.0')) return s;
  if (d && (!s || d[0] === s[0])) return d;
  if (s) return s;
  const basic = diagnostic ? /\b([45])\d\d\b/.exec(diagnostic)?.[1] : undefined;
  return basic ? `${basic}.0.0` : undefined;
}

export function readDsn(msg: MimePart): DsnReport | undefined {
  return readRfc3464(msg) ?? readPlainBounce(msg);
}

function readRfc3464(msg: MimePart): DsnReport | undefined {
  const parts = [...walk(msg)];
  const ds = parts.find((p) => p.type === 'message/delivery-status' || p.type === 'message/global-delivery-status');
  if (!ds) return undefined;
  // Per-message fields, then one block per recipient, blank lines between.
  const blocks = ds.text.split(/\r?\n[ \t]*\r?\n/).map(parseHeaders).filter((b) => b.length);
  const recipients = blocks.filter((b) => header(b, 'final-recipient') || header(b, 'action') || header(b, 'status'));
  // One herald message has one recipient; a report naming several is read for the first that failed.
  const pick = recipients.find((b) => /failed/i.test(header(b, 'action') ?? '')) ?? recipients[0];
  if (!pick) return undefined;
  const diagnostic = header(pick, 'diagnostic-code')?.replace(/^smtp;\s*/i, '');
  const status = preciseStatus(header(pick, 'status'), diagnostic);
  if (!status) return undefined;
  const recipient = header(pick, 'final-recipient') ?? header(pick, 'original-recipient');
  return {
    bounce: {
      status,
      action: (header(pick, 'action') ?? (status.startsWith('5') ? 'failed' : 'delayed')).toLowerCase(),
      ...(diagnostic ? { diagnostic } : {}),
      ...(recipient ? { recipient: bareAddress(recipient) } : {}),
      ...(header(pick, 'remote-mta') ? { remoteMta: header(pick, 'remote-mta')!.replace(/^dns;\s*/i, '') } : {}),
      format: 'rfc3464',
    },
    ...originalOf(parts, msg),
  };
}

/** The returned message's headers: a message/rfc822 part, or text/rfc822-headers. */
export function originalOf(parts: MimePart[], msg: MimePart): { original?: Header[] } {
  for (const p of parts) {
    if (p === msg) continue;
    if ((p.type === 'message/rfc822' || p.type === 'message/global') && p.parts[0]) return { original: p.parts[0].headers };
    if (p.type === 'text/rfc822-headers' || p.type === 'message/global-headers') return { original: parseHeaders(p.text) };
  }
  return {};
}

/** Lines that begin the copy of the message in plain-text bounces. */
const COPY_MARKERS = [
  /^--- Below this line is a copy of the message\.?\s*$/m, // qmail
  /^-+ This is a copy of the message, including all the headers\. -+\s*$/m, // Exim
  /^-+ The header of the original message is following\. -+\s*$/m, // Exim, headers only
  /^-+\s*(?:Original message follows|Original message|Returned message|Undelivered message follows|original message text)\s*-*\s*$/im,
];

/**
 * Bounces without a delivery-status part: qmail's "Hi. This is the
 * qmail-send program", Exim's "This message was created automatically by
 * mail delivery software", and others from MAILER-DAEMON. Recognised by who
 * sent them and what they say; classified by the first status code found in
 * the text before the returned copy.
 */
function readPlainBounce(msg: MimePart): DsnReport | undefined {
  const leaf = [...walk(msg)].find((p) => p.parts.length === 0 && p.type.startsWith('text/plain'));
  if (!leaf) return undefined;
  const text = leaf.text;
  const from = (header(msg.headers, 'from') ?? '').toLowerCase();
  const subject = decodeWords(header(msg.headers, 'subject') ?? '');
  const format: Bounce['format'] = /this is the qmail-send program/i.test(text)
    ? 'qmail'
    : /created automatically by mail delivery software/i.test(text) || header(msg.headers, 'x-failed-recipients')
      ? 'exim'
      : 'plain';
  const fromDaemon = /mailer-daemon|postmaster|mail delivery (sub)?system/i.test(from);
  const bouncySubject = /undeliver|delivery (status notification|failure|has failed)|returned mail|failure notice|mail delivery failed|delivery failure|warning: message .* delayed|delayed mail/i.test(subject);
  if (format === 'plain' && !(fromDaemon && bouncySubject)) return undefined;

  const cut = COPY_MARKERS.map((re) => re.exec(text)).filter((m): m is RegExpExecArray => m !== null).sort((a, b) => a.index - b.index)[0];
  const explanation = cut ? text.slice(0, cut.index) : text;
  const delayed = /has not yet been delivered|delayed|will (continue|keep) (to )?(try|trying)|still trying/i.test(explanation + subject) && !/permanent(ly)? (error|fail)/i.test(explanation);
  const status = preciseStatus(undefined, codeLine(explanation)) ?? (delayed ? '4.0.0' : '5.0.0');
  const failed = header(msg.headers, 'x-failed-recipients') ?? /^<([^<>\s]+@[^<>\s]+)>:\s*$/m.exec(explanation)?.[1] ?? /^\s{2}([^\s@]+@[^\s@]+)\s*$/m.exec(explanation)?.[1];
  const diagnostic = codeLine(explanation);
  const original = cut ? splitHeaders(text.slice(cut.index + cut[0].length).replace(/^\s*\r?\n/, '')).headers : undefined;
  return {
    bounce: {
      status,
      action: status.startsWith('5') ? 'failed' : 'delayed',
      ...(diagnostic ? { diagnostic } : {}),
      ...(failed ? { recipient: bareAddress(failed) } : {}),
      format,
    },
    ...(original?.length ? { original } : {}),
  };
}

/** The line of a plain bounce that carries the server's reply: one with a 4xx/5xx code, enhanced preferred. */
function codeLine(text: string): string | undefined {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  const line = lines.find((l) => ENHANCED.test(l) && /\b[45]\.\d/.test(l)) ?? lines.find((l) => /(^|\s|:)[45]\d\d[\s-]/.test(l));
  return line?.slice(0, 500);
}
