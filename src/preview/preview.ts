import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { siteHosts } from '../render/link-check.js';
import type { Workspace } from '../workspace/model.js';
import { screenshots as takeScreenshots } from './browser.js';
import { affectedBy, changedFiles } from './changed.js';
import { checkPreviewOut } from './out.js';
import { previewCells, renderCells, type RenderedCell } from './render.js';
import type { Samples } from './samples.js';
import { previewSummary, publish, writePreviewFiles, type PreviewSummary } from './write.js';

export interface PreviewOptions {
  out: string;
  samples: Samples;
  now: Date;
  screenshots?: boolean;
  /** Only what changed since this git ref. */
  changedSince?: string;
}

export interface PreviewResult {
  summary: PreviewSummary;
  cells: RenderedCell[];
  /** Files changed since the ref, with --changed-since. */
  changed?: string[];
}

/**
 * `herald preview`: render the cells, write them (and screenshots) into a
 * staging folder beside `out`, then move it into place, replacing `out`
 * when checkPreviewOut (out.ts) lets it.
 */
export async function buildPreview(ws: Workspace, o: PreviewOptions): Promise<PreviewResult> {
  // Before rendering, and before a staging folder is made beside it (in .git, say).
  checkPreviewOut(o.out, ws.dir);
  const changed = o.changedSince !== undefined ? changedFiles(ws.dir, o.changedSince) : undefined;
  const keep = changed ? affectedBy(ws, changed) : undefined;
  const cells = await renderCells(ws, previewCells(ws, o.samples, keep), o.samples, o.now);
  const summary = previewSummary(cells, o.samples.description, o.now, !!o.screenshots);
  const note = o.changedSince !== undefined ? `Only what changed since ${o.changedSince}.` : undefined;
  mkdirSync(dirname(o.out), { recursive: true });
  const staging = mkdtempSync(join(dirname(o.out), `.${basename(o.out)}-`));
  try {
    writePreviewFiles(staging, cells, summary, note);
    if (o.screenshots) {
      const sites = new Map(ws.project.spec.sites.map((s) => [s.id, siteHosts(ws.project.spec, s)]));
      // Screenshots are of emails: an SMS or a notification is shown as its page in the grid.
      await takeScreenshots(staging, cells.filter((c) => c.channel === 'email').map((c) => ({ id: c.id, hosts: sites.get(c.site)! })));
    }
    publish(staging, o.out, ws.dir);
  } catch (e) {
    rmSync(staging, { recursive: true, force: true });
    throw e;
  }
  return { summary, cells, ...(changed ? { changed } : {}) };
}
