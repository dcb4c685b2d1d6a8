import { describe, expect, it } from 'vitest';
import { expandIncludes, partialName } from '../../src/render/partials.js';
import type { TextFile } from '../../src/workspace/model.js';

const T = 'templates/news/en.mjml';

function partials(files: Record<string, string>): Map<string, TextFile> {
  return new Map(Object.entries(files).map(([name, text]) => [name, { file: `templates/_partials/${name}`, text }]));
}

/** The 1-based line and column of the first `needle` in `text`. */
function find(text: string, needle: string): { line: number; column: number } {
  const i = text.indexOf(needle);
  const before = text.slice(0, i).split('\n');
  return { line: before.length, column: before.at(-1)!.length + 1 };
}

describe('expandIncludes', () => {
  it('inlines a partial in place and maps every line back to the file it came from', () => {
    const src = '<mjml>\n<mj-body>\n<mj-include path="../_partials/header.mjml" />\n<mj-section>after</mj-section>\n</mj-body>\n</mjml>\n';
    const out = expandIncludes(src, T, partials({ 'header.mjml': '<mj-section>\n  <mj-column>head</mj-column>\n</mj-section>' }));
    expect(out.problems).toEqual([]);
    expect(out.text).toBe('<mjml>\n<mj-body>\n<mj-section>\n  <mj-column>head</mj-column>\n</mj-section>\n<mj-section>after</mj-section>\n</mj-body>\n</mjml>\n');
    expect(out.origin(2)).toEqual({ file: T, line: 2, column: 1 });
    expect(out.origin(4, 3)).toEqual({ file: 'templates/_partials/header.mjml', line: 2, column: 3 });
    const after = find(out.text, 'after');
    expect(out.origin(after.line, after.column)).toEqual({ file: T, line: 4, column: 13 });
    expect(out.origin(8)).toEqual({ file: T, line: 6, column: 1 });
  });

  it('maps columns on a line shared by the template and a partial', () => {
    const src = '<mj-body>  <mj-include path="../_partials/a.mjml"/> <mj-text>x</mj-text></mj-body>';
    const out = expandIncludes(src, T, partials({ 'a.mjml': '<mj-spacer />' }));
    expect(out.text).toBe('<mj-body>  <mj-spacer /> <mj-text>x</mj-text></mj-body>');
    expect(out.originOf(out.text.indexOf('<mj-spacer'))).toEqual({ file: 'templates/_partials/a.mjml', line: 1, column: 1 });
    expect(out.originOf(out.text.indexOf('<mj-text'))).toEqual({ file: T, line: 1, column: src.indexOf('<mj-text') + 1 });
  });

  it('accepts the path written from the template, from _partials/, with ./ and without the extension', () => {
    const ps = partials({ 'a.mjml': 'A' });
    for (const path of ['../_partials/a.mjml', '_partials/a.mjml', './_partials/a.mjml', '../_partials/a']) {
      const out = expandIncludes(`[<mj-include path="${path}" />]`, T, ps);
      expect(out.problems, path).toEqual([]);
      expect(out.text, path).toBe('[A]');
    }
    expect(expandIncludes('<mj-include path="../_partials/a.mjml"></mj-include>', T, ps).text).toBe('A');
  });

  it('inlines partials that include other partials, by the path written from _partials/', () => {
    const ps = partials({ 'a.mjml': 'a(<mj-include path="./b.mjml" />)', 'b.mjml': 'b(<mj-include path="../_partials/c.mjml" />)', 'c.mjml': 'c\nc' });
    const out = expandIncludes('<mj-include path="../_partials/a.mjml" />!', T, ps);
    expect(out.problems).toEqual([]);
    expect(out.text).toBe('a(b(c\nc))!');
    expect(out.origin(2, 1)).toEqual({ file: 'templates/_partials/c.mjml', line: 2, column: 1 });
    expect(out.origin(2, 2)).toEqual({ file: 'templates/_partials/b.mjml', line: 1, column: 44 });
    expect(out.origin(2, 3)).toEqual({ file: 'templates/_partials/a.mjml', line: 1, column: 33 });
    expect(out.origin(2, 4)).toEqual({ file: T, line: 1, column: 42 });
  });

  it('reports a missing partial at its include, with the nearest name, and drops the include', () => {
    const out = expandIncludes('<mj-body>\n  <mj-include path="../_partials/heder.mjml" />\n</mj-body>', T, partials({ 'header.mjml': 'H' }));
    expect(out.text).toBe('<mj-body>\n  \n</mj-body>');
    expect(out.problems).toEqual([
      { file: T, line: 2, column: 3, message: 'partial "heder.mjml" does not exist', rule: 'partial', severity: 'error', hint: 'did you mean "header.mjml"?' },
    ]);
  });

  it('reports a cycle at the include that closes it', () => {
    const ps = partials({ 'a.mjml': '<mj-include path="b.mjml" />', 'b.mjml': 'b\n<mj-include path="a.mjml" />' });
    const out = expandIncludes('<mj-include path="../_partials/a.mjml" />', T, ps);
    expect(out.text).toBe('b\n');
    expect(out.problems.map((p) => [p.file, p.line, p.column, p.message])).toEqual([
      ['templates/_partials/b.mjml', 2, 1, 'partials include each other in a cycle: a.mjml → b.mjml → a.mjml'],
    ]);
  });

  it('reports a partial that includes itself', () => {
    const out = expandIncludes('<mj-include path="../_partials/a.mjml" />', T, partials({ 'a.mjml': 'x<mj-include path="a.mjml" />' }));
    expect(out.problems.map((p) => p.message)).toEqual(['partials include each other in a cycle: a.mjml → a.mjml']);
  });

  it('refuses includes herald cannot inline', () => {
    const ps = partials({ 'doc.mjml': '<!-- a whole <mjml> document -->\n<mjml><mj-body></mj-body></mjml>' });
    const src = [
      '<mj-include path="header.mjml" />',
      '<mj-include />',
      '<mj-include path="../_partials/style.css" type="css" />',
      '<mj-include path="../_partials/doc.mjml" />',
    ].join('\n');
    const out = expandIncludes(src, T, ps);
    expect(out.text).toBe('\n\n\n');
    expect(out.problems.map((p) => `${p.file}:${p.line}:${p.column} ${p.message}`)).toEqual([
      `${T}:1:1 mj-include path "header.mjml" is outside templates/_partials/`,
      `${T}:2:1 <mj-include> has no path`,
      `${T}:3:1 herald inlines only MJML partials, not type="css"`,
      'templates/_partials/doc.mjml:2:1 a partial is a fragment, not a whole <mjml> document',
    ]);
  });

  it('leaves includes inside HTML comments alone', () => {
    const src = '<!-- <mj-include path="../_partials/missing.mjml" /> -->';
    const out = expandIncludes(src, T, new Map());
    expect(out.problems).toEqual([]);
    expect(out.text).toBe(src);
  });

  it('returns a text without includes unchanged, mapped to itself', () => {
    const out = expandIncludes('a\nb\n', T, new Map());
    expect(out.text).toBe('a\nb\n');
    expect(out.origin(2, 1)).toEqual({ file: T, line: 2, column: 1 });
    expect(out.originOf(2)).toEqual({ file: T, line: 2, column: 1 });
  });
});

describe('partialName', () => {
  it('resolves paths to a file in templates/_partials/', () => {
    expect(partialName('../_partials/footer.en.mjml', T)).toBe('footer.en.mjml');
    expect(partialName(' ./_partials/x ', T)).toBe('x.mjml');
    expect(partialName('x.mjml', 'templates/_partials/a.mjml')).toBe('x.mjml');
    expect(partialName('./x.mjml', 'templates/_partials/a.mjml')).toBe('x.mjml');
  });

  it('gives undefined for paths outside it', () => {
    expect(partialName('x.mjml', T)).toBeUndefined();
    expect(partialName('../other/x.mjml', T)).toBeUndefined();
    expect(partialName('../_partials/sub/x.mjml', T)).toBeUndefined();
    expect(partialName('../_partials/', T)).toBeUndefined();
  });
});
