import type { Campaign, Project, Segment, Template } from './types.gen.js';
import type { YamlSource } from './source.js';

export type { Campaign, Project, Segment, Template, Site, Condition } from './types.gen.js';

/** One object read from the workspace, with the source it came from. */
export interface Entry<T> {
  name: string;
  spec: T;
  source: YamlSource;
}

/** A template's metadata plus one MJML body per locale. */
export interface TemplateEntry extends Entry<Template> {
  /** locale → MJML source and its file. */
  bodies: Record<string, { file: string; mjml: string }>;
}

/** The whole workspace as plain values: what `validate` checks and `plan` diffs. */
export interface Workspace {
  dir: string;
  project: Entry<Project>;
  segments: Map<string, Entry<Segment>>;
  templates: Map<string, TemplateEntry>;
  campaigns: Map<string, Entry<Campaign>>;
}

/** The sites a campaign sends for, whichever of `site` / `sites` it used. */
export function campaignSites(c: Campaign): string[] {
  return c.sites ?? (c.site ? [c.site] : []);
}

export const SOURCE_SCHEMA_DEFAULT = 'shop';

export function sourceSchema(p: Project): string {
  return p.source?.schema ?? SOURCE_SCHEMA_DEFAULT;
}
