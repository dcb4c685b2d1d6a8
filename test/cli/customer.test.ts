import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { herald } from '../support/cli.js';
import { useCleanups } from '../support/cleanup.js';
import { createTestDb, serverUrl } from '../support/db.js';
import { createShop } from '../support/shop.js';
import { MINIMAL, tempWorkspace } from '../support/workspace.js';

const cleanup = useCleanups();

describe('herald customer', () => {
  it.skipIf(!serverUrl)('shows, exports and, only with --yes, erases a person', async () => {
    const db = await createTestDb();
    const ws = tempWorkspace(MINIMAL);
    cleanup(() => db.dispose(), ws.remove);
    await createShop(db, { customers: [{ id: 5, email: 'Bob@Example.com', site: 'main' }] });
    await db.query(
      `INSERT INTO herald.messages (source_kind, source, customer_id, address, site, locale, status, sent_at)
       VALUES ('campaign', 'hello', 5, 'Bob@Example.com', 'main', 'en', 'sent', '2026-11-20T12:00:00Z')`,
    );
    await db.query(`INSERT INTO herald.suppressions (email, site, reason, source, created_by) VALUES ('bob@example.com', NULL, 'complained', 'arf', 'herald')`);
    const run = (...args: string[]) => herald(['customer', ...args, '--dir', ws.dir, '--db', db.url!]);

    const show = await run('show', 'bob@example.com');
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain('bob@example.com: customer 5; address bob@example.com\n\nMessages (1)\n');
    expect(show.stdout).toContain('campaign hello  sent  Bob@Example.com  site main');
    expect(show.stdout).toContain('Suppressions (1)\n  bob@example.com  all sites  complained');

    const out = join(ws.dir, 'bob.json');
    const exported = await run('export', '5', '--out', out);
    expect(exported.stdout).toBe(`wrote ${out}: 1 messages, 0 events, 1 suppressions\n`);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const json = JSON.parse(readFileSync(out, 'utf8')) as { person: unknown; messages: { address: string; source: string }[] };
    expect(json.person).toEqual({ given: { customerId: 5 }, customerIds: [5], contactIds: [], addresses: ['bob@example.com'] });
    expect(json.messages.map((m) => [m.source, m.address])).toEqual([['hello', 'Bob@Example.com']]);

    const unsure = await run('erase', 'bob@example.com');
    expect(unsure.code).toBe(1);
    expect(unsure.stderr).toContain('herald customer erase changes nothing without --yes');
    expect(await db.query(`SELECT address FROM herald.messages`)).toEqual([{ address: 'Bob@Example.com' }]);

    const erased = await run('erase', 'bob@example.com', '--yes');
    expect(erased.code, erased.stderr).toBe(0);
    expect(erased.stdout).toMatch(/^Erased bob@example.com \(customer ids: 5; list contacts: none; 1 address\):\n/);
    expect(erased.stdout).toContain('suppressions replaced by the address\'s hash: 1');
    expect(erased.stdout).toMatch(/never mailed again, on every site: sha256:[0-9a-f]{64}\n$/);
    expect(await db.query(`SELECT address FROM herald.messages`)).toEqual([{ address: null }]);

    const bad = await run('show', 'bob');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('"bob" is neither a customer id nor an email address');
  }, 600_000);
});
