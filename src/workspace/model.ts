import type { Campaign, Condition, List, Preview, Project, PushNotification, Segment, Site, Template, Trigger } from './types.gen.js';
import type { PathSegment, YamlSource } from './source.js';

export type {
  Campaign,
  Condition,
  List,
  PerLocale,
  Preview,
  Project,
  PushNotification,
  PushSettings,
  Segment,
  SmsSettings,
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

/**
 * A template's metadata plus, per locale, what each channel sends: an MJML
 * body and optionally a plain-text part for email, an SMS text, a push
 * notification. A template may serve only some channels.
 */
export interface TemplateEntry extends Entry<Template> {
  /** locale → MJML source, as written (partials not yet inlined). */
  bodies: Record<string, TextFile>;
  /** locale → plain-text part. */
  texts: Record<string, TextFile>;
  /** locale → sms.<locale>.txt, as written. */
  sms: Record<string, TextFile>;
  /** locale → push.<locale>.yaml that passed its schema. */
  push: Record<string, Entry<PushNotification>>;
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

/**
 * An SMS as sent: the file's text without the line breaks an editor leaves
 * at its end, which would otherwise cost characters in every message.
 */
export function smsText(text: string): string {
  return text.replace(/[\r\n]+$/, '');
}

/** Parts an SMS may take before validate warns, unless herald.yaml says otherwise. */
export const SMS_MAX_PARTS_DEFAULT = 3;

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
