import { closest, distance } from 'fastest-levenshtein';
import type { Problem } from '../errors.js';
import type { TextFile } from '../workspace/model.js';

/**
 * herald inlines `<mj-include>` itself instead of letting MJML read files, so
 * a deployed template is one self-contained text, and so every position in
 * that text can be traced back to the file an author wrote.
 */

/** A position in a workspace file, 1-based. */
export interface SourcePosition {
  file: string;
  line: number;
  column: number;
}

export interface ExpandedBody {
  /** The MJML with every include replaced by its partial's text. */
  text: string;
  /** Missing partials, cycles, and includes herald cannot inline; each include is dropped from `text`. */
  problems: Problem[];
  /** Where a line (and column) of `text` was written. */
  origin(line: number, column?: number): SourcePosition;
  /** Where the character at `offset` in `text` was written. */
  originOf(offset: number): SourcePosition;
  /** The files the text was written in: the body and every partial it inlines. */
  files: string[];
}

// A tag's attributes may hold ">" inside quotes.
const INCLUDE = /<mj-include\b((?:[^>"']|"[^"]*"|'[^']*')*?)\/?>(?:\s*<\/mj-include>)?/g;
const COMMENT = /<!--[\s\S]*?(?:-->|$)/g;
const ATTRIBUTE = /([^\s=/]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))/g;
const WHOLE_DOCUMENT = /<mjml[\s>]/;

/** Where a piece of the expanded text starts, and where it was written. */
interface Span {
  outLine: number;
  outColumn: number;
  at: SourcePosition;
}

export function expandIncludes(source: string, file: string, partials: Map<string, TextFile>): ExpandedBody {
  const spans: Span[] = [];
  const problems: Problem[] = [];
  let text = '';
  let line = 1;
  let column = 1;

  const emit = (piece: string, at: SourcePosition) => {
    if (piece === '') return;
    spans.push({ outLine: line, outColumn: column, at });
    text += piece;
    const lastBreak = piece.lastIndexOf('\n');
    if (lastBreak === -1) column += piece.length;
    else {
      line += countLines(piece);
      column = piece.length - lastBreak;
    }
  };

  const inline = (src: TextFile, stack: string[]) => {
    const positions = lineStarts(src.text);
    const at = (offset: number): SourcePosition => ({ file: src.file, ...positionIn(positions, offset) });
    const comments = ranges(src.text, COMMENT);
    let done = 0;
    for (const m of src.text.matchAll(INCLUDE)) {
      const start = m.index;
      if (comments.some(([s, e]) => start >= s && start < e)) continue;
      emit(src.text.slice(done, start), at(done));
      done = start + m[0].length;
      const problem = (message: string, hint?: string) =>
        problems.push({ ...at(start), message, rule: 'partial', severity: 'error', ...(hint ? { hint } : {}) });

      const attrs = attributes(m[1] ?? '');
      const path = attrs.get('path');
      if (!path) {
        problem('<mj-include> has no path', 'write <mj-include path="../_partials/<name>.mjml" />');
        continue;
      }
      if (attrs.has('type') && attrs.get('type') !== 'mjml') {
        problem(`herald inlines only MJML partials, not type="${attrs.get('type')}"`, 'put styles in an <mj-style> inside an MJML partial');
        continue;
      }
      const name = partialName(path, src.file);
      if (!name) {
        problem(`mj-include path "${path}" is outside templates/_partials/`, `shared partials live in templates/_partials/; include one as ../_partials/${basename(path)}`);
        continue;
      }
      const partial = partials.get(name);
      if (!partial) {
        problem(`partial "${name}" does not exist`, missingHint(name, partials));
        continue;
      }
      if (stack.includes(partial.file)) {
        const chain = [...stack.slice(stack.indexOf(partial.file)), partial.file].map(basename);
        problem(`partials include each other in a cycle: ${chain.join(' → ')}`, 'a partial cannot include itself, directly or through others');
        continue;
      }
      const whole = outsideComments(partial.text, WHOLE_DOCUMENT);
      if (whole !== undefined) {
        problems.push({
          file: partial.file,
          ...positionIn(lineStarts(partial.text), whole),
          message: 'a partial is a fragment, not a whole <mjml> document',
          rule: 'partial',
          severity: 'error',
          hint: 'remove the <mjml> and <mj-body> wrappers; the including template provides them',
        });
        continue;
      }
      inline(partial, [...stack, partial.file]);
    }
    emit(src.text.slice(done), at(done));
  };

  inline({ file, text: source }, [file]);
  const outStarts = lineStarts(text);
  const origin = (outLine: number, outColumn = 1): SourcePosition => {
    const span = lastSpanAt(spans, outLine, outColumn);
    if (!span) return { file, line: outLine, column: outColumn };
    if (span.outLine === outLine) return { file: span.at.file, line: span.at.line, column: span.at.column + outColumn - span.outColumn };
    return { file: span.at.file, line: span.at.line + outLine - span.outLine, column: outColumn };
  };
  return {
    text,
    problems,
    files: [...new Set([file, ...spans.map((s) => s.at.file)])],
    origin,
    originOf: (offset) => {
      const p = positionIn(outStarts, offset);
      return origin(p.line, p.column);
    },
  };
}

/**
 * The partial an include path names, or undefined when it points elsewhere.
 * MJML resolves paths from the including file, so a template writes
 * ../_partials/x.mjml and a partial writes x.mjml; herald also accepts
 * _partials/x.mjml, and a missing .mjml extension as MJML does.
 */
export function partialName(path: string, from: string): string | undefined {
  let p = path.trim().replace(/\\/g, '/');
  while (p.startsWith('./')) p = p.slice(2);
  const inPartials = from.startsWith('templates/_partials/');
  if (p.startsWith('../_partials/')) p = p.slice('../_partials/'.length);
  else if (p.startsWith('_partials/')) p = p.slice('_partials/'.length);
  else if (!inPartials) return undefined;
  if (p === '' || p.includes('/')) return undefined;
  return p.endsWith('.mjml') ? p : `${p}.mjml`;
}

function missingHint(name: string, partials: Map<string, TextFile>): string {
  const names = [...partials.keys()];
  if (names.length === 0) return `create templates/_partials/${name}`;
  const near = closest(name, names);
  if (distance(name, near) <= 3) return `did you mean "${near}"?`;
  return `known partials: ${names.join(', ')}; or create templates/_partials/${name}`;
}

function attributes(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(ATTRIBUTE)) out.set(m[1]!, m[2] ?? m[3] ?? m[4] ?? '');
  return out;
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function countLines(s: string): number {
  let n = 0;
  for (let i = s.indexOf('\n'); i !== -1; i = s.indexOf('\n', i + 1)) n++;
  return n;
}

function ranges(text: string, re: RegExp): [number, number][] {
  return [...text.matchAll(re)].map((m) => [m.index, m.index + m[0].length]);
}

/** The offset of the first match of `re` that is not inside an HTML comment. */
function outsideComments(text: string, re: RegExp): number | undefined {
  const comments = ranges(text, COMMENT);
  const global = new RegExp(re.source, 'g');
  for (const m of text.matchAll(global)) {
    if (!comments.some(([s, e]) => m.index >= s && m.index < e)) return m.index;
  }
  return undefined;
}

/** The offset at which each line of `text` starts. */
export function lineStarts(text: string): number[] {
  const out = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) out.push(i + 1);
  return out;
}

/** 1-based line and column of `offset`, given the text's line starts. */
export function positionIn(starts: number[], offset: number): { line: number; column: number } {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo + 1, column: offset - starts[lo]! + 1 };
}

function lastSpanAt(spans: Span[], line: number, column: number): Span | undefined {
  let found: Span | undefined;
  for (const s of spans) {
    if (s.outLine < line || (s.outLine === line && s.outColumn <= column)) found = s;
    else break;
  }
  return found;
}
