import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMap, isScalar, isSeq, parseDocument } from 'yaml';
import type { Problem } from '../../src/errors.js';
import { validateWorkspace } from '../../src/workspace/validate.js';
import { MINIMAL, tempWorkspace } from '../support/workspace.js';

/**
 * Property: whatever bytes the workspace files hold, validation ends in
 * either a workspace without errors or a list of located problems, and never
 * throws. One workspace is written once; each run overwrites one file and
 * puts it back afterwards, so a few hundred runs take seconds.
 */

/** MINIMAL plus one of every kind, so mutations reach every check. */
const BASE: Record<string, string> = {
  ...MINIMAL,
  'herald.yaml': `${MINIMAL['herald.yaml']}defaults:
  timezone: Europe/Berlin
  quiet_hours: { start: "21:00", end: "08:00" }
  frequency_cap: { max: 3, per: 7d }
environments:
  staging: { database_url_env: HERALD_STAGING_DATABASE_URL }
  production: { database_url_env: HERALD_PRODUCTION_DATABASE_URL }
`,
  'segments/vip.yaml': `description: Big spenders
where:
  all:
    - avg_order_value: { gte: 100 }
    - order_count: { gte: 3, within: 365d }
    - registered: { since: 2024-01-01, until: 2026-01-01 }
    - last_order: { within: 180d, before: 7d }
    - any:
        - purchased: { categories: [shoes], within: 90d }
        - site: { in: [main] }
        - sql: |
            SELECT customer_id FROM shop.orders
            WHERE total > 100
`,
  'lists/fair.yaml': 'description: Met at the fair\nfile: fair.csv\nsite: main\n',
  'lists/fair.csv': 'email,first_name,locale\nanna@example.com,Anna,en\nbob@example.com,"Bob, Jr.",en\n',
  'campaigns/spring.yaml': `title: Spring
site: main
audience:
  segments: [everyone]
  exclude: [vip]
template: hello
schedule: { at: "2026-12-01T09:00:00+01:00" }
control_group: 5%
ab_test:
  variants:
    - name: a
    - name: b
      subject: { en: Spring sale }
  test_size: 20%
  winner: { metric: clicks, after: 4h, fallback: a }
`,
  'triggers/cart.yaml': `event: cart_abandoned
after: 4h
template: hello
status: active
audience:
  not: { segment: vip }
once: 7d
quiet_hours: false
`,
  'triggers/preorder.yaml': `event: sql
sql: SELECT customer_id, sku AS event_key FROM shop.preorders
template: hello
sites: [main]
frequency_cap: { max: 1, per: 1d }
`,
};

// MJML bodies are left alone: their own checks parse them, and this property is about YAML (and the CSV).
const FILES = Object.keys(BASE).filter((f) => !f.endsWith('.mjml')).sort();
const YAML_FILES = FILES.filter((f) => f.endsWith('.yaml'));

let ws: ReturnType<typeof tempWorkspace>;
beforeAll(() => {
  ws = tempWorkspace(BASE);
});
afterAll(() => ws.remove());

/** Every path to a node of a YAML document, parents first. */
function paths(text: string): (string | number)[][] {
  const out: (string | number)[][] = [];
  const walk = (node: unknown, path: (string | number)[]) => {
    out.push(path);
    if (isMap(node)) for (const p of node.items) if (isScalar(p.key)) walk(p.value, [...path, String(p.key.value)]);
    if (isSeq(node)) node.items.forEach((item, i) => walk(item, [...path, i]));
  };
  walk(parseDocument(text).contents, []);
  return out;
}

const BOMB = ['a: &a [x, x, x, x, x, x, x, x, x]', ...'bcdefgh'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefgh'[i]}`).join(', ')}]`)].join('\n');

/** Strings chosen to hit edge cases of the checks: odd durations, dates, percentages, SQL, Unicode. */
const nasty = fc.constantFrom(
  '0d', '0h', '99999999999999999999999w', '4h', '2026-02-30', '2026-12-01T09:00', '2026-12-01 09:00+0100', 'now', '0%', '100%', '50.5%',
  '1e400', '-0', '.nan', '~', 'null', 'true', 'SELECT 1; DROP TABLE x', 'WITH d AS (DELETE FROM x RETURNING 1) SELECT 1', "SELECT '", '$$',
  '\u0000', '\ufeff', '\u202e', '\u2028', '\ud800', '🙂'.repeat(50), 'ä'.repeat(3), '../../etc/passwd.csv', 'x.csv', 'main', 'a', 'per_event', '*a', '&a', '!!binary aGVsbG8=',
);

const yamlValue: fc.Arbitrary<unknown> = fc.oneof(
  nasty,
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.double(),
  fc.integer(),
  fc.constantFrom(Number.MAX_VALUE, 1e21, 2 ** 53 + 1, -1, 0),
  fc.jsonValue({ maxDepth: 3 }),
  fc.array(nasty, { maxLength: 4 }),
  fc.dictionary(fc.constantFrom('all', 'any', 'not', 'sql', 'within', 'since', 'name', 'site', 'at'), nasty, { maxKeys: 3 }),
);

/** One change to one file; printed by its label when fast-check reports a counterexample. */
interface Mutation {
  file: string;
  label: string;
  apply(text: string): string | Buffer;
}

const mutationOf = (file: string, label: string, apply: (text: string) => string | Buffer): Mutation => ({
  file,
  label,
  apply,
  [fc.toStringMethod]: () => `${file}: ${label}`,
} as Mutation);

const lines = (text: string) => text.split('\n');

/** Sets the node at the n-th path of a YAML file; a file an earlier mutation broke stays as it is. */
function setValue(text: string, n: number, value: unknown): string {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) return text;
  const all = paths(text);
  const path = all[n % all.length]!;
  if (path.length === 0) doc.contents = doc.createNode(value) as typeof doc.contents;
  else doc.setIn(path, doc.createNode(value));
  try {
    return doc.toString();
  } catch (e) {
    // Nested too deeply for the yaml library to print, or the value replaced an anchor
    // that aliases still name: keep the file as it was.
    if (e instanceof RangeError || (e instanceof Error && e.message.startsWith('Unresolved alias'))) return text;
    throw e;
  }
}

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(fc.constantFrom(...FILES), fc.uint8Array({ maxLength: 400 })).map(([f, bytes]) => mutationOf(f, `random bytes ${Buffer.from(bytes).toString('hex')}`, () => Buffer.from(bytes))),
  fc.tuple(fc.constantFrom(...FILES), fc.nat()).map(([f, n]) => mutationOf(f, `truncate at ${n}`, (t) => t.slice(0, n % (t.length + 1)))),
  fc.tuple(fc.constantFrom(...FILES), fc.nat()).map(([f, n]) => mutationOf(f, `delete line ${n}`, (t) => lines(t).filter((_, i, all) => i !== n % all.length).join('\n'))),
  fc.tuple(fc.constantFrom(...FILES), fc.nat(), fc.nat()).map(([f, n, m]) =>
    mutationOf(f, `duplicate line ${n} at ${m}`, (t) => {
      const ls = lines(t);
      ls.splice(m % (ls.length + 1), 0, ls[n % ls.length]!);
      return ls.join('\n');
    }),
  ),
  fc.tuple(fc.constantFrom(...FILES), fc.nat(), fc.string({ unit: 'binary', minLength: 1, maxLength: 8 })).map(([f, n, s]) =>
    mutationOf(f, `insert ${JSON.stringify(s)} at ${n}`, (t) => {
      const at = n % (t.length + 1);
      return t.slice(0, at) + s + t.slice(at);
    }),
  ),
  // Numbers inside values reach the semantic checks: 0d windows, February 30, 99% control groups.
  {
    weight: 4,
    arbitrary: fc.tuple(fc.constantFrom(...YAML_FILES), fc.nat(), fc.constantFrom('0', '13', '24', '30', '31', '50', '60', '100', '99999999999999999999999')).map(([f, n, digits]) =>
      mutationOf(f, `number #${n} to ${digits}`, (t) => {
        const runs = [...t.matchAll(/\d+/g)];
        const run = runs[n % Math.max(1, runs.length)];
        return run ? t.slice(0, run.index) + digits + t.slice(run.index + run[0].length) : t;
      }),
    ),
  },
  { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...YAML_FILES), fc.nat(), yamlValue).map(([f, n, v]) => mutationOf(f, `set path #${n} to ${JSON.stringify(v)}`, (t) => setValue(t, n, v))) },
  fc.tuple(fc.constantFrom(...YAML_FILES), fc.integer({ min: 1, max: 2500 }), fc.constantFrom('not', 'all', 'seq', 'block')).map(([f, depth, kind]) =>
    mutationOf(f, `nest ${kind} ${depth} deep`, () => {
      if (kind === 'not') return `where: ${'{not: '.repeat(depth)}{site: main}${'}'.repeat(depth)}\n`;
      if (kind === 'all') return `where: ${'{all: ['.repeat(depth)}{site: main}${']}'.repeat(depth)}\n`;
      if (kind === 'seq') return `where: ${'['.repeat(depth)}${']'.repeat(depth)}\n`;
      const d = Math.min(depth, 800);
      return `where:\n${Array.from({ length: d }, (_, i) => `${' '.repeat(i + 1)}not:`).join('\n')}\n${' '.repeat(d + 1)}site: main\n`;
    }),
  ),
  fc.tuple(fc.constantFrom(...YAML_FILES), fc.constantFrom('bomb', 'self', 'merge', 'anchor')).map(([f, kind]) =>
    mutationOf(f, `aliases: ${kind}`, (t) => {
      if (kind === 'bomb') return `${BOMB}\n${t}`;
      if (kind === 'self') return 'where: &w\n  all:\n    - *w\n';
      if (kind === 'merge') return 'base: &b { site: main }\nwhere:\n  <<: *b\n';
      // The first value anchored, and the last list item's value an alias to it.
      return t.replace(/: (\S[^\n]*)/, ': &x $1').replace(/(\n\s*- [a-z_]+: )\S[^\n]*\n?$/, '$1*x\n');
    }),
  ),
);

function located(p: Problem): boolean {
  return (
    typeof p.file === 'string' && p.file.length > 0 && !p.file.startsWith('/') &&
    Number.isInteger(p.line) && p.line >= 1 &&
    Number.isInteger(p.column) && p.column >= 1 &&
    typeof p.message === 'string' && p.message.trim().length > 0 &&
    (p.severity === 'error' || p.severity === 'warning')
  );
}

describe('validation under fuzzing', () => {
  it('accepts the unmutated base workspace', async () => {
    const { workspace, problems } = await validateWorkspace(ws.dir);
    expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
    expect(workspace).toBeDefined();
  });

  it('never throws, and locates every problem', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (mutations) => {
        const changed = new Map<string, string | Buffer>();
        for (const m of mutations) {
          const before = changed.get(m.file) ?? BASE[m.file]!;
          changed.set(m.file, m.apply(before.toString()));
        }
        for (const [file, content] of changed) writeFileSync(join(ws.dir, file), content);
        try {
          const { workspace, problems } = await validateWorkspace(ws.dir);
          expect(problems.filter((p) => !located(p))).toEqual([]);
          if (!problems.some((p) => p.severity === 'error')) expect(workspace).toBeDefined();
        } finally {
          for (const file of changed.keys()) writeFileSync(join(ws.dir, file), BASE[file]!);
        }
      }),
      { numRuns: 300 },
    );
  });
});
