import { canonicalJson } from '../state/objects.js';

/** Field-level differences between two JSON values, as dotted paths. */
export interface FieldChange {
  path: string;
  before?: unknown;
  after?: unknown;
}

export function diffFields(before: unknown, after: unknown, path = ''): FieldChange[] {
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => diffFields(before[k], after[k], path ? `${path}.${k}` : k));
  }
  if (sameValue(before, after)) return [];
  const change: FieldChange = { path: path || '(root)' };
  if (before !== undefined) change.before = before;
  if (after !== undefined) change.after = after;
  return [change];
}

/**
 * One step of a list's change, element by element: a run of unchanged
 * elements (counted, so the text can hide them), one removed or added, or one
 * changed in place (its own fields then diff like any object's).
 */
export type ElementEdit =
  | { op: 'same'; count: number }
  | { op: 'remove'; value: unknown }
  | { op: 'add'; value: unknown }
  | { op: 'change'; before: unknown; after: unknown };

/**
 * How a list changed. Elements are matched by a longest common subsequence:
 * by their `name` when every element on both sides is an object with a
 * distinct one (A/B variants), so a renamed subject shows as that variant
 * changed; otherwise by value, and a removed object followed by an added one
 * sharing a key (a condition with one bound edited) counts as changed in place.
 */
export function diffElements(before: readonly unknown[], after: readonly unknown[]): ElementEdit[] {
  const named = byName(before) && byName(after);
  const key = (v: unknown) => (named ? String((v as { name: string }).name) : canonicalJson(v));
  const steps = lcs(before.map(key), after.map(key));
  const out: ElementEdit[] = [];
  const push = (e: ElementEdit) => {
    const last = out[out.length - 1];
    if (e.op === 'same' && last?.op === 'same') last.count++;
    else out.push(e);
  };
  let gone: unknown[] = [];
  let come: unknown[] = [];
  const flush = () => {
    for (let i = 0; i < Math.max(gone.length, come.length); i++) {
      if (i < gone.length && i < come.length && !named && comparable(gone[i], come[i])) push({ op: 'change', before: gone[i], after: come[i] });
      else {
        if (i < gone.length) push({ op: 'remove', value: gone[i] });
        if (i < come.length) push({ op: 'add', value: come[i] });
      }
    }
    gone = [];
    come = [];
  };
  for (const s of steps) {
    if (s.op === 'del') gone.push(before[s.i]);
    else if (s.op === 'ins') come.push(after[s.j]);
    else {
      flush();
      const [b, a] = [before[s.i], after[s.j]];
      push(sameValue(b, a) ? { op: 'same', count: 1 } : { op: 'change', before: b, after: a });
    }
  }
  flush();
  return out;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

/** Equal as JSON, whatever the order of keys. */
export function sameValue(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

function byName(list: readonly unknown[]): boolean {
  const names = list.map((v) => (isObject(v) && typeof v.name === 'string' ? v.name : undefined));
  return list.length > 0 && names.every((n) => n !== undefined) && new Set(names).size === names.length;
}

/** Two lists, or two objects with a key in common: worth showing as one element changed. */
function comparable(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return true;
  return isObject(a) && isObject(b) && Object.keys(a).some((k) => k in b);
}

type Step = { op: 'same'; i: number; j: number } | { op: 'del'; i: number } | { op: 'ins'; j: number };

/** The edit script of a longest common subsequence; deletions come before insertions in each gap. */
function lcs(a: readonly string[], b: readonly string[]): Step[] {
  const n = a.length;
  const m = b.length;
  // Suffix lengths: len[i][j] is the LCS of a[i..] and b[j..].
  const len = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) len[i]![j] = a[i] === b[j] ? len[i + 1]![j + 1]! + 1 : Math.max(len[i + 1]![j]!, len[i]![j + 1]!);
  }
  const steps: Step[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) steps.push({ op: 'same', i: i++, j: j++ });
    else if (j >= m || (i < n && len[i + 1]![j]! >= len[i]![j + 1]!)) steps.push({ op: 'del', i: i++ });
    else steps.push({ op: 'ins', j: j++ });
  }
  return steps;
}
