import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tidyText } from '../../src/render/personalize.js';

/**
 * The text part's tidying as it was first written, one step after another
 * over the whole text: the reference the faster tidyText must equal.
 */
function reference(text: string): string {
  const t = text.replace(/^[ \t\u00a0\u2000-\u200b]+$/gm, '').replace(/\n{3,}/g, '\n\n');
  const bare = /^\S+:\/\/\S+$/;
  const paragraphs = t.split('\n\n');
  const kept = paragraphs.filter((para, i, all) => !(bare.test(para.trim()) && all[i + 1]?.includes(`[${para.trim()}]`)));
  return kept
    .join('\n\n')
    .trim()
    .split('\n')
    .map((line) => {
      if (line.length <= 78) return line;
      const out: string[] = [];
      let rest = line;
      for (;;) {
        rest = rest.replace(/^ +/, '');
        if (rest.length <= 78) return [...out, rest].join('\n');
        let cut = rest.lastIndexOf(' ', 78);
        if (cut <= 0) {
          cut = rest.indexOf(' ', 78);
          if (cut < 0) return [...out, rest].join('\n');
        }
        out.push(rest.slice(0, cut));
        rest = rest.slice(cut + 1);
      }
    })
    .join('\n');
}

describe('tidyText', () => {
  it('tidies as the plain reference does: blank runs, bare image links, lines wrapped at 78', () => {
    const url = 'https://shop.example.com/products/leather-chelsea-boots';
    const samples = [
      '',
      `New arrivals\n\n \n\nDear <b>,\n\n\n\n${url}\n\nLeather Chelsea Boots [${url}]\n\n€189.00\n\n\n\n`,
      `${url}\n\nElsewhere [https://other.example/]`,
      `  \n  ${url}  \n\nBoots [${url}]`,
      `Our winter collection is in: warm coats, boots and accessories, made to last. Here are a few pieces we picked for you.`,
      `${'x'.repeat(100)} ${'y'.repeat(90)} z`,
      `a\u00a0\n\u2003\nb\r\n \r\nc\u2028  \u2028d`,
      `a\n\u00a0\n\n\t\u00a0\u2000\u200a\nb`,
      `a\u2029\u2029b\n\n\n${url}`,
      `a\n ${'x'.repeat(77)}\n  ${'y'.repeat(77)}\nb`,
    ];
    for (const s of samples) expect(tidyText(s), JSON.stringify(s)).toBe(reference(s));
  });

  it('equals the reference on generated texts', () => {
    const piece = fc.constantFrom('word', 'Слово', ' ', '  ', '\t', '\f', '\v', '\u3000', '\u1680', '\u202f', '\ufeff', '\u200a', '\u200b', '\u00a0', '\u2003', '\n', '\n\n', '\n \n', '\r', '\u2028', '\u2029', 'https://a.example/x', '[https://a.example/x]', 'mailto:x@y', '://', 'x'.repeat(40), ' ', '.');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 60 }), (parts) => {
        const s = parts.join('');
        return tidyText(s) === reference(s);
      }),
      { numRuns: 3000 },
    );
  });
});
