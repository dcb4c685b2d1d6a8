import type { LinkSet } from '../links/rewrite.js';

/** An SMS for one recipient, rendered from the template's `sms.<locale>.txt`. */
export interface RenderedSms {
  channel: 'sms';
  /** Plain text, its links already short tracking links. */
  text: string;
  encoding: 'GSM-7' | 'UCS-2';
  /** How many parts the provider bills. */
  parts: number;
  linkSet?: LinkSet;
}
