// The segments issue's demo shop, shared by bench/audience.mjs,
// bench/launch.mjs and bench/sweep.mjs: 1M customers and ~5M orders in the
// database herald_bench_audience, seeded once and marked in its comment with
// what made it (size, seed, now, and the seed's code), so a later run of any
// of them reuses it while the mark matches and reseeds it otherwise. A smaller
// shop, for a quick check, lives in a database of its own
// (herald_bench_audience_<customers>), so it never replaces the big one. A
// database of those names not marked by these benches is never touched.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { openDb } from '../../dist/db/db.js';
import { seedShop } from '../../dist/demo/seed.js';

const root = join(import.meta.dirname, '..', '..');
export const server = process.env.HERALD_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const SHOP = 'herald_bench_audience';
export const CUSTOMERS = 1_000_000;
const SEED = 1;
// Seed and segments share one fixed `now`, so a reused shop answers alike.
export const NOW = new Date('2026-01-01T00:00:00Z');
export const SITES = [
  { id: 'shop-en', locales: ['en', 'ru'], currency: 'EUR', url: 'https://shop.example.com' },
  { id: 'shop-ru', locales: ['ru', 'en'], currency: 'RUB', url: 'https://shop.example.ru' },
];
const MARK = 'herald bench audience: ';

/** The database holding the shop of `customers`. */
export function shopName(customers = CUSTOMERS) {
  return customers === CUSTOMERS ? SHOP : `${SHOP}_${customers}`;
}

/** What identifies the shop in the database's comment: its size, seed, now, and the seed's code. */
function shopMark(customers) {
  const code = createHash('md5');
  for (const f of ['dist/demo/seed.js', 'dist/demo/reference.js', 'dist/shop/contract.js']) code.update(readFileSync(join(root, f)));
  return `${MARK}${JSON.stringify({ customers, seed: SEED, now: NOW.toISOString(), code: code.digest('hex').slice(0, 12) })}`;
}

/** A database's URL on the bench's server. */
export function databaseUrl(name) {
  const u = new URL(server);
  u.pathname = `/${name}`;
  return u.toString();
}

/** The shop database of `customers`: reused when its mark matches, else (re)seeded and marked. */
export async function shopDatabase(customers = CUSTOMERS) {
  const name = shopName(customers);
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  try {
    const mark = shopMark(customers);
    const [row] = (await admin.query(
      `SELECT shobj_description(oid, 'pg_database') AS mark FROM pg_database WHERE datname = $1`, [name])).rows;
    const url = databaseUrl(name);
    if (row && !row.mark?.startsWith(MARK)) {
      throw new Error(`database ${name} exists and was not made by the benches; drop or rename it, or point HERALD_BENCH_DATABASE_URL elsewhere`);
    }
    if (row?.mark === mark) return { url, name, reused: true };
    if (!row) await admin.query(`CREATE DATABASE ${name}`);
    const db = await openDb(url);
    const t = process.hrtime.bigint();
    try {
      const s = await seedShop(db, { schema: 'shop', customers, seed: SEED, sites: SITES, now: NOW });
      console.log(`seeded ${name} in ${(Number(process.hrtime.bigint() - t) / 1e9).toFixed(1)} s: ${s.customers} customers, ${s.orders} orders, ${s.orderItems} order items`);
    } finally {
      await db.close();
    }
    // VACUUM sets the visibility map, as autovacuum soon would on a real shop: index-only scans need it.
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query('VACUUM ANALYZE');
    await c.end();
    await admin.query(`COMMENT ON DATABASE ${name} IS '${mark.replace(/'/g, "''")}'`);
    return { url, name, reused: false };
  } finally {
    await admin.end();
  }
}

/**
 * A copy of the shop (CREATE DATABASE … TEMPLATE) named `copy`, for a bench
 * that writes: its herald.* tables, or the shop's own rows. Dropped by
 * drop(), which ends whatever is still connected to it, and on SIGINT or
 * SIGTERM (with `also`, say removing a workspace folder): what fails from
 * then on is expected, and `interrupted` says so, so the bench can wait for
 * the exit instead of reporting it.
 */
export async function copyOfShop(shop, copy) {
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  try {
    // FILE_COPY copies the files after a checkpoint; the default strategy would write the whole shop to the WAL.
    await admin.query(`CREATE DATABASE ${copy} TEMPLATE ${shop} STRATEGY FILE_COPY`);
  } catch (e) {
    if (e.code === '55006') throw new Error(`${shop} is in use (another bench running?); copying it needs it idle`);
    throw e;
  } finally {
    await admin.end();
  }
  const drop = async () => {
    const a = new pg.Client({ connectionString: server });
    await a.connect();
    await a.query(`DROP DATABASE IF EXISTS ${copy} WITH (FORCE)`);
    await a.end();
  };
  const handle = {
    url: databaseUrl(copy),
    drop,
    interrupted: false,
    dropOnSignal(also = () => {}) {
      const onSignal = () => {
        handle.interrupted = true;
        process.on('uncaughtException', () => {});
        also();
        drop().finally(() => process.exit(130));
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
    },
  };
  return handle;
}

/**
 * ~7,700 suppressions on a million customers, so the audience's suppression
 * joins have something to find: every 250th customer unsubscribed from every
 * site, the other 125ths complained on their own site.
 */
export async function addSuppressions(db, by) {
  await db.query(
    `INSERT INTO herald.suppressions (email, site, reason, source, created_by)
     SELECT lower(email), CASE WHEN id % 250 = 0 THEN NULL ELSE site END,
            CASE WHEN id % 250 = 0 THEN 'unsubscribed' ELSE 'complained' END, 'bench', $1
       FROM shop.customers WHERE id % 125 = 0 AND email ~ '^[^@[:space:]]+@[^@[:space:]]+\\.[^@[:space:]]+$'
     ON CONFLICT (email, coalesce(site, '')) DO NOTHING`,
    [by],
  );
  await db.exec('ANALYZE herald.suppressions');
}
