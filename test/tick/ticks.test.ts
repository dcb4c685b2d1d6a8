import { describe, expect, it } from 'vitest';
import { finishTick, startTick, tickCounts } from '../../src/tick/ticks.js';
import { gapWarning, span } from '../../src/tick/gap.js';
import { mdText, tickMarkdown, tickSummary } from '../../src/cli/tick-summary.js';
import { emptyTotals } from '../../src/ledger/worker.js';
import type { TickResult } from '../../src/tick/tick.js';
import { createTestDb } from '../support/db.js';
import { useCleanups } from '../support/cleanup.js';

/** herald.ticks (src/tick/ticks.ts), the schedule's gap warning (gap.ts) and the tick's job summary. */
const cleanup = useCleanups();

const at = (min: number) => new Date(Date.UTC(2026, 10, 20, 9, 0) + min * 60_000);
const where = { host: 'runner-1', runUrl: 'https://github.com/shop/crm/actions/runs/42' };

describe('herald.ticks', () => {
  it('a start is recorded at once; the next tick reads it, with the interval carried over when not given again', async () => {
    const db = await createTestDb();
    cleanup(() => db.dispose());
    const first = await startTick(db, at(0), 900, where);
    expect(first).toEqual({ id: first.id, everySeconds: 900 });
    const [row] = await db.query<{ started_at: Date; finished_at: Date | null; every_seconds: number; host: string; run_url: string; summary: unknown }>('SELECT * FROM herald.ticks');
    expect(row).toMatchObject({ started_at: at(0), finished_at: null, every_seconds: 900, host: 'runner-1', run_url: where.runUrl, summary: null });

    const second = await startTick(db, at(47), null, where);
    expect(second).toEqual({ id: second.id, everySeconds: 900, previous: { startedAt: at(0), everySeconds: 900 } });
    await finishTick(db, second.id, at(48), { sent: 3, stopped: 'done' });
    const third = await startTick(db, at(60), 300, where);
    expect(third.previous).toEqual({ startedAt: at(47), everySeconds: 900 });
    expect(third.everySeconds).toBe(300);
    const rows = await db.query<{ id: string; finished_at: Date | null; every_seconds: number; summary: unknown }>('SELECT id, finished_at, every_seconds, summary FROM herald.ticks ORDER BY id');
    expect(rows.map((r) => [r.finished_at, r.every_seconds, r.summary])).toEqual([
      [null, 900, null],
      [at(48), 900, { sent: 3, stopped: 'done' }],
      [null, 300, null],
    ]);
  });

  it('without an interval ever given, none is recorded and no gap is judged', async () => {
    const db = await createTestDb();
    cleanup(() => db.dispose());
    await startTick(db, at(0), null, where);
    const next = await startTick(db, at(600), null, where);
    expect(next.everySeconds).toBeNull();
    expect(gapWarning(at(600), next.previous?.startedAt, next.everySeconds)).toBeUndefined();
  });

  it("the counts kept of what a tick did", () => {
    const r: TickResult = {
      launched: [{ campaign: 'winback', rows: 10 }],
      swept: [{ trigger: 'welcome', inserted: 4, skippedByHorizon: 0 } as TickResult['swept'][number], { trigger: 'birthday', inserted: 0, skippedByHorizon: 0, error: 'boom' } as TickResult['swept'][number]],
      decided: [],
      attribution: { attributed: 2 },
      delivered: { ...emptyTotals(), sent: 12, failed: 1, completed: ['winback'] },
    };
    expect(tickCounts(r, 'budget')).toEqual({
      launched: 1, swept: 4, sweep_errors: 1, decided: 0, attributed: 2, completed: 1, paused: 0, stopped: 'budget',
      sent: 12, failed: 1, bounced: 0, retried: 0, expired: 0, unknown: 0, suppressed: 0, exited: 0, capped: 0, deferred: 0,
    });
  });
});

describe('gapWarning', () => {
  it('warns past twice the interval, not at it', () => {
    expect(gapWarning(at(30), at(0), 900)).toBeUndefined();
    expect(gapWarning(at(47), at(0), 900)).toBe(
      'warning: the previous tick started 47 min ago, more than twice the 15 min interval: GitHub delays and drops scheduled runs under load; messages due in between went out late',
    );
    expect(gapWarning(at(47), undefined, 900)).toBeUndefined();
    expect(gapWarning(at(47), at(0), null)).toBeUndefined();
    // A clock moved back (--now earlier than the last tick) is no gap.
    expect(gapWarning(at(0), at(47), 900)).toBeUndefined();
  });

  it('spans read as people say them, to the nearest unit', () => {
    expect([45, 119, 120, 2795, 2820, 2849, 7169, 7199, 7200, 11_100, 172_800, 190_800].map(span)).toEqual([
      '45 s', '119 s', '2 min', '47 min', '47 min', '47 min', '119 min', '2 h', '2 h', '3 h 5 min', '2 days', '2 days 5 h',
    ]);
  });
});

describe('tickMarkdown', () => {
  const r: TickResult = {
    launched: [],
    swept: [{ trigger: 'welcome', inserted: 0, skippedByHorizon: 0, error: 'relation "shop.x" does not exist <img src=x onerror=alert(1)> [click](https://evil.example) | col' } as TickResult['swept'][number]],
    decided: [],
    attribution: { attributed: 0 },
    delivered: { ...emptyTotals(), sent: 5 },
  };

  it('the warning on top, then one list item per line of the text summary, escaped', () => {
    const md = tickMarkdown(r, { startedAt: at(47), signalled: false, overBudget: true, warning: 'warning: the previous tick started 47 min ago' });
    expect(md.split('\n')).toEqual([
      '### herald run, 2026-11-20T09:47:00Z',
      '',
      '> ⚠️ warning: the previous tick started 47 min ago',
      '',
      '- trigger welcome: sweep failed: relation "shop.x" does not exist &lt;img src=x onerror=alert(1)&gt; \\[click\\](https://evil.example) \\| col',
      '- delivered: 5 sent, 0 to retry, 0 failed, 0 bounced, 0 expired, 0 unknown, 0 suppressed',
      '- stopped at the end of the budget after finishing the messages in flight; the next run resumes.',
      '',
    ]);
    // The text output is what it was: the same lines, unescaped.
    expect(tickSummary(r, false, true).split('\n')).toHaveLength(3);
    expect(tickSummary(r, false, true)).toContain('<img src=x onerror=alert(1)> [click](https://evil.example) | col');
  });

  it('a failed tick still says so, under the warning', () => {
    expect(tickMarkdown(undefined, { startedAt: at(0), signalled: false, overBudget: false, failed: true })).toBe(
      '### herald run, 2026-11-20T09:00:00Z\n\n**The tick failed**: the job log has the error. What it did before is recorded; the next tick resumes.\n\n',
    );
  });

  it('mdText: markup, HTML, line breaks and a list marker at the start are text', () => {
    // A line break is shown as \n (printable), its backslash escaped in turn.
    expect(mdText('*a* _b_ `c` ~d~ # e & f\nnext')).toBe('\\*a\\* \\_b\\_ \\`c\\` \\~d\\~ \\# e &amp; f\\\\nnext');
    expect(mdText('- item')).toBe('\\- item');
    expect(mdText('12. item')).toBe('12\\. item');
    expect(mdText('\x1b[31mred')).toBe('\\\\x1b\\[31mred');
  });
});
