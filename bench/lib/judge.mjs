// How every bench judges its figures, in one place:
//
// - benchLock(): a bench measures only while holding /tmp/herald-bench.lock
//   (flock), so two benches never measure at once; the first call re-runs the
//   bench under flock and exits with its code.
// - watchMachine(): samples the machine every second while the bench runs
//   and says afterwards whether other work disturbed it: the CPU taken by
//   processes that are neither this bench's (itself and its children) nor
//   PostgreSQL's, and the 1-minute load average.
// - spread(): a set of runs as "median (min–max, ±x%)"; the closing notes
//   quote figures with their run-to-run spread.
// - Targets: each bench states its targets, checks each figure against one,
//   and ends with verdict(): every target printed, met or MISSED; DISTURBED
//   when the machine was busy with other work (the figures are printed but
//   not judged). Exit codes: 0 judged and met, 1 a target missed (or a
//   result not exact), 3 disturbed, not judged.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';

export const LOCK = '/tmp/herald-bench.lock';

/** Re-runs this bench under flock(LOCK) unless it already holds it. Call before anything is measured. */
export function benchLock() {
  if (process.env.HERALD_BENCH_LOCKED) return;
  try {
    execFileSync('flock', [LOCK, process.execPath, ...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, HERALD_BENCH_LOCKED: LOCK } });
    process.exit(0);
  } catch (e) {
    process.exit(typeof e.status === 'number' ? e.status : 1);
  }
}

/** Cores other work may take, on average over a bench, before its figures are not judged. */
export const DISTURBED_CORES = 0.25;

function procs() {
  const out = new Map();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const rest = stat.slice(close + 2).split(' ');
      // utime + stime, and cutime + cstime: the children it reaped (the CLI runs a bench spawns, the backends the postmaster reaps).
      const self = Number(rest[11]) + Number(rest[12]);
      const reaped = Number(rest[13]) + Number(rest[14]);
      out.set(pid, { name: stat.slice(stat.indexOf('(') + 1, close), ppid: rest[1], self, reaped, ticks: self + reaped });
    } catch {
      // The process ended while we looked.
    }
  }
  return out;
}

function machineTicks() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - f[3] - f[4], total };
}

const loadavg = () => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);

/**
 * Watches the machine from now until stop(): every second, the CPU ticks of
 * every process. Ours are this process and its descendants (the CLI it
 * spawns, a sink, a peer) and PostgreSQL's processes (the bench's backends
 * and the server's own); the rest is other work. A process that ended
 * counts in the time of the parent that reaped it.
 *
 * stop() also says who of ours used the cores (`by`, in cores): `bench`
 * (this process itself), `spawned` (the processes it ran that ended: a CLI
 * run), each of `named` (label → pid, a sink), `PostgreSQL`, and
 * `children` (any other descendant).
 */
export function watchMachine(named = {}) {
  const labels = new Map(Object.entries(named).map(([label, pid]) => [String(pid), label]));
  const cores = availableParallelism();
  const start = machineTicks();
  const first = procs();
  const seen = new Map(first);
  const ours = new Set([String(process.pid)]);
  const loads = [loadavg()];
  const look = () => {
    const now = procs();
    for (const [pid, p] of now) {
      seen.set(pid, p);
      if (ours.has(p.ppid) || p.name === 'postgres' || p.name === 'postmaster') ours.add(pid);
    }
  };
  look();
  const timer = setInterval(() => {
    look();
    loads.push(loadavg());
  }, 1000);
  timer.unref();
  const t0 = process.hrtime.bigint();
  return {
    /** Stops watching: the wall time, the cores used by ours and by other work, the peak load, and whether it was disturbed. */
    stop() {
      clearInterval(timer);
      look();
      loads.push(loadavg());
      const end = machineTicks();
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      const perTick = (cores * wall) / Math.max(1, end.total - start.total);
      // Ours that are alive now, with what they reaped: a process that ended
      // (a short CLI run, a backend) counts in its parent's reaped time, so
      // nothing is counted twice and nothing short-lived is missed.
      const alive = procs();
      const by = { bench: 0, spawned: 0, ...Object.fromEntries([...labels.values()].map((l) => [l, 0])), PostgreSQL: 0, children: 0 };
      const groupOf = (pid, p) => labels.get(pid) ?? (p.name === 'postgres' || p.name === 'postmaster' ? 'PostgreSQL' : 'children');
      for (const [pid, p] of alive) {
        if (!ours.has(pid)) continue;
        const was = first.get(pid);
        if (pid === String(process.pid)) {
          by.bench += p.self - (was?.self ?? 0);
          by.spawned += p.reaped - (was?.reaped ?? 0);
        } else by[groupOf(pid, p)] += p.ticks - (was?.ticks ?? 0);
      }
      // One of ours that was running at the start and ended since: its parent
      // reaped the whole of its life, of which only what came after the start
      // belongs to this phase (an autovacuum worker, a backend, a CLI run
      // that began before it would count several times over otherwise).
      for (const [pid, p] of first) {
        if (alive.has(pid) || !ours.has(pid)) continue;
        const parent = alive.get(p.ppid);
        if (!parent || !ours.has(p.ppid)) continue;
        by[p.ppid === String(process.pid) ? 'spawned' : groupOf(p.ppid, parent)] -= p.ticks;
      }
      const oursTicks = Object.values(by).reduce((a, b) => a + b, 0);
      for (const k of Object.keys(by)) by[k] = Math.max(0, (by[k] * perTick) / wall);
      const busy = ((end.busy - start.busy) * perTick) / wall;
      const oursCores = Math.max(0, (oursTicks * perTick) / wall);
      const other = Math.max(0, busy - oursCores);
      const peakLoad = Math.max(...loads);
      return { wall, cores, busy, ours: oursCores, by, other, peakLoad, disturbed: other > DISTURBED_CORES };
    },
  };
}

/** The median of numbers. */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Runs as "median (min–max, ±x% of the median)", each formatted by `fmt`. */
export function spread(xs, fmt = (x) => x.toFixed(2)) {
  if (xs.length === 1) return `${fmt(xs[0])} (one run)`;
  const m = median(xs);
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  const pct = m ? ((hi - lo) / 2 / m) * 100 : 0;
  return `${fmt(m)} (runs ${xs.map(fmt).join(', ')}; ±${pct.toFixed(1)}%)`;
}

/**
 * A bench's targets. check() records a figure against its target; verdict()
 * prints them all and sets the exit code. `disturbance` is what watchMachine's
 * stop() returned (or several of them: disturbed if any was).
 */
export class Targets {
  constructor(title = 'targets') {
    this.title = title;
    this.rows = [];
    this.problems = [];
  }

  /** `value` against `{ min }` or `{ max }`; `unit` and `fmt` only print. Returns whether it met. */
  check(label, value, { min, max, unit = '', fmt = (x) => (Math.abs(x) >= 100 ? Math.round(x).toLocaleString('en') : x.toFixed(2)) }) {
    const met = (min === undefined || value >= min) && (max === undefined || value <= max);
    const want = min !== undefined ? `≥ ${fmt(min)}${unit}` : `≤ ${fmt(max)}${unit}`;
    this.rows.push({ label, text: `${fmt(value)}${unit}`, want, met });
    return met;
  }

  /** A result that must hold whatever the load (an exact ledger): a failure is never excused as disturbance. */
  require(label, ok, detail = '') {
    if (!ok) this.problems.push(`${label}${detail ? `: ${detail}` : ''}`);
    return ok;
  }

  verdict(disturbance) {
    const list = [disturbance].flat().filter(Boolean);
    const disturbed = list.some((d) => d.disturbed);
    console.log(`\n  ${this.title}:`);
    for (const r of this.rows) console.log(`    ${r.label}: ${r.text}, target ${r.want}: ${disturbed ? 'not judged' : r.met ? 'met' : 'MISSED'}`);
    for (const p of this.problems) console.log(`    NOT EXACT: ${p}`);
    if (list.length) {
      const other = Math.max(...list.map((d) => d.other));
      const load = Math.max(...list.map((d) => d.peakLoad));
      console.log(`  machine: other work took up to ${other.toFixed(2)} cores (limit ${DISTURBED_CORES}); load average up to ${load.toFixed(2)} on ${list[0].cores} cores`);
    }
    const missed = this.rows.filter((r) => !r.met).length;
    if (this.problems.length) process.exitCode = 1;
    else if (disturbed) process.exitCode = 3;
    else process.exitCode = missed ? 1 : 0;
    if (disturbed) console.log('\n  DISTURBED: other work ran on the machine during the bench; the targets are not judged. Run again on a quiet machine.');
    else console.log(`\n  ${missed ? `${missed} of ${this.rows.length} targets MISSED` : `all ${this.rows.length} targets met`}`);
    return !disturbed && missed === 0 && this.problems.length === 0;
  }
}
