import { describe, expect, it } from 'vitest';
import { applyObjects } from '../../src/apply/apply.js';
import { computePlan } from '../../src/plan/plan.js';
import { desiredObjects } from '../../src/state/objects.js';
import { loadDeployed } from '../../src/state/queries.js';
import { loadWorkspace } from '../../src/workspace/load.js';
import { createTestDb, type TestDb } from '../support/db.js';
import { exampleWorkspace } from '../support/workspace.js';
import { useCleanups } from '../support/cleanup.js';

const cleanup = useCleanups();

async function setup() {
  const db = await createTestDb();
  const ws = exampleWorkspace();
  cleanup(() => db.dispose(), ws.remove);
  const desired = () => desiredObjects(loadWorkspace(ws.dir).workspace!);
  return { db, ws, desired };
}

const opts = { gitCommit: 'abc123', appliedBy: 'test@example.com' };

describe('apply', () => {
  it('creates every object, records the commit, and a second apply changes nothing', async () => {
    const { db, desired } = await setup();
    const first = await applyObjects(db, desired(), opts);
    expect(first.plan.summary).toMatchObject({ create: 5, update: 0, delete: 0 });
    expect(first.applyId).toBeTypeOf('number');

    const deployed = await loadDeployed(db);
    expect(deployed.map((o) => `${o.kind}/${o.name}`).sort()).toEqual(
      ['campaign/winback', 'project/herald', 'segment/lapsed', 'segment/loyal', 'template/newsletter'],
    );
    expect(new Set(deployed.map((o) => o.gitCommit))).toEqual(new Set(['abc123']));

    const second = await applyObjects(db, desired(), opts);
    expect(second.applyId).toBeUndefined();
    expect(second.plan.summary).toMatchObject({ create: 0, update: 0, delete: 0, unchanged: 5 });
    const [applies] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM herald.applies');
    expect(applies!.n).toBe(1);
  });

  it('plans a field-level update and a delete, then applies them', async () => {
    const { db, ws, desired } = await setup();
    await applyObjects(db, desired(), opts);
    ws.write('segments/lapsed.yaml', 'where:\n  last_order: { before: 365d }\n');
    const { rmSync } = await import('node:fs');
    rmSync(`${ws.dir}/segments/loyal.yaml`);

    const plan = computePlan(desired(), await loadDeployed(db));
    expect(plan.changes.filter((c) => c.action !== 'unchanged')).toEqual([
      {
        action: 'update',
        kind: 'segment',
        name: 'lapsed',
        hash: expect.any(String),
        fields: [
          { path: 'description', before: 'Customers who have ordered before, but not in the last 180 days.' },
          { path: 'where.last_order.before', before: '180d', after: '365d' },
        ],
      },
      { action: 'delete', kind: 'segment', name: 'loyal' },
    ]);
    await applyObjects(db, desired(), opts);
    expect(computePlan(desired(), await loadDeployed(db)).summary).toMatchObject({ create: 0, update: 0, delete: 0 });
  });

  it('a template body change shows as a change of that locale only', async () => {
    const { db, ws, desired } = await setup();
    await applyObjects(db, desired(), opts);
    const { readFileSync } = await import('node:fs');
    const ru = readFileSync(`${ws.dir}/templates/newsletter/ru.mjml`, 'utf8');
    ws.write('templates/newsletter/ru.mjml', ru.replace('Смотреть новинки', 'Все новинки'));
    const plan = computePlan(desired(), await loadDeployed(db));
    const update = plan.changes.find((c) => c.action === 'update');
    expect(update?.name).toBe('newsletter');
    expect(update?.fields?.map((f) => f.path)).toEqual(['bodies.ru']);
  });
});
