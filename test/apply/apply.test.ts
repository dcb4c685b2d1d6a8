import { describe, expect, it } from 'vitest';
import { applyPlan } from '../../src/apply/apply.js';
import { openDb } from '../../src/db/db.js';
import { formatPlan } from '../../src/plan/format.js';
import { history, loadDeployed } from '../../src/state/queries.js';
import { applyDir, planDir } from '../support/apply.js';
import { useCleanups } from '../support/cleanup.js';
import { createTestDb, serverUrl } from '../support/db.js';
import { createShop } from '../support/shop.js';
import { MINIMAL, tempWorkspace } from '../support/workspace.js';

const cleanup = useCleanups();

async function setup() {
  const db = await createTestDb();
  const ws = tempWorkspace(MINIMAL);
  cleanup(() => db.dispose(), ws.remove);
  // plan checks the shop's tables up front.
  await createShop(db, { customers: [] });
  return { db, ws };
}

const opts = { gitCommit: 'abc123', gitAuthor: 'test@example.com', holder: 'test' };

describe('plan and apply', () => {
  it('creates every object with its commit; a second apply changes nothing', async () => {
    const { db, ws } = await setup();
    const first = await applyDir(db, ws.dir, { gitCommit: 'abc123' });
    expect(first.summary).toMatchObject({ create: 4, update: 0, delete: 0 });
    const deployed = await loadDeployed(db);
    expect(deployed.map((o) => `${o.kind}/${o.name} v${o.version} ${o.gitCommit}`).sort()).toEqual([
      'campaign/hello v1 abc123',
      'project/herald v1 abc123',
      'segment/everyone v1 abc123',
      'template/hello v1 abc123',
    ]);
    const again = await planDir(db, ws.dir);
    expect(again.summary).toMatchObject({ create: 0, update: 0, delete: 0, unchanged: 4 });
    expect(formatPlan(again, { color: false })).toContain('No changes. The deployed state matches the workspace.');
  });

  it('shows a field-level update, and a template body change as a unified diff of that locale', async () => {
    const { db, ws } = await setup();
    await applyDir(db, ws.dir);
    ws.write('segments/everyone.yaml', 'where:\n  order_count: { gte: 1 }\n');
    ws.write('templates/hello/en.mjml', MINIMAL['templates/hello/en.mjml']!.replace('{{ greeting }}', '{{ greeting }} Welcome!'));
    const plan = await planDir(db, ws.dir);
    expect(plan.changes.filter((c) => c.action === 'update').map((c) => [`${c.kind}/${c.name}`, c.fields!.map((f) => f.path)])).toEqual([
      ['segment/everyone', ['where.order_count.gte']],
      ['template/hello', ['bodies.en']],
    ]);
    const text = formatPlan(plan, { color: false });
    expect(text).toContain('~ update segment/everyone\n    ~ where.order_count.gte: 0 → 1');
    expect(text).toMatch(/~ update template\/hello\n {4}~ bodies\.en:\n {6}@@ -1,1 \+1,1 @@\n {6}-<mjml>.*\n {6}\+<mjml>.*Welcome!/);
    await applyDir(db, ws.dir);
    expect((await history(db, 'segment', 'everyone')).map((v) => `v${v.version} ${v.action}`)).toEqual(['v2 update', 'v1 create']);
  });

  it('refuses a stale saved plan and says what changed', async () => {
    const { db, ws } = await setup();
    await applyDir(db, ws.dir);
    ws.write('segments/everyone.yaml', 'where:\n  order_count: { gte: 2 }\n');
    const saved = JSON.parse(JSON.stringify(await planDir(db, ws.dir)));
    // Someone else applies a different change in the meantime.
    ws.write('segments/everyone.yaml', 'where:\n  order_count: { gte: 3 }\n');
    await applyDir(db, ws.dir);
    await expect(applyPlan(db, saved, opts)).rejects.toThrow(
      /the plan is stale: the deployed state changed since it was made \(segment\/everyone changed: v1 \w+ → v2 \w+\)/,
    );
  });

  it('applies exactly a saved plan, even when the workspace has moved on', async () => {
    const { db, ws } = await setup();
    const saved = JSON.parse(JSON.stringify(await planDir(db, ws.dir)));
    ws.write('segments/everyone.yaml', 'where:\n  order_count: { gte: 9 }\n');
    await applyPlan(db, saved, opts);
    const seg = (await loadDeployed(db)).find((o) => o.name === 'everyone')!;
    expect(seg.spec).toEqual({ where: { order_count: { gte: 0 } } });
  });

  it('refuses to apply a plan with refused changes', async () => {
    const { db, ws } = await setup();
    await applyDir(db, ws.dir);
    ws.write('segments/extra.yaml', 'where:\n  site: main\n');
    await applyDir(db, ws.dir);
    ws.write('segments/extra.yaml', '');
    const { rmSync } = await import('node:fs');
    rmSync(`${ws.dir}/segments/extra.yaml`);
    const plan = await planDir(db, ws.dir);
    expect(plan.changes.find((c) => c.name === 'extra')).toMatchObject({ action: 'refused', wanted: 'delete', reason: 'deleting segment "extra" needs --allow-delete' });
    await expect(applyPlan(db, plan, opts)).rejects.toThrow('the plan has 1 refused change; nothing was applied');
    const allowed = await applyDir(db, ws.dir, { allowDelete: true });
    expect(allowed.summary.delete).toBe(1);
    expect((await history(db, 'segment', 'extra')).map((v) => v.action)).toEqual(['delete', 'create']);
    // Created again, its history goes on numbering (this once failed on a duplicate version 1).
    ws.write('segments/extra.yaml', 'where:\n  site: main\n');
    await applyDir(db, ws.dir);
    expect((await history(db, 'segment', 'extra')).map((v) => `v${v.version} ${v.action}`)).toEqual(['v3 create', 'v2 delete', 'v1 create']);
  });

  it('--target limits the plan to one object and what it depends on', async () => {
    const { db, ws } = await setup();
    ws.write('segments/other.yaml', 'where:\n  site: main\n');
    const plan = await planDir(db, ws.dir, { target: 'campaign/hello' });
    expect(plan.changes.map((c) => `${c.kind}/${c.name}`)).toEqual(['project/herald', 'segment/everyone', 'template/hello', 'campaign/hello']);
    await expect(planDir(db, ws.dir, { target: 'campaign/nope' })).rejects.toThrow('--target campaign/nope names no object');
  });

  it.runIf(serverUrl)('two concurrent applies: the second waits for the first, and nothing interleaves', async () => {
    const { db, ws } = await setup();
    const plan = await planDir(db, ws.dir);
    const other = await openDb((db as { url?: string }).url!);
    cleanup(() => other.close());
    // Hold the apply lock in a transaction of our own, as a slow apply would.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const holder = other.transaction(async (tx) => {
      await tx.query("SELECT set_config('application_name', 'herald apply: alice pid 1', true)");
      await tx.query('SELECT pg_advisory_xact_lock($1, $2)', [0x68657261, 1]);
      await held;
    });
    await new Promise((r) => setTimeout(r, 100));
    await expect(applyPlan(db, plan, { ...opts, lockTimeoutSeconds: 0.5 })).rejects.toThrow(
      /another apply holds the lock: herald apply: alice pid 1 \(pid \d+\) since \d{4}-\d\d-\d\dT[\d:.]+Z; gave up after 0.5s/,
    );
    expect(await loadDeployed(db)).toEqual([]);
    // Once the first finishes, the second goes through.
    const waiting = applyPlan(db, plan, { ...opts, lockTimeoutSeconds: 10 });
    await new Promise((r) => setTimeout(r, 200));
    release();
    await holder;
    await waiting;
    expect((await loadDeployed(db)).length).toBe(4);
  });
});
