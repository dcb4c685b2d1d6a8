import { describe, expect, it } from 'vitest';
import { addSuppression, checkReason, listSuppressions, normaliseEmail, removeSuppression } from '../../src/audience/suppressions.js';
import { UserError } from '../../src/errors.js';
import { useCleanups } from '../support/cleanup.js';
import { createTestDb } from '../support/db.js';

const cleanup = useCleanups();

async function setup() {
  const db = await createTestDb();
  cleanup(() => db.dispose());
  return db;
}

const events = (db: Awaited<ReturnType<typeof setup>>) =>
  db.query<{ action: string; email: string; site: string | null; reason: string; source: string; note: string | null; actor: string }>(
    'SELECT action, email, site, reason, source, note, actor FROM herald.suppression_events ORDER BY id',
  );

describe('addresses', () => {
  it('are trimmed and lower-cased; anything else is refused with a hint', () => {
    expect(normaliseEmail('  Anna.Smith@Example.COM ')).toBe('anna.smith@example.com');
    for (const bad of ['', 'anna', 'anna@example', 'an na@example.com', '@example.com', 'a@b@example.com']) {
      expect(() => normaliseEmail(bad), bad).toThrow(UserError);
    }
    expect(() => normaliseEmail('anna')).toThrow('"anna" is not an email address');
    expect(() => checkReason('angry')).toThrow('unknown suppression reason "angry"');
    expect(checkReason('bounced')).toBe('bounced');
  });
});

describe('the suppression list', () => {
  it('adds, lists and removes, recording every change with who and why', async () => {
    const db = await setup();
    const base = { source: 'cli', actor: 'alice@example.com' };
    const all = await addSuppression(db, { ...base, email: 'anna@example.com', site: null, reason: 'unsubscribed', note: 'asked by phone' });
    expect(all).toMatchObject({ added: true, suppression: { email: 'anna@example.com', site: null, reason: 'unsubscribed', source: 'cli', note: 'asked by phone', createdBy: 'alice@example.com' } });
    // One site and all sites are separate entries.
    expect((await addSuppression(db, { ...base, email: 'anna@example.com', site: 'shop-ru', reason: 'bounced', note: null })).added).toBe(true);
    await addSuppression(db, { ...base, email: 'boris@example.org', site: 'shop-en', reason: 'complained', note: null });

    // Adding what is there changes nothing and records nothing; the first reason stays.
    const again = await addSuppression(db, { ...base, actor: 'bob', email: 'anna@example.com', site: null, reason: 'manual', note: null });
    expect(again).toMatchObject({ added: false, suppression: { reason: 'unsubscribed', createdBy: 'alice@example.com' } });

    expect((await listSuppressions(db)).map((s) => [s.email, s.site, s.reason])).toEqual([
      ['anna@example.com', null, 'unsubscribed'],
      ['anna@example.com', 'shop-ru', 'bounced'],
      ['boris@example.org', 'shop-en', 'complained'],
    ]);
    // For one site: its own and those for all sites.
    expect((await listSuppressions(db, 'shop-en')).map((s) => [s.email, s.site])).toEqual([
      ['anna@example.com', null],
      ['boris@example.org', 'shop-en'],
    ]);

    const removed = await removeSuppression(db, { email: 'anna@example.com', site: 'shop-ru', source: 'cli', note: 'fixed the mailbox', actor: 'carol' });
    expect(removed).toMatchObject({ email: 'anna@example.com', site: 'shop-ru', reason: 'bounced' });
    expect((await listSuppressions(db)).map((s) => [s.email, s.site])).toEqual([
      ['anna@example.com', null],
      ['boris@example.org', 'shop-en'],
    ]);

    expect(await events(db)).toEqual([
      { action: 'add', email: 'anna@example.com', site: null, reason: 'unsubscribed', source: 'cli', note: 'asked by phone', actor: 'alice@example.com' },
      { action: 'add', email: 'anna@example.com', site: 'shop-ru', reason: 'bounced', source: 'cli', note: null, actor: 'alice@example.com' },
      { action: 'add', email: 'boris@example.org', site: 'shop-en', reason: 'complained', source: 'cli', note: null, actor: 'alice@example.com' },
      { action: 'remove', email: 'anna@example.com', site: 'shop-ru', reason: 'bounced', source: 'cli', note: 'fixed the mailbox', actor: 'carol' },
    ]);
  });

  it('refuses to remove what is not there, saying what is', async () => {
    const db = await setup();
    await addSuppression(db, { email: 'boris@example.org', site: 'shop-en', reason: 'manual', source: 'cli', note: null, actor: 'alice' });
    await expect(removeSuppression(db, { email: 'boris@example.org', site: null, source: 'cli', note: 'why not', actor: 'bob' })).rejects.toMatchObject({
      name: 'UserError',
      message: 'boris@example.org is not suppressed for all sites',
      hint: 'it is suppressed for site shop-en: remove that with --site shop-en',
    });
    await expect(removeSuppression(db, { email: 'nobody@example.org', site: null, source: 'cli', note: 'x', actor: 'bob' })).rejects.toMatchObject({
      hint: 'see what is suppressed with `herald suppress list`',
    });
    expect((await events(db)).map((e) => e.action)).toEqual(['add']);
  });

  it('stores only normalised addresses and known reasons', async () => {
    const db = await setup();
    await expect(db.query("INSERT INTO herald.suppressions (email, reason, source, created_by) VALUES ('Anna@Example.com', 'manual', 'sql', 'x')")).rejects.toThrow(/suppressions_email_check/);
    await expect(db.query("INSERT INTO herald.suppressions (email, reason, source, created_by) VALUES ('anna@example.com', 'angry', 'sql', 'x')")).rejects.toThrow(/suppressions_reason_check/);
  });
});
