import { createHash } from 'node:crypto';
import type { Facts } from './facts.js';

/**
 * The deployed state a plan was computed against, as named items (one per
 * object, override and run) and one hash over them. apply compares items to
 * say exactly what changed since a saved plan was made.
 */
export function fingerprint(facts: Facts): { items: Record<string, string>; hash: string } {
  const items: Record<string, string> = {};
  for (const o of facts.deployed) items[`${o.kind}/${o.name}`] = `v${o.version} ${o.hash.slice(0, 12)}${o.archivedAt ? ' archived' : ''}`;
  for (const [c, o] of facts.overrides) items[`override/${c}`] = `${o.status} by ${o.setBy} at ${o.setAt}`;
  for (const [c, r] of facts.runs) items[`run/${c}`] = r.phase;
  const keys = Object.keys(items).sort();
  const hash = createHash('sha256').update(keys.map((k) => `${k}=${items[k]}`).join('\n')).digest('hex');
  return { items: Object.fromEntries(keys.map((k) => [k, items[k]!])), hash };
}

/** What differs between the state a plan saw and the state now, in words. */
export function describeStaleness(then: Record<string, string>, now: Record<string, string>): string[] {
  const out: string[] = [];
  for (const k of new Set([...Object.keys(then), ...Object.keys(now)])) {
    if (then[k] === now[k]) continue;
    if (then[k] === undefined) out.push(`${k} appeared (${now[k]})`);
    else if (now[k] === undefined) out.push(`${k} is gone (was ${then[k]})`);
    else out.push(`${k} changed: ${then[k]} → ${now[k]}`);
  }
  return out.sort();
}
