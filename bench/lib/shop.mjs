// The segments issue's demo shop, shared by bench/audience.mjs and
// bench/launch.mjs: 1M customers and ~5M orders in the database
// herald_bench_audience, seeded once and marked in its comment with what made
// it (size, seed, now, and the seed's code), so a later run of either bench
// reuses it while the mark matches and reseeds it otherwise. A database of
// that name not marked by these benches is never touched.
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

/** What identifies the shop in the database's comment: its size, seed, now, and the seed's code. */
function shopMark() {
  const code = createHash('md5');
  for (const f of ['dist/demo/seed.js', 'dist/demo/reference.js', 'dist/shop/contract.js']) code.update(readFileSync(join(root, f)));
  return `${MARK}${JSON.stringify({ customers: CUSTOMERS, seed: SEED, now: NOW.toISOString(), code: code.digest('hex').slice(0, 12) })}`;
}

/** The shop database: reused when its mark matches, else (re)seeded and marked. */
export async function shopDatabase() {
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  try {
    const mark = shopMark();
    const [row] = (await admin.query(
      `SELECT shobj_description(oid, 'pg_database') AS mark FROM pg_database WHERE datname = $1`, [SHOP])).rows;
    const u = new URL(server);
    u.pathname = `/${SHOP}`;
    if (row && !row.mark?.startsWith(MARK)) {
      throw new Error(`database ${SHOP} exists and was not made by the benches; drop or rename it, or point HERALD_BENCH_DATABASE_URL elsewhere`);
    }
    if (row?.mark === mark) return { url: u.toString(), reused: true };
    if (!row) await admin.query(`CREATE DATABASE ${SHOP}`);
    const db = await openDb(u.toString());
    const t = process.hrtime.bigint();
    try {
      const s = await seedShop(db, { schema: 'shop', customers: CUSTOMERS, seed: SEED, sites: SITES, now: NOW });
      console.log(`seeded ${SHOP} in ${(Number(process.hrtime.bigint() - t) / 1e9).toFixed(1)} s: ${s.customers} customers, ${s.orders} orders, ${s.orderItems} order items`);
    } finally {
      await db.close();
    }
    // VACUUM sets the visibility map, as autovacuum soon would on a real shop: index-only scans need it.
    const c = new pg.Client({ connectionString: u.toString() });
    await c.connect();
    await c.query('VACUUM ANALYZE');
    await c.end();
    await admin.query(`COMMENT ON DATABASE ${SHOP} IS '${mark.replace(/'/g, "''")}'`);
    return { url: u.toString(), reused: false };
  } finally {
    await admin.end();
  }
}
