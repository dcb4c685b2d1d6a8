// npm run bench -- plan
//
// validate + plan on a workspace of 2,000 objects (500 templates in two
// locales, 1,000 campaigns, 500 segments) against PostgreSQL on loopback,
// cold (no MJML cache, fresh process) and warm (cache on disk). Targets from
// the reconciler issue: warm under 1 s, cold under 10 s. Also measures, in the
// same run, the single-threaded cost of compiling every body once, to report
// the share of time spent in MJML.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import mjml2html from 'mjml';
import { shopContractSql } from '../dist/shop/contract.js';
import { benchLock, median, spread, Targets, watchMachine } from './lib/judge.mjs';

benchLock();

const root = join(import.meta.dirname, '..');
const server = process.env.HERALD_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const TEMPLATES = 500;
const CAMPAIGNS = 1000;
const SEGMENTS = 500;

function body(i, locale) {
  const rows = Array.from({ length: 6 }, (_, k) => `
    <mj-section padding="8px 24px"><mj-column><mj-text>${locale === 'ru' ? 'Раздел' : 'Section'} ${k} of template ${i}: {{ customer.first_name }}</mj-text>
      <mj-image src="https://shop.example.com/img/${i}-${k}.jpg" alt="Product ${k}" width="200px" />
      <mj-button href="{{ site.url }}/p/${i}/${k}">${locale === 'ru' ? 'Купить' : 'Buy'}</mj-button></mj-column></mj-section>`).join('');
  return `<mjml lang="${locale}"><mj-head><mj-preview>{{ preheader }}</mj-preview></mj-head><mj-body>
  <mj-section><mj-column><mj-text>{{ greeting }}</mj-text></mj-column></mj-section>${rows}
  <mj-section><mj-column><mj-text>{{ site.postal_address }} <a href="{{ links.unsubscribe }}">unsubscribe</a></mj-text></mj-column></mj-section>
</mj-body></mjml>
`;
}

function workspace() {
  const dir = mkdtempSync(join(tmpdir(), 'herald-bench-plan-'));
  const w = (path, text) => {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  };
  w('herald.yaml', `sites:
  - { id: en, name: Shop, url: https://shop.example.com, locales: [en, ru], default_locale: en, currency: EUR, sender: { from: news@shop.example.com }, postal_address: "1 Main St" }
tracking: { base_url: https://mail.example.com }
`);
  for (let i = 0; i < SEGMENTS; i++) {
    const kinds = [`order_count: { gte: ${1 + (i % 5)}, within: ${30 + i}d }`, `last_order: { before: ${60 + i}d }`, `city: { in: [Berlin, Paris, "City ${i}"] }`, `total_spent: { gt: ${100 * (i % 9)} }`];
    w(`segments/s${i}.yaml`, `description: Segment ${i}\nwhere:\n  all:\n    - site: en\n    - ${kinds[i % kinds.length]}\n`);
  }
  for (let i = 0; i < TEMPLATES; i++) {
    w(`templates/t${i}/template.yaml`, `subject:\n  en: "Offer ${i} for {{ customer.first_name or 'you' }}"\n  ru: "Предложение ${i}"\npreheader:\n  en: Preheader ${i}\n  ru: Прехедер ${i}\n`);
    w(`templates/t${i}/en.mjml`, body(i, 'en'));
    w(`templates/t${i}/ru.mjml`, body(i, 'ru'));
  }
  for (let i = 0; i < CAMPAIGNS; i++) {
    w(`campaigns/c${i}.yaml`, `title: Campaign ${i}\nsite: en\naudience:\n  segment: s${i % SEGMENTS}\ntemplate: t${i % TEMPLATES}\nstatus: draft\n`);
  }
  return dir;
}

async function database() {
  const name = `herald_bench_plan_${process.pid}`;
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name}`);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(server);
  u.pathname = `/${name}`;
  // plan checks the shop against the data contract: an empty shop meets it.
  const shop = new pg.Client({ connectionString: u.toString() });
  await shop.connect();
  await shop.query(shopContractSql('shop'));
  await shop.end();
  return { url: u.toString(), drop: async () => { const a = new pg.Client({ connectionString: server }); await a.connect(); await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`); await a.end(); } };
}

const cache = mkdtempSync(join(tmpdir(), 'herald-bench-plan-cache-'));

function timed(args, node = []) {
  const t = process.hrtime.bigint();
  execFileSync(process.execPath, [...node, join(root, 'dist', 'cli', 'main.js'), ...args], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, NO_COLOR: '1', HERALD_CACHE_DIR: cache } });
  return Number(process.hrtime.bigint() - t) / 1e9;
}

const dir = workspace();
const db = await database();
try {
  const plan = ['plan', '--dir', dir, '--db', db.url];
  timed(['validate', '--dir', dir]); // warms the OS file cache, then throw the MJML cache away
  rmSync(cache, { recursive: true, force: true });
  rmSync(join(dir, '.herald'), { recursive: true, force: true });
  const watch = watchMachine();
  const cold = timed(plan);
  const warm = [timed(plan), timed(plan), timed(plan)];
  timed(['apply', '--auto-approve', '--dir', dir, '--db', db.url]);
  const warmApplied = [timed(plan), timed(plan), timed(plan)];
  // HERALD_BENCH_PROFILE=dir writes a CPU profile of one warm plan there.
  if (process.env.HERALD_BENCH_PROFILE) timed(plan, ['--cpu-prof', `--cpu-prof-dir=${process.env.HERALD_BENCH_PROFILE}`]);

  // The MJML share: every body compiled once, single-threaded, in this process.
  const bodies = Array.from({ length: TEMPLATES }, (_, i) => [body(i, 'en'), body(i, 'ru')]).flat();
  let t = process.hrtime.bigint();
  for (const b of bodies) await mjml2html(b, { validationLevel: 'soft' });
  const mjmlSerial = Number(process.hrtime.bigint() - t) / 1e9;
  const machine = watch.stop();

  const fmt = (s) => `${s.toFixed(2)} s`;
  const secs = (s) => s.toFixed(2);
  console.log(`\nplan benchmark: ${SEGMENTS} segments, ${TEMPLATES} templates × 2 locales, ${CAMPAIGNS} campaigns (2,000 objects), PostgreSQL at ${new URL(server).host}`);
  console.log(`  cold validate + plan (no MJML cache, 2,000 to create): ${fmt(cold)} (one run)`);
  console.log(`  warm validate + plan (MJML cache on disk):            ${spread(warm, secs)} s`);
  console.log(`  warm, after apply (2,000 unchanged):                   ${spread(warmApplied, secs)} s`);
  const cores = (await import('node:os')).availableParallelism();
  console.log(`  MJML alone, ${bodies.length} compiles on one core:              ${fmt(mjmlSerial)} of CPU (${((1000 * mjmlSerial) / bodies.length).toFixed(1)} ms each)`);
  console.log(`  MJML share of the cold run: ${fmt(mjmlSerial)} of the ${fmt(cold * cores)} of CPU that ${cores} cores give in ${fmt(cold)} = ${((100 * mjmlSerial) / (cold * cores)).toFixed(0)}%; a warm run compiles nothing`);

  const targets = new Targets('targets (the reconciler issue)');
  targets.check('cold validate + plan', cold, { max: 10, unit: ' s' });
  targets.check('warm validate + plan, median', median(warm), { max: 1, unit: ' s' });
  targets.check('warm after apply, median', median(warmApplied), { max: 1, unit: ' s' });
  targets.verdict(machine);
} finally {
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
  rmSync(cache, { recursive: true, force: true });
}
