import { smsEncoding, GSM_PART, GSM_SINGLE, UCS2_PART, UCS2_SINGLE, type SmsEncoding } from '../../channels/sms/encoding.js';
import type { Problem } from '../../errors.js';
import { smsText, SMS_MAX_PARTS_DEFAULT, type Project, type TextFile } from '../model.js';
import { longestContext, longestLinks, renderLongest } from './templates-longest.js';

/**
 * An SMS text: plain text, never markup; and what it costs with every token
 * at its longest: the encoding (one character outside GSM-7 makes the whole
 * message UCS-2, less than half as many characters a part) and the parts,
 * against sms.max_parts. Tokens and syntax are checked with the other parts
 * of the template.
 */
export function smsProblems(f: TextFile, project: Project): Problem[] {
  const at = (line: number, column: number) => ({ file: f.file, line, column });
  const name = f.file.slice(f.file.lastIndexOf('/') + 1);
  if (smsText(f.text).trim() === '') {
    return [{ ...at(1, 1), message: `${name} is empty`, rule: 'sms', severity: 'error', hint: 'write the message, or remove the file' }];
  }
  const literal = outsideTags(f.text);
  const out: Problem[] = markup(literal, f.text).map((m) => ({
    ...at(...position(f.text, m.index)),
    message: `${m.tag} in an SMS: SMS is plain text, and the tag would arrive as written`,
    rule: 'sms',
    severity: 'error',
    hint: 'write the text without markup; a link is written as the address itself, and herald shortens it',
  }));
  const longest = smsAtLongest(f.text, f.file, project);
  if (longest === undefined) return out;
  const { text, encoding: enc } = longest;
  const max = project.sms?.max_parts ?? SMS_MAX_PARTS_DEFAULT;
  // A letter of another script (Cyrillic, Greek, Chinese) that the author wrote is the message's
  // language: UCS-2 is its only encoding, nothing to warn about. Punctuation and symbols (’ – … emoji)
  // have plain stand-ins, and a letter that comes from a site's value surprises an English text.
  const ownScript = enc.forcedBy !== undefined && /\p{L}/u.test(enc.forcedBy.char) && literal.includes(enc.forcedBy.char);
  if (enc.forcedBy && !ownScript) {
    // Tokens are measured with GSM-7 letters, except the site's values from herald.yaml, taken as written.
    const index = firstOutsideGsm(literal, enc.forcedBy.char) ?? f.text.indexOf(enc.forcedBy.char);
    const [line, column] = index >= 0 ? position(f.text, index) : [1, 1];
    const where = index >= 0 ? `at ${line}:${column}` : 'in a site\'s value in herald.yaml (its name, address or brand)';
    out.push({
      ...at(line, column),
      message: `${shown(enc.forcedBy.char)} ${where} makes the whole message UCS-2: ${UCS2_SINGLE} characters a part instead of ${GSM_SINGLE}`,
      rule: 'sms',
      severity: 'warning',
      hint: ucs2Hint(text, enc),
    });
  }
  if (enc.parts > max) {
    const perPart = enc.encoding === 'GSM-7' ? GSM_PART : UCS2_PART;
    out.push({
      ...at(1, 1),
      message: `${name} needs ${enc.parts} parts with every token at its longest (${enc.units} ${enc.encoding} characters, ${perPart} a part), more than sms.max_parts (${max})`,
      rule: 'sms',
      severity: 'warning',
      hint: 'each part is billed as one SMS: shorten the text or the tokens in it, or raise sms.max_parts in herald.yaml',
    });
  }
  return out;
}

const URL = /https?:\/\/[^\s<>"']+/g;

/**
 * An SMS text as long as it can get: every token at its longest and every
 * address a short tracking link, with its encoding and parts; undefined when
 * the template does not render (its own problems say why). validate warns
 * from it, and plan prices a campaign's SMS with it.
 */
export function smsAtLongest(source: string, file: string, project: Project): { text: string; encoding: SmsEncoding } | undefined {
  const links = longestLinks(project);
  const rendered = renderLongest(source, file, longestContext(project, source, links.short));
  if (rendered === undefined) return undefined;
  // Every address in an SMS becomes a short tracking link, whatever its length was.
  const text = smsText(rendered).replace(URL, links.short);
  return { text, encoding: smsEncoding(text) };
}

/** The text with every nunjucks tag, expression and comment blanked (line breaks kept), so offsets stay the file's. */
function outsideTags(text: string): string {
  return text.replace(/\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}|\{#[\s\S]*?#\}/g, (m) => m.replace(/[^\n]/g, ' '));
}

/** Tags and comments in the text outside nunjucks tags, shown as written. */
function markup(literal: string, text: string): { tag: string; index: number }[] {
  return [...literal.matchAll(/<\/?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?\/?>|<!--/g)].map((m) => {
    const tag = text.slice(m.index, m.index + m[0].length).replace(/\s+/g, ' ');
    return { tag: tag.length > 40 ? `${tag.slice(0, 37)}...` : tag, index: m.index };
  });
}

/** 1-based line and column (in characters) of an offset. */
function position(text: string, index: number): [number, number] {
  const before = text.slice(0, index);
  const line = before.split('\n').length;
  return [line, [...before.slice(before.lastIndexOf('\n') + 1)].length + 1];
}

function firstOutsideGsm(literal: string, char: string): number | undefined {
  const i = literal.indexOf(char);
  return i >= 0 ? i : undefined;
}

/** A character as a message names it: itself and its code point, or only the code point when it does not print. */
function shown(char: string): string {
  const code = `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
  return /^[\p{L}\p{N}\p{P}\p{S}]$/u.test(char) ? `${char} (${code})` : `the invisible character ${code}`;
}

/** Characters a word processor puts in for GSM-7 ones: the GSM-7 character to write instead. */
const PLAIN: Record<string, string> = {
  '’': "'", '‘': "'", '‚': "'", '′': "'", '´': "'",
  '“': '"', '”': '"', '„': '"', '″': '"', '«': '"', '»': '"',
  '–': '-', '—': '-', '‑': '-',
  '…': '...',
  '\u00a0': ' ', '\u2009': ' ', '\u202f': ' ', '\t': ' ',
};

function ucs2Hint(text: string, enc: SmsEncoding): string {
  const plain = [...text].map((c) => PLAIN[c] ?? c).join('');
  const asGsm = smsEncoding(plain);
  const cost = `${enc.parts} ${enc.parts === 1 ? 'part' : 'parts'}`;
  if (asGsm.encoding === 'GSM-7') {
    const swaps = [...new Set([...text].filter((c) => PLAIN[c] !== undefined))].map((c) => `${PLAIN[c] === ' ' ? 'a space' : PLAIN[c]} for ${shown(c)}`);
    return `write ${swaps.join(', ')}: as GSM-7 the message takes ${asGsm.parts} ${asGsm.parts === 1 ? 'part' : 'parts'} instead of ${cost} with every token at its longest`;
  }
  const size = enc.parts === 1 ? `fits in one part of ${UCS2_SINGLE} characters` : `takes ${cost} of ${UCS2_PART} characters`;
  return `Cyrillic, Greek, Chinese and emoji are always UCS-2, which is fine for a message in those scripts; with every token at its longest this one ${size}`;
}
