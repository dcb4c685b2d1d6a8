import { parseDocument } from 'htmlparser2';
import { describe, expect, it } from 'vitest';
import { COMMENT, JOB_SUMMARY } from '../../src/ci/fit.js';
import { parsePlanMarker } from '../../src/ci/marker.js';
import { planMarkdown } from '../../src/ci/plan-markdown.js';
import type { Change, Plan } from '../../src/plan/plan.js';
import { object } from '../../src/state/objects.js';
import { planValue } from './plan-fixture.js';

const breakdown = { in_segment: 13_000, address_problems: 200, no_subscription: 455, control_group: 0, recipients: 12_345 };

/** A plan with one of everything a reviewer reads. */
function richPlan(): Plan {
  const created = object('campaign', 'winback', { title: 'We miss you', template: 'hello', status: 'ready' });
  return planValue({
    changes: [
      { action: 'create', kind: 'segment', name: 'lapsed', hash: 'a' },
      { action: 'create', kind: 'campaign', name: 'winback', hash: created.hash },
      { action: 'update', kind: 'template', name: 'hello', hash: 'b', fields: [{ path: 'subject.en', before: 'Hello', after: 'Hi there' }] },
      { action: 'create', kind: 'trigger', name: 'cart', hash: 'c' },
      { action: 'unchanged', kind: 'list', name: 'vip', hash: 'd' },
    ],
    objects: [object('segment', 'lapsed', { where: { order_count: { gte: 1 } } }), created],
    audiences: [{ campaign: 'winback', recipients: 12_345, previous: null, breakdown }],
    triggers: [{ trigger: 'cart', wouldSend: 87, skippedByHorizon: 3 }],
    warnings: ['campaign/winback sends at night'],
  });
}

/** The text outside fenced code blocks, and the blocks' contents. */
function splitFences(md: string): { outside: string; code: string[] } {
  const outside: string[] = [];
  const code: string[] = [];
  let fence: string | undefined;
  let block: string[] = [];
  for (const line of md.split('\n')) {
    if (fence === undefined) {
      const open = /^(`{3,})/.exec(line);
      if (open) fence = open[1];
      else outside.push(line);
    } else if (new RegExp(`^\`{${fence.length},}\\s*$`).test(line)) {
      code.push(block.join('\n'));
      block = [];
      fence = undefined;
    } else block.push(line);
  }
  expect(fence, 'a code block is never closed').toBeUndefined();
  return { outside: outside.join('\n'), code };
}

describe('plan as a PR comment', () => {
  it('opens with the marker and the one-line summary, then a collapsed section per changed object', () => {
    const plan = richPlan();
    const md = planMarkdown(plan);
    const lines = md.split('\n');
    expect(lines[0]).toBe(`<!-- herald:plan env=production review=${plan.review} -->`);
    expect(parsePlanMarker(md)).toEqual({ environment: 'production', review: plan.review });
    expect(lines[1]).toBe('**herald plan for production**: 3 to create, 1 to update, 0 to delete, 0 refused · 12,345 recipients · 1 trigger would send 87 now');
    expect(md.match(/^<details><summary>/gm)).toHaveLength(4);
    expect(md.match(/^<\/details>$/gm)).toHaveLength(4);
    expect(md).not.toContain('list/vip');
    expect(md).toContain('<details><summary><b>update</b> <code>template/hello</code></summary>\n\n```diff\n~ subject.en: "Hello" → "Hi there"\n```\n\n</details>');
    expect(md).toContain('<details><summary><b>create</b> <code>campaign/winback</code> · 12,345 recipients</summary>');
    expect(md).toContain('**Audience:** 12,345 recipients: 13000 in segment − 200 address problems − 455 no subscription');
    expect(md).toContain('```diff\n+ status: "ready"\n+ template: "hello"\n+ title: "We miss you"\n```');
    expect(md).toContain('**Would send 87 now**, 3 skipped by the back-fill horizon.');
    expect(md).toContain('- campaign/winback sends at night');
    expect(md).toContain(`Reviewed fingerprint <code>${plan.review}</code> · commit <code>${plan.gitCommit}</code>`);
    expect(md.endsWith('</sub>\n')).toBe(true);
  });

  it('names the default environment in the marker, and says when nothing changes', () => {
    const md = planMarkdown(planValue({ environment: null }));
    expect(md.split('\n')[0]).toMatch(/^<!-- herald:plan env=default review=[0-9a-f]{64} -->$/);
    expect(md.split('\n')[1]).toBe('**herald plan**: 0 to create, 0 to update, 0 to delete, 0 refused');
  });

  it('puts refusals, drift and deletions first, so a cut drops creates before them', () => {
    const changes: Change[] = [
      { action: 'create', kind: 'segment', name: 'a', hash: 'x' },
      { action: 'delete', kind: 'campaign', name: 'old' },
      { action: 'refused', kind: 'campaign', name: 'big', wanted: 'update', reason: 'audience grew past the limit', hint: 'raise policy.max_audience' },
    ];
    const md = planMarkdown(
      planValue({
        changes,
        drift: [{ kind: 'campaign', name: 'sale', workspaceStatus: 'ready', resolution: 'revert', override: { kind: 'campaign', name: 'sale', status: 'paused', setBy: 'ops@example.com', setAt: '2026-11-19T10:00:00Z', reason: 'wrong price', specHash: 'h' } as never }],
      }),
    );
    const order = [...md.matchAll(/<summary><b>([^<]+)<\/b> <code>([^<]+)<\/code>/g)].map((m) => `${m[1]} ${m[2]}`);
    expect(order).toEqual(['refused update campaign/big', 'drift campaign/sale', 'delete campaign/old', 'create segment/a']);
    expect(md).toContain('**Refused:** audience grew past the limit');
    expect(md).toContain('**Hint:** raise policy\\.max\\_audience');
    expect(md.split('\n')[1]).toContain('1 refused, 1 changed outside git');
  });

  it('escapes what comes from the workspace: no tag, fence or mention breaks out', () => {
    const hostile = '</details><img src=x onerror=alert(1)><script>alert(2)</script>';
    const md = planMarkdown(
      planValue({
        changes: [
          { action: 'update', kind: 'campaign', name: 'c', hash: 'h', fields: [{ path: 'title', before: 'Sale', after: hostile }, { path: 'notes', before: 'a', after: '```\n</details>\n````\n@org/team' }] },
          { action: 'refused', kind: 'campaign', name: 'r', wanted: 'update', reason: `${hostile} ping @octocat\n\n# heading`, hint: '[click](javascript:alert(1))' },
        ],
        warnings: [`${hostile} @admins`],
      }),
    );
    const { outside, code } = splitFences(md);
    // The hostile field values are in code blocks, whole.
    expect(code.join('\n')).toContain(hostile);
    expect(code.join('\n')).toContain('````');
    // Outside the blocks, nothing is markup but herald's own.
    const doc = parseDocument(outside);
    const tags = new Set<string>();
    const walk = (n: { name?: string; children?: unknown[] }) => {
      if (n.name) tags.add(n.name);
      for (const c of (n.children ?? []) as (typeof n)[]) walk(c);
    };
    walk(doc as never);
    expect([...tags].sort()).toEqual(['b', 'code', 'details', 'sub', 'summary']);
    expect(outside).not.toMatch(/<(img|script)/);
    expect(outside.match(/<details>/g)).toHaveLength(2);
    expect(outside.match(/<\/details>/g)).toHaveLength(2);
    expect(outside).toContain('&lt;/details&gt;&lt;img src=x onerror=alert\\(1\\)&gt;');
    expect(outside).not.toMatch(/(^|\W)@(octocat|admins)/);
    expect(outside).not.toMatch(/^# heading/m);
    expect(outside).not.toContain('](javascript');
  });

  it('stays under the comment limit with 2,000 objects, cutting whole sections and pointing to the rest', () => {
    const objects = Array.from({ length: 2000 }, (_, i) => object('segment', `segment-${String(i).padStart(4, '0')}`, { where: { all: [{ city: { in: ['Berlin', 'Берлин', '東京'] } }, { order_count: { gte: i } }] } }));
    const plan = planValue({ changes: objects.map((o) => ({ action: 'create', kind: o.kind, name: o.name, hash: o.hash })), objects });
    const url = 'https://github.com/shop/emails/actions/runs/42/artifacts/7';
    const md = planMarkdown(plan, { artifactUrl: url });
    expect(md.length).toBeLessThanOrEqual(65_000);
    const shown = md.match(/^<details>/gm)!.length;
    expect(shown).toBeGreaterThan(50);
    expect(shown).toBeLessThan(2000);
    const lines = md.trimEnd().split('\n');
    expect(lines[lines.length - 3]).toBe(`${(2000 - shown).toLocaleString('en-US')} more objects: see the job summary and the plan artifact (<${url}>)`);
    expect(lines[lines.length - 1]).toContain(plan.review);
    // Whole sections: every one shown is closed.
    expect(md.match(/^<\/details>$/gm)).toHaveLength(shown);
    splitFences(md);

    // The job summary holds more of it, within 1 MiB, and points to the artifact only.
    const summary = planMarkdown(plan, { artifactUrl: url, budget: JOB_SUMMARY });
    expect(Buffer.byteLength(summary)).toBeLessThanOrEqual(1_048_576);
    expect(summary.match(/^<details>/gm)!.length).toBeGreaterThan(shown);
  });

  it('cuts one huge diff short instead of dropping its section', () => {
    const body = Array.from({ length: 5000 }, (_, i) => `<mj-text>line ${i}</mj-text>`).join('\n');
    const plan = planValue({ changes: [{ action: 'update', kind: 'template', name: 'big', hash: 'h', fields: [{ path: 'bodies.en', before: 'x\ny', after: body }] }] });
    const md = planMarkdown(plan);
    expect(md.length).toBeLessThanOrEqual(COMMENT.max);
    expect(md).toContain('<b>update</b> <code>template/big</code>');
    expect(md).toMatch(/… [\d,]+ more lines: see the plan artifact\n```/);
    expect(md).not.toContain('more objects');
  });

  it('counts characters beyond the BMP as GitHub might, and never splits them', () => {
    const emoji = '😀'.repeat(3000);
    const objects = Array.from({ length: 300 }, (_, i) => object('campaign', `c${i}`, { title: emoji }));
    const md = planMarkdown(planValue({ changes: objects.map((o) => ({ action: 'create', kind: o.kind, name: o.name, hash: o.hash })), objects }));
    expect(md.length).toBeLessThanOrEqual(65_000);
    expect(md).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
    expect(md).toMatch(/more objects: see the job summary and the plan artifact$/m);
  });
});
