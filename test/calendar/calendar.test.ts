import { describe, expect, it } from 'vitest';
import type { Calendar, Entry } from '../../src/calendar/calendar.js';
import { BACKTEST_DAYS, expectedBacktest, readCalendar } from '../../src/calendar/facts.js';
import { desiredObjects } from '../../src/state/objects.js';
import { backtestTrigger } from '../../src/triggers/backtest.js';
import { loadWorkspace } from '../../src/workspace/load.js';
import type { Segment } from '../../src/workspace/model.js';
import { applyDir } from '../support/apply.js';
import { useCleanups } from '../support/cleanup.js';
import { createTestDb, type TestDb } from '../support/db.js';
import { createShop } from '../support/shop.js';
import { tempWorkspace } from '../support/workspace.js';
import { NOW, SHOP, campaign, files, sentCampaign } from './support.js';

/**
 * The calendar from the database and the workspace (readCalendar), against
 * real PostgreSQL: what was sent, what is scheduled, the triggers' expected
 * volumes and the frequency cap warnings, for the first two weeks of
 * December 2026, "now" being 3 December at noon.
 */
const cleanup = useCleanups();
const now = new Date(NOW);
const RANGE = { from: '2026-12-01', to: '2026-12-14' };
const AB_TEST = 'ab_test:\n  test_size: 20%\n  variants:\n    - name: a\n      subject: { en: A }\n    - name: b\n      subject: { en: B }\n  winner: { metric: clicks, after: 4h, fallback: a }\n';

async function setup(o: { cap?: string } = {}): Promise<{ db: TestDb; ws: ReturnType<typeof tempWorkspace> }> {
  const db = await createTestDb();
  cleanup(() => db.dispose());
  await createShop(db, SHOP);
  const ws = tempWorkspace(files(o.cap));
  cleanup(ws.remove);
  await applyDir(db, ws.dir, { now });
  await sentCampaign(db);
  return { db, ws };
}

const entriesOn = (c: Calendar, day: string): Entry[] => c.days.find((d) => d.day === day)!.entries;
const named = (c: Calendar, day: string, what: Entry['what']) => entriesOn(c, day).filter((e) => e.what === what).map((e) => e.name);

describe('calendar', () => {
  it('puts a sent campaign on the days it sent, and scheduled ones on the days they launch', async () => {
    const { db } = await setup();
    const c = await readCalendar(db, { now, ...RANGE });
    expect(c.days.map((d) => d.day)).toHaveLength(14);
    expect(c.days[0]!.day).toBe('2026-12-01');
    expect(entriesOn(c, '2026-12-02').filter((e) => e.kind === 'campaign')).toEqual([
      { what: 'launched', kind: 'campaign', name: 'autumn', at: '2026-12-02T08:00:00.000Z', messages: 4, notes: ['completed'] },
      { what: 'sent', kind: 'campaign', name: 'autumn', at: '2026-12-02T08:05:00.000Z', until: '2026-12-02T08:20:00.000Z', messages: 4, notes: [] },
    ]);
    // Customers 1–5 receive it; 6 has no consent.
    expect(entriesOn(c, '2026-12-07')).toContainEqual({
      what: 'scheduled',
      kind: 'campaign',
      name: 'spring-news',
      title: 'Spring news',
      at: '2026-12-07T09:00:00.000Z',
      messages: 5,
      notes: ['recipients: its audience as it is now'],
    });
    expect(named(c, '2026-12-09', 'scheduled')).toEqual(['winter-sale']);
    expect(entriesOn(c, '2026-12-11').find((e) => e.name === 'gift-guide')).toMatchObject({ what: 'scheduled', messages: 3 });
    // Nothing on a day with nothing, but the expected trigger messages from today on.
    expect(entriesOn(c, '2026-12-01')).toEqual([]);
    expect(named(c, '2026-12-02', 'expected')).toEqual([]);
    expect(named(c, '2026-12-03', 'expected')).toEqual(['birthday']);
    // The stamp is the newest fact: here the apply, made on the real clock, after the sends of December 2026 only when run after it.
    const [apply] = await db.query<{ at: Date }>('SELECT max(applied_at) AS at FROM herald.applies');
    expect(c.stamp).toBe(new Date(Math.max(apply!.at.getTime(), Date.parse('2026-12-02T08:20:00Z'))).toISOString());
  });

  it('warns when the scheduled campaigns put customers over the cap, naming the window and its campaigns', async () => {
    const { db } = await setup();
    const c = await readCalendar(db, { now, ...RANGE });
    // spring-news and winter-sale reach everyone, gift-guide the three buyers: their third message in 7 days.
    expect(c.warnings).toEqual([
      {
        campaign: 'gift-guide',
        campaigns: ['spring-news', 'winter-sale', 'gift-guide'],
        from: '2026-12-07',
        to: '2026-12-11',
        customers: 3,
        fewest: 3,
        most: 3,
        sent_before: 0,
        cap: { max: 2, per: '7d', when_capped: 'skip' },
        text: 'warning: 3 customers would get 3 messages between 2026-12-07 and 2026-12-11, over the cap of 2 per 7d: spring-news, winter-sale, gift-guide. The claim enforces the cap: gift-guide is skipped for them.',
      },
    ]);
  });

  it('counts what the ledger already sent in the window: at 1 per 7d, autumn puts spring-news over for its four', async () => {
    const { db } = await setup({ cap: '{ max: 1, per: 7d }' });
    const c = await readCalendar(db, { now, ...RANGE });
    expect(c.warnings.map((w) => [w.campaign, w.customers, w.fewest, w.most, w.sent_before])).toEqual([
      ['spring-news', 4, 2, 2, 4],
      ['winter-sale', 5, 2, 2, 0],
      ['gift-guide', 3, 3, 3, 0],
    ]);
    expect(c.warnings[0]!.text).toBe(
      'warning: 4 customers would get 2 messages on 2026-12-07, over the cap of 1 per 7d: spring-news (counting what the ledger already sent 4 of them in that window). The claim enforces the cap: spring-news is skipped for them.',
    );
  });

  it('gives no warning when no customer is over the cap, and none for a campaign exempt from it', async () => {
    const under = await setup({ cap: '{ max: 3, per: 7d }' });
    expect((await readCalendar(under.db, { now, ...RANGE })).warnings).toEqual([]);

    // gift-guide exempt: it is sent whatever the count, so no window ends at it.
    const exempt = await setup();
    exempt.ws.write('campaigns/gift-guide.yaml', campaign('Gift guide', 'buyers', '2026-12-11T09:00:00Z', 'frequency_cap: false\n'));
    await applyDir(exempt.db, exempt.ws.dir, { now });
    expect((await readCalendar(exempt.db, { now, ...RANGE })).warnings).toEqual([]);
  });

  it("shows a trigger's expected messages per day: its backtest over the 14 days before today", async () => {
    const { db, ws } = await setup();
    const c = await readCalendar(db, { now, ...RANGE });
    const { workspace } = loadWorkspace(ws.dir);
    const segments = new Map<string, Segment>([...workspace!.segments].map(([n, e]) => [n, e.spec]));
    const b = await backtestTrigger(db, expectedBacktest(workspace!.project.spec, segments, 'birthday', workspace!.triggers.get('birthday')!.spec, now), '1h');
    // Two birthdays in the fortnight (25 and 28 November): each fired once.
    expect(b.totals.fired).toBe(2);
    expect(c.triggers).toEqual([
      { trigger: 'birthday', pending: false, per_day: b.totals.fired / BACKTEST_DAYS, fired: 2, days: 14, from: '2026-11-19T00:00:00.000Z', to: '2026-12-03T00:00:00.000Z' },
    ]);
    expect(entriesOn(c, '2026-12-14').find((e) => e.what === 'expected')).toEqual({ what: 'expected', kind: 'trigger', name: 'birthday', at: null, messages: 2 / 14, notes: [] });
  });

  it('lays the workspace over the deployed state: a new campaign, not yet applied, with its A/B winner send', async () => {
    const { db, ws } = await setup();
    ws.write(
      'campaigns/flash.yaml',
campaign('Flash', 'buyers', '2026-12-05T10:00:00Z', AB_TEST),
    );
    const deployedOnly = await readCalendar(db, { now, ...RANGE });
    expect(entriesOn(deployedOnly, '2026-12-05').filter((e) => e.kind === 'campaign')).toEqual([]);

    const { workspace } = loadWorkspace(ws.dir);
    const c = await readCalendar(db, { now, ...RANGE, desired: desiredObjects(workspace!) });
    expect(entriesOn(c, '2026-12-05').filter((e) => e.kind === 'campaign').map((e) => [e.what, e.name, e.at, e.pending, e.messages])).toEqual([
      ['scheduled', 'flash', '2026-12-05T10:00:00.000Z', true, 3],
      ['winner', 'flash', '2026-12-05T14:00:00.000Z', true, null],
    ]);
    expect(entriesOn(c, '2026-12-05')[0]!.notes).toContain('A/B test: 20% first, the winner to the rest at 2026-12-05T14:00:00.000Z');
    // Counted in the cap too: with autumn (sent on 2 December) flash puts the buyers over at spring-news, and after.
    expect(c.warnings.map((w) => [w.campaign, w.campaigns, w.customers, w.most, w.sent_before])).toEqual([
      ['spring-news', ['flash', 'spring-news'], 3, 3, 3],
      ['winter-sale', ['flash', 'spring-news', 'winter-sale'], 3, 3, 0],
      ['gift-guide', ['flash', 'spring-news', 'winter-sale', 'gift-guide'], 3, 4, 0],
    ]);
  });

  it('places a campaign whose time has passed on today, due at the next tick, and leaves a paused one out of the cap', async () => {
    const { db, ws } = await setup();
    ws.write('campaigns/spring-news.yaml', campaign('Spring news', 'everyone', '2026-12-01T09:00:00Z'));
    ws.write('campaigns/winter-sale.yaml', campaign('Winter sale', 'everyone', '2026-12-09T09:00:00Z').replace('status: ready', 'status: paused'));
    const { workspace } = loadWorkspace(ws.dir);
    const c = await readCalendar(db, { now, ...RANGE, desired: desiredObjects(workspace!) });
    expect(named(c, '2026-12-01', 'scheduled')).toEqual([]);
    const due = entriesOn(c, '2026-12-03').find((e) => e.what === 'scheduled')!;
    expect(due).toMatchObject({ name: 'spring-news', at: null, pending: true, messages: 5 });
    expect(due.notes).toContain('due: scheduled for 2026-12-01T09:00:00Z, launches at the next tick');
    expect(entriesOn(c, '2026-12-09').find((e) => e.name === 'winter-sale')).toMatchObject({ what: 'scheduled', paused: true, messages: null, notes: ['paused: launches only when resumed'] });
    expect(c.warnings).toEqual([]);
  });

  it("shows a running A/B test's winner: due at launch plus winner.after while the rest waits, then decided", async () => {
    const { db, ws } = await setup();
    ws.write('campaigns/flash.yaml', campaign('Flash', 'buyers', '2026-12-03T08:00:00Z', AB_TEST));
    await applyDir(db, ws.dir, { now: new Date('2026-12-01T00:00:00Z') });
    await db.query(
      `INSERT INTO herald.runs (source_kind, source, phase, launched_at, enabled_at) VALUES ('campaign', 'flash', 'sending', '2026-12-03T08:00:00Z', '2026-12-03T08:00:00Z')`,
    );
    await db.query(
      `INSERT INTO herald.messages (source_kind, source, customer_id, address, site, locale, status, variant, sent_at)
       VALUES ('campaign', 'flash', 1, 'ann@example.com', 'shop-en', 'en', 'sent', 'a', '2026-12-03T08:01:00Z'),
              ('campaign', 'flash', 2, 'bob@example.com', 'shop-en', 'en', 'waiting', NULL, NULL),
              ('campaign', 'flash', 3, 'cat@example.com', 'shop-en', 'en', 'waiting', NULL, NULL)`,
    );
    const flash = (c: Calendar) => entriesOn(c, '2026-12-03').filter((e) => e.name === 'flash');
    expect(flash(await readCalendar(db, { now, ...RANGE }))).toEqual([
      { what: 'launched', kind: 'campaign', name: 'flash', title: 'Flash', at: '2026-12-03T08:00:00.000Z', messages: 3, notes: ['sending', 'A/B test: 20% first, the winner to the rest after 4h'] },
      { what: 'sent', kind: 'campaign', name: 'flash', title: 'Flash', at: '2026-12-03T08:01:00.000Z', until: '2026-12-03T08:01:00.000Z', messages: 1, notes: [] },
      { what: 'winner', kind: 'campaign', name: 'flash', title: 'Flash', at: '2026-12-03T12:00:00.000Z', messages: 2, notes: ['A/B winner due (by clicks, else a): sent to those waiting'] },
    ]);

    await db.query(
      `INSERT INTO herald.ab_decisions (campaign, metric, winner, significant, p_value, figures, reason, decided_at)
       VALUES ('flash', 'clicks', 'b', false, NULL, '[]', 'no test possible', '2026-12-03T12:05:00Z')`,
    );
    expect(flash(await readCalendar(db, { now, ...RANGE })).map((e) => [e.what, e.at, e.notes])).toEqual([
      ['launched', '2026-12-03T08:00:00.000Z', ['sending', 'A/B test: 20% first, the winner to the rest after 4h']],
      ['sent', '2026-12-03T08:01:00.000Z', []],
      ['decided', '2026-12-03T12:05:00.000Z', ['A/B winner decided: b; the rest of the audience gets it']],
    ]);
  });
});
