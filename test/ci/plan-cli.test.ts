import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { herald } from '../support/cli.js';
import { useCleanups } from '../support/cleanup.js';
import { createTestDb, serverUrl, type TestDb } from '../support/db.js';
import { createShop } from '../support/shop.js';
import { MINIMAL, tempWorkspace } from '../support/workspace.js';

/**
 * `herald plan --format markdown` against a real database: a workspace of
 * 2,000 objects gives a comment body under GitHub's limit that points to the
 * rest, and the job summary gets more of it.
 */
const cleanup = useCleanups();
let db: TestDb;
// A CLI subprocess needs a server database (HERALD_TEST_DATABASE_URL).
beforeAll(async () => {
  if (!serverUrl) return;
  db = await createTestDb();
  await createShop(db, { customers: [{ id: 1, email: 'c1@example.com', site: 'main' }, { id: 2, email: 'c2@example.com', site: 'main' }] });
}, 300_000);
afterAll(() => db?.dispose());

const ENVIRONMENTS = 'environments:\n  production:\n    database_url_env: SHOP_PRODUCTION_DB\n';

describe.skipIf(!serverUrl)('herald plan --format markdown', () => {
  it('prints a comment body under the limit for 2,000 objects, and writes the job summary', async () => {
    const segments = Object.fromEntries(
      Array.from({ length: 1999 }, (_, i) => [`segments/s${String(i).padStart(4, '0')}.yaml`, `where:\n  all:\n    - order_count: { gte: ${i} }\n    - city: { in: [Berlin, München, "Zürich"] }\n`]),
    );
    const ws = tempWorkspace({ ...MINIMAL, 'herald.yaml': MINIMAL['herald.yaml'] + ENVIRONMENTS, ...segments });
    cleanup(ws.remove);
    const summaryFile = join(ws.dir, 'summary.md');
    writeFileSync(summaryFile, '');
    const url = 'https://github.com/shop/emails/actions/runs/42/artifacts/7';
    const env = { SHOP_PRODUCTION_DB: db.url!, GITHUB_STEP_SUMMARY: summaryFile };
    const saved = join(ws.dir, 'plan.json');
    const r = await herald(['plan', '--dir', ws.dir, '--env', 'production', '--format', 'markdown', '--artifact-url', url, '--out', saved], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^<!-- herald:plan env=production review=[0-9a-f]{64} -->$/);
    // The project, 2,000 segments, the template and the campaign.
    expect(lines[1]).toBe('**herald plan for production**: 2,003 to create, 0 to update, 0 to delete, 0 refused · 2 recipients');
    expect(r.stdout.length).toBeLessThanOrEqual(65_000);
    const shown = r.stdout.match(/^<details>/gm)!.length;
    expect(r.stdout).toContain(`\n${(2003 - shown).toLocaleString('en-US')} more objects: see the job summary and the plan artifact (<${url}>)\n`);

    // The review fingerprint is the saved plan's, the artifact a workflow uploads.
    expect(lines[0]).toBe(`<!-- herald:plan env=production review=${JSON.parse(readFileSync(saved, 'utf8')).review} -->`);

    const summary = readFileSync(summaryFile, 'utf8');
    expect(summary.split('\n')[0]).toBe(lines[0]);
    expect(Buffer.byteLength(summary)).toBeLessThanOrEqual(1_048_576);
    expect(summary.match(/^<details>/gm)!.length).toBeGreaterThan(shown);
  });

  it('refuses what has no markdown form, and an artifact URL that is not http(s)', async () => {
    const ws = tempWorkspace(MINIMAL);
    cleanup(ws.remove);
    const bad = await herald(['plan', '--dir', ws.dir, '--db', db.url!, '--format', 'markdown', '--artifact-url', 'javascript:alert(1)']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('herald: --artifact-url "javascript:alert(1)" is not an http(s) URL');
    const refresh = await herald(['plan', '--dir', ws.dir, '--db', db.url!, '--format', 'markdown', '--refresh-only']);
    expect(refresh.stderr).toContain('herald: --refresh-only has no markdown form');
    const format = await herald(['plan', '--dir', ws.dir, '--db', db.url!, '--format', 'yaml']);
    expect(format.stderr).toContain('herald: --format "yaml" is not a format');
  });

  it('keeps --json as --format json', async () => {
    const ws = tempWorkspace(MINIMAL);
    cleanup(ws.remove);
    const a = await herald(['plan', '--dir', ws.dir, '--db', db.url!, '--format', 'json']);
    const b = await herald(['plan', '--dir', ws.dir, '--db', db.url!, '--json']);
    expect(a.code, a.stderr).toBe(0);
    const strip = (s: string) => ({ ...JSON.parse(s), createdAt: null });
    expect(strip(a.stdout)).toEqual(strip(b.stdout));
    expect(JSON.parse(a.stdout).summary.create).toBe(4);
  });
});
