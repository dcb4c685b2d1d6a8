// Who used the CPU during a bench's phase, read from /proc: the benches
// report each phase's cores by process, and flag a phase other work slowed.
import { readdirSync, readFileSync } from 'node:fs';

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
