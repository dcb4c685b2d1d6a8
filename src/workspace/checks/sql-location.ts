import { isScalar, locate, type PathSegment, type YamlSource } from '../source.js';

/**
 * Where one character of a string value sits in its YAML file, so an SQL
 * error inside a multi-line block scalar points at its own line.
 *
 * Each source line of the scalar is found, in order, in the parsed value;
 * that maps literal (`|`) blocks exactly, and folded (`>`), plain and quoted
 * scalars wherever folding and escapes left a line's text intact. When the
 * character cannot be placed, the answer is the start of the value.
 */
export function positionInValue(src: YamlSource, fileText: string, path: readonly PathSegment[], index: number): { line: number; column: number } {
  const fallback = locate(src, path);
  const node = src.doc.getIn(path, true);
  if (!isScalar(node) || typeof node.value !== 'string' || !node.range) return fallback;
  const value = node.value;
  const [start, end] = node.range;
  const raw = fileText.slice(start, end);
  const block = node.type === 'BLOCK_LITERAL' || node.type === 'BLOCK_FOLDED';
  const quoted = node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE';

  // Pieces of the value found verbatim in the source: [offset in value, length, offset in file].
  const pieces: [number, number, number][] = [];
  let cursor = 0;
  let lineStart = start;
  raw.split('\n').forEach((line, i, lines) => {
    const at = lineStart;
    lineStart += line.length + 1;
    if (block && i === 0) return; // the |, >- ... header
    let from = line.length - line.trimStart().length;
    let to = line.trimEnd().length;
    if (quoted && i === 0) from += 1;
    if (quoted && i === lines.length - 1) to -= 1;
    if (to <= from) return;
    const text = line.slice(from, to);
    const found = value.indexOf(text, cursor);
    if (found < 0) return;
    pieces.push([found, text.length, at + from]);
    cursor = found + text.length;
  });
  const piece = pieces.findLast(([offset]) => offset <= index);
  if (!piece) return fallback;
  const [offset, length, fileOffset] = piece;
  const pos = src.lines.linePos(fileOffset + Math.min(index - offset, length));
  return { line: pos.line, column: pos.col };
}

/** A character offset counted in code points (as PostgreSQL counts) as a JavaScript string index. */
export function codePointIndex(text: string, codePoints: number): number {
  let i = 0;
  for (let n = 0; n < codePoints && i < text.length; n++) i += (text.codePointAt(i) ?? 0) > 0xffff ? 2 : 1;
  return i;
}

/** A byte offset into the UTF-8 encoding (as libpg_query's node locations count) as a JavaScript string index. */
export function byteIndex(text: string, bytes: number): number {
  return Buffer.from(text, 'utf8').subarray(0, Math.max(0, bytes)).toString('utf8').length;
}
