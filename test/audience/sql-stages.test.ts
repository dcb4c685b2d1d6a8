import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { measureNow, workspaceQuery } from '../../src/audience/breakdown.js';
import { UserError } from '../../src/errors.js';
import { launchCampaign } from '../../src/campaigns/send.js';
import { loadWorkspace } from '../../src/workspace/load.js';
import { applyDir, planDir } from '../support/apply.js';
import { useCleanups } from '../support/cleanup.js';
import { createTestDb, serverUrl, type TestDb } from '../support/db.js';
import { createShop } from '../support/shop.js';
import { MINIMAL, tempWorkspace } from '../support/workspace.js';

/*
 * Issue 12, item 2: every hostile sql: found by attacking herald, at every
 * stage that runs one (plan, audience, launch), with both layers on. Plan and
 * audience read the workspace without `herald validate`; the launch reads a
 * spec written straight into herald.objects, past validate and plan both.
 * The secret never appears, nothing is written, nothing is held, nobody is
 * terminated, and the sequence does not move.
 */

const cleanup = useCleanups();
const NOW = new Date('2026-11-20T12:00:00Z');
const SECRET = `secret-${randomBytes(16).toString('hex')}`;

interface Stage {
  db: TestDb;
  dir: string;
  /** A backend of another session, which a hostile query tries to terminate (0 on PGlite, which has one). */
  otherPid: number;
  alive(): Promise<boolean>;
}

async function setup(project = MINIMAL['herald.yaml']!): Promise<Stage> {
  const db = await createTestDb();
  cleanup(() => db.dispose());
  await createShop(db, { customers: [1, 2, 3].map((id) => ({ id, email: `c${id}@example.com`, site: 'main' })) });
  await db.query("INSERT INTO herald.settings (key, value) VALUES ('link_secret', $1)", [SECRET]);
  const ws = tempWorkspace({
    ...MINIMAL,
    'herald.yaml': project,
    'segments/hostile.yaml': 'where:\n  sql: SELECT id AS customer_id FROM shop.customers\n',
    'campaigns/hostile.yaml': MINIMAL['campaigns/hello.yaml']!.replace('segment: everyone', 'segment: hostile'),
  });
  cleanup(ws.remove);
  if (!db.url) return { db, dir: ws.dir, otherPid: 0, alive: async () => true };
  const other = new pg.Client({ connectionString: db.url });
  await other.connect();
  cleanup(() => other.end());
  const pid = Number((await other.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid);
  return { db, dir: ws.dir, otherPid: pid, alive: async () => (await other.query('SELECT 1')).rowCount === 1 };
}

/** What each hostile query did when it got through, and the refusal it now gets. */
const HOSTILE = (pid: number): [string, string, string][] => [
  ['the link secret', 'SELECT value::int AS customer_id FROM herald.settings', 'the query reads herald.settings; a sql: condition reads only the shop\'s schema "shop"'],
  ['a file', "SELECT pg_read_file('/etc/hostname')::int AS customer_id", 'the query calls pg_read_file, which a sql: condition may not call'],
  ['large objects', "SELECT lo_import('/etc/hostname')::bigint AS customer_id FROM shop.customers", 'the query calls lo_import, which a sql: condition may not call'],
  ['another backend', `SELECT id AS customer_id FROM shop.customers WHERE pg_terminate_backend(${pid})`, 'the query calls pg_terminate_backend, which a sql: condition may not call'],
  ['a setting', "SELECT id AS customer_id FROM shop.customers WHERE set_config('statement_timeout', '0', false) IS NOT NULL", 'the query calls set_config, which a sql: condition may not call'],
  ['an advisory lock', 'SELECT id AS customer_id FROM shop.customers WHERE pg_advisory_lock(4242) IS NOT NULL', 'the query calls pg_advisory_lock, which a sql: condition may not call'],
  ["herald's sequence", "SELECT id AS customer_id FROM shop.customers WHERE setval('herald.messages_id_seq', 1) > 0", 'the query calls setval, which a sql: condition may not call'],
  ['a 90 s sleep', 'SELECT id AS customer_id FROM shop.customers WHERE pg_sleep(90) IS NOT NULL', 'the query calls pg_sleep, which a sql: condition may not call'],
];

/** Everything a hostile query could have changed, to compare before and after. */
async function traces(s: Stage) {
  const q = async (sql: string) => (await s.db.query(sql))[0];
  return {
    largeObjects: await q('SELECT count(*)::int AS n FROM pg_largeobject_metadata'),
    sequence: await q('SELECT last_value, is_called FROM herald.messages_id_seq'),
    // pg_locks is the whole server's: only this database's lock 4242 is the hostile query's.
    locks: await q("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"),
    alive: await s.alive(),
  };
}

async function refusal(p: Promise<unknown>): Promise<UserError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UserError);
  return err as UserError;
}

function setSegmentSql(s: Stage, sql: string): void {
  writeFileSync(join(s.dir, 'segments/hostile.yaml'), `where:\n  sql: ${JSON.stringify(sql)}\n`);
}

describe('hostile sql: at every stage', () => {
  it('plan refuses each one by name, measures nothing, and prints no secret', async () => {
    const s = await setup();
    const before = await traces(s);
    for (const [what, sql, why] of HOSTILE(s.otherPid)) {
      setSegmentSql(s, sql);
      const plan = await planDir(s.db, s.dir, { now: NOW });
      const change = plan.changes.find((c) => c.kind === 'segment' && c.name === 'hostile');
      expect(change, what).toMatchObject({ action: 'refused', reason: `segment "hostile": its sql: is refused: ${why}` });
      expect(plan.warnings, what).toContain(`campaign/hostile: audience size unknown: segment/hostile: its sql: is refused: ${why}`);
      expect(JSON.stringify(plan), what).not.toContain(SECRET);
    }
    expect(await traces(s)).toEqual(before);
  });

  it('audience refuses each one by name', async () => {
    const s = await setup();
    const before = await traces(s);
    for (const [what, sql, why] of HOSTILE(s.otherPid)) {
      setSegmentSql(s, sql);
      const ws = loadWorkspace(s.dir).workspace!;
      const err = await refusal(measureNow(s.db, workspaceQuery(ws, 'segment/hostile', NOW)));
      expect(err.message, what).toBe(`segment/hostile: its sql: is refused: ${why}`);
    }
    expect(await traces(s)).toEqual(before);
  });

  it('a launch refuses a deployed spec that never went through validate or plan, and writes no ledger row', async () => {
    const s = await setup();
    await applyDir(s.db, s.dir, { now: NOW });
    const before = await traces(s);
    for (const [what, sql, why] of HOSTILE(s.otherPid)) {
      await s.db.query("UPDATE herald.objects SET spec = jsonb_set(spec, '{where}', jsonb_build_object('sql', $1::text)) WHERE kind = 'segment' AND name = 'hostile'", [sql]);
      const err = await refusal(launchCampaign(s.db, 'hostile', NOW));
      expect(err.message, what).toBe(`segment/hostile: its sql: is refused: ${why}`);
    }
    expect(await traces(s)).toEqual(before);
    expect(await s.db.query("SELECT 1 FROM herald.runs WHERE source = 'hostile' UNION ALL SELECT 1 FROM herald.messages WHERE source = 'hostile'")).toEqual([]);
  });
});

describe.skipIf(!serverUrl)('a sql: that runs too long', () => {
  // Allowed by layer 1, and minutes of work on any machine: stopped at the timeout, whatever the machine's speed.
  const BURN = 'SELECT count(*) AS customer_id FROM (SELECT generate_series(1, 100000000000) AS n) AS g';
  const project = `${MINIMAL['herald.yaml']}source:\n  sql_timeout: 1s\n`;

  it('stops at its timeout at plan, audience and launch', async () => {
    const s = await setup(project);
    setSegmentSql(s, BURN);
    const stopped = 'segment/hostile: its sql: stopped at its timeout of 1 s';

    const plan = await planDir(s.db, s.dir, { now: NOW });
    expect(plan.warnings).toContain(`campaign/hostile: audience size unknown: ${stopped}`);

    const err = await refusal(measureNow(s.db, workspaceQuery(loadWorkspace(s.dir).workspace!, 'segment/hostile', NOW)));
    expect(err.message).toBe(stopped);

    setSegmentSql(s, 'SELECT id AS customer_id FROM shop.customers');
    await applyDir(s.db, s.dir, { now: NOW });
    await s.db.query("UPDATE herald.objects SET spec = jsonb_set(spec, '{where}', jsonb_build_object('sql', $1::text)) WHERE kind = 'segment' AND name = 'hostile'", [BURN]);
    expect((await refusal(launchCampaign(s.db, 'hostile', NOW))).message).toBe(stopped);
    expect(await s.db.query("SELECT 1 FROM herald.runs WHERE source = 'hostile'")).toEqual([]);
  });
});

describe.skipIf(!serverUrl)('with a reader role', () => {
  it('runs sql: as the reader at plan, audience and launch', async () => {
    const role = `herald_reader_${randomBytes(4).toString('hex')}`;
    const s = await setup(`${MINIMAL['herald.yaml']}source:\n  reader_role: ${role}\n`);
    await s.db.exec(`CREATE ROLE ${role} NOLOGIN; GRANT USAGE ON SCHEMA shop TO ${role}`);
    cleanup(() => s.db.exec(`DROP OWNED BY ${role}; DROP ROLE ${role}`));
    // A view that shows its rows only to the reader: current_user in a view is whoever runs the query.
    await s.db.exec(`CREATE VIEW shop.as_reader AS SELECT id AS customer_id FROM shop.customers WHERE current_user = '${role}'`);
    await s.db.exec(`GRANT SELECT ON ALL TABLES IN SCHEMA shop TO ${role}`);
    setSegmentSql(s, 'SELECT customer_id FROM shop.as_reader');

    const plan = await planDir(s.db, s.dir, { now: NOW });
    expect(plan.changes.filter((c) => c.action === 'refused')).toEqual([]);
    expect(plan.audiences.find((a) => a.campaign === 'hostile')?.recipients).toBe(3);

    const { breakdown } = await measureNow(s.db, workspaceQuery(loadWorkspace(s.dir).workspace!, 'segment/hostile', NOW));
    expect(breakdown.in_segment).toBe(3);

    await applyDir(s.db, s.dir, { now: NOW });
    expect(await launchCampaign(s.db, 'hostile', NOW)).toEqual({ materialised: 3, launched: true });
  });
});
