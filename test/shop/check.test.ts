import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDb } from '../../src/db/db.js';
import { UserError } from '../../src/errors.js';
import { importList } from '../../src/lists/import.js';
import { contractProblems, readerProblems, requireShop } from '../../src/shop/check.js';
import { shopContractSql } from '../../src/shop/contract.js';
import { herald } from '../support/cli.js';
import { useCleanups } from '../support/cleanup.js';
import { createTestDb, serverUrl, type TestDb } from '../support/db.js';
import { createShop } from '../support/shop.js';
import { MINIMAL, tempWorkspace } from '../support/workspace.js';

const cleanup = useCleanups();

async function database(): Promise<TestDb> {
  const db = await createTestDb();
  cleanup(() => db.dispose());
  return db;
}

/** A shop as a new one often starts: customers without email_opt_in, no preorders, orders under another name. */
async function partialShop(db: TestDb): Promise<void> {
  await db.exec(shopContractSql('shop'));
  await db.exec('ALTER TABLE shop.customers DROP COLUMN email_opt_in; DROP TABLE shop.preorders; ALTER TABLE shop.orders RENAME TO sales_orders');
  await db.exec('ALTER TABLE shop.cart_items DROP COLUMN sku, DROP COLUMN quantity');
}

describe('the shop data contract, checked up front', () => {
  it('lists every missing table and column at once, each with its section of the contract', async () => {
    const db = await database();
    await partialShop(db);
    expect(await contractProblems(db, 'shop')).toEqual([
      'shop.customers: no column email_opt_in (docs/shop-data-contract.md#customers)',
      'shop.orders: no such table or view (docs/shop-data-contract.md#orders)',
      'shop.cart_items: no columns sku, quantity (docs/shop-data-contract.md#cart_items)',
      'shop.preorders: no such table or view (docs/shop-data-contract.md#preorders)',
    ]);
    const err = await requireShop(db, { schema: 'shop' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toBe(
      'the shop\'s schema "shop" does not meet the data contract:\n' +
        '  shop.customers: no column email_opt_in (docs/shop-data-contract.md#customers)\n' +
        '  shop.orders: no such table or view (docs/shop-data-contract.md#orders)\n' +
        '  shop.cart_items: no columns sku, quantity (docs/shop-data-contract.md#cart_items)\n' +
        '  shop.preorders: no such table or view (docs/shop-data-contract.md#preorders)',
    );
    expect((err as UserError).hint).toContain('docs/shop-data-contract.md#when-your-tables-look-different-views');
  });

  it('says when the schema itself is missing, and accepts views as the contract\'s tables', async () => {
    const db = await database();
    expect(await contractProblems(db, 'shop')).toEqual(['the database has no schema "shop" (docs/shop-data-contract.md#tables)']);
    await partialShop(db);
    await db.exec(`
      ALTER TABLE shop.customers ADD COLUMN newsletter boolean;
      CREATE VIEW shop.orders AS SELECT * FROM shop.sales_orders;
      CREATE VIEW shop.preorders AS SELECT NULL::bigint AS customer_id, NULL::text AS sku, NULL::timestamptz AS created_at WHERE false;
      ALTER TABLE shop.cart_items ADD COLUMN sku text, ADD COLUMN quantity int;
      ALTER TABLE shop.customers RENAME TO users;
      CREATE VIEW shop.customers AS SELECT *, coalesce(newsletter, false) AS email_opt_in FROM shop.users;`);
    expect(await contractProblems(db, 'shop')).toEqual([]);
    await requireShop(db, { schema: 'shop' });
  });

  it('plan, apply and audience stop with exit 1 and the whole list, never an internal error', async () => {
    const ws = tempWorkspace({ ...MINIMAL, 'lists/vip.yaml': 'file: vip.csv\nsite: main\n', 'lists/vip.csv': 'email\na@example.com\n' });
    cleanup(ws.remove);
    // A database the CLI can open from its own process: the server's, or a PGlite folder.
    let spec: string;
    if (serverUrl) {
      const db = await database();
      await db.exec('CREATE SCHEMA shop');
      spec = db.url!;
    } else {
      spec = join(ws.dir, '.herald', 'db');
      const db = await openDb(spec);
      await db.exec('CREATE SCHEMA shop');
      await db.close();
    }
    for (const args of [['apply', '--auto-approve'], ['plan'], ['audience', 'everyone']]) {
      const r = await herald([...args, '--dir', ws.dir, '--db', spec]);
      expect(r.code, `${args[0]}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toContain('herald: the shop\'s schema "shop" does not meet the data contract:\n  shop.customers: no such table or view (docs/shop-data-contract.md#customers)\n');
      expect(r.stderr).toContain('  shop.preorders: no such table or view (docs/shop-data-contract.md#preorders)\n');
      expect(r.stderr).not.toContain('internal error');
    }
    // Three cold starts of the CLI (each opening PGlite on the embedded database): room for a busy machine.
  }, 300_000);
});

describe('a list import', () => {
  it('checks the contract too, since a saved plan is applied without planning', async () => {
    const db = await database();
    await partialShop(db);
    const ws = tempWorkspace({ 'vip.csv': 'email\na@example.com\n' });
    cleanup(ws.remove);
    const err = await db.transaction((tx) => importList(tx, 'shop', { name: 'vip', csv: join(ws.dir, 'vip.csv'), site: 'main' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).message).toMatch(/^the shop's schema "shop" does not meet the data contract:\n {2}shop\.customers: no column email_opt_in/);
  });
});

/**
 * Reader roles are cluster-wide: each test makes its own, uniquely named,
 * and drops it afterwards. PGlite has roles too, but a production set-up is
 * a server, so these run there.
 */
describe.skipIf(!serverUrl)('the reader role sql: conditions run as', () => {
  async function readerRole(db: TestDb): Promise<string> {
    const role = `herald_reader_${randomBytes(4).toString('hex')}`;
    await db.exec(`CREATE ROLE ${role} NOLOGIN`);
    cleanup(async () => {
      await db.exec(`DROP OWNED BY ${role}; DROP ROLE ${role}`);
    });
    return role;
  }

  it('must exist, be reachable by SET ROLE, read the shop, and read nothing of herald\'s', async () => {
    const db = await database();
    await createShop(db, { customers: [] });
    expect(await readerProblems(db, 'shop', 'herald_no_such_role_x')).toEqual(['the role does not exist: CREATE ROLE herald_no_such_role_x NOLOGIN']);

    const role = await readerRole(db);
    const [{ member }] = (await db.query<{ member: boolean }>(`SELECT pg_has_role(session_user, $1, 'MEMBER') AS member`, [role])) as [{ member: boolean }];
    // The test connects as a superuser, which is a member of every role; herald in production is not.
    expect(await readerProblems(db, 'shop', role)).toEqual([
      ...(member ? [] : [`herald's role cannot SET ROLE to it: GRANT ${role} TO <herald's role>`]),
      `it may not use schema "shop": GRANT USAGE ON SCHEMA shop TO ${role}`,
    ]);

    await db.exec(`GRANT USAGE ON SCHEMA shop TO ${role}; GRANT SELECT ON shop.customers, shop.orders TO ${role}`);
    expect(await readerProblems(db, 'shop', role)).toEqual([`it cannot read shop.cart_items, shop.carts, shop.order_items, shop.preorders, shop.products, shop.push_subscriptions: GRANT SELECT ON ALL TABLES IN SCHEMA shop TO ${role}`]);

    await db.exec(`GRANT SELECT ON ALL TABLES IN SCHEMA shop TO ${role}`);
    expect(await readerProblems(db, 'shop', role)).toEqual([]);

    await db.exec(`GRANT USAGE ON SCHEMA herald TO ${role}; GRANT SELECT ON herald.settings TO ${role}`);
    expect(await readerProblems(db, 'shop', role)).toEqual([
      `it can read herald's own schema: herald.settings (herald.settings holds the link secret): REVOKE ALL ON SCHEMA herald FROM ${role}`,
    ]);
    await db.exec(`REVOKE ALL ON herald.settings FROM ${role}; REVOKE ALL ON SCHEMA herald FROM ${role}; GRANT pg_read_server_files TO ${role}`);
    expect(await readerProblems(db, 'shop', role)).toEqual(['it is a member of pg_read_server_files']);
  });

  it('plan refuses a reader role that can read herald\'s schema, before anything runs', async () => {
    const db = await database();
    await createShop(db, { customers: [] });
    const role = await readerRole(db);
    await db.exec(`GRANT USAGE ON SCHEMA shop, herald TO ${role}; GRANT SELECT ON ALL TABLES IN SCHEMA shop, herald TO ${role}`);
    const ws = tempWorkspace({ ...MINIMAL, 'herald.yaml': `${MINIMAL['herald.yaml']}source:\n  reader_role: ${role}\n` });
    cleanup(ws.remove);
    const r = await herald(['plan', '--dir', ws.dir, '--db', db.url!]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^herald: source.reader_role "${role}" is not a safe role for sql: conditions:\\n  it can read herald's own schema: herald\\.[a-z_, .]*herald\\.settings`, 'm'));
    expect(r.stderr).toContain('hint: set the role up as docs/security.md shows');
  }, 300_000);
});
