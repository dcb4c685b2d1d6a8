// Who used the CPU during a bench's phase, read from /proc: the benches
// report each phase's cores by process, and flag a phase other work slowed.
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/**
 * CPU ticks of the whole machine (busy, total) and of every process by pid:
 * its name, its ticks, and for PostgreSQL processes their title (a backend's
 * names its database).
 */
export function cpuTicks() {
  const [, ...f] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  const byPid = new Map();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const rest = stat.slice(close + 2).split(' ');
      const name = stat.slice(stat.indexOf('(') + 1, close);
      byPid.set(pid, { name, title: name === 'postgres' ? readFileSync(`/proc/${pid}/cmdline`, 'latin1') : '', ticks: Number(rest[11]) + Number(rest[12]) });
    } catch {
      // The process ended while we looked.
    }
  }
  return { busy: total - f[3] - f[4], total, byPid };
}

/**
 * Cores used between two cpuTicks over `wall` seconds: by this process
 * (herald), by each process of `pids` (name → pid), by PostgreSQL (the
 * backends of `database` and the server's own processes: WAL writer,
 * checkpointer) and by everything else, other databases' backends included.
 */
export function coresUsed(before, after, wall, database, pids = {}) {
  const perTick = (availableParallelism() * wall) / (after.total - before.total);
  const used = { herald: 0, ...Object.fromEntries(Object.keys(pids).map((k) => [k, 0])), PostgreSQL: 0, other: 0 };
  const byPid = new Map(Object.entries(pids).map(([k, pid]) => [String(pid), k]));
  let named = 0;
  for (const [pid, p] of after.byPid) {
    const ticks = p.ticks - (before.byPid.get(pid)?.ticks ?? 0);
    if (ticks <= 0) continue;
    const backend = /\(\d+\)|\[local\]/.test(p.title);
    const who = pid === String(process.pid) ? 'herald' : byPid.get(pid)
      ?? (p.name === 'postgres' && (!backend || p.title.includes(` ${database} `)) ? 'PostgreSQL' : 'other');
    used[who] += (ticks * perTick) / wall;
    named += (ticks * perTick) / wall;
  }
  used.other += Math.max(0, ((after.busy - before.busy) * perTick) / wall - named);
  return used;
}
