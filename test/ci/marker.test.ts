import { describe, expect, it } from 'vitest';
import { autolink, codeBlock, htmlText, markdownText, thousands } from '../../src/ci/markdown.js';
import { bodyMarker, hasMarker, parsePlanMarker, planMarker, planMarkerPrefix } from '../../src/ci/marker.js';

const REVIEW = '0123456789abcdef'.repeat(4);

describe('comment markers', () => {
  it('a plan marker names the environment (default without one) and the review fingerprint, and parses back', () => {
    expect(planMarker('production', REVIEW)).toBe(`<!-- herald:plan env=production review=${REVIEW} -->`);
    expect(planMarker(null, REVIEW)).toBe(`<!-- herald:plan env=default review=${REVIEW} -->`);
    expect(parsePlanMarker(`${planMarker('staging', REVIEW)}\r\nbody`)).toEqual({ environment: 'staging', review: REVIEW });
    expect(parsePlanMarker(`> ${planMarker('staging', REVIEW)}`)).toBeUndefined();
    expect(parsePlanMarker(`<!-- herald:plan env=staging review=${REVIEW.slice(1)} -->`)).toBeUndefined();
    expect(() => planMarkerPrefix('Prod -->')).toThrow();
  });

  it("a prefix finds its own environment's comment, not one whose name it begins", () => {
    const body = `${planMarker('production', REVIEW)}\nbody`;
    expect(hasMarker(body, planMarkerPrefix('production'))).toBe(true);
    expect(hasMarker(body, planMarkerPrefix('prod'))).toBe(false);
    expect(hasMarker(body, '<!-- herald:plan')).toBe(true);
    expect(hasMarker('<!-- herald:preview -->\nx', '<!-- herald:preview -->')).toBe(true);
    expect(hasMarker('<!-- herald:previewer -->\nx', '<!-- herald:preview')).toBe(false);
    expect(hasMarker('text\n<!-- herald:preview -->', '<!-- herald:preview -->')).toBe(false);
  });

  it("the default marker is the body's first HTML comment, a plan's up to its environment", () => {
    expect(bodyMarker(`${planMarker('production', REVIEW)}\nbody`)).toBe('<!-- herald:plan env=production');
    expect(bodyMarker('<!-- herald:preview -->\nbody')).toBe('<!-- herald:preview -->');
    expect(bodyMarker('**no marker**\n<!-- x -->')).toBeUndefined();
  });
});

describe('escaping for GitHub Markdown', () => {
  it('a code block cannot be closed by what it holds', () => {
    expect(codeBlock('a\n```\nb')).toBe('````\na\n```\nb\n````');
    expect(codeBlock('x ````` y', 'diff')).toBe('``````diff\nx ````` y\n``````');
    expect(codeBlock('bidi \u202e here\r')).toBe('```\nbidi \\u202e here\\r\n```');
  });

  it('text is text: tags, Markdown, line breaks and mentions', () => {
    expect(htmlText('</summary><b onclick="x">\n\n@team')).toBe('&lt;/summary&gt;&lt;b onclick=&quot;x&quot;&gt;  @\u200bteam');
    expect(markdownText('[x](javascript:alert(1)) *b* `c` | d\n# e news@shop.example.com')).toBe(
      '\\[x\\]\\(javascript:alert\\(1\\)\\) \\*b\\* \\`c\\` \\| d \\# e news@shop\\.example\\.com',
    );
    expect(autolink('javascript:alert(1)')).toBeUndefined();
    expect(autolink('https://example.com/a b>c')).toBe('<https://example.com/a%20b%3Ec>');
    expect(thousands(1234567)).toBe('1,234,567');
  });
});
