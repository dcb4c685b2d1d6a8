import { describe, expect, it } from 'vitest';
import { gsmSeptets, smsEncoding } from '../../../src/channels/sms/encoding.js';

describe('smsEncoding', () => {
  it('counts plain GSM-7 text one septet a character, in one part up to 160', () => {
    expect(smsEncoding('Hello Anna, your order shipped.')).toEqual({ encoding: 'GSM-7', units: 31, parts: 1 });
    expect(smsEncoding('a'.repeat(160))).toEqual({ encoding: 'GSM-7', units: 160, parts: 1 });
  });

  it('splits at 161 into parts of 153', () => {
    expect(smsEncoding('a'.repeat(161))).toEqual({ encoding: 'GSM-7', units: 161, parts: 2 });
    expect(smsEncoding('a'.repeat(306)).parts).toBe(2);
    expect(smsEncoding('a'.repeat(307)).parts).toBe(3);
    expect(smsEncoding('a'.repeat(459)).parts).toBe(3);
    expect(smsEncoding('a'.repeat(460)).parts).toBe(4);
  });

  it('counts the empty message as one part', () => {
    expect(smsEncoding('')).toEqual({ encoding: 'GSM-7', units: 0, parts: 1 });
  });

  it('counts every extension character as two septets', () => {
    for (const c of ['^', '{', '}', '\\', '[', '~', ']', '|', '€', '\f']) {
      expect(gsmSeptets(c), c).toBe(2);
      expect(smsEncoding(`a${c}`), c).toEqual({ encoding: 'GSM-7', units: 3, parts: 1 });
    }
  });

  it('keeps GSM-7 for the accented letters of the basic set', () => {
    for (const c of ['é', 'è', 'ü', 'Ä', 'ñ', 'ß', 'Ç', '£', '¥', '§', '¿', '¡', 'Δ', 'Ω', '@', '\n', '\r']) expect(gsmSeptets(c), c).toBe(1);
    expect(smsEncoding('Grüße aus München, café für 5 €').encoding).toBe('GSM-7');
  });

  it('puts an extension character at the 160 boundary into a second part', () => {
    // 159 + 2 = 161 septets: no longer one part.
    expect(smsEncoding(`${'a'.repeat(159)}€`)).toEqual({ encoding: 'GSM-7', units: 161, parts: 2 });
    expect(smsEncoding(`${'a'.repeat(158)}€`)).toEqual({ encoding: 'GSM-7', units: 160, parts: 1 });
  });

  it('never splits an escape from its character across parts', () => {
    // 152 + € would end the first part on the escape: the € moves to part 2, which then holds 2 + 152 = 154 > 153.
    const text = `${'a'.repeat(152)}€${'a'.repeat(152)}`;
    expect(smsEncoding(text).units).toBe(306);
    expect(smsEncoding(text).parts).toBe(3);
    // The same count with the € elsewhere fits in two.
    expect(smsEncoding(`€${'a'.repeat(304)}`).parts).toBe(2);
  });

  it('switches to UCS-2 for a curly quote and names it', () => {
    const r = smsEncoding('Don’t miss it');
    expect(r).toEqual({ encoding: 'UCS-2', units: 13, parts: 1, forcedBy: { char: '’', index: 3 } });
  });

  it('counts Cyrillic in UCS-2: 70 in one, 67 per part', () => {
    expect(smsEncoding('п'.repeat(70))).toMatchObject({ encoding: 'UCS-2', units: 70, parts: 1, forcedBy: { char: 'п', index: 0 } });
    expect(smsEncoding('п'.repeat(71)).parts).toBe(2);
    expect(smsEncoding('п'.repeat(134)).parts).toBe(2);
    expect(smsEncoding('п'.repeat(135)).parts).toBe(3);
  });

  it('counts an emoji as two UTF-16 units and never splits it', () => {
    expect(smsEncoding('Hi 😀')).toEqual({ encoding: 'UCS-2', units: 5, parts: 1, forcedBy: { char: '😀', index: 3 } });
    expect(smsEncoding(`${'a'.repeat(68)}😀`)).toMatchObject({ units: 70, parts: 1 });
    expect(smsEncoding(`${'a'.repeat(69)}😀`)).toMatchObject({ units: 71, parts: 2 });
    // 66 + a pair would end part 1 inside the pair: it moves, and part 2 holds 2 + 66 = 68 > 67.
    expect(smsEncoding(`${'a'.repeat(66)}😀${'a'.repeat(66)}`)).toMatchObject({ units: 134, parts: 3 });
    expect(smsEncoding(`😀${'a'.repeat(132)}`)).toMatchObject({ units: 134, parts: 2 });
  });

  it('names the first character outside GSM-7, counting extension characters in the index as one', () => {
    expect(smsEncoding('{x} “quoted” ’').forcedBy).toEqual({ char: '“', index: 4 });
    expect(smsEncoding('😀 and ’').forcedBy).toEqual({ char: '😀', index: 0 });
    expect(smsEncoding('a 😀 ’').forcedBy).toEqual({ char: '😀', index: 2 });
  });

  it('counts a GSM extension character as one unit once the message is UCS-2', () => {
    expect(smsEncoding('€ п')).toMatchObject({ encoding: 'UCS-2', units: 3 });
  });

  it('treats a tab and a backtick as outside GSM-7', () => {
    expect(smsEncoding('a\tb').forcedBy).toEqual({ char: '\t', index: 1 });
    expect(smsEncoding('`').encoding).toBe('UCS-2');
  });
});
