import { describe, expect, it } from 'vitest';
import { loadWorkspace } from '../../src/workspace/load.js';
import { validateWorkspace } from '../../src/workspace/validate.js';
import { MINIMAL, exampleWorkspace, tempWorkspace } from '../support/workspace.js';
import { useCleanups } from '../support/cleanup.js';

const cleanup = useCleanups();

/** Loads MINIMAL with some files replaced, and returns its problems as `file:line:col: message`. */
function problemsWith(files: Record<string, string>): string[] {
  const ws = tempWorkspace({ ...MINIMAL, ...files });
  cleanup(ws.remove);
  return loadWorkspace(ws.dir).problems.map((p) => `${p.file}:${p.line}:${p.column}: ${p.message}${p.hint ? ` [${p.hint}]` : ''}`);
}

describe('loadWorkspace', () => {
  it('accepts the minimal workspace and the repository example', () => {
    expect(problemsWith({})).toEqual([]);
    const ex = exampleWorkspace();
    cleanup(ex.remove);
    const { workspace, problems } = loadWorkspace(ex.dir);
    expect(problems).toEqual([]);
    expect([...workspace!.campaigns.keys()]).toContain('winback');
  });

  it('points at an unknown key and suggests the near one', () => {
    expect(problemsWith({ 'campaigns/hello.yaml': 'title: Hello\nsite: main\naudience:\n  segment: everyone\ntemplat: hello\n' })).toEqual([
      'campaigns/hello.yaml:1:1: missing required key "template" [A template in templates/.]',
      'campaigns/hello.yaml:5:1: unknown key "templat" [did you mean "template"?]',
    ]);
  });

  it('names the allowed values of an enum and the near one', () => {
    expect(problemsWith({ 'campaigns/hello.yaml': MINIMAL['campaigns/hello.yaml']!.replace('status: ready', 'status: redy') })).toEqual([
      'campaigns/hello.yaml:6:9: status must be one of: draft, ready, paused, cancelled (got "redy") [did you mean "ready"?]',
    ]);
  });

  it('reports a reference to a missing segment at the reference', () => {
    expect(problemsWith({ 'campaigns/hello.yaml': MINIMAL['campaigns/hello.yaml']!.replace('segment: everyone', 'segment: nobody') })).toEqual([
      'campaigns/hello.yaml:4:12: segment "nobody" does not exist [known segments: everyone; or create segments/nobody.yaml]',
    ]);
  });

  it('reports a reference to a missing template and an undefined site', () => {
    const text = 'title: Hello\nsites: [main, outlet]\naudience:\n  segment: everyone\ntemplate: gone\n';
    expect(problemsWith({ 'campaigns/hello.yaml': text })).toEqual([
      'campaigns/hello.yaml:2:15: site "outlet" is not defined in herald.yaml [defined sites: main]',
      'campaigns/hello.yaml:5:11: template "gone" does not exist [known templates: hello; or create templates/gone/]',
    ]);
  });

  it('reports YAML syntax errors with their position', () => {
    const [p] = problemsWith({ 'segments/everyone.yaml': 'where:\n  order_count: { gte: 0\n' });
    expect(p).toMatch(/^segments\/everyone\.yaml:3:1: YAML syntax: /);
  });

  it('reports a duplicate key', () => {
    expect(problemsWith({ 'segments/everyone.yaml': 'where:\n  order_count: { gte: 0 }\nwhere:\n  site: main\n' })).toEqual([
      'segments/everyone.yaml:3:1: duplicate key: a key appears twice in the same mapping [remove or rename one of the two keys]',
    ]);
  });

  it('reports a duplicate key in a flow mapping and in a nested one, once per repeat', () => {
    expect(problemsWith({ 'segments/everyone.yaml': 'where:\n  all:\n    - { site: main, site: main, site: x }\n    - order_count:\n        gte: 1\n        gte: 2\n' })).toEqual([
      'segments/everyone.yaml:3:21: duplicate key: a key appears twice in the same mapping [remove or rename one of the two keys]',
      'segments/everyone.yaml:3:33: duplicate key: a key appears twice in the same mapping [remove or rename one of the two keys]',
      'segments/everyone.yaml:6:9: duplicate key: a key appears twice in the same mapping [remove or rename one of the two keys]',
    ]);
    // Keys of different types differ, as YAML says: 1 and "1" are two keys.
    expect(problemsWith({ 'templates/hello/preview.yaml': 'customers:\n  - first_name: A\n    1: x\n    "1": y\n' }).filter((p) => p.includes('duplicate'))).toEqual([]);
  });

  it('reports every one of thousands of unknown keys at its own line, and a duplicate among them', () => {
    // Correctness only: how long it takes is bench/validate.mjs's business.
    const keys = Array.from({ length: 5000 }, (_, i) => `extra_${i}: ${i}\n`);
    keys.splice(4000, 0, 'extra_17: again\n');
    const dup = problemsWith({ 'segments/everyone.yaml': `where:\n  order_count: { gte: 0 }\n${keys.join('')}` });
    expect(dup).toEqual(['segments/everyone.yaml:4003:1: duplicate key: a key appears twice in the same mapping [remove or rename one of the two keys]']);
    keys.splice(4000, 1);
    const got = problemsWith({ 'segments/everyone.yaml': `where:\n  order_count: { gte: 0 }\n${keys.join('')}` });
    expect(got).toHaveLength(5000);
    expect(got[0]).toBe('segments/everyone.yaml:3:1: unknown key "extra_0" [allowed keys: description, where]');
    expect(got[4999]).toBe('segments/everyone.yaml:5002:1: unknown key "extra_4999" [allowed keys: description, where]');
    expect(got.every((p, i) => p.startsWith(`segments/everyone.yaml:${i + 3}:1: unknown key "extra_${i}"`))).toBe(true);
  });

  it('reports each of thousands of malformed conditions once, at its own line', () => {
    const items = Array.from({ length: 2000 }, (_, i) => (i % 2 ? `    - city: { in: 5 }\n` : `    - { site: main, k${i}: 1 }\n`));
    const got = problemsWith({ 'segments/everyone.yaml': `where:\n  all:\n${items.join('')}` });
    expect(got.filter((p) => p.includes('has an unsupported form'))).toHaveLength(1000);
    expect(got.filter((p) => p.includes('must have exactly one key'))).toHaveLength(1000);
    expect(got.filter((p) => p.includes('unknown key'))).toHaveLength(1000);
    expect(got).toHaveLength(3000);
    expect(got[0]).toBe('segments/everyone.yaml:3:21: where.all[0] must have exactly one key, found 2: site, k0 [combine conditions with all: [...] (every one holds) or any: [...] (at least one holds)]');
    expect(got).toContain('segments/everyone.yaml:2002:13: where.all[1999].city has an unsupported form [A value (equals), or {in: [...]}, or {not_in: [...]}.]');
  });

  it('refuses negative counts and amounts, a count that is not whole, a share over 100% and a throttle of zero', () => {
    const where = 'where:\n  all:\n    - order_count: { gte: -5 }\n    - order_count: { gte: 2.5 }\n    - total_spent: { gt: -0.01 }\n';
    expect(problemsWith({ 'segments/everyone.yaml': where })).toEqual([
      'segments/everyone.yaml:3:27: where.all[0].order_count.gte must be 0 or more (got -5) [A number of orders: a whole number, 0 or more.]',
      'segments/everyone.yaml:4:27: where.all[1].order_count.gte must be an integer [A number of orders: a whole number, 0 or more.]',
      'segments/everyone.yaml:5:26: where.all[2].total_spent.gt must be 0 or more (got -0.01) [An amount in the site\'s currency, 0 or more.]',
    ]);
    const campaign = MINIMAL['campaigns/hello.yaml']! + 'control_group: 150%\nthrottle: 0/s\n';
    expect(problemsWith({ 'campaigns/hello.yaml': campaign })).toEqual([
      'campaigns/hello.yaml:7:16: control_group: "150%" is not a valid percentage [A share, from 0% to 100%, written with a % sign. For example: "7%", "20%".]',
      'campaigns/hello.yaml:8:11: throttle: "0/s" is not a valid value [At most this many messages per second, minute or hour for this campaign, across all workers. For example: "50/s".]',
    ]);
  });

  it('explains a malformed duration at the value', () => {
    expect(problemsWith({ 'segments/everyone.yaml': 'where:\n  last_order: { before: 6 months }\n' })).toEqual([
      'segments/everyone.yaml:2:25: where.last_order.before: "6 months" is not a valid duration [A span of time: a number followed by h (hours), d (days) or w (weeks). For example: "90d", "4h", "2w".]',
    ]);
  });

  it('explains a wrong type', () => {
    expect(problemsWith({ 'segments/everyone.yaml': 'where:\n  order_count: { gte: three }\n' })).toEqual([
      'segments/everyone.yaml:2:23: where.order_count.gte must be an integer [A number of orders: a whole number, 0 or more.]',
    ]);
  });

  it('requires a body and a subject for every locale of the sites that use a template', () => {
    const project = MINIMAL['herald.yaml']!.replace('locales: [en]', 'locales: [en, ru]');
    expect(problemsWith({ 'herald.yaml': project })).toEqual([
      'templates/hello/template.yaml:1:1: template "hello" has no ru.mjml, needed by site "main" (campaign "hello") [add templates/hello/ru.mjml]',
      'templates/hello/template.yaml:1:1: template "hello" has no ru subject, needed by site "main" (campaign "hello") [add "ru: ..." under subject]',
    ]);
  });

  it('finds a cycle between segments', () => {
    expect(
      problemsWith({
        'segments/a.yaml': 'where:\n  all:\n    - site: main\n    - segment: b\n',
        'segments/b.yaml': 'where:\n  segment: a\n',
      }),
    ).toEqual(['segments/a.yaml:4:16: segments refer to each other in a cycle: a → b → a [a segment cannot include itself, directly or through others]']);
  });

  it('reports every problem at once, across files', () => {
    const problems = problemsWith({
      'segments/everyone.yaml': 'where:\n  order_count: { gte: three }\n',
      'campaigns/hello.yaml': MINIMAL['campaigns/hello.yaml']!.replace('status: ready', 'status: redy'),
      'campaigns/Bad Name.yaml': 'title: x\n',
    });
    expect(problems.map((p) => p.split(':')[0])).toEqual(['campaigns/Bad Name.yaml', 'campaigns/hello.yaml', 'segments/everyone.yaml']);
  });

  it('reports an unknown key and what the rest of the file gets wrong, in one run', async () => {
    const ws = tempWorkspace({
      ...MINIMAL,
      'campaigns/hello.yaml': MINIMAL['campaigns/hello.yaml']!.replace('segment: everyone', 'segment: nobody') + 'colour: red\n',
      // An unknown key in herald.yaml used to hide every other file's problems.
      'herald.yaml': MINIMAL['herald.yaml']! + 'extra: 1\n',
      // ...and one in a template hid the checks of its texts.
      'templates/hello/template.yaml': 'subject:\n  en: Hello {{ customer.frist_name }}\nnotes: x\n',
    });
    cleanup(ws.remove);
    const { problems } = await validateWorkspace(ws.dir);
    expect(problems.map((p) => `${p.file}:${p.line}:${p.column}: ${p.message}`)).toEqual([
      'campaigns/hello.yaml:4:12: segment "nobody" does not exist',
      'campaigns/hello.yaml:7:1: unknown key "colour"',
      'herald.yaml:13:1: unknown key "extra"',
      'templates/hello/template.yaml:2:16: unknown token "customer.frist_name"',
      'templates/hello/template.yaml:3:1: unknown key "notes"',
    ]);
  });

  it('still leaves out a file whose schema errors are more than unknown keys, without follow-on errors', () => {
    // The missing template key would make every check of this campaign guess: it stays out of the model, and
    // its missing segment waits for the next run, as before.
    expect(problemsWith({ 'campaigns/hello.yaml': 'title: Hello\nsite: main\naudience:\n  segment: nobody\ntemplat: hello\n' })).toEqual([
      'campaigns/hello.yaml:1:1: missing required key "template" [A template in templates/.]',
      'campaigns/hello.yaml:5:1: unknown key "templat" [did you mean "template"?]',
    ]);
    // Unknown keys inside a condition are one of its unsupported forms: the segment stays out, and the
    // campaign using it hears nothing more about it.
    expect(problemsWith({ 'segments/everyone.yaml': 'where:\n  order_count: { gte: 0, colour: red }\n' })).toHaveLength(1);
  });

  it('throws a UserError with a hint when there is no herald.yaml', () => {
    const ws = tempWorkspace({});
    cleanup(ws.remove);
    expect(() => loadWorkspace(ws.dir)).toThrow(/no herald.yaml/);
  });
});
