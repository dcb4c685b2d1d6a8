import type { Breakdown } from '../audience/breakdown.js';
import { KIND_ORDER, objectKey, type DeployObject, type ObjectKind } from '../state/objects.js';
import { diffFields, type FieldChange } from './diff.js';
import type { ListDiff } from '../lists/diff.js';
import type { Facts, Override } from './facts.js';
import { fingerprint, reviewFingerprint } from './fingerprint.js';
import { applyRules, type Policy } from './rules.js';
import { targetScope } from './target.js';
import { smsCost, type SmsCost } from './sms-cost.js';

/**
 * The plan: a pure, versioned, serialisable value computed from the workspace
 * and the deployed state (with a few facts read from the database). Computing
 * it writes nothing. A saved plan carries everything apply needs, so apply
 * does exactly what was reviewed.
 */
export const PLAN_VERSION = 2;

export type Action = 'create' | 'update' | 'delete' | 'archive' | 'unchanged' | 'refused';

export interface Change {
  action: Action;
  kind: ObjectKind;
  name: string;
  /** Hash of the desired spec (create, update, unchanged). */
  hash?: string;
  /** Field-level differences (update, and a refused update). */
  fields?: FieldChange[];
  /** For a refused change: what the workspace asked for, why not, and how to proceed. */
  wanted?: 'create' | 'update' | 'delete';
  reason?: string;
  hint?: string;
}

/** A campaign whose deployed status was changed outside git. */
export interface Drift {
  kind: 'campaign' | 'trigger';
  name: string;
  override: Override;
  /** The status the workspace file asks for. */
  workspaceStatus: string;
  /** revert: the file changed since, so apply restores it; keep: apply leaves the override alone. */
  resolution: 'revert' | 'keep';
}

export interface Plan {
  version: typeof PLAN_VERSION;
  createdAt: string;
  gitCommit: string | null;
  environment: string | null;
  /** `--target kind/name`: the plan holds only that object and what it uses. */
  target?: string;
  /** The commit the target database runs now (its last apply). */
  deployedCommit: string | null;
  /** The deployed state this plan was computed against, item by item, and its hash. */
  basis: Record<string, string>;
  fingerprint: string;
  /** What a reviewer approves: reviewFingerprint() of this plan, for `herald apply --reviewed`. */
  review: string;
  changes: Change[];
  drift: Drift[];
  /** The volume breakdown of each campaign this plan creates or changes, with the last applied size. */
  audiences: AudienceLine[];
  /** Lists whose CSV changed: how many members come and go. */
  lists: Record<string, ListDiff>;
  /**
   * Each active trigger this plan enables or changes: what its first sweep
   * would send now, and what the back-fill horizon keeps back (from the
   * sweep's own SQL, counted, never written).
   */
  triggers?: TriggerLine[];
  warnings: string[];
  /** The desired specs of every create and update: what apply writes. */
  objects: DeployObject[];
  summary: Record<Action, number>;
}

export interface TriggerLine {
  trigger: string;
  wouldSend: number | null;
  skippedByHorizon: number | null;
  /** Why it could not be counted. */
  note?: string;
}

/** A campaign's audience as plan measured it: the breakdown, and its recipients against the last apply's. */
export interface AudienceLine {
  campaign: string;
  recipients: number | null;
  previous: number | null;
  breakdown?: Breakdown;
  /** Why the audience could not be measured. */
  note?: string;
  /** A campaign that sends SMS: parts × recipients, and the cost when herald.yaml gives a price per part. */
  sms?: SmsCost;
}

export interface PlanInput {
  desired: readonly DeployObject[];
  facts: Facts;
  policy: Policy;
  now: Date;
  allowDelete?: boolean;
  gitCommit?: string | null;
  environment?: string | null;
  /** How each changed list's membership would move. */
  listDiffs?: Record<string, ListDiff>;
  /** `kind/name`: plan only that object and what it uses; everything else stays as deployed. */
  target?: string;
}

export function computePlan(input: PlanInput): Plan {
  const { facts } = input;
  const scope = input.target ? targetScope(input.target, input.desired, facts.deployed) : undefined;
  const inScope = (key: string) => !scope || scope.keep.has(key);
  const desired = scope ? scope.desired : input.desired;
  const before = new Map(facts.deployed.map((o) => [objectKey(o), o]));
  const after = new Map(desired.map((o) => [objectKey(o), o]));
  let changes: Change[] = [];
  for (const o of desired) {
    const old = before.get(objectKey(o));
    if (!old) changes.push({ action: 'create', kind: o.kind, name: o.name, hash: o.hash });
    else if (old.hash === o.hash && !old.archivedAt) changes.push({ action: 'unchanged', kind: o.kind, name: o.name, hash: o.hash });
    else changes.push({ action: 'update', kind: o.kind, name: o.name, hash: o.hash, fields: diffFields(old.spec, o.spec) });
  }
  for (const o of facts.deployed) {
    if (!after.has(objectKey(o)) && !o.archivedAt) changes.push({ action: 'delete', kind: o.kind, name: o.name });
  }
  const ruled = applyRules(changes, { ...input, desiredByKey: after, deployedByKey: before });
  changes = ruled.changes.filter((c) => inScope(objectKey(c))).sort(byDependency);
  const drift = driftOf(desired, facts).filter((d) => inScope(`${d.kind}/${d.name}`));
  const summary: Record<Action, number> = { create: 0, update: 0, delete: 0, archive: 0, unchanged: 0, refused: 0 };
  for (const c of changes) summary[c.action]++;
  const writes = new Set(changes.filter((c) => c.action === 'create' || c.action === 'update').map(objectKey));
  const basis = fingerprint(facts);
  const plan: Omit<Plan, 'review'> = {
    version: PLAN_VERSION,
    createdAt: input.now.toISOString(),
    gitCommit: input.gitCommit ?? null,
    environment: input.environment ?? null,
    ...(input.target ? { target: input.target } : {}),
    deployedCommit: facts.deployedCommit,
    basis: basis.items,
    fingerprint: basis.hash,
    changes,
    drift,
    audiences: ruled.audiences.filter((a) => inScope(`campaign/${a.campaign}`)).map((a) => withSms(withBreakdown(a, facts), desired)),
    lists: Object.fromEntries(Object.entries(input.listDiffs ?? {}).filter(([name]) => inScope(`list/${name}`))),
    warnings: [...ruled.warnings, ...facts.shopWarnings, ...drift.filter((d) => d.resolution === 'keep').map(keptDriftWarning)],
    objects: desired.filter((o) => writes.has(objectKey(o))),
    summary,
  };
  return { ...plan, review: reviewFingerprint(plan) };
}

export function hasChanges(plan: Plan): boolean {
  const s = plan.summary;
  return s.create + s.update + s.delete + s.archive > 0 || plan.drift.some((d) => d.resolution === 'revert');
}

/** A campaign that sends SMS carries what its SMS cost. */
function withSms(a: AudienceLine, desired: readonly DeployObject[]): AudienceLine {
  const sms = smsCost(a, desired);
  return sms ? { ...a, sms } : a;
}

/** The rules size each audience; the breakdown behind the size comes along for the reader. */
function withBreakdown(a: AudienceLine, facts: Facts): AudienceLine {
  const breakdown = facts.breakdowns.get(a.campaign);
  return breakdown ? { ...a, breakdown } : a;
}

function driftOf(desired: readonly DeployObject[], facts: Facts): Drift[] {
  const out: Drift[] = [];
  for (const override of facts.overrides.values()) {
    const want = desired.find((o) => o.kind === override.kind && o.name === override.name);
    if (!want) continue;
    const workspaceStatus = String(want.spec.status ?? (override.kind === 'campaign' ? 'draft' : 'paused'));
    out.push({ kind: override.kind, name: override.name, override, workspaceStatus, resolution: want.hash === override.specHash ? 'keep' : 'revert' });
  }
  return out;
}

function keptDriftWarning(d: Drift): string {
  return `${d.kind}/${d.name} stays ${d.override.status} (set by ${d.override.setBy} at ${d.override.setAt}: ${d.override.reason}); its file has not changed since, so apply keeps the emergency change. Edit ${d.kind}s/${d.name}.yaml to take it back.`;
}

/**
 * Creates and updates in dependency order (segments before the campaigns that
 * use them); deletes last and in reverse, so nothing ever points at a gap.
 */
function byDependency(a: Change, b: Change): number {
  const late = (c: Change) => Number(c.action === 'delete' || c.action === 'archive' || c.wanted === 'delete');
  const d = late(a) - late(b);
  if (d !== 0) return d;
  const order = KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind);
  if (order !== 0) return late(a) ? -order : order;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
