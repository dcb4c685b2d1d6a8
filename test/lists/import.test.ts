import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importList, normaliseEmail } from '../../src/lists/import.js';
import { useCleanups } from '../support/cleanup.js';
import { createTestDb, serverUrl } from '../support/db.js';
import { createShop } from '../support/shop.js';

const cleanup = useCleanups();

async function setup() {
  const db = await createTestDb();
  cleanup(() => db.dispose());
  await createShop(db, {
    customers: [
      { id: 1, email: 'Anna@Example.com', first_name: 'Anna' },
      { id: 2, email: 'boris@example.org', first_name: 'Boris' },
    ],
  });
  const dir = mkdtempSync(join(tmpdir(), 'herald-list-'));
  cleanup(() => rmSync(dir, { recursive: true, force: true }));
  const csv = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  return { db, csv };
}

const members = (db: Awaited<ReturnType<typeof setup>>['db'], list = 'fair') =>
  db.query<{ email: string; customer_id: number | null; contact: string | null; line: number; tokens: Record<string, string> }>(
    `SELECT m.email, m.customer_id, k.email AS contact, m.line, m.tokens
       FROM herald.list_members m LEFT JOIN herald.contacts k ON k.id = m.contact_id
      WHERE m.list = $1 ORDER BY m.line`,
    [list],
  );

describe('list import', () => {
  it('normalises, rejects bad rows with their lines, merges duplicates, matches customers, keeps extra columns', async () => {
    const { db, csv } = await setup();
    const file = csv(
      'fair.csv',
      'Email,First_Name,locale,interest\n' +
        ' anna@EXAMPLE.com ,Anna,en,boots\n' + // a customer, matched ignoring case
        'not-an-address,X,en,\n' +
        'carl@Example.NET,Carl,de,bags\n' + // not a customer: a contact
        'ANNA@example.com,Anna again,en,\n' + // a duplicate of line 2
        ',,,\n' +
        'boris@example.org,Boris,ru,\n',
    );
    const r = await db.transaction((tx) => importList(tx, 'shop', { name: 'fair', csv: file, site: 'main' }));
    expect(r).toMatchObject({ rows: 6, members: 3, customers: 2, contacts: 1, duplicates: 1 });
    expect(r.rejected).toEqual([
      { line: 3, reason: '"not-an-address" is not a valid email address' },
      { line: 6, reason: 'no email' },
    ]);
    expect(await members(db)).toEqual([
      { email: 'anna@example.com', customer_id: 1, contact: null, line: 2, tokens: { interest: 'boots' } },
      { email: 'carl@example.net', customer_id: null, contact: 'carl@example.net', line: 4, tokens: { interest: 'bags' } },
      { email: 'boris@example.org', customer_id: 2, contact: null, line: 7, tokens: {} },
    ]);
    expect(normaliseEmail('  Mixed.Case@Example.COM ')).toBe('Mixed.Case@example.com');
  });

  it('re-importing a changed file replaces the membership', async () => {
    const { db, csv } = await setup();
    await db.transaction((tx) => importList(tx, 'shop', { name: 'fair', csv: csv('a.csv', 'email\nanna@example.com\ncarl@example.net\n') }));
    await db.transaction((tx) => importList(tx, 'shop', { name: 'fair', csv: csv('b.csv', 'email\ndora@example.net\n') }));
    expect((await members(db)).map((m) => m.email)).toEqual(['dora@example.net']);
    const [list] = await db.query<{ rows: number; members: number }>("SELECT rows, members FROM herald.lists WHERE name = 'fair'");
    expect(list).toEqual({ rows: 1, members: 1 });
  });

  it('a failure midway leaves the previous membership whole', async () => {
    const { db, csv } = await setup();
    await db.transaction((tx) => importList(tx, 'shop', { name: 'fair', csv: csv('a.csv', 'email\nanna@example.com\n') }));
    // Valid rows first, then a quote that never closes: the parser fails after some rows went in.
    const broken = csv('broken.csv', 'email,note\n' + Array.from({ length: 12000 }, (_, i) => `p${i}@example.com,ok\n`).join('') + 'x@example.com,"open\n');
    await expect(db.transaction((tx) => importList(tx, 'shop', { name: 'fair', csv: broken }))).rejects.toThrow(/cannot import list "fair"/);
    expect((await members(db)).map((m) => m.email)).toEqual(['anna@example.com']);
    const [contacts] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM herald.contacts');
    expect(contacts!.n).toBe(0);
  });

  it('refuses a file that changed since the plan', async () => {
    const { db, csv } = await setup();
    await expect(
      db.transaction((tx) => importList(tx, 'shop', { name: 'fair', csv: csv('a.csv', 'email\nanna@example.com\n'), expectedSha256: 'beef' })),
    ).rejects.toThrow('the CSV of list "fair" changed since the plan was made');
  });

  it.runIf(serverUrl)('imports a 1,000,000-row file with bounded memory', async () => {
    const { db } = await setup();
    const dir = mkdtempSync(join(tmpdir(), 'herald-list-big-'));
    cleanup(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'big.csv');
    await new Promise<void>((resolve, reject) => {
      const out = createWriteStream(file);
      out.on('error', reject);
      out.write('email,first_name,segment\n');
      let i = 0;
      const write = () => {
        let ok = true;
        while (i < 1_000_000 && ok) ok = out.write(`person${i}@example.com,Name${i},s${i++ % 7}\n`);
        if (i < 1_000_000) out.once('drain', write);
        else out.end(resolve);
      };
      write();
    });
    global.gc?.();
    const before = process.memoryUsage().heapUsed;
    let peak = before;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 20);
    const r = await db.transaction((tx) => importList(tx, 'shop', { name: 'big', csv: file }));
    clearInterval(timer);
    expect(r).toMatchObject({ rows: 1_000_000, members: 1_000_000, contacts: 1_000_000 });
    // Rows stream through in batches: the heap grows by a batch, not by the file.
    expect(peak - before).toBeLessThan(150 * 1024 * 1024);
  }, 300_000);
});
