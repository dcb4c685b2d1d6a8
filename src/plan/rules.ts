import { objectKey, type DeployObject } from '../state/objects.js';
import type { Change, AudienceLine, PlanInput } from './plan.js';
import { conditionRefs } from '../workspace/rules.js';
import type { Campaign, Condition, Segment, Trigger } from '../workspace/model.js';
import { inQuietHours, type QuietHours } from './time.js';

/**
 * Lifecycle and safety rules, enforced in plan so a refusal is seen in review,
 * never discovered halfway through apply. Each rule is a small function that
 * turns changes into refusals (or archives) with a reason and a way forward.
 */
export interface Policy {
  maxAudience?: number;
  quietHours?: QuietHours;
  timezone: string;
}

interface RuleContext extends PlanInput {
  desiredByKey: Map<string, DeployObject>;
  deployedByKey: Map<string, DeployObject>;
}

/** Fields of a campaign that define what it sends and to whom: frozen once it has started. */
const FROZEN = ['audience', 'template', 'ab_test', 'products', 'site', 'sites', 'control_group', 'personalized_greeting'];

export function applyRules(changes: Change[], ctx: RuleContext): { changes: Change[]; warnings: string[]; audiences: AudienceLine[] } {
  const warnings: string[] = [];
  let out = changes.map((c) => frozenWhileSending(c, ctx) ?? c);
  out = out.map((c) => archiveCampaignWithHistory(c, ctx) ?? c);
  out = out.map((c) => refuseUnapprovedDelete(c, ctx) ?? c);
  out = refuseDeletesStillUsed(out, ctx);
  const audiences: AudienceLine[] = [];
  out = out.map((c) => shopProblems(c, ctx, warnings) ?? scheduleRules(c, ctx) ?? audiencePolicy(c, ctx, audiences, warnings) ?? c);
  return { changes: out, warnings, audiences };
}

function refuse(c: Change, reason: string, hint: string): Change {
  const wanted = c.action === 'create' || c.action === 'update' || c.action === 'delete' ? c.action : undefined;
  return { ...c, action: 'refused', ...(wanted ? { wanted } : {}), reason, hint };
}

/** Once a campaign has started sending, what it sends and to whom cannot change; its status can. */
function frozenWhileSending(c: Change, ctx: RuleContext): Change | undefined {
  if (c.kind !== 'campaign' || c.action !== 'update') return undefined;
  const run = ctx.facts.runs.get(`${c.kind}/${c.name}`);
  if (!run) return undefined;
  const frozen = (c.fields ?? []).filter((f) => FROZEN.includes(f.path.split('.')[0]!));
  if (frozen.length === 0) return undefined;
  return refuse(
    c,
    `campaign "${c.name}" has started sending (${run.phase}, ${run.messages} messages); ${frozen.map((f) => f.path).join(', ')} can no longer change`,
    `set status: paused or cancelled to stop it, or copy campaigns/${c.name}.yaml to a new name for a new campaign; restore the other fields to apply`,
  );
}

/** Deleting the file of a campaign that sent anything archives it: its ledger and reports stay. */
function archiveCampaignWithHistory(c: Change, ctx: RuleContext): Change | undefined {
  if (c.kind !== 'campaign' || c.action !== 'delete') return undefined;
  const run = ctx.facts.runs.get(`${c.kind}/${c.name}`);
  if (!run || run.messages === 0) return undefined;
  return { ...c, action: 'archive', reason: `it has ${run.messages} messages in its ledger; archived, never destroyed` };
}

/** Deleting a segment, list or template that an object staying deployed still uses is refused. */
function refuseDeletesStillUsed(changes: Change[], ctx: RuleContext): Change[] {
  let out = changes;
  // Refusing one delete keeps its object deployed, and it may use another: repeat until stable.
  for (;;) {
    const staying = new Map(ctx.desiredByKey);
    for (const c of out) {
      if (c.action === 'refused' && c.wanted === 'delete') staying.set(objectKey(c), ctx.deployedByKey.get(objectKey(c))!);
    }
    let changed = false;
    out = out.map((c) => {
      const deleting = c.action === 'delete' || (c.action === 'refused' && c.wanted === 'delete' && !c.reason?.includes('still used'));
      if (!deleting || !['segment', 'list', 'template'].includes(c.kind)) return c;
      const users = usersOf(c.kind, c.name, staying.values());
      if (users.length === 0) return c;
      changed = true;
      // Being in use is the stronger reason: --allow-delete would not help.
      return refuse({ ...c, action: 'delete' }, `${c.kind} "${c.name}" is still used by ${users.join(', ')}`, `remove it from ${users.length === 1 ? 'that object' : 'those objects'} first, or keep the file`);
    });
    if (!changed) return out;
  }
}

function usersOf(kind: string, name: string, objects: Iterable<DeployObject>): string[] {
  const users: string[] = [];
  for (const o of objects) {
    if (!o) continue;
    if (referencesOf(o).some((r) => r.kind === kind && r.name === name)) users.push(objectKey(o));
  }
  return users.sort();
}

/** The segments, lists and templates an object uses. */
export function referencesOf(o: DeployObject): { kind: string; name: string }[] {
  const fromCondition = (c: Condition | undefined) => (c ? conditionRefs(c, []).map((r) => ({ kind: r.kind, name: r.name })) : []);
  if (o.kind === 'segment') return fromCondition((o.spec as unknown as Segment).where);
  if (o.kind === 'trigger') {
    const t = o.spec as unknown as Trigger;
    return [{ kind: 'template', name: t.template }, ...fromCondition(t.audience)];
  }
  if (o.kind === 'campaign') {
    const c = o.spec as unknown as Campaign;
    const a = c.audience;
    return [
      ...[a.segment, ...(a.segments ?? []), ...(a.exclude ?? [])].filter((x): x is string => !!x).map((name) => ({ kind: 'segment', name })),
      ...[a.list, ...(a.lists ?? [])].filter((x): x is string => !!x).map((name) => ({ kind: 'list', name })),
      ...[c.template, ...(c.ab_test?.variants ?? []).map((v) => v.template)].filter((x): x is string => !!x).map((name) => ({ kind: 'template', name })),
    ];
  }
  return [];
}

/** Any other delete needs --allow-delete. */
function refuseUnapprovedDelete(c: Change, ctx: RuleContext): Change | undefined {
  if (c.action !== 'delete' || ctx.allowDelete) return undefined;
  return refuse(c, `deleting ${c.kind} "${c.name}" needs --allow-delete`, 'rerun plan and apply with --allow-delete if you mean it, or restore the file');
}

/** What only the shop's database can tell: SKUs that do not exist, sql: that does not plan. */
function shopProblems(c: Change, ctx: RuleContext, warnings: string[]): Change | undefined {
  if (c.action !== 'create' && c.action !== 'update') return undefined;
  const problems = ctx.facts.shopProblems.get(objectKey(c));
  if (!problems?.length) return undefined;
  // A draft sends nothing yet: warn now, refuse once it is ready.
  const spec = ctx.desiredByKey.get(objectKey(c))!.spec as { status?: string };
  if (c.kind === 'campaign' && spec.status !== 'ready') {
    warnings.push(`${c.kind}/${c.name}: ${problems.join('; ')} (refused once it is ready)`);
    return undefined;
  }
  return refuse(c, `${c.kind} "${c.name}": ${problems.join('; ')}`, c.kind === 'campaign' ? 'check the SKUs against the shop, or remove them from products' : 'fix the sql: so it runs against the shop data contract and returns customer_id');
}

/** A ready campaign's schedule: not in the past (unless `now`), not inside quiet hours. */
function scheduleRules(c: Change, ctx: RuleContext): Change | undefined {
  if (c.kind !== 'campaign' || (c.action !== 'create' && c.action !== 'update')) return undefined;
  if (ctx.facts.runs.has(`${c.kind}/${c.name}`)) return undefined;
  const spec = ctx.desiredByKey.get(objectKey(c))!.spec as unknown as Campaign;
  const at = spec.schedule?.at;
  if (!at || at === 'now' || spec.status !== 'ready') return undefined;
  const when = new Date(at);
  if (when.getTime() < ctx.now.getTime()) {
    return refuse(c, `campaign "${c.name}" is scheduled in the past (${at})`, 'set a future time, or schedule.at: now to send at the next run');
  }
  if (ctx.policy.quietHours && inQuietHours(when, ctx.policy.quietHours, ctx.policy.timezone)) {
    const q = ctx.policy.quietHours;
    return refuse(c, `campaign "${c.name}" is scheduled at ${at}, inside quiet hours (${q.start}–${q.end} ${ctx.policy.timezone})`, 'move schedule.at outside quiet hours');
  }
  return undefined;
}

/** Shows the audience of each new or changed ready campaign, and enforces policy.max_audience. */
function audiencePolicy(c: Change, ctx: RuleContext, audiences: AudienceLine[], warnings: string[]): Change | undefined {
  if (c.kind !== 'campaign' || (c.action !== 'create' && c.action !== 'update')) return undefined;
  const size = ctx.facts.audienceSizes.get(c.name);
  if (size === undefined) return undefined;
  const previous = ctx.facts.lastAudience.get(c.name) ?? null;
  if (typeof size !== 'number') {
    audiences.push({ campaign: c.name, recipients: null, previous, note: size.error });
    warnings.push(`campaign/${c.name}: audience size unknown: ${size.error}`);
    return undefined;
  }
  audiences.push({ campaign: c.name, recipients: size, previous });
  const max = ctx.policy.maxAudience;
  const spec = ctx.desiredByKey.get(objectKey(c))!.spec as unknown as Campaign;
  if (max !== undefined && size > max && (spec.approve_audience_over ?? 0) < size) {
    return refuse(
      c,
      `campaign "${c.name}" would send to ${size} recipients, over the policy maximum of ${max}`,
      `if that is intended, add approve_audience_over: ${size} (or more) to campaigns/${c.name}.yaml`,
    );
  }
  return undefined;
}
