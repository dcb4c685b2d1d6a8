import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileSegment } from '../../src/audience/compile.js';
import type { Condition } from '../../src/workspace/model.js';
import { createTestDb, type TestDb } from '../support/db.js';
import { createShop } from '../support/shop.js';
import { useCleanups } from '../support/cleanup.js';
import { MINIMAL, tempWorkspace } from '../support/workspace.js';
import { validateWorkspace } from '../../src/workspace/validate.js';

const NOW = new Date('2026-06-01T00:00:00Z');
const days = (n: number) => new Date(NOW.getTime() - n * 86_400_000).toISOString();
const cleanup = useCleanups();

/*
 * The ledger, per customer (every message on site en):
 *
 * id  message                                 status      events
 *  1  campaign newsletter, sent 40d ago       sent        human open 35d ago, human click 35d ago
 *  2  campaign newsletter, sent 40d ago       sent        mpp open 40d ago, scanner click 40d ago
 *  3  campaign newsletter                     suppressed  –
 *     trigger cart, sent 5d ago               sent        human open 4d ago
 *  4  campaign newsletter, sent 40d ago       sent        human open 39d ago (no click)
 *     campaign sale, sent 2d ago              sent        human click 1d ago (images off: no open)
 *  5  campaign sale, queued                   queued      –
 *  6  (nothing)
 */
let db: TestDb;
beforeAll(async () => {
  db = await createTestDb();
  await createShop(db, { customers: [1, 2, 3, 4, 5, 6].map((id) => ({ id, email: `c${id}@example.com`, site: 'en', locale: 'en' })) });
  const msgs: [number, string, string, number, string, string | null][] = [
    [101, 'campaign', 'newsletter', 1, 'sent', days(40)],
    [102, 'campaign', 'newsletter', 2, 'sent', days(40)],
    [103, 'campaign', 'newsletter', 3, 'suppressed', null],
    [104, 'trigger', 'cart', 3, 'sent', days(5)],
    [105, 'campaign', 'newsletter', 4, 'sent', days(40)],
    [106, 'campaign', 'sale', 4, 'sent', days(2)],
    [107, 'campaign', 'sale', 5, 'queued', null],
  ];
  await db.query(
    `INSERT INTO herald.messages (id, source_kind, source, customer_id, status, sent_at, address, site, locale, occurrence)
     SELECT id, kind, source, customer, status, sent, 'c' || customer || '@example.com', 'en', 'en', CASE WHEN kind = 'trigger' THEN 'o1' ELSE '' END
       FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::timestamptz[]) AS x(id, kind, source, customer, status, sent)`,
    [msgs.map((m) => m[0]), msgs.map((m) => m[1]), msgs.map((m) => m[2]), msgs.map((m) => m[3]), msgs.map((m) => m[4]), msgs.map((m) => m[5])],
  );
  const events: [number, string, string, string][] = [
    [101, 'open', 'human', days(35)],
    [101, 'click', 'human', days(35)],
    [102, 'open', 'mpp', days(40)],
    [102, 'click', 'scanner', days(40)],
    [104, 'open', 'human', days(4)],
    [105, 'open', 'human', days(39)],
    [106, 'click', 'human', days(1)],
  ];
  await db.query(
    `INSERT INTO herald.message_events (message_id, kind, class, at)
     SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::timestamptz[])`,
    [events.map((e) => e[0]), events.map((e) => e[1]), events.map((e) => e[2]), events.map((e) => e[3])],
  );
});
afterAll(() => db.dispose());

async function members(where: Condition): Promise<number[]> {
  const sql = compileSegment(where, { schema: 'shop', segments: new Map(), cancelled: ['cancelled'], open: [] }, NOW);
  const rows = await db.query<{ customer_id: number | string }>(`${sql.text} ORDER BY 1`, sql.values);
  return rows.map((r) => Number(r.customer_id));
}

describe('conditions on past messages', () => {
  it('received: messages sent, of a campaign or a trigger, in the window; never one only queued or suppressed', async () => {
    expect(await members({ received: { campaign: 'newsletter' } })).toEqual([1, 2, 4]);
    expect(await members({ received: { campaign: 'sale' } })).toEqual([4]);
    expect(await members({ received: { trigger: 'cart' } })).toEqual([3]);
    // A trigger and a campaign of one name are different sources.
    expect(await members({ received: { trigger: 'newsletter' } })).toEqual([]);
    expect(await members({ received: { campaign: 'newsletter', within: '30d' } })).toEqual([]);
    expect(await members({ received: { campaign: 'newsletter', within: '40d' } })).toEqual([1, 2, 4]);
    // Naming no source: any message sent.
    expect(await members({ received: {} })).toEqual([1, 2, 3, 4]);
    expect(await members({ received: { within: '7d' } })).toEqual([3, 4]);
  });

  it("opened: a person's open or click (a click with images off is an open); Apple's privacy proxy and scanners are not a person", async () => {
    expect(await members({ opened: { campaign: 'newsletter' } })).toEqual([1, 4]);
    expect(await members({ opened: { campaign: 'sale' } })).toEqual([4]);
    expect(await members({ opened: { trigger: 'cart' } })).toEqual([3]);
    // The window is when they opened, not when it was sent.
    expect(await members({ opened: { campaign: 'newsletter', within: '36d' } })).toEqual([1]);
    expect(await members({ opened: { within: '7d' } })).toEqual([3, 4]);
  });

  it("clicked: a person's click only", async () => {
    expect(await members({ clicked: { campaign: 'newsletter' } })).toEqual([1]);
    expect(await members({ clicked: {} })).toEqual([1, 4]);
    expect(await members({ clicked: { campaign: 'sale', within: '1d' } })).toEqual([4]);
  });

  it('composes with not, all and any: who received the newsletter and did not open it', async () => {
    expect(await members({ all: [{ received: { campaign: 'newsletter' } }, { not: { opened: { campaign: 'newsletter' } } }] })).toEqual([2]);
    expect(await members({ not: { received: {} } })).toEqual([5, 6]);
    expect(await members({ any: [{ clicked: { campaign: 'newsletter' } }, { received: { trigger: 'cart' } }] })).toEqual([1, 3]);
  });

  it('uses the ledger indexes for a few customers: no scan of every message', async () => {
    const sql = compileSegment({ all: [{ site: 'en' }, { opened: { campaign: 'newsletter', within: '90d' } }] }, { schema: 'shop', segments: new Map(), cancelled: [], open: [] }, NOW);
    const tx = db.transaction(async (t) => {
      // A planner that sees six messages would scan them; force what it picks for many.
      await t.query('SET LOCAL enable_seqscan = off');
      return t.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql.text}`, sql.values);
    });
    const plan = (await tx).map((r) => r['QUERY PLAN']).join('\n');
    expect(plan).not.toMatch(/Seq Scan on messages/);
    expect(plan).not.toMatch(/Seq Scan on message_events/);
  });
});

describe('validation', () => {
  async function problemsWith(files: Record<string, string>): Promise<string[]> {
    const ws = tempWorkspace({ ...MINIMAL, ...files });
    cleanup(ws.remove);
    return (await validateWorkspace(ws.dir)).problems.map((p) => `${p.file}:${p.line}:${p.column}: ${p.message}${p.hint ? ` [${p.hint}]` : ''}`);
  }

  it('names the file and line of a campaign or trigger that does not exist', async () => {
    expect(await problemsWith({ 'segments/engaged.yaml': 'where:\n  all:\n    - received: { campaign: hello }\n    - opened: { campaign: helo, within: 30d }\n' })).toEqual([
      'segments/engaged.yaml:4:27: campaign "helo" does not exist [known campaigns: hello; or create campaigns/helo.yaml]',
    ]);
    expect(await problemsWith({ 'segments/engaged.yaml': 'where:\n  clicked:\n    trigger: cart\n' })).toEqual([
      'segments/engaged.yaml:3:14: trigger "cart" does not exist [create triggers/cart.yaml]',
    ]);
  });

  it('refuses a campaign and a trigger at once, a zero window and unknown keys', async () => {
    expect(await problemsWith({ 'segments/engaged.yaml': 'where:\n  received: { campaign: hello, trigger: hello }\n' })).toEqual([
      'segments/engaged.yaml:2:32: received names a campaign and a trigger; a message comes from one of them [for either, write any: [{received: {campaign: hello}}, {received: {trigger: hello}}]]',
      'segments/engaged.yaml:2:41: trigger "hello" does not exist [create triggers/hello.yaml]',
    ]);
    expect((await problemsWith({ 'segments/engaged.yaml': 'where:\n  opened: { campaign: hello, within: 0d }\n' }))[0]).toMatch(/^segments\/engaged.yaml:2:38: opened.within: 0d matches no one/);
    expect((await problemsWith({ 'segments/engaged.yaml': 'where:\n  opened: { campaign: hello, since: 30d }\n' }))[0]).toMatch(/^segments\/engaged.yaml:2:30: unknown key "since"/);
  });
});
