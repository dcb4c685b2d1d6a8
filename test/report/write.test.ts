import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { buildReport } from '../../src/report/report.js';
import { campaignReport, reportSubject, triggerReport, writeReport, writeTriggerReport } from '../../src/report/write.js';
import { createTestDb } from '../support/db.js';
import { useCleanups } from '../support/cleanup.js';

const cleanup = useCleanups();

async function db() {
  const d = await createTestDb();
  cleanup(() => d.dispose());
  return d;
}

/** Ledger rows of a source, one per status given (deferrals and reasons as the claim leaves them). */
async function rows(d: Awaited<ReturnType<typeof db>>, kind: 'campaign' | 'trigger', name: string, list: { status: string; reason?: string; deferred?: string; due?: string }[]) {
  await d.query(
    `INSERT INTO herald.messages (source_kind, source, customer_id, address, site, locale, occurrence, status, reason, worker, deferrals, deferred_reason, due_at)
     SELECT $1, $2, x.i, 'c' || x.i || '@example.com', 'main', 'en', CASE WHEN $1 = 'trigger' THEN 'o' || x.i ELSE '' END, x.status, x.reason,
            CASE WHEN x.status IN ('capped', 'exited', 'suppressed') THEN 'w' END,
            CASE WHEN x.deferred IS NULL THEN 0 ELSE 1 END, x.deferred, x.due
       FROM jsonb_to_recordset($3::jsonb) AS x(status text, reason text, deferred text, due timestamptz, i int)`,
    [kind, name, JSON.stringify(list.map((r, i) => ({ ...r, i: i + 1 })))],
  );
}

describe('report subjects', () => {
  it('finds a name as a campaign or a trigger by its ledger rows, and asks which when it is both', async () => {
    const d = await db();
    await rows(d, 'campaign', 'news', [{ status: 'sent' }]);
    await rows(d, 'trigger', 'cart', [{ status: 'sent' }]);
    await rows(d, 'campaign', 'both', [{ status: 'sent' }]);
    await rows(d, 'trigger', 'both', [{ status: 'sent' }]);
    expect(await reportSubject(d, 'news')).toEqual({ kind: 'campaign', name: 'news' });
    expect(await reportSubject(d, 'cart')).toEqual({ kind: 'trigger', name: 'cart' });
    expect(await reportSubject(d, 'trigger/both')).toEqual({ kind: 'trigger', name: 'both' });
    expect(await reportSubject(d, 'campaign/both')).toEqual({ kind: 'campaign', name: 'both' });
    await expect(reportSubject(d, 'both')).rejects.toMatchObject({ message: '"both" is both a campaign and a trigger', hint: 'say which: herald report campaign/both or herald report trigger/both' });
    await expect(reportSubject(d, 'nothing')).rejects.toThrow('no campaign or trigger "nothing" is deployed or has messages');
    // A name is a file name under reports/: nothing else is looked up.
    await expect(reportSubject(d, '../etc/passwd')).rejects.toThrow(UserError);
    await expect(reportSubject(d, 'trigger/../x')).rejects.toThrow(UserError);
  });

  it("counts a campaign's capped and deferred rows with their reasons", async () => {
    const d = await db();
    await rows(d, 'campaign', 'news', [
      { status: 'sent' },
      { status: 'sent', deferred: 'quiet hours' },
      { status: 'capped', reason: 'frequency cap: 3 per 7d' },
      { status: 'queued', deferred: 'quiet hours' },
    ]);
    const r = await campaignReport(d, 'news');
    expect(r).toMatchObject({ recipients: 4, sent: 2, capped: 1, pending: 1, deferred: 2 });
    expect(r.reasons).toEqual([
      { kind: 'capped', reason: 'frequency cap: 3 per 7d', count: 1 },
      { kind: 'deferred', reason: 'quiet hours', count: 2 },
    ]);
  });

  it("writes a trigger's report under reports/triggers/, beside a campaign's of the same name", async () => {
    const d = await db();
    await rows(d, 'campaign', 'both', [{ status: 'sent' }]);
    await rows(d, 'trigger', 'both', [
      { status: 'sent', due: '2026-11-20T10:00:00Z' },
      { status: 'exited', reason: 'ordered', due: '2026-11-20T11:00:00Z' },
      { status: 'sent', deferred: 'quiet hours', due: '2026-11-21T23:00:00Z' },
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'herald-reports-'));
    cleanup(() => rmSync(dir, { recursive: true, force: true }));
    const t = await triggerReport(d, 'both');
    expect(t).toMatchObject({
      kind: 'trigger',
      status: 'paused',
      enabled_at: null,
      totals: { occurrences: 3, sent: 2, exited: 1, deferred: 1 },
      days: [
        { day: '2026-11-20', occurrences: 2, sent: 1, exited: 1 },
        { day: '2026-11-21', occurrences: 1, sent: 1, deferred: 1 },
      ],
      reasons: [
        { kind: 'deferred', reason: 'quiet hours', count: 1 },
        { kind: 'exited', reason: 'ordered', count: 1 },
      ],
    });
    expect(writeTriggerReport(dir, t)).toEqual([join(dir, 'reports', 'triggers', 'both.json'), join(dir, 'reports', 'triggers', 'both.md')]);
    expect(writeReport(dir, await campaignReport(d, 'both'))).toEqual([join(dir, 'reports', 'both.json'), join(dir, 'reports', 'both.md')]);
    expect(JSON.parse(readFileSync(join(dir, 'reports', 'triggers', 'both.json'), 'utf8'))).toEqual(JSON.parse(JSON.stringify(t)));
    expect(readFileSync(join(dir, 'reports', 'triggers', 'both.md'), 'utf8')).toContain('| Exited | ordered | 1 |');
    expect(JSON.parse(readFileSync(join(dir, 'reports', 'both.json'), 'utf8'))).toMatchObject({ campaign: 'both', sent: 1 });
    expect(existsSync(join(dir, 'reports', 'triggers', 'both.json.tmp'))).toBe(false);
  });

  it('names what is in the way of a report file, and what to do, leaving it as it was', () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-reports-'));
    cleanup(() => rmSync(dir, { recursive: true, force: true }));
    const counts = { audience: 1, control: 0, left_out: 0, recipients: 1, sent: 1, failed: 0, bounced: 0, expired: 0, unknown: 0, suppressed: 0, queued: 0, claimed: 0, waiting: 0, capped: 0, exited: 0, deferred: 0 };
    const r = buildReport('news', 'News', { phase: 'completed', inForce: 'ready' }, counts);
    writeFileSync(join(dir, 'reports'), 'notes');
    expect(() => writeReport(dir, r)).toThrow(expect.objectContaining({ message: `cannot write the reports: ${join(dir, 'reports')} is a file, not a folder`, hint: expect.stringContaining('move or remove it') }));
    expect(readFileSync(join(dir, 'reports'), 'utf8')).toBe('notes');
    rmSync(join(dir, 'reports'));
    mkdirSync(join(dir, 'reports', 'news.md'), { recursive: true });
    writeFileSync(join(dir, 'reports', 'news.md', 'keep.txt'), 'keep');
    expect(() => writeReport(dir, r)).toThrow(expect.objectContaining({ name: 'UserError', message: `cannot write the reports: ${join(dir, 'reports', 'news.md')} is a folder, not a file` }));
    expect(readFileSync(join(dir, 'reports', 'news.md', 'keep.txt'), 'utf8')).toBe('keep');
  });

  it('writes nothing through a link a pull request committed: neither a reports folder that leads out, nor a file under the temporary name', () => {
    // A committed reports/news.md.tmp linking to a file outside was written
    // through (then the link renamed over the report); a committed reports
    // link made every report land where it pointed.
    const dir = mkdtempSync(join(tmpdir(), 'herald-reports-'));
    const outside = mkdtempSync(join(tmpdir(), 'herald-outside-'));
    cleanup(() => rmSync(dir, { recursive: true, force: true }), () => rmSync(outside, { recursive: true, force: true }));
    const counts = { audience: 1, control: 0, left_out: 0, recipients: 1, sent: 1, failed: 0, bounced: 0, expired: 0, unknown: 0, suppressed: 0, queued: 0, claimed: 0, waiting: 0, capped: 0, exited: 0, deferred: 0 };
    const r = buildReport('news', 'News', { phase: 'completed', inForce: 'ready' }, counts);
    writeFileSync(join(outside, 'victim'), 'precious');
    mkdirSync(join(dir, 'reports'));
    symlinkSync(join(outside, 'victim'), join(dir, 'reports', 'news.md.tmp'));
    writeReport(dir, r);
    expect(readFileSync(join(outside, 'victim'), 'utf8')).toBe('precious');
    expect(lstatSync(join(dir, 'reports', 'news.md')).isFile()).toBe(true);
    expect(readFileSync(join(dir, 'reports', 'news.md'), 'utf8')).toContain('News');
    expect(existsSync(join(dir, 'reports', 'news.md.tmp'))).toBe(false);

    rmSync(join(dir, 'reports'), { recursive: true });
    symlinkSync(outside, join(dir, 'reports'));
    expect(() => writeReport(dir, r)).toThrow(expect.objectContaining({ name: 'UserError', message: expect.stringContaining(`${join(dir, 'reports')} is a symbolic link`) }));
    expect(existsSync(join(outside, 'news.md'))).toBe(false);
  });
});
