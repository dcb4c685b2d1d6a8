/**
 * How an SMS is encoded and into how many parts it is split, which is what a
 * provider bills. Pure: validate runs it on templates with tokens at their
 * longest, the sms renderer on each message.
 *
 * GSM 03.38 packs the basic alphabet into 7-bit septets: 160 in one SMS, 153
 * per part once concatenated (the user data header takes the rest). The
 * extension table's characters are an escape plus a septet, 2 each, and a
 * part never ends between the two. Any other character makes the whole
 * message UCS-2: UTF-16 code units, 70 in one SMS, 67 per part, and a part
 * never ends inside a surrogate pair (an emoji is 2 units).
 */

export type SmsEncodingName = 'GSM-7' | 'UCS-2';

export interface SmsEncoding {
  encoding: SmsEncodingName;
  /** Septets for GSM-7, UTF-16 code units for UCS-2. */
  units: number;
  /** Parts the message is sent (and billed) as; at least 1. */
  parts: number;
  /** The first character outside GSM-7, and its index in the text (UTF-16), when the message is UCS-2. */
  forcedBy?: { char: string; index: number };
}

/** The GSM 03.38 basic character set, without the escape (0x1B) that introduces the extension table. */
const GSM_BASIC = new Set(
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà',
);

/** The extension table: an escape and a septet each. */
const GSM_EXTENSION = new Set('\f^{}\\[~]|€');

export const GSM_SINGLE = 160;
export const GSM_PART = 153;
export const UCS2_SINGLE = 70;
export const UCS2_PART = 67;

/** The septets a character takes in GSM-7, or undefined when GSM-7 has no such character. */
export function gsmSeptets(char: string): 1 | 2 | undefined {
  if (GSM_BASIC.has(char)) return 1;
  if (GSM_EXTENSION.has(char)) return 2;
  return undefined;
}

export function smsEncoding(text: string): SmsEncoding {
  const chars = [...text];
  const gsm: number[] = [];
  let index = 0;
  for (const char of chars) {
    const septets = gsmSeptets(char);
    if (septets === undefined) {
      const costs = chars.map((c) => c.length);
      const units = costs.reduce((a, b) => a + b, 0);
      return { encoding: 'UCS-2', units, parts: parts(costs, units, UCS2_SINGLE, UCS2_PART), forcedBy: { char, index } };
    }
    gsm.push(septets);
    index += char.length;
  }
  const units = gsm.reduce((a, b) => a + b, 0);
  return { encoding: 'GSM-7', units, parts: parts(gsm, units, GSM_SINGLE, GSM_PART) };
}

/** Parts for characters of the given costs, filled in order, none split across two parts. */
function parts(costs: number[], units: number, single: number, perPart: number): number {
  if (units <= single) return 1;
  let n = 1;
  let used = 0;
  for (const c of costs) {
    if (used + c > perPart) {
      n++;
      used = 0;
    }
    used += c;
  }
  return n;
}
