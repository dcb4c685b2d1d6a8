import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDb } from '../../src/db/db.js';
import { migrate } from '../../src/db/migrate.js';
import { herald } from '../support/cli.js';
import { useCleanups } from '../support/cleanup.js';
import { createTestDb, serverUrl } from '../support/db.js';
import { createShop, type TestShop } from '../support/shop.js';
import { startSmtpSink } from '../support/smtp.js';
import { exampleWorkspace } from '../support/workspace.js';

const cleanup = useCleanups();

const SHOP: TestShop = { customers: [{ id: 4, email: 'four@example.com', first_name: 'Fiona', site: 'shop-ru', locale: 'en' }] };

/** The example workspace and a shop database the CLI subprocess can open: a server database, or a PGlite folder. */
async function setup() {
  const ws = exampleWorkspace();
  cleanup(ws.remove);
  if (serverUrl) {
    const db = await createTestDb();
    cleanup(() => db.dispose());
    await createShop(db, SHOP);
    return ['--dir', ws.dir, '--db', db.url!];
  }
  const dir = mkdtempSync(join(tmpdir(), 'herald-pglite-'));
  cleanup(() => rmSync(dir, { recursive: true, force: true }));
  const db = await openDb(dir);
  await migrate(db);
  await createShop(db, SHOP);
  await db.close();
  return ['--dir', ws.dir, '--db', dir];
}

describe('herald test-send --customer', () => {
  it("sends in the customer's own site and locale, as the help says", async () => {
    const args = await setup();
    const sink = await startSmtpSink();
    cleanup(() => sink.close());
    const r = await herald(['test-send', 'winback', '--to', 'm@example.com', '--customer', '4', ...args], { HERALD_SMTP_URL: sink.url });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^m@example\.com: "\[TEST\] Fiona, it has been a while", shop-ru en, rendered for four@example\.com: 250 /);
    expect(sink.messages.map((m) => m.subject)).toEqual(['[TEST] Fiona, it has been a while']);
  });
});
