import { UserError } from '../errors.js';
import { objectKey, type DeployObject } from '../state/objects.js';
import type { DeployedObject } from '../state/queries.js';
import { referencesOf } from './rules.js';

/** `--target kind/name`: that object and everything it depends on, in the workspace or deployed. */
export function targetClosure(target: string, desired: readonly DeployObject[], deployed: readonly DeployObject[]): Set<string> {
  const all = new Map<string, DeployObject>();
  for (const o of deployed) all.set(objectKey(o), o);
  for (const o of desired) all.set(objectKey(o), o);
  if (!/^[a-z]+\/[a-z0-9][a-z0-9_-]*$/.test(target) || !all.has(target)) {
    throw new UserError(`--target ${target} names no object in the workspace or the deployed state`, 'write kind/name, e.g. campaign/winback or segment/lapsed');
  }
  // The project carries sites and sender addresses: everything depends on it.
  const keep = new Set<string>(['project/herald']);
  const visit = (key: string) => {
    if (keep.has(key) && key !== 'project/herald') return;
    keep.add(key);
    const o = all.get(key);
    if (o) for (const r of referencesOf(o)) visit(`${r.kind}/${r.name}`);
  };
  visit(target);
  return keep;
}

/**
 * What a targeted plan compares with the deployed state: the workspace's
 * objects inside the target's closure, and every other object as it is
 * deployed, since a targeted apply leaves those alone. The rules then see
 * the world as it will be after the apply (a segment an untouched campaign
 * still uses cannot be deleted), and the plan is made against the whole
 * deployed state, which is what apply checks a plan's freshness against.
 */
export function targetScope(
  target: string,
  desired: readonly DeployObject[],
  deployed: readonly DeployedObject[],
): { keep: Set<string>; desired: DeployObject[] } {
  const keep = targetClosure(target, desired, deployed);
  const staying = deployed
    .filter((o) => !keep.has(objectKey(o)) && !o.archivedAt)
    .map((o): DeployObject => ({ kind: o.kind, name: o.name, spec: o.spec, hash: o.hash }));
  return { keep, desired: [...desired.filter((o) => keep.has(objectKey(o))), ...staying] };
}
