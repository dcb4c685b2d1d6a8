import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { silentLog } from '../../src/log.js';
import { tick } from '../../src/tick/tick.js';
import { smtpTransport } from '../../src/channels/email/transport.js';
import { abDecision } from '../../src/campaigns/winner.js';
import { ledgerCounts } from '../../src/ledger/ledger.js';
import { createTestDb } from '../support/db.js';
import { createShop } from '../support/shop.js';
import { applyDir } from '../support/apply.js';
import { startSmtpSink } from '../support/smtp.js';
import { exampleWorkspace } from '../support/workspace.js';
import { useCleanups } from '../support/cleanup.js';
import { campaign } from '../support/sources.js';

/**
 * A/B tests and control groups end to end through the scheduler tick:
 * deterministic assignment, the test group first, the decision on recorded
 * events after `winner.after`, the rest with the winner, the control group
 * never sent.
 */
const LAUNCH = new Date('2026-11-20T09:00:00Z');
const HOUR = 3_600_000;
const cleanup = useCleanups();

const CAMPAIGN = `title: Winter A/B
sites: [shop-en]
audience: { segment: lapsed }
template: newsletter
personalized_greeting: true
products: [OW-001]
schedule: { at: "2026-11-20T09:00:00Z" }
control_group: 10%
ab_test:
  test_size: 40%
  variants:
    - name: plain
      subject: { en: "Winter is here", ru: "Зима пришла" }
    - name: personal
      subject: { en: "{{ customer.first_name }}, winter is here", ru: "{{ customer.first_name }}, зима пришла" }
  winner: { metric: clicks, after: 4h, fallback: plain }
status: ready
`;

async function setup(customers: number) {
  const db = await createTestDb();
  const ws = exampleWorkspace();
  const sink = await startSmtpSink();
  const transport = smtpTransport(sink.url);
  cleanup(() => db.dispose(), ws.remove, () => sink.close(), () => transport.close());
  ws.write('campaigns/winback.yaml', CAMPAIGN);
  // Only the A/B campaign: the example's other one is a draft anyway.
  rmSync(`${ws.dir}/campaigns/shoe-care-week.yaml`);
  const ids = Array.from({ length: customers }, (_, i) => i + 1);
  await createShop(db, {
    customers: ids.map((id) => ({ id, email: `c${id}@example.com`, first_name: `C${id}` })),
    products: [
      { sku: 'OW-001', category: 'outerwear', name: 'Wool Coat', price: 249 },
      { sku: 'SH-001', category: 'shoes', name: 'Trail Boot', price: 129.9 },
      { sku: 'BG-001', category: 'bags', name: 'Tote', price: 99 },
      { sku: 'AC-002', category: 'accessories', name: 'Scarf', price: 39 },
    ],
    orders: ids.map((id) => ({ id, customer_id: id, created_at: '2025-01-10T10:00:00Z' })),
  });
  await applyDir(db, ws.dir, { now: new Date(LAUNCH.getTime() - HOUR) });
  return { db, sink, transport };
}

/** The hash the ledger uses, recomputed in Node: the first 32 bits of md5, as an unsigned integer. */
const h32 = (s: string) => createHash('md5').update(s).digest().readUInt32BE(0);
const below = (s: string, percent: number) => h32(s) < Math.floor((percent / 100) * 2 ** 32);

describe('A/B tests and control groups', () => {
  it('assigns control, test group and variant by hash, sends the test group, decides on clicks after 4h, and sends the rest the winner', async () => {
    const { db, sink, transport } = await setup(400);
    const at = (ms: number) => () => new Date(LAUNCH.getTime() + ms);

    const first = await tick(db, { transport, log: silentLog, clock: at(0) });
    expect(first.launched).toEqual([{ campaign: 'winback', rows: 400 }]);
    // Exactly the rows the hashes say, recomputed here from the campaign name and the customer id.
    const rows = await db.query<{ customer_id: number; status: string; variant: string | null }>(
      "SELECT customer_id, status, variant FROM herald.messages WHERE source = 'winback' ORDER BY customer_id",
    );
    const expected = rows.map(({ customer_id: id }) => {
      if (below(`winback:${id}`, 10)) return { customer_id: id, status: 'control', variant: null };
      if (!below(`winback:ab:${id}`, 40)) return { customer_id: id, status: 'waiting', variant: null };
      return { customer_id: id, status: 'sent', variant: ['plain', 'personal'][h32(`winback:variant:${id}`) % 2]! };
    });
    expect(rows).toEqual(expected);
    const control = expected.filter((r) => r.status === 'control').length;
    const test = expected.filter((r) => r.status === 'sent');
    expect(control).toBeGreaterThan(20);
    expect(test.length).toBeGreaterThan(100);
    expect(first.delivered.sent).toBe(test.length);
    expect(sink.messages).toHaveLength(test.length);
    const subjects = new Set(sink.messages.map((m) => m.subject?.replace(/^C\d+, /, '{name}, ')));
    expect(subjects).toEqual(new Set(['Winter is here', '{name}, winter is here']));

    // Clicks so far: the personal subject wins clearly.
    await db.query(
      `INSERT INTO herald.message_events (message_id, kind, class)
       SELECT id, 'click', 'human' FROM herald.messages
        WHERE source = 'winback' AND status = 'sent' AND (variant = 'personal' AND id % 3 = 0 OR variant = 'plain' AND id % 25 = 0)`,
    );
    // Before winner.after nothing is decided and the rest keeps waiting.
    const early = await tick(db, { transport, log: silentLog, clock: at(3 * HOUR) });
    expect(early.decided).toEqual([]);
    expect(early.delivered.sent).toBe(0);

    const later = await tick(db, { transport, log: silentLog, clock: at(4 * HOUR) });
    expect(later.decided).toHaveLength(1);
    const d = later.decided[0]!.decision;
    expect(d).toMatchObject({ metric: 'clicks', winner: 'personal', significant: true });
    expect(d.pValue).toBeLessThan(0.05);
    const stored = await abDecision(db, 'winback');
    expect(stored).toMatchObject({ winner: 'personal', significant: true, reason: d.reason });
    expect(stored!.figures.map((f) => f.variant)).toEqual(['personal', 'plain']);
    const waiting = expected.filter((r) => r.status === 'waiting').length;
    expect(later.delivered.sent).toBe(waiting);
    expect(later.delivered.completed).toEqual(['winback']);
    // The rest all got the winner's subject; nobody got two messages; the control group got none.
    const rest = sink.messages.slice(test.length);
    expect(rest.every((m) => /^C\d+, winter is here$/.test(m.subject ?? ''))).toBe(true);
    const to = sink.envelopes.flat();
    expect(new Set(to).size).toBe(to.length);
    expect(to).toHaveLength(400 - control);
    const counts = await ledgerCounts(db, campaign('winback'));
    expect(counts).toMatchObject({ audience: 400, control, recipients: 400 - control, sent: 400 - control, waiting: 0, queued: 0 });

    // The report shows the held-out group and the decision.
    const { campaignReport } = await import('../../src/report/write.js');
    const { reportMarkdown } = await import('../../src/report/report.js');
    const report = await campaignReport(db, 'winback');
    expect(report).toMatchObject({ audience: 400, control, recipients: 400 - control, sent: 400 - control, pending: 0, ab: { winner: 'personal', significant: true } });
    const md = reportMarkdown(report);
    expect(md).toContain(`| Control group (held out) | ${control} |`);
    expect(md).toContain('## A/B test: personal won');

    // A third tick decides nothing again and sends nothing.
    const again = await tick(db, { transport, log: silentLog, clock: at(5 * HOUR) });
    expect(again.decided).toEqual([]);
    expect(again.delivered.sent).toBe(0);
  });

  it('without a significant difference the declared fallback wins, and the decision says why', async () => {
    const { db, sink, transport } = await setup(200);
    const at = (ms: number) => () => new Date(LAUNCH.getTime() + ms);
    await tick(db, { transport, log: silentLog, clock: at(0) });
    // About the same click rate for both.
    await db.query("INSERT INTO herald.message_events (message_id, kind, class) SELECT id, 'click', 'human' FROM herald.messages WHERE source = 'winback' AND status = 'sent' AND id % 4 = 0");
    const later = await tick(db, { transport, log: silentLog, clock: at(4 * HOUR) });
    const d = later.decided[0]!.decision;
    expect(d).toMatchObject({ winner: 'plain', significant: false });
    expect(d.reason).toMatch(/^no significant difference \(p = [0-9.]+\); fallback plain$/);
    const sentBefore = sink.messages.length - later.delivered.sent;
    expect(sink.messages.slice(sentBefore).every((m) => m.subject === 'Winter is here')).toBe(true);
  });

  it('decides on clicks by people only: a scanner clicking every link of one variant does not make it win', async () => {
    const { db, transport } = await setup(300);
    const at = (ms: number) => () => new Date(LAUNCH.getTime() + ms);
    await tick(db, { transport, log: silentLog, clock: at(0) });
    // Every plain message clicked by a scanner (and some by Apple's proxy); people click personal far more.
    await db.query(
      `INSERT INTO herald.message_events (message_id, kind, class)
       SELECT id, 'click', CASE WHEN variant = 'plain' THEN (CASE WHEN id % 2 = 0 THEN 'scanner' ELSE 'mpp' END) ELSE 'human' END
         FROM herald.messages WHERE source = 'winback' AND status = 'sent' AND (variant = 'plain' OR id % 3 = 0)
       UNION ALL
       SELECT id, 'click', 'human' FROM herald.messages WHERE source = 'winback' AND status = 'sent' AND variant = 'plain' AND id % 25 = 0`,
    );
    const [human] = await db.query<{ plain: number; personal: number }>(
      `SELECT count(DISTINCT m.id) FILTER (WHERE m.variant = 'plain')::int AS plain, count(DISTINCT m.id) FILTER (WHERE m.variant = 'personal')::int AS personal
         FROM herald.messages m JOIN herald.message_events e ON e.message_id = m.id AND e.class = 'human' WHERE m.source = 'winback'`,
    );
    const later = await tick(db, { transport, log: silentLog, clock: at(4 * HOUR) });
    const d = later.decided[0]!.decision;
    expect(d).toMatchObject({ metric: 'clicks', winner: 'personal', significant: true });
    // The figures count people's clicks: the scanner's do not make plain's rate 100%.
    expect(Object.fromEntries(d.figures.map((f) => [f.variant, f.converted]))).toEqual(human);
  });

  it('assignment is the same on every run and every database', async () => {
    const a = await setup(120);
    const b = await setup(120);
    const at = () => LAUNCH;
    await tick(a.db, { transport: a.transport, log: silentLog, clock: at });
    await tick(b.db, { transport: b.transport, log: silentLog, clock: at });
    const q = "SELECT customer_id, CASE WHEN status = 'sent' THEN 'test' ELSE status END AS s, variant FROM herald.messages ORDER BY customer_id";
    expect(await a.db.query(q)).toEqual(await b.db.query(q));
  });
});
