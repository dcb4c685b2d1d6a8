import type { Document, LineCounter, Node, Pair, Scalar, YAMLMap } from 'yaml';
import type { Problem } from '../errors.js';
import { cacheActive, cacheGet, cacheKey, cachePut } from './cache.js';
import { readWorkspaceText } from './files.js';
import { lazily } from '../lazy.js';

/**
 * The yaml library, loaded when a file is first parsed: a warm validate
 * takes every file's value from the disk cache and loads it only to locate
 * a problem (25 ms of start-up, and 50 ms of parsing, otherwise).
 */
const yaml = lazily<typeof import('yaml')>('yaml');

/** The yaml library's isScalar, without loading the library for a value that cannot be one. */
export function isScalar(node: unknown): node is Scalar {
  return typeof node === 'object' && node !== null && yaml().isScalar(node);
}

/**
 * A YAML file parsed with its source positions kept, so every later check can
 * point at the offending key or value instead of the top of the file.
 */
export interface YamlSource {
  /** Path relative to the workspace root. */
  file: string;
  /** The parsed document, for positions; a file whose value came from the cache is parsed when first asked. */
  readonly doc: Document.Parsed;
  readonly lines: LineCounter;
  /** The plain JavaScript value of the document. */
  value: unknown;
  /** The file's text, as read: with the file's name, all its problems depend on (a cache key). */
  text: string;
}

export type PathSegment = string | number;

// Bump when parsing changes what a value holds, or which values it refuses, so values cached by an older herald are not reused.
const YAML_CACHE_VERSION = 2;

/**
 * A YAML file's value and its positions. A text that parsed cleanly before
 * takes its value from the disk cache (when one is set: CLI runs) and is
 * parsed again only if a check asks where something is.
 */
export function parseYaml(file: string, text: string): { source?: YamlSource; problems: Problem[] } {
  if (!cacheActive()) return parseText(file, text);
  const key = cacheKey(YAML_CACHE_VERSION, text);
  const cached = cacheGet<{ value: unknown }>('yaml', key);
  if (cached && 'value' in cached) return { source: lazySource(file, text, cached.value), problems: [] };
  const parsed = parseText(file, text);
  // A cached value comes back with no problems: only a clean file's is kept.
  if (parsed.source && parsed.problems.length === 0 && cacheable(parsed.source.value)) cachePut('yaml', key, { value: parsed.source.value });
  return parsed;
}

function lazySource(file: string, text: string, value: unknown): YamlSource {
  let parsed: { doc: Document.Parsed; lines: LineCounter } | undefined;
  const parse = () => {
    if (!parsed) {
      const lines = new (yaml().LineCounter)();
      parsed = { doc: yaml().parseDocument(text, { lineCounter: lines, uniqueKeys: false, prettyErrors: false }), lines };
    }
    return parsed;
  };
  return {
    file,
    value,
    text,
    get doc() {
      return parse().doc;
    },
    get lines() {
      return parse().lines;
    },
  };
}

function cacheable(value: unknown): boolean {
  try {
    return jsonSafe(value);
  } catch (e) {
    // Nested deeper than the stack (validate says so): parsed every time.
    if (e instanceof RangeError) return false;
    throw e;
  }
}

/**
 * Whether a value comes back the same from JSON: YAML's .inf and .nan, -0,
 * and a `__proto__` key do not, so such a file is always parsed.
 */
function jsonSafe(v: unknown): boolean {
  if (typeof v === 'number') return Number.isFinite(v) && !Object.is(v, -0);
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
  if (Array.isArray(v)) return v.every(jsonSafe);
  if (typeof v !== 'object' || Object.getPrototypeOf(v) !== Object.prototype) return false;
  return Object.entries(v).every(([k, x]) => k !== '__proto__' && jsonSafe(x)) && !Object.hasOwn(v, '__proto__');
}

function parseText(file: string, text: string): { source?: YamlSource; problems: Problem[] } {
  const lines = new (yaml().LineCounter)();
  // The yaml library finds duplicate keys by comparing each key with every
  // earlier one of its mapping, which takes minutes for a file of 40,000 keys:
  // duplicateKeys() below does it with one set per mapping.
  const doc = yaml().parseDocument(text, { lineCounter: lines, uniqueKeys: false, prettyErrors: false });
  const problems: Problem[] = [];
  for (const e of [...doc.errors, ...duplicateKeys(doc)]) {
    const pos = lines.linePos(e.pos[0]);
    problems.push({
      file,
      line: pos.line,
      column: pos.col,
      message: yamlMessage(e.code, e.message),
      rule: 'yaml',
      severity: 'error',
      hint: e.code === 'DUPLICATE_KEY' ? 'remove or rename one of the two keys' : undefined,
    });
  }
  if (problems.length > 0) return { problems };
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    // The yaml library refuses an alias bomb ("billion laughs") with a ReferenceError.
    if (!(e instanceof ReferenceError)) throw e;
    return { problems: [{ file, line: 1, column: 1, message: `YAML: ${e.message}`, rule: 'yaml', severity: 'error', hint: 'write the values out instead of repeating aliases (*name)' }] };
  }
  problems.push(...nulStrings(file, doc, lines, text));
  return { source: { file, doc, lines, value, text }, problems };
}

/** An escape in a double-quoted string that makes a NUL; `\\` is matched too, so that `\\0` (a backslash, then 0) is not one. */
const NUL_ESCAPE = /\\(?:\\|0|x00|u0000|U00000000)/g;

/**
 * Strings holding a NUL, which the file reader cannot see: YAML makes one of
 * the escapes \0, \x00 or \u0000. PostgreSQL stores none, so a subject or
 * description with one would pass validate and fail apply.
 */
function nulStrings(file: string, doc: Document.Parsed, lines: LineCounter, text: string): Problem[] {
  const problems: Problem[] = [];
  yaml().visit(doc, {
    Scalar(_, node) {
      if (typeof node.value !== 'string' || !node.value.includes('\0') || !node.range) return;
      const [start, end] = node.range;
      let at = start;
      let escape = '';
      for (const m of text.slice(start, end).matchAll(NUL_ESCAPE)) {
        if (m[0] === '\\\\') continue;
        at = start + m.index;
        escape = ` (${m[0]})`;
        break;
      }
      const pos = lines.linePos(at);
      problems.push({
        file,
        line: pos.line,
        column: pos.col,
        message: `the string has a NUL character${escape} here`,
        rule: 'yaml',
        severity: 'error',
        hint: 'remove the escape: herald cannot store a NUL, and text never needs one',
      });
    },
  });
  return problems;
}

/** A workspace YAML file, read through the safe reader (files.ts) and parsed. */
export function readYaml(root: string, file: string): { source?: YamlSource; problems: Problem[] } {
  const read = readWorkspaceText(root, file);
  if (read.problem) return { problems: [read.problem] };
  return parseYaml(file, read.text);
}

/** A key that repeats an earlier key of its mapping, as the yaml library would report it with uniqueKeys on. */
function duplicateKeys(doc: Document.Parsed): { code: string; message: string; pos: [number, number] }[] {
  const out: { code: string; message: string; pos: [number, number] }[] = [];
  yaml().visit(doc, {
    Map(_, map) {
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        // As the library compares: scalars by value (1 and "1" differ), other keys only by identity.
        if (!isScalar(pair.key)) continue;
        const k = pair.key.value;
        if (seen.has(k) && pair.key.range) out.push({ code: 'DUPLICATE_KEY', message: 'Map keys must be unique', pos: [pair.key.range[0], pair.key.range[1]] });
        seen.add(k);
      }
    },
  });
  return out;
}

function yamlMessage(code: string, message: string): string {
  if (code === 'DUPLICATE_KEY') return 'duplicate key: ' + message.replace(/^Map keys must be unique.*$/s, 'a key appears twice in the same mapping');
  // The yaml library's messages already say what is wrong; drop its trailing position note.
  return `YAML syntax: ${message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`;
}

/**
 * The line and column of the node at `path`. With `key`, the position of the
 * key itself (for "unknown key" and similar). Falls back to the deepest node
 * that exists, so a missing key points at its parent.
 */
export function locate(src: YamlSource, path: readonly PathSegment[], key = false): { line: number; column: number } {
  let node: unknown = src.doc.contents;
  let pos = 0;
  if (node && (node as Node).range) pos = (node as Node).range![0];
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    const last = i === path.length - 1;
    if (yaml().isMap(node)) {
      const pair = keyIndex(node).get(String(seg));
      if (!pair) break;
      const k = pair.key as Node;
      if (last && key && k.range) {
        pos = k.range[0];
        break;
      }
      node = pair.value;
      const v = node as Node | null;
      pos = v?.range ? v.range[0] : (k.range?.[0] ?? pos);
    } else if (yaml().isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg] as Node | undefined;
      if (!item) break;
      node = item;
      if (item.range) pos = item.range[0];
    } else {
      break;
    }
  }
  const lp = src.lines.linePos(pos);
  return { line: lp.line, column: lp.col };
}

/**
 * A mapping's pairs by key text, built once per mapping: locating thousands of
 * problems in one large mapping must not scan it once per problem.
 */
const keyIndexes = new WeakMap<YAMLMap, Map<string, Pair>>();

function keyIndex(map: YAMLMap): Map<string, Pair> {
  let index = keyIndexes.get(map);
  if (!index) {
    index = new Map();
    for (const p of map.items) {
      // The first pair with the key, as a search from the top would find.
      if (yaml().isPair(p) && isScalar(p.key) && !index.has(String(p.key.value))) index.set(String(p.key.value), p);
    }
    keyIndexes.set(map, index);
  }
  return index;
}

export function problemAt(
  src: YamlSource,
  path: readonly PathSegment[],
  message: string,
  rule: string,
  opts: { key?: boolean; hint?: string; severity?: 'error' | 'warning' } = {},
): Problem {
  return {
    file: src.file,
    ...locate(src, path, opts.key),
    message,
    rule,
    severity: opts.severity ?? 'error',
    ...(opts.hint ? { hint: opts.hint } : {}),
  };
}
