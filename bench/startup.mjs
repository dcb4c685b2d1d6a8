// npm run bench -- startup [--runs N] [--customers N]
//
// How fast herald starts, as CI runs it on every push (issue 17, "Start-up"):
// the built CLI (dist/cli/main.js) as a fresh process each time, timed from
// spawn to exit, beside `node -e 0`, in one run:
//
//   node -e 0        node itself: the floor any CLI pays
//   herald --help    commander and the list of commands, nothing of any command
//   herald validate  the repository's own workspace (herald.yaml, campaigns/,
//                    segments/, templates/, triggers/, lists/), warm: the
//                    disk cache (MJML, body and sql: checks) filled by one
//                    untimed run first, in a cache folder of the bench's own
//   herald plan      a copy of that workspace against the embedded database
//                    (PGlite in its .herald/db), which `herald demo --no-send`
//                    seeds with a shop of --customers (default 200) and
//                    applies; warm likewise. PGlite's start-up is most of it.
//
// Runs alternate (node, --help, validate, plan), --runs of each (default
// 15); every run is printed, and the median of each with its spread.
// Targets: warm validate ≤ 0.4 s; --help ≤ 1.3× node -e 0. plan has no
// target of its own: it is reported. Every run must exit 0 (the workspace
// valid, the plan made), whatever the load.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchLock, median, spread, Targets, watchMachine } from './lib/judge.mjs';

benchLock();

const { values: args } = parseArgs({ options: { runs: { type: 'string', default: '15' }, customers: { type: 'string', default: '200' } } });
const RUNS = Number(args.runs);
const VALIDATE_MAX = 0.4;
const HELP_RATIO_MAX = 1.3;

const root = join(import.meta.dirname, '..');
const main = join(root, 'dist', 'cli', 'main.js');
const tmp = mkdtempSync(join(tmpdir(), 'herald-bench-startup-'));
const cache = join(tmp, 'cache');
const planWs = join(tmp, 'workspace');
// The embedded database, not a server the environment may name; a cache of the bench's own.
const env = { ...process.env, NO_COLOR: '1', HERALD_DATABASE_URL: '', GITHUB_ACTIONS: '', HERALD_CACHE_DIR: cache };

/** One process, spawn to exit: seconds, and whether it exited 0 (its stderr when not). */
function timed(argv) {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, argv, { env, stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 16 * 1024 * 1024 });
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  return { s, ok: r.status === 0, stderr: r.stderr?.toString() ?? '' };
}

function untimed(label, argv) {
  const r = timed(argv);
  if (!r.ok) throw new Error(`${label} failed:\n${r.stderr}`);
  return r;
}

const COMMANDS = [
  { label: 'node -e 0', argv: ['-e', '0'] },
  { label: 'herald --help', argv: [main, '--help'] },
  { label: 'herald validate', argv: [main, 'validate', '--dir', root] },
  { label: 'herald plan', argv: [main, 'plan', '--dir', planWs] },
];

try {
  for (const part of ['herald.yaml', 'segments', 'lists', 'templates', 'campaigns', 'triggers']) cpSync(join(root, part), join(planWs, part), { recursive: true });
  process.stdout.write(`seeding the embedded database: herald demo --customers ${args.customers} --no-send … `);
  const seeded = untimed('herald demo', [main, 'demo', '--dir', planWs, '--customers', args.customers, '--no-send']);
  console.log(`${seeded.s.toFixed(1)} s`);
  // Warm: the cache filled, PGlite's files in the OS cache.
  untimed('herald validate (warming)', COMMANDS[2].argv);
  untimed('herald plan (warming)', COMMANDS[3].argv);

  console.log(`\nstart-up benchmark: ${RUNS} runs of each, alternating; seconds from spawn to exit`);
  const times = COMMANDS.map(() => []);
  const failed = COMMANDS.map(() => []);
  const watch = watchMachine();
  for (let i = 0; i < RUNS; i++) {
    const row = COMMANDS.map((c, k) => {
      const r = timed(c.argv);
      times[k].push(r.s);
      if (!r.ok) failed[k].push(r.stderr.trim().split('\n').slice(-3).join(' / '));
      return `${c.label} ${r.s.toFixed(3)}${r.ok ? '' : ' FAILED'}`;
    });
    console.log(`  run ${String(i + 1).padStart(2)}: ${row.join('   ')}`);
  }
  const machine = watch.stop();

  const fmt = (s) => s.toFixed(3);
  console.log('\n  medians (every run; ± half the range, as a share of the median):');
  COMMANDS.forEach((c, k) => console.log(`    ${c.label.padEnd(16)} ${spread(times[k], fmt)} s`));
  const [node, help, validate, plan] = times.map(median);
  const ratios = times[1].map((h, i) => h / times[0][i]);
  console.log(`    --help / node -e 0, run by run: ${spread(ratios)}`);
  console.log(`    herald plan (embedded database, reported, no target): ${fmt(plan)} s`);

  const targets = new Targets('targets (issue 17)');
  targets.check('warm herald validate, median', validate, { max: VALIDATE_MAX, unit: ' s', fmt: (x) => x.toFixed(3) });
  targets.check('herald --help / node -e 0, medians', help / node, { max: HELP_RATIO_MAX, unit: '×' });
  COMMANDS.forEach((c, k) => targets.require(`every ${c.label} exits 0`, failed[k].length === 0, failed[k][0]));
  targets.verdict(machine);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
