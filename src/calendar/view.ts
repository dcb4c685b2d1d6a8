import { durationMs } from '../audience/duration.js';
import { contactPolicy, SENDING_STATUS, type SourceKind } from '../ledger/source.js';
import type { DeployObject } from '../state/objects.js';
import type { Campaign, Project, Segment, Trigger } from '../workspace/model.js';

/**
 * What the calendar is drawn from, decided without the database: the
 * deployed state (what apply wrote) with the workspace laid over it, so a
 * pull request's calendar shows the campaigns it adds or moves, marked as
 * not yet applied; then which campaigns are scheduled and which triggers
 * are active. Without a workspace the view is the deployed state alone.
 */

/** A campaign or trigger as the calendar sees it. */
export interface Source<T> {
  name: string;
  spec: T;
  hash: string;
  /** In the workspace with a spec the database does not have (new, or changed): apply would deploy it. */
  pending: boolean;
  /** Its spec comes from the workspace (changed or not). */
  inWorkspace: boolean;
}

export interface View {
  /** The workspace's project when there is one, else the deployed one; none before the first apply. */
  project: Project | undefined;
  segments: ReadonlyMap<string, Segment>;
  campaigns: Source<Campaign>[];
  triggers: Source<Trigger>[];
}

/** An override in force (herald pause, resume, cancel), by kind/name. */
export interface OverrideInForce {
  status: string;
  specHash: string;
}

/**
 * viewOf: the deployed objects (unarchived) with `desired` (the workspace's,
 * desiredObjects) laid over them by kind and name. A deployed object the
 * workspace no longer has stays: apply keeps it unless told to delete it.
 */
export function viewOf(deployed: readonly DeployObject[], desired?: readonly DeployObject[]): View {
  const byKey = new Map<string, { o: DeployObject; pending: boolean; inWorkspace: boolean }>();
  for (const o of deployed) byKey.set(`${o.kind}/${o.name}`, { o, pending: false, inWorkspace: false });
  for (const o of desired ?? []) {
    const was = byKey.get(`${o.kind}/${o.name}`);
    byKey.set(`${o.kind}/${o.name}`, { o, pending: was?.o.hash !== o.hash, inWorkspace: true });
  }
  const all = [...byKey.values()].sort((a, b) => (a.o.name < b.o.name ? -1 : a.o.name > b.o.name ? 1 : 0));
  const of = <T>(kind: string): Source<T>[] =>
    all.filter((x) => x.o.kind === kind).map((x) => ({ name: x.o.name, spec: x.o.spec as unknown as T, hash: x.o.hash, pending: x.pending, inWorkspace: x.inWorkspace }));
  return {
    project: all.find((x) => x.o.kind === 'project')?.o.spec as unknown as Project | undefined,
    segments: new Map(of<Segment>('segment').map((s) => [s.name, s.spec])),
    campaigns: of<Campaign>('campaign'),
    triggers: of<Trigger>('trigger'),
  };
}

/**
 * The status in force: an override's, else the spec's. apply clears an
 * override when the workspace's spec is not the one it was set against
 * (plan's "revert"), so for a spec from the workspace the override holds
 * only while the hashes match.
 */
export function statusInForce(kind: SourceKind, s: Source<{ status?: string }>, overrides: ReadonlyMap<string, OverrideInForce>): string {
  const o = overrides.get(`${kind}/${s.name}`);
  if (o && (!s.inWorkspace || o.specHash === s.hash)) return o.status;
  return s.spec.status ?? SENDING_STATUS[kind].default;
}

/** The frequency cap a campaign's messages are claimed under; null when it is exempt (frequency_cap: false) or there is none. */
export interface Cap {
  max: number;
  perSeconds: number;
  whenCapped: 'skip' | 'defer';
}

/** A campaign that has not launched and will at its time (or is held by a pause). */
export interface ScheduledSend {
  campaign: string;
  title: string;
  /** When the tick launches it: its schedule, or `now` when that has passed (or says `now`). */
  at: Date;
  /** schedule.at as written. */
  scheduled: string;
  /** Its time has come: the next tick launches it. */
  due: boolean;
  status: 'ready' | 'paused';
  pending: boolean;
  spec: Campaign;
  cap: Cap | null;
  /** With an A/B test and a time to come: when the winner goes to the rest of the audience (launch plus winner.after). */
  winnerAt?: Date;
}

/**
 * scheduledSends: every campaign with a schedule that has not launched
 * (`launched` holds those with a run) and is ready, or paused (shown, never
 * counted: it launches only when resumed). A draft or a cancelled campaign
 * never sends; one without a schedule waits for `herald send`. A schedule
 * in the past, or `now`, is launched by the next tick: it is placed at
 * `now`, as the tick reads it (an unreadable time launches too).
 */
export function scheduledSends(view: View, overrides: ReadonlyMap<string, OverrideInForce>, launched: ReadonlySet<string>, now: Date): ScheduledSend[] {
  const out: ScheduledSend[] = [];
  if (!view.project) return out;
  for (const c of view.campaigns) {
    if (launched.has(c.name) || !c.spec.schedule?.at) continue;
    const status = statusInForce('campaign', c, overrides);
    if (status !== 'ready' && status !== 'paused') continue;
    const time = new Date(c.spec.schedule.at).getTime();
    const due = !(time > now.getTime());
    const at = due ? now : new Date(time);
    const cap = contactPolicy('campaign', c.spec, view.project).cap ?? null;
    const ab = c.spec.ab_test;
    out.push({
      campaign: c.name,
      title: c.spec.title,
      at,
      scheduled: c.spec.schedule.at,
      due,
      status,
      pending: c.pending,
      spec: c.spec,
      cap,
      // A due campaign's launch time is the next tick's, not known yet: so is its winner's.
      ...(ab && !due ? { winnerAt: new Date(at.getTime() + durationMs(ab.winner.after)) } : {}),
    });
  }
  return out.sort((a, b) => a.at.getTime() - b.at.getTime() || (a.campaign < b.campaign ? -1 : 1));
}

/** The triggers that send: active in force. */
export function activeTriggers(view: View, overrides: ReadonlyMap<string, OverrideInForce>): Source<Trigger>[] {
  return view.triggers.filter((t) => statusInForce('trigger', t, overrides) === 'active');
}
