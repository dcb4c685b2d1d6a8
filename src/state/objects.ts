import { createHash } from 'node:crypto';
import { hashWorkspaceFile } from '../workspace/files.js';
import { smsText, type Workspace } from '../workspace/model.js';
import { expandIncludes } from '../render/partials.js';

/**
 * The unit of deployment: one workspace object reduced to plain JSON. plan
 * compares these by hash; apply stores them; send renders from the stored ones.
 */
export type ObjectKind = 'project' | 'segment' | 'list' | 'template' | 'campaign' | 'trigger';

export interface DeployObject {
  kind: ObjectKind;
  name: string;
  spec: Record<string, unknown>;
  hash: string;
}

/** Kinds in dependency order: what a later kind refers to is created first. */
export const KIND_ORDER: ObjectKind[] = ['project', 'list', 'segment', 'template', 'campaign', 'trigger'];

export function desiredObjects(ws: Workspace): DeployObject[] {
  const out: DeployObject[] = [object('project', 'herald', ws.project.spec as unknown as Record<string, unknown>)];
  for (const s of ws.segments.values()) out.push(object('segment', s.name, s.spec as unknown as Record<string, unknown>));
  for (const t of ws.templates.values()) {
    // Partials are inlined: a deployed template is self-contained, and a
    // changed partial shows in the plan as a change of each template using it.
    const bodies = Object.fromEntries(Object.entries(t.bodies).map(([locale, b]) => [locale, expandIncludes(b.text, b.file, ws.partials).text]));
    const texts = Object.fromEntries(Object.entries(t.texts).map(([locale, b]) => [locale, b.text]));
    // SMS and push have no includes: their files are deployed as written (an SMS without its trailing line breaks).
    const sms = Object.fromEntries(Object.entries(t.sms).map(([locale, f]) => [locale, smsText(f.text)]));
    const push = Object.fromEntries(Object.entries(t.push).map(([locale, e]) => [locale, e.spec]));
    out.push(object('template', t.name, {
      ...(t.spec as unknown as Record<string, unknown>),
      bodies,
      ...(Object.keys(texts).length ? { texts } : {}),
      ...(Object.keys(sms).length ? { sms } : {}),
      ...(Object.keys(push).length ? { push } : {}),
    }));
  }
  for (const l of ws.lists.values()) {
    // The CSV's content is part of the list: editing the file shows as a change.
    // A file validate refuses (missing, a link out of the workspace, too large) hashes as empty.
    const csv = hashWorkspaceFile(ws.dir, l.csv).sha256 ?? createHash('sha256').digest('hex');
    out.push(object('list', l.name, { ...(l.spec as unknown as Record<string, unknown>), csv_sha256: csv }));
  }
  for (const c of ws.campaigns.values()) out.push(object('campaign', c.name, c.spec as unknown as Record<string, unknown>));
  for (const t of ws.triggers.values()) out.push(object('trigger', t.name, t.spec as unknown as Record<string, unknown>));
  return out;
}

export function object(kind: ObjectKind, name: string, spec: Record<string, unknown>): DeployObject {
  return { kind, name, spec, hash: hashSpec(spec) };
}

/** sha256 of the canonical JSON (keys sorted), so key order in YAML never shows as a change. */
export function hashSpec(spec: unknown): string {
  return createHash('sha256').update(canonicalJson(spec)).digest('hex');
}

export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

export function objectKey(o: { kind: string; name: string }): string {
  return `${o.kind}/${o.name}`;
}
