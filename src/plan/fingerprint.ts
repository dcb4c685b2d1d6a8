import { createHash } from 'node:crypto';
import type { Facts } from './facts.js';
import type { Plan } from './plan.js';

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

/**
 * What a reviewer approved, as one hash: the environment and target, every
 * change with the spec hash it writes and the deployed version it replaces,
 * and every drift resolution. Not the time, the git commit, the audience
 * sizes, nor the progress of sends in between: the merge commit differs from
 * the pull request's head, and audiences and runs move with the shop, but
 * none of them changes what apply writes. The pull request's comment carries
 * it; on merge, `herald apply --reviewed` plans again and applies only when
 * the new plan has the same one.
 */
export function reviewFingerprint(plan: Pick<Plan, 'environment' | 'target' | 'basis' | 'changes' | 'drift'>): string {
  const content = {
    environment: plan.environment ?? null,
    target: plan.target ?? null,
    changes: plan.changes.map((c) => [c.action, c.kind, c.name, c.hash ?? null, c.wanted ?? null, plan.basis[`${c.kind}/${c.name}`] ?? null]),
    drift: plan.drift.map((d) => [d.kind, d.name, d.override.status, d.override.setAt, d.resolution]),
  };
  return createHash('sha256').update(JSON.stringify(content)).digest('hex');
}
