import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Queryable } from '../../src/db/db.js';
import { UserError } from '../../src/errors.js';
import { importList } from '../../src/lists/import.js';
import { useCleanups } from '../support/cleanup.js';
import { createTestDb } from '../support/db.js';
import { createShop } from '../support/shop.js';

const cleanup = useCleanups();

function folder(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The import reads its CSV through the workspace reader: what validate refuses, apply refuses too. */
describe('list import, reading the CSV', () => {
  it('refuses a CSV that links out of the workspace without reading it, and one that is not UTF-8', async () => {
    const db = await createTestDb();
    cleanup(() => db.dispose());
    await createShop(db, { customers: [] });
    const outside = folder('herald-outside-');
    writeFileSync(join(outside, 'secret.csv'), 'email,TOPSECRET\nleak@example.com,1\n');
    const ws = folder('herald-ws-');
    mkdirSync(join(ws, 'lists'));
    symlinkSync(join(outside, 'secret.csv'), join(ws, 'lists', 'fair.csv'));
    writeFileSync(join(ws, 'lists', 'latin.csv'), Buffer.from('email,first_name\nj@example.com,Jürgen\n', 'latin1'));

    const refused = (csv: string) =>
      db.transaction((tx) => importList(tx, 'shop', { name: 'fair', csv: join(ws, 'lists', csv), workspaceDir: ws })).then(
        () => undefined,
        (e: unknown) => e,
      );
    const link = await refused('fair.csv');
    expect(link).toBeInstanceOf(UserError);
    expect((link as UserError).problems.map((p) => `${p.file}:${p.line}:${p.column}: ${p.message}`)).toEqual([
      'lists/fair.csv:1:1: lists/fair.csv leads outside the workspace through a symbolic link',
    ]);
    expect(JSON.stringify(link) + (link as Error).message).not.toMatch(/TOPSECRET|leak@/);
    const latin = await refused('latin.csv');
    expect((latin as UserError).problems.map((p) => `${p.file}:${p.line}:${p.column}: ${p.rule}`)).toEqual(['lists/latin.csv:2:16: file']);
    const [{ n }] = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM herald.list_members')) as [{ n: number }];
    expect(n).toBe(0);
  });

  it('refuses a CSV with a NUL character at its line and column, before the database sees it', async () => {
    const db = await createTestDb();
    cleanup(() => db.dispose());
    await createShop(db, { customers: [] });
    const ws = folder('herald-ws-');
    mkdirSync(join(ws, 'lists'));
    writeFileSync(join(ws, 'lists', 'nul.csv'), 'email,first_name,last_name,locale,site,tags\nnewperson@example.com,Ne\u0000ll,X,en,shop-en,bags\n');
    const e = await db.transaction((tx) => importList(tx, 'shop', { name: 'fair', csv: join(ws, 'lists', 'nul.csv'), workspaceDir: ws })).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UserError);
    expect((e as UserError).message).toBe('cannot import list "fair"');
    expect((e as UserError).problems.map((p) => `${p.file}:${p.line}:${p.column}: ${p.message}`)).toEqual(['lists/nul.csv:2:25: the file has a NUL character (byte 0x00) here']);
    expect(await db.query('SELECT email FROM herald.contacts')).toEqual([]);
  });

  it('says which list failed when writing its last rows fails', async () => {
    const db = await createTestDb();
    cleanup(() => db.dispose());
    await createShop(db, { customers: [] });
    const ws = folder('herald-ws-');
    writeFileSync(join(ws, 'few.csv'), 'email\nann@example.com\n');
    // A batch the database refuses: the last one, written after the loop over the rows.
    const refusing = (tx: Queryable): Queryable => ({
      query: (text, values, options) => (text.includes('INSERT INTO herald_list_import') ? Promise.reject(new Error('the database refused the batch')) : tx.query(text, values, options)),
      exec: (script) => tx.exec(script),
    });
    const e = await db.transaction((tx) => importList(refusing(tx), 'shop', { name: 'few', csv: join(ws, 'few.csv'), workspaceDir: ws })).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UserError);
    expect((e as UserError).message).toBe(`cannot import list "few" from ${join(ws, 'few.csv')}: the database refused the batch`);
  });
});
