import { describe, expect, it } from 'vitest';
import { formatPlan } from '../../src/plan/format.js';
import { applyDir, planDir } from '../support/apply.js';
import { useCleanups } from '../support/cleanup.js';
import { createTestDb } from '../support/db.js';
import { createShop } from '../support/shop.js';
import { MINIMAL, tempWorkspace } from '../support/workspace.js';
import { compileSegment } from '../../src/audience/compile.js';

const cleanup = useCleanups();

async function setup() {
  const db = await createTestDb();
  cleanup(() => db.dispose());
  await createShop(db, {
    customers: [
      { id: 1, email: 'anna@example.com', site: 'main' },
      { id: 2, email: 'boris@example.org', site: 'main' },
      { id: 3, email: 'carl@example.net', site: 'main' },
    ],
  });
  const ws = tempWorkspace({
    ...MINIMAL,
    'lists/fair.yaml': 'description: Visitors of the fair\nfile: fair.csv\nsite: main\n',
    'lists/fair.csv': 'email,first_name,interest\nanna@example.com,Anna,boots\nnew@example.com,Nia,bags\n',
    'campaigns/hello.yaml': MINIMAL['campaigns/hello.yaml']!.replace('segment: everyone', 'list: fair'),
  });
  cleanup(ws.remove);
  return { db, ws };
}

describe('lists in plan and apply', () => {
  it('apply imports a list in its transaction; plan shows how a changed file moves the membership; list: reaches its customers', async () => {
    const { db, ws } = await setup();
    const first = await planDir(db, ws.dir);
    expect(first.lists).toEqual({ fair: { added: 2, removed: 0, kept: 0 } });
    await applyDir(db, ws.dir);
    const rows = await db.query<{ email: string; customer_id: number | null }>("SELECT email, customer_id FROM herald.list_members WHERE list = 'fair' ORDER BY email");
    expect(rows).toEqual([
      { email: 'anna@example.com', customer_id: 1 },
      { email: 'new@example.com', customer_id: null },
    ]);

    ws.write('lists/fair.csv', 'email\nanna@example.com\nboris@example.org\ncarl@example.net\n');
    const next = await planDir(db, ws.dir);
    expect(next.changes.find((c) => c.kind === 'list')).toMatchObject({ action: 'update', fields: [{ path: 'csv_sha256' }] });
    expect(next.lists).toEqual({ fair: { added: 2, removed: 1, kept: 1 } });
    expect(formatPlan(next, { color: false })).toContain('Lists:\n  list/fair: +2 −1 (1 kept)');
    await applyDir(db, ws.dir);

    const sql = compileSegment({ list: 'fair' }, { schema: 'shop', segments: new Map(), cancelled: ['cancelled'], open: ['new'] }, new Date());
    const members = await db.query<{ customer_id: number }>(`${sql.text} ORDER BY 1`, sql.values);
    expect(members.map((m) => m.customer_id)).toEqual([1, 2, 3]);
  });
});
