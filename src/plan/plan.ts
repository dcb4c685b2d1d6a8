import { KIND_ORDER, objectKey, type DeployObject, type ObjectKind } from '../state/objects.js';
import { diffFields, type FieldChange } from './diff.js';

/**
 * The plan: a pure, serialisable value computed from (workspace, deployed
 * state). Computing it writes nothing; apply is a separate step.
 */
export const PLAN_VERSION = 1;

export type Action = 'create' | 'update' | 'delete' | 'unchanged';

export interface Change {
  action: Action;
  kind: ObjectKind;
  name: string;
  /** Hash of the desired spec (create, update, unchanged). */
  hash?: string;
  /** Field-level differences (update). */
  fields?: FieldChange[];
}

export interface Plan {
  version: typeof PLAN_VERSION;
  changes: Change[];
  summary: Record<Action, number>;
}

export function computePlan(desired: readonly DeployObject[], deployed: readonly DeployObject[]): Plan {
  const before = new Map(deployed.map((o) => [objectKey(o), o]));
  const after = new Map(desired.map((o) => [objectKey(o), o]));
  const changes: Change[] = [];
  for (const o of desired) {
    const old = before.get(objectKey(o));
    if (!old) changes.push({ action: 'create', kind: o.kind, name: o.name, hash: o.hash });
    else if (old.hash === o.hash) changes.push({ action: 'unchanged', kind: o.kind, name: o.name, hash: o.hash });
    else changes.push({ action: 'update', kind: o.kind, name: o.name, hash: o.hash, fields: diffFields(old.spec, o.spec) });
  }
  for (const o of deployed) {
    if (!after.has(objectKey(o))) changes.push({ action: 'delete', kind: o.kind, name: o.name });
  }
  changes.sort(byDependency);
  const summary: Record<Action, number> = { create: 0, update: 0, delete: 0, unchanged: 0 };
  for (const c of changes) summary[c.action]++;
  return { version: PLAN_VERSION, changes, summary };
}

export function hasChanges(plan: Plan): boolean {
  return plan.summary.create + plan.summary.update + plan.summary.delete > 0;
}

/**
 * Creates and updates in dependency order (segments before the campaigns that
 * use them); deletes last and in reverse, so nothing ever points at a gap.
 */
function byDependency(a: Change, b: Change): number {
  const del = Number(a.action === 'delete') - Number(b.action === 'delete');
  if (del !== 0) return del;
  const order = KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind);
  if (order !== 0) return a.action === 'delete' ? -order : order;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
