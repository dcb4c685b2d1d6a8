import type { Campaign, Condition, List, Preview, Project, Segment, Site, Template, Trigger } from './types.gen.js';
import type { PathSegment, YamlSource } from './source.js';

export type {
  Campaign,
  Condition,
  List,
  PerLocale,
  Preview,
  Project,
  Segment,
  Sender,
  Site,
  Template,
  Tracking,
  Trigger,
  Utm,
  Variant,
} from './types.gen.js';

/** One object read from the workspace, with the source it came from. */
export interface Entry<T> {
  name: string;
  spec: T;
  source: YamlSource;
}

/** A file of the workspace, by its path relative to the root. */
export interface TextFile {
  file: string;
  text: string;
}

/** A template's metadata plus one MJML body, and optionally one plain-text part, per locale. */
export interface TemplateEntry extends Entry<Template> {
  /** locale → MJML source, as written (partials not yet inlined). */
  bodies: Record<string, TextFile>;
  /** locale → plain-text part. */
  texts: Record<string, TextFile>;
  /** preview.yaml: sample data for herald preview and test-send. */
  preview?: Entry<Preview>;
}

/** A list definition; its CSV is read by the list checks and by import. */
export interface ListEntry extends Entry<List> {
  /** The CSV's path relative to the workspace root. */
  csv: string;
}

/** The whole workspace as plain values: what `validate` checks and `plan` diffs. */
export interface Workspace {
  dir: string;
  project: Entry<Project>;
  segments: Map<string, Entry<Segment>>;
  lists: Map<string, ListEntry>;
  templates: Map<string, TemplateEntry>;
  /** templates/_partials/<file> → source, shared by templates through <mj-include>. */
  partials: Map<string, TextFile>;
  campaigns: Map<string, Entry<Campaign>>;
  triggers: Map<string, Entry<Trigger>>;
}

/** The sites a campaign (or trigger) sends for, whichever of `site` / `sites` it used. */
export function campaignSites(c: { site?: string; sites?: string[] }): string[] {
  return c.sites ?? (c.site ? [c.site] : []);
}

export const SOURCE_SCHEMA_DEFAULT = 'shop';
export const CANCELLED_DEFAULT = ['cancelled'];
export const OPEN_DEFAULT = ['new', 'paid', 'shipped'];

export function sourceSchema(p: Project): string {
  return p.source?.schema ?? SOURCE_SCHEMA_DEFAULT;
}

/** The time zone of a site's customers: the site's own, else the workspace's default, else UTC. */
export function siteTimeZone(p: Project, site: Site): string {
  return site.timezone ?? p.defaults?.timezone ?? 'UTC';
}

export function cancelledStatuses(p: Project): string[] {
  return p.source?.cancelled_statuses ?? CANCELLED_DEFAULT;
}

export function openStatuses(p: Project): string[] {
  return p.source?.open_statuses ?? OPEN_DEFAULT;
}

/**
 * Every condition in a tree, parents before children, each with its path:
 * the one walk over all / any / not that the checks and the planner share.
 */
export function eachCondition(c: Condition, path: PathSegment[], visit: (c: Condition, path: PathSegment[]) => void): void {
  visit(c, path);
  c.all?.forEach((x, i) => eachCondition(x, [...path, 'all', i], visit));
  c.any?.forEach((x, i) => eachCondition(x, [...path, 'any', i], visit));
  if (c.not) eachCondition(c.not, [...path, 'not'], visit);
}
