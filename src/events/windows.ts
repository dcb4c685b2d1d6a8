import { durationMs } from '../audience/duration.js';
import type { Campaign, Project, Trigger } from '../workspace/model.js';
import type { Attribution } from '../workspace/types.gen.js';

/**
 * Attribution windows: how long after a person's click (or open, where
 * opens count) an order still counts for the message. Set in herald.yaml
 * (tracking.attribution), per site (sites[].attribution) and per campaign or
 * trigger (tracking.attribution), as a shop's CRM lets its marketers set
 * them. Each field is taken from the most specific place that sets it: the
 * message's source, then the message's site, then herald.yaml, then the
 * defaults (5 days after a click, 1 day after an open, opens not counted).
 */

export const ATTRIBUTION_DEFAULTS = { click_window: '5d', open_window: '1d', opens: false } as const;

/** A window in seconds, as the attribution query takes it. */
export interface Window {
  clickSeconds: number;
  openSeconds: number;
  opens: boolean;
}

/** What one place sets, field by field (null: not set here, ask the next). */
export interface PartialWindow {
  clickSeconds: number | null;
  openSeconds: number | null;
  opens: boolean | null;
}

/** Every place's settings, for the attribution query to resolve per message (src/events/attribution.ts). */
export interface WindowTable {
  /** herald.yaml over the defaults: complete. */
  project: Window;
  sites: ({ site: string } & PartialWindow)[];
  sources: ({ kind: 'campaign' | 'trigger'; name: string } & PartialWindow)[];
  /** The longest window anywhere: how far before a pass's first order a touch can still count. */
  longestSeconds: number;
  /** Some window counts opens: without one the pass reads clicks alone (people open far more often than they click). */
  anyOpens: boolean;
}

const seconds = (d: string | undefined): number | null => (d === undefined ? null : durationMs(d) / 1000);

function partial(a: Attribution | undefined): PartialWindow {
  return { clickSeconds: seconds(a?.click_window), openSeconds: seconds(a?.open_window), opens: a?.opens ?? null };
}

/** The windows of herald.yaml, its sites, and the given campaigns and triggers (deployed specs, archived ones too: their messages still bring orders). */
export function windowTable(project: Project, sources: readonly { kind: 'campaign' | 'trigger'; name: string; spec: Campaign | Trigger }[]): WindowTable {
  const p = partial(project.tracking?.attribution);
  const base: Window = {
    clickSeconds: p.clickSeconds ?? durationMs(ATTRIBUTION_DEFAULTS.click_window) / 1000,
    openSeconds: p.openSeconds ?? durationMs(ATTRIBUTION_DEFAULTS.open_window) / 1000,
    opens: p.opens ?? ATTRIBUTION_DEFAULTS.opens,
  };
  const sites = project.sites.filter((s) => s.attribution).map((s) => ({ site: s.id, ...partial(s.attribution) }));
  const own = sources.filter((s) => s.spec.tracking?.attribution).map((s) => ({ kind: s.kind, name: s.name, ...partial(s.spec.tracking!.attribution) }));
  const all = [base, ...sites, ...own];
  const longestSeconds = Math.max(...all.flatMap((w) => [w.clickSeconds ?? 0, w.openSeconds ?? 0]));
  const anyOpens = base.opens || [...sites, ...own].some((w) => w.opens === true);
  return { project: base, sites, sources: own, longestSeconds, anyOpens };
}

/** The window in force for one message of `source` on `site`: the same resolution as the query's, for reports and lift. */
export function windowFor(t: WindowTable, site: string | undefined, source?: { kind: string; name: string }): Window {
  const s = source ? t.sources.find((x) => x.kind === source.kind && x.name === source.name) : undefined;
  const w = site ? t.sites.find((x) => x.site === site) : undefined;
  return {
    clickSeconds: s?.clickSeconds ?? w?.clickSeconds ?? t.project.clickSeconds,
    openSeconds: s?.openSeconds ?? w?.openSeconds ?? t.project.openSeconds,
    opens: s?.opens ?? w?.opens ?? t.project.opens,
  };
}
