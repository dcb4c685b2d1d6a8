import type { ErrorObject, ValidateFunction } from 'ajv';
import { closest, distance } from 'fastest-levenshtein';
import type { Problem } from '../errors.js';
import { problemAt, type PathSegment, type YamlSource } from './source.js';
import * as generated from './validators.gen.js';

/** The kinds of workspace file that have a JSON Schema in `schemas/`. */
export type SchemaKind = 'project' | 'segment' | 'list' | 'template' | 'campaign' | 'trigger' | 'preview' | 'push';

export const SCHEMA_KINDS: SchemaKind[] = ['project', 'segment', 'list', 'template', 'campaign', 'trigger', 'preview', 'push'];

/**
 * Each kind's validator, compiled from schemas/ by `npm run gen`
 * (scripts/gen.mjs) into ajv's standalone code: compiling the schemas with
 * ajv at start-up took 0.3 s of every run.
 */
const validators: Record<SchemaKind, ValidateFunction> = generated;

export interface SchemaResult {
  /** Each located at the key or value at fault. */
  problems: Problem[];
  /**
   * When every problem is an unknown key: where those keys are. Without them
   * the file is well-formed, so it can still be checked against the others.
   */
  unknownKeys?: PathSegment[][];
}

/** Schema problems of one file. */
export function checkSchema(kind: SchemaKind, src: YamlSource): SchemaResult {
  const validate = validators[kind];
  try {
    if (validate(src.value)) return { problems: [] };
  } catch (e) {
    // ajv recurses once per level: a document nested hundreds deep, or an alias
    // inside the node it names (which nests forever), overflows the stack.
    if (!(e instanceof RangeError)) throw e;
    return { problems: [problemAt(src, [], 'the file nests too deeply to check', 'schema', { hint: 'no herald file needs more than a few levels; an alias (*name) inside the node it names nests forever' })] };
  }
  const errors = validate.errors ?? [];
  const problems = explain(errors, src);
  // An unknown key inside a oneOf (a condition) also fails the oneOf, so it is not "only" unknown keys.
  if (!errors.every((e) => e.keyword === 'additionalProperties')) return { problems };
  return { problems, unknownKeys: errors.map((e) => [...pathOf(e.instancePath), String((e.params as { additionalProperty: string }).additionalProperty)]) };
}

function pathOf(instancePath: string): PathSegment[] {
  if (!instancePath) return [];
  return instancePath
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function label(path: PathSegment[]): string {
  if (path.length === 0) return 'the file';
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

/**
 * Turns ajv's errors into one readable problem each. A `oneOf` failure swallows
 * the errors of its branches: the user needs to hear which forms are allowed,
 * not why each branch in turn rejected the value.
 */
function explain(errors: ErrorObject[], src: YamlSource): Problem[] {
  // The failed alternatives by the value they judged: each error looks up the
  // values it lies within, instead of every alternative in the file.
  const alternatives = new Map<string, string[]>();
  for (const e of errors) {
    if (e.keyword !== 'oneOf' && e.keyword !== 'anyOf') continue;
    alternatives.set(e.instancePath, [...(alternatives.get(e.instancePath) ?? []), e.schemaPath]);
  }
  const withinAlternative = (e: ErrorObject) => {
    for (let at = e.instancePath.length; at >= 0; at = e.instancePath.lastIndexOf('/', at - 1)) {
      const schemaPaths = alternatives.get(e.instancePath.slice(0, at));
      if (schemaPaths?.some((sp) => e.schemaPath.startsWith(`${sp}/`))) return true;
      if (at === 0) break;
    }
    return false;
  };
  const kept = errors.filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf' || !withinAlternative(e));
  const seen = new Set<string>();
  const out: Problem[] = [];
  for (const e of kept) {
    const p = problemFor(e, src);
    const id = `${p.line}:${p.column}:${p.message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(p);
  }
  return out;
}

function problemFor(e: ErrorObject, src: YamlSource): Problem {
  const path = pathOf(e.instancePath);
  const where = label(path);
  const parent = e.parentSchema as { title?: string; description?: string; properties?: Record<string, unknown>; enum?: unknown[] } | undefined;
  switch (e.keyword) {
    case 'additionalProperties': {
      const extra = String((e.params as { additionalProperty: string }).additionalProperty);
      const allowed = Object.keys(parent?.properties ?? {});
      const guess = allowed.length ? closest(extra, allowed) : undefined;
      const near = guess && distance(extra, guess) <= Math.max(2, Math.floor(extra.length / 3));
      return problemAt(src, [...path, extra], `unknown key "${extra}"${path.length ? ` in ${where}` : ''}`, 'schema', {
        key: true,
        hint: near ? `did you mean "${guess}"?` : allowed.length ? `allowed keys: ${allowed.join(', ')}` : 'remove this key',
      });
    }
    case 'required': {
      const missing = String((e.params as { missingProperty: string }).missingProperty);
      return problemAt(src, path, `missing required key "${missing}"${path.length ? ` in ${where}` : ''}`, 'schema', {
        key: path.length > 0,
        hint: describe(parent?.properties?.[missing]),
      });
    }
    case 'enum': {
      const allowed = (e.params as { allowedValues: unknown[] }).allowedValues.map(String);
      const guess = closest(String(e.data), allowed);
      return problemAt(src, path, `${where} must be one of: ${allowed.join(', ')} (got "${String(e.data)}")`, 'schema', {
        hint: distance(String(e.data), guess) <= 2 ? `did you mean "${guess}"?` : undefined,
      });
    }
    case 'type':
      return problemAt(src, path, `${where} must be ${article((e.params as { type: string }).type)}`, 'schema', {
        hint: describe(parent),
      });
    case 'pattern':
    case 'format':
      return problemAt(src, path, `${where}: "${String(e.data)}" is not a valid ${formatName(e, parent)}`, 'schema', {
        hint: describe(parent),
      });
    case 'oneOf':
    case 'anyOf':
      return problemAt(src, path, `${where} has an unsupported form`, 'schema', { hint: describe(parent) });
    case 'maxProperties': {
      const keys = Object.keys((e.data as object) ?? {});
      return problemAt(src, [...path, keys[1] ?? ''], `${where} must have exactly one key, found ${keys.length}: ${keys.join(', ')}`, 'schema', {
        key: true,
        hint: path.some((p) => p === 'where' || p === 'audience' || p === 'all' || p === 'any' || p === 'not')
          ? 'combine conditions with all: [...] (every one holds) or any: [...] (at least one holds)'
          : describe(parent),
      });
    }
    case 'minimum':
    case 'exclusiveMinimum':
    case 'maximum':
    case 'exclusiveMaximum': {
      const limit = (e.params as { limit: number }).limit;
      const bound = { minimum: `${limit} or more`, exclusiveMinimum: `more than ${limit}`, maximum: `${limit} or less`, exclusiveMaximum: `less than ${limit}` }[e.keyword];
      return problemAt(src, path, `${where} must be ${bound} (got ${String(e.data)})`, 'schema', { hint: describe(parent) });
    }
    case 'minProperties':
      return problemAt(src, path, `${where} must not be empty`, 'schema', { key: true, hint: describe(parent) });
    default:
      return problemAt(src, path, `${where} ${e.message ?? 'is invalid'}`, 'schema', { hint: describe(parent) });
  }
}

/** What kind of value was expected: the format, or the shared definition the pattern belongs to. */
function formatName(e: ErrorObject, parent: { title?: string } | undefined): string {
  if (e.keyword === 'format') return (e.params as { format: string }).format;
  const def = /\/definitions\/([A-Za-z]+)\/pattern$/.exec(e.schemaPath)?.[1];
  if (def) return def.replace(/[A-Z]/g, (c) => ` ${c.toLowerCase()}`);
  return parent?.title?.toLowerCase() ?? 'value';
}

function describe(schema: unknown): string | undefined {
  if (!schema || typeof schema !== 'object') return undefined;
  const s = schema as { description?: string; examples?: unknown[] };
  const ex = s.examples?.length ? ` For example: ${s.examples.map((x) => JSON.stringify(x)).join(', ')}.` : '';
  return s.description ? s.description + ex : ex.trim() || undefined;
}

function article(type: string): string {
  const t = type.replace(/,/g, ' or ');
  if (t === 'object') return 'a mapping (key: value lines)';
  if (t === 'array') return 'a list';
  return /^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`;
}
