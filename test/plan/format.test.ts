import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatPlan } from '../../src/plan/format.js';
import type { Plan } from '../../src/plan/plan.js';
import { applyDir, planDir } from '../support/apply.js';
import { useCleanups } from '../support/cleanup.js';
import { createTestDb, type TestDb } from '../support/db.js';
import { createShop } from '../support/shop.js';
import { MINIMAL, tempWorkspace } from '../support/workspace.js';

/**
 * How plan prints changed lists and maps: nested, per element and key, with
 * +/-/~ markers and unchanged elements counted instead of shown, as
 * Terraform does. The expected texts are the snapshots.
 */
const cleanup = useCleanups();
const NOW = new Date('2026-11-20T12:00:00Z');

const variant = (name: string, en: string) => `    - name: ${name}\n      subject:\n        en: "${en}"\n`;
const abCampaign = (variants: string, extra = '') => `title: Shoe care
site: main
audience:
  segment: berlin
template: hello
status: draft
ab_test:
  test_size: 20%
  variants:
${variants}  winner:
    metric: clicks
    after: 4h
    fallback: care-tips
${extra}`;
const berlin = (conditions: string) => `where:\n  all:\n${conditions}`;
const CITY = '    - city: { in: [Berlin, Берлин] }\n';

const BASE = {
  ...MINIMAL,
  'segments/berlin.yaml': berlin(`${CITY}    - purchased: { categories: [shoes], within: 365d }\n    - order_count: { gte: 1 }\n`),
  'campaigns/care.yaml': abCampaign(variant('care-tips', 'Keep your shoes like new') + variant('discount', '15% off shoe care, this week only')),
};

// One database with BASE applied, planned against (read-only) by each test's own edited workspace.
let db: TestDb;
beforeAll(async () => {
  db = await createTestDb();
  await createShop(db, { customers: [{ id: 1, email: 'c1@example.com', site: 'main' }] });
  const ws = tempWorkspace(BASE);
  try {
    await applyDir(db, ws.dir, { now: NOW });
  } finally {
    ws.remove();
  }
}, 300_000);
afterAll(() => db?.dispose());

function setup() {
  const ws = tempWorkspace(BASE);
  cleanup(ws.remove);
  return { db, ws };
}

/** The plan's text for one object, without the summary. */
function section(plan: Plan, id: string): string {
  const text = formatPlan(plan, { color: false });
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.endsWith(` ${id}`));
  const end = lines.findIndex((l, i) => i > start && !l.startsWith(' '));
  return lines.slice(start, end).join('\n');
}

describe('plan text for lists and maps', () => {
  it('shows A/B variants element by element, matched by name, hiding unchanged ones', async () => {
    const { db, ws } = setup();
    ws.write('campaigns/care.yaml', abCampaign(variant('care-tips', 'Keep your shoes like new') + variant('discount', '20% off shoe care, this week only') + variant('free-shipping', 'Free shipping on all shoe care products')));
    expect(section(await planDir(db, ws.dir, { now: NOW }), 'campaign/care')).toBe(
      [
        '~ update campaign/care',
        '    ~ ab_test.variants: [',
        '          # (1 unchanged element hidden)',
        '        ~ {',
        '              name: "discount"',
        '            ~ subject.en: "15% off shoe care, this week only" → "20% off shoe care, this week only"',
        '          }',
        '        + {',
        '            + name: "free-shipping"',
        '            + subject: { en: "Free shipping on all shoe care products" }',
        '          }',
        '      ]',
      ].join('\n'),
    );
  });

  it('shows where.all condition by condition: changed in place, removed, added', async () => {
    const { db, ws } = setup();
    ws.write('segments/berlin.yaml', berlin(`${CITY}    - purchased: { categories: [shoes], within: 180d }\n    - registered: { within: 30d }\n`));
    expect(section(await planDir(db, ws.dir, { now: NOW }), 'segment/berlin')).toBe(
      [
        '~ update segment/berlin',
        '    ~ where.all: [',
        '          # (1 unchanged element hidden)',
        '        ~ {',
        '            ~ purchased.within: "365d" → "180d"',
        '          }',
        '        - { order_count: { gte: 1 } }',
        '        + { registered: { within: "30d" } }',
        '      ]',
      ].join('\n'),
    );
  });

  it('shows a whole block added or removed key by key, and keeps scalar changes on one line', async () => {
    const { db, ws } = setup();
    ws.write('campaigns/care.yaml', abCampaign(variant('care-tips', 'Keep your shoes like new') + variant('discount', '15% off shoe care, this week only'), 'control_group: 7%\nproducts: [CR-001, CR-002]\n').replace('status: draft', 'status: paused'));
    const plan = await planDir(db, ws.dir, { now: NOW });
    expect(section(plan, 'campaign/care')).toBe(
      [
        '~ update campaign/care',
        '    + control_group: "7%"',
        '    + products: ["CR-001", "CR-002"]',
        '    ~ status: "draft" → "paused"',
      ].join('\n'),
    );
    ws.write('campaigns/care.yaml', abCampaign(variant('care-tips', 'Keep your shoes like new') + variant('discount', '15% off shoe care, this week only')).replace(/ab_test:[\s\S]*$/, ''));
    expect(section(await planDir(db, ws.dir, { now: NOW }), 'campaign/care')).toBe(
      [
        '~ update campaign/care',
        '    - ab_test: {',
        '        - test_size: "20%"',
        '        - variants: [',
        '            - { name: "care-tips", subject: { en: "Keep your shoes like new" } }',
        '            - {',
        '                - name: "discount"',
        '                - subject: { en: "15% off shoe care, this week only" }',
        '              }',
        '          ]',
        '        - winner: { after: "4h", fallback: "care-tips", metric: "clicks" }',
        '      }',
      ].join('\n'),
    );
  });
});
