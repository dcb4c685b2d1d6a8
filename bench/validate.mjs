// npm run bench -- validate
//
// herald validate on one file of 10,000, 20,000 and 40,000 problems, to show
// the time grows linearly with the file: the ratio 40k/10k is about 4 when it
// does, 16 when it is quadratic. Issue 12 measured 14 s for 10,000 unknown
// keys in one file and 211 s for 40,000 (15×). Two shapes:
//
//   keys        unknown top-level keys in one campaign (the case:
//               the yaml library's duplicate-key check and the lookup of each
//               problem's position both scanned the mapping per key)
//   conditions  a segment whose all: holds that many conditions, each with an
//               unknown key (ajv copied all errors so far at every nested
//               condition, and the oneOf filter compared every pair)
//
// Each size is validated in this process (validateWorkspace, then every
// problem formatted as the CLI prints it) after a warm-up, 3 times; the
// median counts. The ratio is taken from CPU time, which other work on the
// machine disturbs less than wall time. Every file stays under the 1 MB limit.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatProblem } from '../dist/errors.js';
import { validateWorkspace } from '../dist/workspace/validate.js';
import { benchLock, median, spread, Targets, watchMachine } from './lib/judge.mjs';

benchLock();

const SIZES = [10_000, 20_000, 40_000];
const RUNS = 3;
const TARGET = 6; // 40k/10k: linear is 4, quadratic 16

const BASE = {
  'herald.yaml': `sites:
  - { id: main, name: Main, url: https://shop.example.com, locales: [en], default_locale: en, currency: EUR, sender: { from: news@shop.example.com }, postal_address: "1 Main St" }
tracking: { base_url: https://mail.example.com }
`,
  'segments/everyone.yaml': 'where:\n  order_count: { gte: 0 }\n',
  'templates/hello/template.yaml': 'subject:\n  en: Hello\n',
  'templates/hello/en.mjml': '<mjml><mj-body><mj-section><mj-column><mj-text>{{ site.postal_address }} <a href="{{ links.unsubscribe }}">unsubscribe</a></mj-text></mj-column></mj-section></mj-body></mjml>\n',
  'campaigns/hello.yaml': 'title: Hello\nsite: main\naudience:\n  segment: everyone\ntemplate: hello\n',
};

const SHAPES = {
  keys: (n) => ({ 'campaigns/hello.yaml': BASE['campaigns/hello.yaml'] + Array.from({ length: n }, (_, i) => `k${i}: ${i}\n`).join('') }),
  conditions: (n) => ({ 'segments/everyone.yaml': `where:\n  all:\n${Array.from({ length: n }, (_, i) => `  - {site: m, k${i}: 1}\n`).join('')}` }),
};

function workspace(files) {
  const dir = mkdtempSync(join(tmpdir(), 'herald-bench-validate-'));
  for (const [path, text] of Object.entries({ ...BASE, ...files })) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

async function measure(dir) {
  const wall = performance.now();
  const cpu = process.cpuUsage();
  const { problems } = await validateWorkspace(dir);
  const printed = problems.map(formatProblem).join('\n').length;
  const used = process.cpuUsage(cpu);
  return { wall: (performance.now() - wall) / 1000, cpu: (used.user + used.system) / 1e6, problems: problems.length, printed };
}

const warm = workspace({});
await measure(warm);
rmSync(warm, { recursive: true, force: true });

console.log(`\nvalidate benchmark: one file of ${SIZES.map((n) => n.toLocaleString('en')).join(' / ')} problems, median of ${RUNS} runs in this process`);
console.log('  issue 12 measured 10,000 keys in 14 s and 40,000 in 211 s (15×)\n');
const targets = new Targets('targets (issue 12)');
const watch = watchMachine();
for (const [shape, files] of Object.entries(SHAPES)) {
  const rows = [];
  for (const n of SIZES) {
    const dir = workspace(files(n));
    try {
      const runs = [];
      for (let i = 0; i < RUNS; i++) runs.push(await measure(dir));
      targets.require(`${shape} ${n}: at least ${n} problems`, runs.every((r) => r.problems >= n), `got ${runs[0].problems}`);
      rows.push({ n, runs, wall: median(runs.map((r) => r.wall)), cpu: median(runs.map((r) => r.cpu)), problems: runs[0].problems });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const secs = (x) => x.toFixed(2);
  console.log(`  ${shape}`);
  for (const r of rows) {
    console.log(`    ${r.n.toLocaleString('en').padStart(6)}: ${r.problems.toLocaleString('en')} problems; CPU ${spread(r.runs.map((x) => x.cpu), secs)} s; wall ${spread(r.runs.map((x) => x.wall), secs)} s`);
  }
  const ratio = rows.at(-1).cpu / rows[0].cpu;
  console.log(`    40k/10k: ${ratio.toFixed(1)}× CPU (${(rows.at(-1).wall / rows[0].wall).toFixed(1)}× wall); linear is 4×, quadratic 16×\n`);
  targets.check(`${shape}: 40k/10k CPU, medians`, ratio, { max: TARGET, unit: '×', fmt: (x) => x.toFixed(1) });
}
targets.verdict(watch.stop());
