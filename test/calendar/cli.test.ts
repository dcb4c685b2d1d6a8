import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { herald } from '../support/cli.js';
import { applyDir } from '../support/apply.js';
import { useCleanups } from '../support/cleanup.js';
import { createTestDb, serverUrl } from '../support/db.js';
import { createShop } from '../support/shop.js';
import { tempWorkspace } from '../support/workspace.js';
import { NOW, SHOP, campaign, files, sentCampaign } from './support.js';
import { unfold, vevents } from './ics.js';

/**
 * `herald calendar` through the built CLI (dist/: `npm run build` first),
 * against real PostgreSQL: the files it writes, their bytes whatever the
 * machine's time zone, hostile names, and bad options.
 */
const cleanup = useCleanups();
const WINDOW = ['--now', NOW, '--from', '2026-12-01', '--to', '2026-12-14'];

async function setup(extra: Record<string, string> = {}) {
  const db = await createTestDb();
  cleanup(() => db.dispose());
  await createShop(db, SHOP);
  const ws = tempWorkspace({ ...files(), ...extra });
  cleanup(ws.remove);
  await applyDir(db, ws.dir, { now: new Date(NOW) });
  await sentCampaign(db);
  return { db, ws, args: ['--dir', ws.dir, '--db', db.url!] };
}

const read = (dir: string, file: string) => readFileSync(join(dir, 'reports', file), 'utf8');

describe.skipIf(!serverUrl)('herald calendar', () => {
  it('writes reports/calendar.md and .ics, the same bytes under any TZ', async () => {
    const { ws, args } = await setup();
    const first = await herald(['calendar', ...WINDOW, ...args], { TZ: 'America/Los_Angeles' });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toBe(
      [
        'Calendar from 2026-12-01 to 2026-12-14 (UTC days): 1 campaign send, 3 scheduled, 1 active trigger.',
        'warning: 3 customers would get 3 messages between 2026-12-07 and 2026-12-11, over the cap of 2 per 7d: spring-news, winter-sale, gift-guide. The claim enforces the cap: gift-guide is skipped for them.',
        'Wrote reports/calendar.md and reports/calendar.ics.',
        '',
      ].join('\n'),
    );
    const md = read(ws.dir, 'calendar.md');
    const ics = read(ws.dir, 'calendar.ics');
    // Warnings first, then the days.
    expect(md.indexOf('- warning: 3 customers would get 3 messages')).toBeGreaterThan(0);
    expect(md.indexOf('- warning:')).toBeLessThan(md.indexOf('## By day'));
    expect(md).toContain('| 2026-12-02 | 08:05–08:20 | sent | campaign autumn | 4 |  |');
    expect(md).toContain('| 2026-12-07 | 09:00 | scheduled | campaign spring-news: Spring news | 5 | recipients: its audience as it is now |');
    expect(md).toContain('| 2026-12-03 | | expected | triggers: birthday ~0.1 | ~0.1 | from each trigger\'s backtest |');
    expect(md).toContain('| birthday | 0.1 | 2 |  |');

    // The .ics: one event per campaign send, with its UID and its time in UTC.
    expect(ics.startsWith('BEGIN:VCALENDAR\r\n')).toBe(true);
    expect(ics.match(/^BEGIN:VEVENT\r$/gm)).toHaveLength(4);
    expect(unfold(ics)).toContain('X-WR-CALNAME:herald: campaigns 2026-12-01 to 2026-12-14');
    const events = vevents(ics);
    expect(events.map((e) => [e.UID, e.DTSTART, e.DTEND])).toEqual([
      ['campaign-autumn-2026-12-02@herald', '20261202T080500Z', '20261202T082000Z'],
      ['campaign-spring-news-2026-12-07@herald', '20261207T090000Z', '20261207T093000Z'],
      ['campaign-winter-sale-2026-12-09@herald', '20261209T090000Z', '20261209T093000Z'],
      ['campaign-gift-guide-2026-12-11@herald', '20261211T090000Z', '20261211T093000Z'],
    ]);
    // DTSTAMP is a fact of the data (the apply), the same on every event.
    expect(new Set(events.map((e) => e.DTSTAMP)).size).toBe(1);
    expect(events[3]!.DESCRIPTION).toContain('warning: 3 customers would get 3 messages');

    // Again, in another zone: not a byte differs, and nothing is left beside the files.
    const second = await herald(['calendar', ...WINDOW, ...args], { TZ: 'Asia/Kolkata' });
    expect(second.code, second.stderr).toBe(0);
    expect(read(ws.dir, 'calendar.md')).toBe(md);
    expect(read(ws.dir, 'calendar.ics')).toBe(ics);
    expect(readdirSync(join(ws.dir, 'reports')).sort()).toEqual(['calendar.ics', 'calendar.md']);

    const json = await herald(['calendar', ...WINDOW, '--json', ...args]);
    expect(json.code, json.stderr).toBe(0);
    const c = JSON.parse(json.stdout);
    expect(c).toMatchObject({ from: '2026-12-01', to: '2026-12-14', now: '2026-12-03T12:00:00.000Z', time_zone: 'UTC' });
    expect(c.days).toHaveLength(14);
    expect(c.warnings).toHaveLength(1);
  });

  it('defaults to a week back and four weeks ahead of --now, and shows what the workspace has not applied yet', async () => {
    const { ws, args } = await setup();
    ws.write('campaigns/advent.yaml', campaign('Advent', 'buyers', '2026-12-24T08:00:00Z'));
    const r = await herald(['calendar', '--now', NOW, ...args]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Calendar from 2026-11-26 to 2026-12-31 (UTC days): 1 campaign send, 4 scheduled, 1 active trigger.');
    const md = read(ws.dir, 'calendar.md');
    expect(md).toMatch(/^# Calendar: 2026-11-26 to 2026-12-31\n/);
    expect(md).toContain('| 2026-12-24 | 08:00 | scheduled | campaign advent: Advent | 3 | *not yet applied*; recipients: its audience as it is now |');
    const advent = vevents(read(ws.dir, 'calendar.ics')).find((e) => e.UID === 'campaign-advent-2026-12-24@herald')!;
    expect(advent).toMatchObject({ STATUS: 'TENTATIVE', DTSTART: '20261224T080000Z' });
    expect(advent.DESCRIPTION).toContain('not yet applied (from the workspace)');
  });

  it('escapes hostile titles and ledger names in the markdown and the .ics', async () => {
    const hostile = 'Sale | <img src=x onerror=alert(1)> `code` [link](https://evil.example) *bold*\\';
    const { db, ws, args } = await setup({ 'campaigns/spring-news.yaml': campaign(hostile, 'everyone', '2026-12-07T09:00:00Z') });
    // A source name no workspace allows, straight in the ledger, with a line break and an escape.
    await db.query(
      `INSERT INTO herald.messages (source_kind, source, customer_id, address, site, locale, status, worker, sent_at)
       VALUES ('campaign', E'x|y\\n<b>\\u001b[31m', 1, 'ann@example.com', 'shop-en', 'en', 'sent', 'w', '2026-12-04T10:00:00Z')`,
    );
    const r = await herald(['calendar', ...WINDOW, ...args]);
    expect(r.code, r.stderr).toBe(0);
    const md = read(ws.dir, 'calendar.md');
    expect(md).toContain(
      '| 2026-12-07 | 09:00 | scheduled | campaign spring-news: Sale \\| &lt;img src=x onerror=alert(1)&gt; \\`code\\` \\[link\\](https://evil.example) \\*bold\\*\\\\ | 5 |',
    );
    expect(md).toContain('| 2026-12-04 | 10:00 | sent | campaign x\\|y\\\\n&lt;b&gt;\\\\x1b\\[31m | 1 |  |');
    // Every table row still has its six cells, and nothing raw got through.
    for (const row of md.split('\n').filter((l) => l.startsWith('| 2026-'))) expect(row.split(/(?<!\\)\|/).length).toBe(8);
    expect(md).not.toMatch(/<img|<b>|\x1b/);

    const ics = read(ws.dir, 'calendar.ics');
    expect(ics).not.toMatch(/\x1b/);
    const events = vevents(ics);
    expect(events.find((e) => e.UID === 'campaign-spring-news-2026-12-07@herald')!.SUMMARY).toBe(
      'scheduled: spring-news: Sale | <img src=x onerror=alert(1)> `code` [link](https://evil.example) *bold*\\\\ (5)',
    );
    // The odd name is percent-encoded in its UID, and its line break and escape are shown, not kept.
    const odd = events.find((e) => e.UID!.startsWith('campaign-x%7Cy'))!;
    expect(odd.UID).toBe('campaign-x%7Cy%0A%3Cb%3E%1B%5B31m-2026-12-04@herald');
    expect(odd.SUMMARY).toBe('sent: x|y\\\\n<b>\\\\x1b[31m (1)');
  });

  it('says which path is in the way when reports is a file, and leaves it', async () => {
    const { ws, args } = await setup();
    writeFileSync(join(ws.dir, 'reports'), 'a file of notes');
    const r = await herald(['calendar', ...WINDOW, ...args]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`herald: cannot write the calendar: ${join(ws.dir, 'reports')} is a file, not a folder`);
    expect(r.stderr).toContain('hint: move or remove it');
    expect(r.stderr).not.toMatch(/internal error|EEXIST|\n\s+at /);
    expect(readFileSync(join(ws.dir, 'reports'), 'utf8')).toBe('a file of notes');
  });

  it('refuses bad ranges with a message, and writes nothing', async () => {
    const { ws, args } = await setup();
    const cases: [string[], string, string][] = [
      [['--from', '2026-12-10', '--to', '2026-12-01'], 'herald: --from 2026-12-10 is after --to 2026-12-01', 'hint: give the first day first'],
      [['--from', 'next week'], 'herald: --from "next week" is not an ISO date or time', 'hint: write it as 2026-11-20'],
      [['--from', '2026-01-01', '--to', '2027-06-01'], 'herald: from 2026-01-01 to 2027-06-01 is more than 366 days', 'hint: write a calendar of a year at most'],
    ];
    for (const [opts, message, hint] of cases) {
      const r = await herald(['calendar', ...opts, ...args]);
      expect(r.code, opts.join(' ')).toBe(1);
      expect(r.stderr).toContain(message);
      expect(r.stderr).toContain(hint);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    expect(existsSync(join(ws.dir, 'reports'))).toBe(false);
  });
});
