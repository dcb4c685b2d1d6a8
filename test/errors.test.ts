import { describe, expect, it } from 'vitest';
import { formatProblem, printable } from '../src/errors.js';

describe('printable', () => {
  it('escapes C0 and C1 controls, DEL, bidi marks and line separators, and leaves the rest alone', () => {
    expect(printable('a\x1b[31mb\rc\nd\te\x00f\x7fg\x9bh')).toBe('a\\x1b[31mb\\rc\\nd\\te\\x00f\\x7fg\\x9bh');
    expect(printable('\u202egnp.exe\u2066x\u2069\u200f\u061c\u2028')).toBe('\\u202egnp.exe\\u2066x\\u2069\\u200f\\u061c\\u2028');
    expect(printable('Grüße, Здравствуйте, 👋 "quoted" \\ back')).toBe('Grüße, Здравствуйте, 👋 "quoted" \\ back');
  });

  it('keeps line breaks when asked, and only them', () => {
    expect(printable('one\ntwo\r\n\x1b', { newlines: true })).toBe('one\ntwo\\r\n\\x1b');
  });

  it('is applied to every part of a located problem', () => {
    const p = { file: 'segments/\x1b.yaml', line: 1, column: 2, message: 'unknown key "\x1b[2J"', hint: 'remove \r', rule: 'schema', severity: 'error' as const };
    expect(formatProblem(p)).toBe('segments/\\x1b.yaml:1:2: error: unknown key "\\x1b[2J"\n  hint: remove \\r');
  });
});
