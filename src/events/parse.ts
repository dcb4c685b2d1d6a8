import libmime from 'libmime';
import { simpleParser } from 'mailparser';

/**
 * A mail from the bounce mailbox as reports are read: its headers, its
 * text, and the parts a report carries (message/delivery-status,
 * message/feedback-report, message/rfc822, text/rfc822-headers). The MIME
 * is mailparser's (nodemailer's and imapflow's author): it decodes
 * base64, quoted-printable and charsets, and bounds what hostile input can
 * cost (1000 parts at most, so nesting too; 1 MB of headers per part).
 *
 * Its flat model suits reports: each of those parts is one attachment, so
 * a report is read by the type of its parts, not by walking a tree. Two
 * options keep the parts whole: keepDeliveryStatus (otherwise the
 * delivery-status fields join the text) and ignoreEmbedded (otherwise an
 * inline message/rfc822, as ARF reports send it, is opened and its headers
 * lost): the returned message's headers are what names our message.
 */
export interface Header {
  /** Lower-cased. */
  name: string;
  /** Unfolded, trimmed; encoded words are left as they are (see decodeWords). */
  value: string;
}

export interface ReportPart {
  /** Lower-cased type/subtype. */
  type: string;
  /** The decoded body (UTF-8, else Latin-1). */
  text: string;
}

export interface ParsedMail {
  headers: Header[];
  /** The text/plain parts, joined; '' when there are none. */
  text: string;
  /** Every part that is not inline text, in order. */
  parts: ReportPart[];
}

const OPTIONS = {
  keepDeliveryStatus: true,
  ignoreEmbedded: true,
  // Nothing here renders or links a body: no HTML is converted either way.
  skipHtmlToText: true,
  skipTextToHtml: true,
  skipTextLinks: true,
  skipImageLinks: true,
} as const;

/**
 * Parses a mail; mail mailparser refuses (over its limits, or not mail
 * at all) is an Error to say why, never a throw: one hostile report must not
 * stop the batch it came in.
 */
export async function parseMail(raw: string | Buffer): Promise<ParsedMail | Error> {
  try {
    const p = await simpleParser(raw, OPTIONS);
    return {
      headers: p.headerLines.map((l) => libmime.decodeHeader(l.line)).map(({ key, value }) => ({ name: key, value })),
      text: p.text ?? '',
      parts: p.attachments.map((a) => ({ type: a.contentType.toLowerCase(), text: bytesToText(a.content) })),
    };
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

/**
 * A block of `Name: value` lines, as delivery-status and feedback-report
 * bodies and the returned message's head are: RFC 822 fields, not MIME.
 * libmime unfolds them and stops at the first empty line; lines that are no
 * field (an mbox From_ line, prose) have no name without spaces, and are left out.
 */
export function headerBlock(text: string): Header[] {
  const fields = libmime.decodeHeaders(text);
  return Object.entries(fields).flatMap(([name, values]) => (name && !/\s/.test(name) ? values.map((value) => ({ name, value })) : []));
}

export function header(headers: readonly Header[], name: string): string | undefined {
  return headers.find((h) => h.name === name)?.value;
}

export function headersNamed(headers: readonly Header[], name: string): string[] {
  return headers.filter((h) => h.name === name).map((h) => h.value);
}

/** RFC 2047 encoded words (`=?utf-8?Q?…?=`), for subjects. */
export function decodeWords(value: string): string {
  return libmime.decodeWords(value);
}

/** UTF-8 when the bytes are valid UTF-8, else Latin-1: reports rarely say their charset right. */
export function bytesToText(b: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(b);
  } catch {
    return b.toString('latin1');
  }
}

/** The bare address in `Name <a@b>` or `<a@b>` or `rfc822; a@b`. */
export function bareAddress(value: string): string {
  const v = value.replace(/^[a-z0-9-]+;\s*/i, '');
  const angle = /<([^<>\s]+@[^<>\s]+)>/.exec(v);
  return (angle ? angle[1]! : v.trim().split(/\s+/)[0] ?? '').trim();
}
