import fc from 'fast-check';
import { rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { desiredObjects } from '../../src/state/objects.js';
import { loadDeployed } from '../../src/state/queries.js';
import { loadWorkspace } from '../../src/workspace/load.js';
import { applyDir, planDir } from '../support/apply.js';
import { useCleanups } from '../support/cleanup.js';
import { createTestDb } from '../support/db.js';
import { createShop } from '../support/shop.js';
import { MINIMAL, tempWorkspace } from '../support/workspace.js';

const cleanup = useCleanups();

/** A random, valid workspace: some segments, templates and draft campaigns that refer only to existing ones. */
const workspaceArb = fc
  .record({
    segments: fc.dictionary(fc.constantFrom('s1', 's2', 's3', 's4'), fc.oneof(fc.constant('site: main'), fc.nat(5).map((n) => `order_count: { gte: ${n} }`)), { maxKeys: 4 }),
    templates: fc.dictionary(fc.constantFrom('t1', 't2', 't3'), fc.constantFrom('Hello', 'Hi {{ customer.first_name }}', 'News'), { minKeys: 1, maxKeys: 3 }),
    campaigns: fc.dictionary(fc.constantFrom('c1', 'c2', 'c3'), fc.record({ title: fc.constantFrom('A', 'B'), s: fc.nat(3), t: fc.nat(2) }), { maxKeys: 3 }),
  })
  .map(({ segments, templates, campaigns }) => {
    const files: Record<string, string> = { 'herald.yaml': MINIMAL['herald.yaml']! };
    const segNames = Object.keys(segments);
    const tplNames = Object.keys(templates);
    for (const [n, w] of Object.entries(segments)) files[`segments/${n}.yaml`] = `where:\n  ${w}\n`;
    for (const [n, subject] of Object.entries(templates)) {
      files[`templates/${n}/template.yaml`] = `subject:\n  en: "${subject}"\n`;
      files[`templates/${n}/en.mjml`] = MINIMAL['templates/hello/en.mjml']!;
    }
    if (segNames.length > 0) {
      for (const [n, c] of Object.entries(campaigns)) {
        files[`campaigns/${n}.yaml`] = `title: ${c.title}\nsite: main\naudience:\n  segment: ${segNames[c.s % segNames.length]}\ntemplate: ${tplNames[c.t % tplNames.length]}\nstatus: draft\n`;
      }
    }
    return files;
  });

describe('plan/apply convergence (property)', () => {
  it('from any deployed state A, applying plan(B) leaves exactly B deployed, and the next plan is empty', async () => {
    const db = await createTestDb();
    cleanup(() => db.dispose());
    await createShop(db, { customers: [] });
    await fc.assert(
      fc.asyncProperty(workspaceArb, workspaceArb, async (a, b) => {
        for (const files of [a, b]) {
          const ws = tempWorkspace(files);
          try {
            await applyDir(db, ws.dir, { allowDelete: true });
            const want = desiredObjects(loadWorkspace(ws.dir).workspace!).map((o) => `${o.kind}/${o.name} ${o.hash}`).sort();
            const have = (await loadDeployed(db)).filter((o) => !o.archivedAt).map((o) => `${o.kind}/${o.name} ${o.hash}`).sort();
            expect(have).toEqual(want);
            const next = await planDir(db, ws.dir, { allowDelete: true });
            expect(next.summary).toMatchObject({ create: 0, update: 0, delete: 0, archive: 0, refused: 0 });
          } finally {
            rmSync(ws.dir, { recursive: true, force: true });
          }
        }
      }),
      { numRuns: 25 },
    );
  });
});
