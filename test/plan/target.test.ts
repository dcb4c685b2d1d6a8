import { rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatPlan } from '../../src/plan/format.js';
import { applyDir, planDir } from '../support/apply.js';
import { useCleanups } from '../support/cleanup.js';
import { createTestDb } from '../support/db.js';
import { createShop } from '../support/shop.js';
import { MINIMAL, tempWorkspace } from '../support/workspace.js';

const cleanup = useCleanups();
const NOW = new Date('2026-11-20T12:00:00Z');

async function setup() {
  const db = await createTestDb();
  const ws = tempWorkspace(MINIMAL);
  cleanup(() => db.dispose(), ws.remove);
  await createShop(db, { customers: [{ id: 1, email: 'c1@example.com', site: 'main' }] });
  await applyDir(db, ws.dir, { now: NOW });
  return { db, ws };
}

describe('--target', () => {
  it('is planned against the whole deployed state: its fingerprint is the one apply checks', async () => {
    const { db, ws } = await setup();
    ws.write('segments/everyone.yaml', 'where:\n  order_count: { gte: 1 }\n');
    const whole = await planDir(db, ws.dir, { now: NOW });
    const targeted = await planDir(db, ws.dir, { now: NOW, target: 'segment/everyone' });
    expect(targeted.fingerprint).toBe(whole.fingerprint);
    expect(targeted.basis).toEqual(whole.basis);
    expect(targeted.changes.map((c) => `${c.action} ${c.kind}/${c.name}`)).toEqual(['unchanged project/herald', 'update segment/everyone']);
    expect(targeted.summary).toMatchObject({ update: 1, unchanged: 1 });
    expect(targeted.target).toBe('segment/everyone');
    expect(formatPlan(targeted, { color: false })).toContain('Targeted at segment/everyone and what it uses: changes to other objects are not in this plan.');
  });

  it('never deletes what an object outside the target still uses', async () => {
    const { db, ws } = await setup();
    // Both files go; a plan of everything deletes both, but a plan of the segment alone would leave the campaign pointing at nothing.
    rmSync(`${ws.dir}/campaigns/hello.yaml`);
    rmSync(`${ws.dir}/segments/everyone.yaml`);
    const whole = await planDir(db, ws.dir, { now: NOW, allowDelete: true });
    expect(whole.summary).toMatchObject({ delete: 2, refused: 0 });
    const targeted = await planDir(db, ws.dir, { now: NOW, allowDelete: true, target: 'segment/everyone' });
    expect(targeted.changes.find((c) => c.name === 'everyone')).toMatchObject({
      action: 'refused',
      wanted: 'delete',
      reason: 'segment "everyone" is still used by campaign/hello',
    });
    expect(targeted.changes.map((c) => `${c.kind}/${c.name}`)).not.toContain('campaign/hello');
  });
});
