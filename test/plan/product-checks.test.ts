import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDb } from '../../src/db/db.js';
import { herald } from '../support/cli.js';
import { useCleanups } from '../support/cleanup.js';
import { createTestDb, serverUrl, type TestDb } from '../support/db.js';
import { createShop } from '../support/shop.js';
import { exampleWorkspace } from '../support/workspace.js';

const cleanup = useCleanups();

describe('herald plan: campaign products a send would leave out', () => {
  it('warns for each product whose link or image a message may not carry, and plans the rest', async () => {
    const ws = exampleWorkspace();
    cleanup(ws.remove);
    // The shop's data, in a database the CLI subprocess can open.
    const folder = serverUrl ? undefined : mkdtempSync(join(tmpdir(), 'herald-pglite-'));
    const db = serverUrl ? await createTestDb() : await openDb(folder!);
    // An embedded database is closed before the CLI opens it; a server one is dropped after.
    cleanup(async () => {
      if (folder) rmSync(folder, { recursive: true, force: true });
      else await (db as TestDb).dispose();
    });
    await createShop(db, {
      customers: [{ id: 1, email: 'anna@example.com' }],
      products: ['OW-001', 'SH-001', 'BG-001', 'AC-002'].map((sku) => ({ sku, category: 'x', name: sku })),
    });
    await db.query(`UPDATE shop.products SET url = 'https://shop.example.com/p/' || lower(sku), image_url = 'https://shop.example.com/i/' || lower(sku) || '.jpg'`);
    await db.query(`UPDATE shop.products SET url = 'javascript:alert(1)' WHERE sku = 'OW-001'`);
    // Control characters in shop data are shown escaped, never sent to the terminal raw.
    await db.query(`UPDATE shop.products SET image_url = E'https://evil.example/\\u001b[2J.jpg' WHERE sku = 'AC-002'`);
    if (folder) await db.close();

    const r = await herald(['plan', '--dir', ws.dir, '--db', serverUrl ? (db as TestDb).url! : folder!]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('warning: campaign/winback: product OW-001 is left out of its messages: its url "javascript:alert(1)" is not an http(s) link');
    expect(r.stdout).toContain("warning: campaign/winback: product AC-002 is left out of its messages: its image_url's host evil.example is outside the domains of shop-en, shop-ru");
    expect(r.stdout).not.toContain('\u001b');
    expect(r.stdout).not.toMatch(/product (SH-001|BG-001)/);
  });
});
