import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { herald } from '../support/cli.js';
import { moduleRecord, packageOf, packages } from '../support/loaded.js';
import { createTestDb } from '../support/db.js';
import { createShop } from '../support/shop.js';
import { startSmtpSink } from '../support/smtp.js';
import { exampleWorkspace } from '../support/workspace.js';
import { useCleanups } from '../support/cleanup.js';

const cleanup = useCleanups();

const LONG_AGO = new Date(Date.now() - 400 * 86_400_000).toISOString();

describe.skipIf(!process.env.HERALD_TEST_DATABASE_URL)('herald send and the MJML cache', () => {
  it('renders from the compiled MJML that validate and plan left in the cache, compiling nothing again, and loads no compiler and no push library', async () => {
    const db = await createTestDb();
    cleanup(() => db.dispose());
    await createShop(db, {
      customers: [{ id: 1, email: 'anna@example.com', first_name: 'Anna' }],
      orders: [{ id: 1, customer_id: 1, created_at: LONG_AGO }],
      products: ['OW-001', 'SH-001', 'BG-001', 'AC-002'].map((sku) => ({ sku, category: 'demo', name: `Product ${sku}` })),
    });
    const ws = exampleWorkspace();
    const cache = mkdtempSync(join(tmpdir(), 'herald-cache-'));
    const sink = await startSmtpSink();
    cleanup(ws.remove, () => rmSync(cache, { recursive: true, force: true }), () => sink.close());
    const env = { HERALD_CACHE_DIR: cache, HERALD_SMTP_URL: sink.url, HERALD_SECRET: 'cache-test-secret-0123456789abcdef0123' };
    const base = ['--dir', ws.dir, '--db', db.url!];

    const apply = await herald(['apply', '--auto-approve', ...base], env);
    expect(apply.code, apply.stderr).toBe(0);
    // Mark every compiled template in the cache: a send that compiles its MJML again would not show the mark.
    const entries = readdirSync(join(cache, 'mjml')).filter((f) => f.endsWith('.json'));
    expect(entries.length).toBeGreaterThan(0);
    for (const f of entries) {
      const file = join(cache, 'mjml', f);
      const entry = JSON.parse(readFileSync(file, 'utf8')) as { html: string };
      writeFileSync(file, JSON.stringify({ ...entry, html: entry.html.replace('</body>', '<!-- compiled once, read from the cache --></body>') }));
    }

    const record = moduleRecord();
    cleanup(record.remove);
    const send = await herald(['send', 'winback', ...base], { ...env, ...record.env });
    expect(send.code, send.stderr).toBe(0);
    expect(send.stdout).toContain('winback: 1 sent, 0 failed');
    expect(sink.messages).toHaveLength(1);
    expect(sink.messages[0]!.html).toContain('<!-- compiled once, read from the cache -->');
    // Nor loads the compiler, nor what only SMS and push need: an email send starts without them.
    const modules = record.modules();
    expect(packages(modules)).toContain('nunjucks');
    expect(packages(modules).filter((p) => ['mjml', 'piscina', 'web-push', 'google-auth-library'].includes(p))).toEqual([]);
    // Of the phone number library, only the calling codes the audience's SQL is built with (src/audience/channels.ts).
    expect(modules.filter((m) => packageOf(m) === 'libphonenumber-js').map((m) => m.replace(/.*\/node_modules\//, ''))).toEqual(['libphonenumber-js/metadata.min.json.js']);
  });
});
