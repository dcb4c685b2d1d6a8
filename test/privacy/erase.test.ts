import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { launchCampaign } from '../../src/campaigns/send.js';
import { claimBatch } from '../../src/ledger/claim.js';
import { erasePerson } from '../../src/privacy/erase.js';
import { formatRecord } from '../../src/privacy/format.js';
import { findPerson, parsePerson } from '../../src/privacy/person.js';
import { personRecord } from '../../src/privacy/record.js';
import type { Db } from '../../src/db/db.js';
import { applyDir } from '../support/apply.js';
import { useCleanups } from '../support/cleanup.js';
import { createTestDb } from '../support/db.js';
import { createShop, EXAMPLE_PRODUCTS } from '../support/shop.js';
import { campaign } from '../support/sources.js';
import { exampleWorkspace } from '../support/workspace.js';

const NOW = new Date('2026-11-20T12:00:00Z');
const cleanup = useCleanups();

/** Anna is customer 2; the shop keeps her row (herald never writes the shop's data). */
const ANNA = 'anna.k@example.com';

/**
 * The example workspace with winback and two more campaigns like it
 * (without a control group, so everyone is a recipient), four lapsed
 * customers, and Anna's history: winback sent to her (the SMTP reply quotes
 * her address), a person's open and a bounce's diagnostic, an unsubscribe
 * from shop-ru (she shops on shop-en) with its log entry, and a list membership.
 */
async function setup(): Promise<{ db: Db; dir: string }> {
  const db = await createTestDb();
  const ws = exampleWorkspace();
  cleanup(() => db.dispose(), ws.remove);
  const winback = readFileSync(`${ws.dir}/campaigns/winback.yaml`, 'utf8').replace(/^control_group:.*\n/m, '');
  ws.write('campaigns/winback.yaml', winback);
  ws.write('campaigns/winback-2.yaml', winback);
  ws.write('campaigns/winback-3.yaml', winback);
  await createShop(db, {
    customers: [1, 2, 3, 4].map((id) => ({ id, email: id === 2 ? 'Anna.K@Example.com' : `c${id}@example.com`, first_name: id === 2 ? 'Annabel' : `C${id}` })),
    products: EXAMPLE_PRODUCTS,
    orders: [1, 2, 3, 4].map((id) => ({ id, customer_id: id, created_at: '2025-01-10T10:00:00Z' })),
  });
  await applyDir(db, ws.dir, { now: NOW });
  await launchCampaign(db, 'winback', NOW);
  await db.query(
    `UPDATE herald.messages SET status = 'sent', sent_at = $2, payload = '{"cart": {"for": "Annabel"}}', smtp_response = '250 2.0.0 OK queued for <' || address || '>'
      WHERE source = 'winback' AND customer_id = $1`,
    [2, NOW],
  );
  await db.query(
    `INSERT INTO herald.message_events (message_id, kind, class, origin, detail, at)
     SELECT id, 'open', 'human', 'pixel', '{"ua": "Thunderbird"}'::jsonb, $2::timestamptz FROM herald.messages WHERE source = 'winback' AND customer_id = $1
     UNION ALL
     SELECT id, 'soft_bounce', NULL, 'dsn', jsonb_build_object('diagnostic', '452 4.2.2 mailbox of ' || address || ' is full'), $2::timestamptz
       FROM herald.messages WHERE source = 'winback' AND customer_id = $1`,
    [2, NOW],
  );
  await db.query(
    `WITH s AS (INSERT INTO herald.suppressions (email, site, reason, source, note, created_by)
                VALUES ($1, 'shop-ru', 'unsubscribed', 'link', 'clicked unsubscribe in winback', 'herald') RETURNING *)
     INSERT INTO herald.suppression_events (action, email, site, reason, source, note, actor) SELECT 'add', email, site, reason, source, note, created_by FROM s`,
    [ANNA],
  );
  await db.query(`INSERT INTO herald.list_members (list, email, customer_id, line, tokens) VALUES ('berlin-fair-2026', $1, 2, 99, '{"interest": "bags"}')`, ['Anna.K@Example.com']);
  return { db, dir: ws.dir };
}

/** Every row of every table in herald's schema whose text mentions `needle`, ignoring case. */
async function mentions(db: Db, needle: string): Promise<string[]> {
  const tables = await db.query<{ name: string }>(`SELECT tablename AS name FROM pg_tables WHERE schemaname = 'herald' ORDER BY 1`);
  const out: string[] = [];
  for (const t of tables) {
    const rows = await db.query<{ row: string }>(`SELECT t::text AS row FROM herald.${t.name} t WHERE strpos(lower(t::text), lower($1)) > 0`, [needle]);
    out.push(...rows.map((r) => `${t.name}: ${r.row}`));
  }
  return out;
}

describe('herald customer show, export, erase', () => {
  it('show and export list every message, event, suppression and membership, by address or by id', async () => {
    const { db } = await setup();
    const byEmail = await personRecord(db, await findPerson(db, 'shop', parsePerson(' ANNA.K@example.com ')));
    const byId = await personRecord(db, await findPerson(db, 'shop', parsePerson('2')));
    expect(byEmail.person).toMatchObject({ customerIds: [2], contactIds: [], addresses: [ANNA] });
    expect(byId.person).toMatchObject({ customerIds: [2], addresses: [ANNA] });
    for (const r of [byEmail, byId]) {
      expect(r.messages.map((m) => [m.source, m.status, m.address])).toEqual([['winback', 'sent', 'Anna.K@Example.com']]);
      expect(r.events.map((e) => [e.kind, e.class])).toEqual([['open', 'human'], ['soft_bounce', null]]);
      expect(r.suppressions.map((s) => [s.email, s.site, s.reason])).toEqual([[ANNA, 'shop-ru', 'unsubscribed']]);
      expect(r.suppressionEvents.map((s) => [s.action, s.email])).toEqual([['add', ANNA]]);
      expect(r.listMembers.map((l) => [l.list, l.tokens])).toEqual([['berlin-fair-2026', { interest: 'bags' }]]);
    }
    const text = formatRecord(byEmail);
    expect(text).toContain('anna.k@example.com: customer 2; address anna.k@example.com');
    expect(text).toMatch(/Messages \(1\)\n {2}#\d+ {2}2026-11-20 12:00 {2}campaign winback {2}sent {2}Anna.K@Example.com {2}site shop-en/);
    expect(text).toContain('Events (2)');
    expect(text).toContain('anna.k@example.com  shop-ru  unsubscribed');
    expect(text).toContain('list berlin-fair-2026  Anna.K@Example.com  line 99');
    // Someone herald never heard of: nothing, said plainly.
    const nobody = await personRecord(db, await findPerson(db, 'shop', parsePerson('nobody@example.com')));
    expect(formatRecord(nobody)).toMatch(/^nobody@example.com: address nobody@example.com\n\nMessages \(0\)/);
  });

  it('erase leaves nothing personal in any table, keeps the hash; a new campaign and a claim skip her', async () => {
    const { db } = await setup();
    // winback-2 is launched before the erase: her row waits in the queue.
    await launchCampaign(db, 'winback-2', NOW);
    const erased = await erasePerson(db, 'shop', parsePerson(ANNA), 'dpo@example.com');
    expect(erased).toMatchObject({ messages: 2, settled: 1, eventDetails: 2, listMemberships: 1, suppressionsReplaced: 1, suppressionEventsHashed: 1 });
    const [hash] = (await db.query<{ h: string }>(`SELECT 'sha256:' || encode(sha256(convert_to($1, 'UTF8')), 'hex') AS h`, [ANNA])).map((r) => r.h);
    expect(erased.hashesAdded).toEqual([hash]);

    // Nothing in herald's schema names her: not her address, not her name, not what the SMTP server or a DSN said.
    expect(await mentions(db, ANNA)).toEqual([]);
    expect(await mentions(db, 'Annabel')).toEqual([]);
    // Her ledger rows stay (reports count them), without address, payload or reply; the queued one is settled.
    const rows = await db.query<{ source: string; status: string; address: string | null; smtp_response: string | null; reason: string | null }>(
      `SELECT source, status, address, smtp_response, reason FROM herald.messages WHERE customer_id = 2 ORDER BY source`,
    );
    expect(rows).toEqual([
      { source: 'winback', status: 'sent', address: null, smtp_response: null, reason: null },
      { source: 'winback-2', status: 'suppressed', address: null, smtp_response: null, reason: 'erased on request' },
    ]);
    expect(await db.query(`SELECT kind, class, detail FROM herald.message_events ORDER BY id`)).toEqual([
      { kind: 'open', class: 'human', detail: null },
      { kind: 'soft_bounce', class: null, detail: null },
    ]);
    // One suppression, for all sites, by hash; the log says so without the address.
    expect(await db.query(`SELECT email, site, reason, source, note, created_by FROM herald.suppressions`)).toEqual([
      { email: hash, site: null, reason: 'erased', source: 'erase', note: 'erased on request; was unsubscribed (shop-ru)', created_by: 'dpo@example.com' },
    ]);
    expect(await db.query(`SELECT action, email, site, reason, note FROM herald.suppression_events ORDER BY id`)).toEqual([
      { action: 'add', email: hash, site: 'shop-ru', reason: 'unsubscribed', note: null },
      { action: 'add', email: hash, site: null, reason: 'erased', note: 'erased on request; was unsubscribed (shop-ru)' },
    ]);
    // show by address after the erase: only the hashed suppression, which is how herald keeps its promise.
    const after = await personRecord(db, await findPerson(db, 'shop', parsePerson(ANNA)));
    expect(after.suppressions.map((s) => s.email)).toEqual([hash]);

    // The shop still has her (with the address in another case): a new campaign leaves her out and records no address.
    await launchCampaign(db, 'winback-3', NOW);
    expect(await db.query(`SELECT customer_id, status, address, reason FROM herald.messages WHERE source = 'winback-3' ORDER BY customer_id`)).toEqual([
      { customer_id: 1, status: 'queued', address: 'c1@example.com', reason: null },
      { customer_id: 2, status: 'suppressed', address: null, reason: 'suppressed: erased (all sites)' },
      { customer_id: 3, status: 'queued', address: 'c3@example.com', reason: null },
      { customer_id: 4, status: 'queued', address: 'c4@example.com', reason: null },
    ]);
    expect(await mentions(db, ANNA)).toEqual([]);

    // A row queued with her address anyway (a launch or a sweep that drew its audience before the erase committed):
    // the claim settles it as suppressed and drops the address.
    await db.query(`UPDATE herald.messages SET status = 'queued', address = 'Anna.K@Example.com', reason = NULL WHERE source = 'winback-3' AND customer_id = 2`);
    const batch = await claimBatch(db, { source: campaign('winback-3'), schema: 'shop', policy: { timezones: {} }, worker: 'w', limit: 10, leaseSeconds: 60, now: NOW, session: { key: 1, outlivesServer: false } });
    expect(batch.suppressed).toBe(1);
    expect(batch.messages.map((m) => Number(m.customer_id)).sort()).toEqual([1, 3, 4]);
    expect(await db.query(`SELECT status, address, reason FROM herald.messages WHERE source = 'winback-3' AND customer_id = 2`)).toEqual([
      { status: 'suppressed', address: null, reason: 'erased on request' },
    ]);
    expect(await mentions(db, ANNA)).toEqual([]);
  });

  it("erases a list contact: deleted when no message names them, kept as 'erased:<id>' otherwise; a re-import is left out", async () => {
    const { db } = await setup();
    const [anna] = await db.query<{ id: string }>(`SELECT id FROM herald.contacts WHERE email = 'anna.ivanova@example.org'`);
    await db.query(`INSERT INTO herald.messages (source_kind, source, contact_id, address, site, locale, status) VALUES ('campaign', 'winback', $1, 'anna.ivanova@example.org', 'shop-ru', 'ru', 'sent')`, [anna!.id]);
    const one = await erasePerson(db, 'shop', parsePerson('anna.ivanova@example.org'), 'dpo');
    expect(one).toMatchObject({ messages: 1, listMemberships: 1, contactsDeleted: 0, contactsBlanked: 1 });
    expect(await db.query(`SELECT email, first_name, last_name, locale FROM herald.contacts WHERE id = $1`, [anna!.id])).toEqual([
      { email: `erased:${anna!.id}`, first_name: null, last_name: null, locale: null },
    ]);
    expect(await mentions(db, 'anna.ivanova')).toEqual([]);
    expect(await mentions(db, 'Иванова')).toEqual([]);
    const two = await erasePerson(db, 'shop', parsePerson('Tom.Becker@example.com'), 'dpo');
    expect(two).toMatchObject({ messages: 0, listMemberships: 1, contactsDeleted: 1, contactsBlanked: 0 });
    expect(await mentions(db, 'tom.becker')).toEqual([]);

    // The CSV still lists them (the shop's file to fix): re-imported, they are contacts again, and no campaign reaches them.
    await db.query(`INSERT INTO herald.contacts (email, first_name, site, locale) VALUES ('tom.becker@example.com', 'Tom', 'shop-en', 'en') RETURNING id`);
    await db.query(`INSERT INTO herald.list_members (list, email, contact_id, line) SELECT 'berlin-fair-2026', email, id, 3 FROM herald.contacts WHERE email = 'tom.becker@example.com'`);
    await db.query(`UPDATE herald.objects SET spec = jsonb_set(spec, '{audience}', '{"list": "berlin-fair-2026"}') WHERE kind = 'campaign' AND name = 'winback-3'`);
    await launchCampaign(db, 'winback-3', NOW);
    expect(await db.query(`SELECT status, address, reason FROM herald.messages m JOIN herald.contacts k ON k.id = m.contact_id WHERE m.source = 'winback-3' AND k.email = 'tom.becker@example.com'`)).toEqual([
      { status: 'suppressed', address: null, reason: 'suppressed: erased (list contact)' },
    ]);
  });
});
